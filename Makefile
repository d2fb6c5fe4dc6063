# relayaudit — plain GNU make, pkg-config for the libraries.
#
#   make              bin/relayauditd bin/relayctl bin/relaysim and the unit tests
#   make SANITIZE=1   the same with AddressSanitizer and UBSan (objects in build/san)
#   make test         install what is missing, build, the whole suite with a throwaway PostgreSQL
#   make run          install what is missing, embedded PostgreSQL under var/, demo data, daemon
#   make bench        benchmarks (not part of make test)
#   make fuzz         every libFuzzer target for FUZZ_SECONDS each
#   make install PREFIX=/usr/local   [DESTDIR=...]; layout in docs/operating.md
#   make man          regenerate man/relayaudit.conf.5 from the option table
#   make deb          relayaudit_<version>_<arch>.deb (Debian 12)

VERSION   := $(shell cat VERSION)
PREFIX    ?= /usr/local
CC        ?= cc
PKGS      := libevent libevent_pthreads libevent_openssl openssl libcurl libpq jansson libmicrohttpd \
             gmime-3.0 libpsl zlib
FUZZ_SECONDS ?= 20

ifeq ($(SANITIZE),1)
VARIANT   := san
OPT       := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDSAN     := -fsanitize=address,undefined
else
VARIANT   := normal
OPT       := -O2 -g
LDSAN     :=
endif

BUILD     := build/$(VARIANT)
# One include root: every include names its layer ("db/cases.h", "probe-engine/probe.h").
INCLUDES  := -I.
CFLAGS    += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
             $(OPT) $(INCLUDES) -MMD -MP $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS    += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
LDFLAGS   += $(LDSAN)

# One archive per layer. DEPS_<layer> lists the layers it may call, in link
# order; workflow and api are siblings (neither calls the other). A program of
# layer L links L and its DEPS only, and the layercheck below links every
# archive whole against only its DEPS, so an upward or sideways call in any
# object fails the build.
LAYERS    := ctl auditd workflow api db probe common
DIR_ctl      := auditd/ctl
DIR_auditd   := auditd
DIR_workflow := auditd/workflow
DIR_api      := api
DIR_db       := db
DIR_probe    := probe-engine
DIR_common   := common
DEPS_ctl      := auditd workflow api db probe common
DEPS_auditd   := workflow api db probe common
DEPS_workflow := db probe common
DEPS_api      := db probe common
DEPS_db       := probe common
DEPS_probe    := common
DEPS_common   :=
MAINS     := auditd/relayauditd.c auditd/ctl/relayctl.c
define layer_vars
SRC_$(1) := $$(filter-out $$(MAINS),$$(wildcard $$(DIR_$(1))/*.c))
LIB_$(1) := $$(BUILD)/lib$(1).a
endef
$(foreach l,$(LAYERS),$(eval $(call layer_vars,$(l))))
LIBSRC    := $(foreach l,$(LAYERS),$(SRC_$(l)))
LIBOBJ    := $(LIBSRC:%.c=$(BUILD)/%.o)
# The archives a program of layer L links: L and the layers it may call.
libs_from = $(LIB_$(1)) $(foreach d,$(DEPS_$(1)),$(LIB_$(d)))
ALLLIBS   := $(call libs_from,ctl)

# layercheck: each layer's archive whole (every object, used or not) against
# only its DEPS. INJECT_<layer> adds an object to the archive's side; the
# suite's test_layering injects an upward call and expects this link to fail.
LAYERCHECK_DIR ?= $(BUILD)/layercheck
LAYERCHECK := $(LAYERS:%=$(LAYERCHECK_DIR)/%)
SIMSRC    := $(wildcard tests/sim/*.c)
SIMOBJ    := $(SIMSRC:%.c=$(BUILD)/%.o)
UNITSRC   := $(wildcard tests/unit/test_*.c)
UNITBIN   := $(UNITSRC:tests/unit/%.c=bin/tests/%)
BENCHSRC  := $(wildcard tests/bench/*.c)
BENCHBIN  := $(BENCHSRC:tests/bench/%.c=bin/tests/%)
FUZZSRC   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZBIN   := $(FUZZSRC:tests/fuzz/%.c=bin/fuzz/%)

# build/variant is rewritten only when the variant changes, so binaries relink then.
STAMP     := build/variant
# A dry run (make -n) changes nothing, not even the variant.
ifeq (,$(findstring n,$(firstword -$(MAKEFLAGS))))
$(shell mkdir -p build; [ "$$(cat build/variant 2>/dev/null)" = "$(VARIANT)" ] || echo $(VARIANT) > build/variant)
endif

.PHONY: all test run bench fuzz fuzz-run install man deb clean format distclean layercheck
# relaysim appears once tests/sim/ holds its sources.
all: bin/relayauditd bin/relayctl $(if $(SIMSRC),bin/relaysim) $(UNITBIN) $(BENCHBIN) layercheck

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# Only version.c sees the version, so a new VERSION rebuilds one file.
$(BUILD)/common/version.o: CFLAGS += -DRELAYAUDIT_VERSION='"$(VERSION)"'
$(BUILD)/common/version.o: VERSION

define layer_rule
$$(LIB_$(1)): $$(SRC_$(1):%.c=$$(BUILD)/%.o)
	@rm -f $$@
	ar rcs $$@ $$^
endef
$(foreach l,$(LAYERS),$(eval $(call layer_rule,$(l))))

$(LAYERCHECK_DIR)/main.c:
	@mkdir -p $(dir $@)
	@echo 'int main(void) { return 0; }' >$@

define layercheck_rule
$$(LAYERCHECK_DIR)/$(1): $$(LAYERCHECK_DIR)/main.c $$(call libs_from,$(1)) $$(INJECT_$(1)) $$(STAMP)
	@$$(CC) $$(LDFLAGS) -o $$@ $$(LAYERCHECK_DIR)/main.c -Wl,--whole-archive $$(LIB_$(1)) \
	   $$(INJECT_$(1)) -Wl,--no-whole-archive $$(foreach d,$$(DEPS_$(1)),$$(LIB_$$(d))) $$(LDLIBS) \
	 || { echo "layercheck: $(DIR_$(1))/ calls outside $$(or $$(DEPS_$(1)),libc and the system libraries) (see DEPS_$(1))" >&2; exit 1; }
endef
$(foreach l,$(LAYERS),$(eval $(call layercheck_rule,$(l))))
layercheck: $(LAYERCHECK)

bin/relayauditd: $(BUILD)/auditd/relayauditd.o $(call libs_from,auditd) $(STAMP)
	@mkdir -p bin
	$(CC) $(LDFLAGS) -o $@ $(BUILD)/auditd/relayauditd.o $(call libs_from,auditd) $(LDLIBS)

bin/relayctl: $(BUILD)/auditd/ctl/relayctl.o $(ALLLIBS) $(STAMP)
	@mkdir -p bin
	$(CC) $(LDFLAGS) -o $@ $(BUILD)/auditd/ctl/relayctl.o $(ALLLIBS) $(LDLIBS)

# The simulator is a peer, not part of relayaudit: it may use the engine's parsers only.
bin/relaysim: $(SIMOBJ) $(call libs_from,probe) $(STAMP)
	@mkdir -p bin
	$(CC) $(LDFLAGS) -o $@ $(SIMOBJ) $(call libs_from,probe) $(LDLIBS)

# Keep the test objects make would otherwise delete as intermediates (and rebuild every time).
.SECONDARY: $(UNITSRC:tests/unit/%.c=$(BUILD)/tests/unit/%.o) $(BENCHSRC:tests/bench/%.c=$(BUILD)/tests/bench/%.o)

# A unit test links only the layers its includes name (the highest one and those below),
# so a test of probe-engine cannot reach db/ even by accident.
test_layer = $(or $(firstword $(foreach l,$(LAYERS),$(if $(shell grep -lE '^\#include "$(DIR_$(l))/[a-z_]+\.h"' $(1) 2>/dev/null),$(l)))),common)
define unit_rule
bin/tests/$(1): $$(BUILD)/tests/unit/$(1).o $$(call libs_from,$$(call test_layer,tests/unit/$(1).c)) $$(STAMP)
	@mkdir -p bin/tests
	$$(CC) $$(LDFLAGS) -o $$@ $$< $$(call libs_from,$$(call test_layer,tests/unit/$(1).c)) $$(LDLIBS)
endef
$(foreach t,$(UNITSRC:tests/unit/%.c=%),$(eval $(call unit_rule,$(t))))

bin/tests/bench_%: $(BUILD)/tests/bench/bench_%.o $(ALLLIBS) $(STAMP)
	@mkdir -p bin/tests
	$(CC) $(LDFLAGS) -o $@ $< $(ALLLIBS) $(LDLIBS)

# libFuzzer targets: clang. The library is compiled once with coverage
# (fuzzer-no-link) into its own archive; each entry point links against it.
FUZZCC    ?= clang
FUZZSAN   := address,undefined
FUZZFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 $(INCLUDES) -MMD -MP \
             $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
FUZZOBJ   := $(LIBSRC:%.c=build/fuzz/%.o)
build/fuzz/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZCC) $(FUZZFLAGS) -fsanitize=fuzzer-no-link,$(FUZZSAN) -c -o $@ $<
build/fuzz/libfuzz.a: $(FUZZOBJ)
	@rm -f $@
	ar rcs $@ $^
bin/fuzz/%: tests/fuzz/%.c build/fuzz/libfuzz.a
	@mkdir -p bin/fuzz
	$(FUZZCC) $(FUZZFLAGS) -fsanitize=fuzzer,$(FUZZSAN) -o $@ $< build/fuzz/libfuzz.a $(LDLIBS)

fuzz:
	@deploy/install-deps.sh
	@$(MAKE) --no-print-directory fuzz-run

fuzz-run: $(FUZZBIN)
	@set -e; for f in $(FUZZBIN); do \
	  n=$$(basename $$f); mkdir -p build/corpus/$$n; \
	  seeds=tests/fuzz/corpus/$$n; [ -d $$seeds ] || seeds=; \
	  echo "fuzz: $$n for $(FUZZ_SECONDS)s"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=0 \
	      -artifact_prefix=build/ build/corpus/$$n $$seeds 2>build/fuzz-$$n.log \
	    || { tail -40 build/fuzz-$$n.log; exit 1; }; \
	  grep -E '^(#[0-9]+ +DONE|Done)' build/fuzz-$$n.log | tail -1; \
	done

# test, fuzz and bench first install what a fresh Debian machine lacks (as root; else
# deploy/install-deps.sh prints the apt-get command), then build in a new make that
# sees the installed pkg-config files.
test:
	@deploy/install-deps.sh
	@# The npm packages of the browser test (puppeteer-core) and the OpenAPI lint (redocly),
	@# fetched here where the network is (the tests' own fallback cannot fetch when the
	@# suite runs in a network namespace).
	@for d in tests/browser tests/openapi; do \
	   [ -d $$d/node_modules ] || (cd $$d && PUPPETEER_SKIP_DOWNLOAD=1 \
	     npm ci --no-audit --no-fund --ignore-scripts --loglevel=error) || echo "npm ci in $$d failed; its test will say why"; \
	 done
	@$(MAKE) --no-print-directory all
	@tests/run.sh

run: 
	@deploy/run.sh

bench:
	@deploy/install-deps.sh
	@$(MAKE) --no-print-directory all
	@tests/bench/run.sh

# Where make install puts things (make deb: PREFIX=/usr, SYSCONFDIR=/etc,
# UNITDIR=/lib/systemd/system). docs/operating.md lists every file.
BINDIR     ?= $(PREFIX)/bin
DATADIR    ?= $(PREFIX)/share/relayaudit
MANDIR     ?= $(PREFIX)/share/man
DOCDIR     ?= $(PREFIX)/share/doc/relayaudit
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
UNITDIR    ?= $(PREFIX)/lib/systemd/system
STATEDIR   ?= /var/lib/relayaudit
# The shipped units and config name the packaged paths; install rewrites them.
INSTALL_PATHS := sed -e 's|/usr/bin/|$(BINDIR)/|g' -e 's|/usr/share/relayaudit|$(DATADIR)|g' \
	-e 's|/etc/relayaudit/|$(SYSCONFDIR)/relayaudit/|g' -e 's|/var/lib/relayaudit|$(STATEDIR)|g' \
	-e 's|@DATADIR@|$(DATADIR)|g' -e 's|@STATEDIR@|$(STATEDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g'

install: bin/relayauditd bin/relayctl
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/migrations $(DESTDIR)$(DATADIR)/enforcers \
	   $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DOCDIR)/docs \
	   $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/relayaudit $(DESTDIR)$(DATADIR)/web
	install -m 755 bin/relayauditd bin/relayctl $(DESTDIR)$(BINDIR)/
	install -m 644 migrations/*.sql $(DESTDIR)$(DATADIR)/migrations/
	install -m 644 api/web/* $(DESTDIR)$(DATADIR)/web/
	$(if $(wildcard deploy/enforcers/*),install -m 755 deploy/enforcers/* $(DESTDIR)$(DATADIR)/enforcers/)
	install -m 644 man/*.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 644 man/*.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 644 README.md $(DESTDIR)$(DOCDIR)/
	install -m 644 docs/*.md $(DESTDIR)$(DOCDIR)/docs/
	install -m 644 deploy/relayaudit.conf.example $(DESTDIR)$(DOCDIR)/
	for u in deploy/systemd/*.service deploy/systemd/*.timer; do \
	  $(INSTALL_PATHS) $$u >$(DESTDIR)$(UNITDIR)/$$(basename $$u) && chmod 644 $(DESTDIR)$(UNITDIR)/$$(basename $$u) || exit 1; \
	done
	@# The site's config is never overwritten; a new one is mode 600 (it will hold the secret).
	if [ ! -e $(DESTDIR)$(SYSCONFDIR)/relayaudit/relayaudit.conf ]; then \
	  $(INSTALL_PATHS) deploy/relayaudit.conf.in >$(DESTDIR)$(SYSCONFDIR)/relayaudit/relayaudit.conf && \
	  chmod 600 $(DESTDIR)$(SYSCONFDIR)/relayaudit/relayaudit.conf; \
	fi
	# Customers' mail and page texts, one directory per locale (docs/operating.md: templates).
	for d in templates/*/; do \
	  install -d $(DESTDIR)$(DATADIR)/$$d && install -m 644 $$d*.txt $(DESTDIR)$(DATADIR)/$$d || exit 1; \
	done

# Regenerates man/relayaudit.conf.5 (and the other files made from the option table).
man: bin/relayctl
	deploy/regen-config-docs.sh

# relayaudit_<version>_<arch>.deb from a make install tree (deploy/deb/build.sh).
deb:
	@deploy/install-deps.sh
	@$(MAKE) --no-print-directory bin/relayauditd bin/relayctl
	@deploy/deb/build.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build bin

distclean: clean
	rm -rf var

-include $(LIBOBJ:.o=.d) $(SIMOBJ:.o=.d) $(FUZZOBJ:.o=.d) $(UNITSRC:tests/unit/%.c=$(BUILD)/tests/unit/%.d)
