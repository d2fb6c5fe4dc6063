#!/bin/bash
# Installs the Debian packages relayaudit needs to build, test and run.
# As root it runs apt-get; otherwise it prints the exact command and fails.
#
#   deploy/install-deps.sh     called by make run, make test, make fuzz, make bench, make deb
#
# The dashboard serves Chart.js from libjs-chart.js; its browser test runs
# Debian's chromium through puppeteer-core (npm, installed by the test itself).
set -eu

# One list for everything: make run, make test, make fuzz, make bench, make deb.
# One package a line, sorted, so that additions merge cleanly. libgmime-3.0-dev parses
# complaint reports; rbldnsd, dig (bind9-dnsutils) and promtool (prometheus) serve and
# check the exports, DNSBL zones and metrics in tests only; nmap and time (/usr/bin/time)
# are for make bench (nmap's smtp-open-relay side by side, CPU and peak RSS).
PACKAGES="
bc
bind9-dnsutils
build-essential
chromium
clang
curl
dpkg-dev
groff-base
iproute2
jq
libclang-rt-14-dev
libcurl4-openssl-dev
libevent-dev
libgmime-3.0-dev
libjansson-dev
libjs-chart.js
libmicrohttpd-dev
libpsl-dev
libpq-dev
libssl-dev
man-db
nmap
nodejs
npm
openssl
pkg-config
postfix
postgresql
postgresql-client
procps
prometheus
publicsuffix
python3
python3-aiosmtpd
rbldnsd
systemd
time
wrk
zlib1g-dev
"

missing=()
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' && continue
	# A versioned package (postgresql-client-15) satisfies its unversioned metapackage.
	dpkg-query -W -f='${Status}\n' "$p-[0-9]*" 2>/dev/null | grep -q 'install ok installed' && continue
	# A nodejs that brings its own npm (NodeSource) conflicts with Debian's npm package.
	[ "$p" = npm ] && command -v npm >/dev/null && continue
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
