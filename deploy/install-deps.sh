#!/bin/bash
# Installs the Debian packages relayaudit needs to build, test and run.
# As root it runs apt-get; otherwise it prints the exact command and fails.
#
#   deploy/install-deps.sh          build + run + test packages
set -eu

# libgmime-3.0-dev parses complaint reports; rbldnsd, dig (bind9-dnsutils) and promtool
# (prometheus) serve and check the exports, DNSBL zones and metrics in tests only.
PACKAGES="build-essential pkg-config libevent-dev libpq-dev libjansson-dev libmicrohttpd-dev libgmime-3.0-dev
postgresql postgresql-client clang libclang-rt-14-dev postfix curl nmap wrk iproute2 procps jq python3 bc
rbldnsd bind9-dnsutils prometheus"

missing=()
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' && continue
	# A versioned package (postgresql-client-15) satisfies its unversioned metapackage.
	dpkg-query -W -f='${Status}\n' "$p-[0-9]*" 2>/dev/null | grep -q 'install ok installed' && continue
	missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "relayaudit needs these Debian packages; run as root:" >&2
	echo "  apt-get install -y ${missing[*]}" >&2
	exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Postfix is only used as private test instances; keep its system instance unconfigured.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts the system PostgreSQL and Postfix on install; relayaudit uses
# private instances only, so leave the system ones as they were found.
