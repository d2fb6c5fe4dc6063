#!/bin/bash
# make deb: relayaudit_<version>_<arch>.deb with dpkg-deb from a
# `make install DESTDIR=...` tree of the built binaries. Depends come from
# dpkg-shlibdeps (the shared libraries the binaries link) plus what the
# maintainer scripts and hooks use.
#
#   deploy/deb/build.sh        work in build/deb, the .deb in the top directory
#   deploy/deb/build.sh DIR    work in and write to DIR (the package test)
# The binaries are installed as built (make deb builds the normal variant first).
set -eu
cd "$(dirname "$0")/../.."
version=$(cat VERSION)
arch=$(dpkg --print-architecture)
work=${1:-build/deb}
case $work in /*) ;; *) work=$PWD/$work ;; esac
root=$work/relayaudit_${version}_$arch
deb=${1:+$work/}relayaudit_${version}_$arch.deb

rm -rf "$work"
mkdir -p "$root/DEBIAN"
make -s --no-print-directory install DESTDIR="$root" PREFIX=/usr SYSCONFDIR=/etc \
	UNITDIR=/lib/systemd/system STATEDIR=/var/lib/relayaudit >/dev/null
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/bin/relayauditd" "$root/usr/bin/relayctl"
gzip -9n "$root"/usr/share/man/man*/*
install -m 644 deploy/deb/copyright "$root/usr/share/doc/relayaudit/copyright"

# Shared-library dependencies, as dpkg-buildpackage would compute them.
mkdir -p "$work/shlibs/debian"
printf 'Source: relayaudit\n\nPackage: relayaudit\nArchitecture: any\n' >"$work/shlibs/debian/control"
shlibs=$(cd "$work/shlibs" && dpkg-shlibdeps -O "-e$root/usr/bin/relayauditd" \
	"-e$root/usr/bin/relayctl" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || { echo "make deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SHLIBS@/$shlibs/" \
	-e "s/@SIZE@/$size/" deploy/deb/control >"$root/DEBIAN/control"
echo /etc/relayaudit/relayaudit.conf >"$root/DEBIAN/conffiles"
install -m 755 deploy/deb/postinst deploy/deb/prerm deploy/deb/postrm "$root/DEBIAN/"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"

dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "make deb: $deb"
