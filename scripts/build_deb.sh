#!/usr/bin/env bash
# Builds the release binary and the Debian package from it, with dpkg-deb (part of dpkg, so
# nothing to install or compile): target/debian/taskbridge_<version>-1_<arch>.deb, whose
# path is the last line printed. The package's files are in packaging/deb/; docs/install.md
# says what it installs.
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-target}"

# The same build command as the Dockerfile's (scripts/container_check.py compares them).
cargo build --release --locked --bin taskbridge >&2

version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)-1"
arch="$(dpkg --print-architecture)"
out_dir="$target_dir/debian"
deb="$out_dir/taskbridge_${version}_${arch}.deb"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
root="$work/root"

install -d -m 0755 "$root/DEBIAN" "$root/usr/bin" "$root/lib/systemd/system" "$root/etc/taskbridge" \
    "$root/var/lib/taskbridge" "$root/usr/share/doc/taskbridge" "$root/usr/share/lintian/overrides"
# Stripped as dh_strip does: backtraces keep function names, not line numbers.
strip --strip-unneeded --remove-section=.comment --remove-section=.note \
    -o "$root/usr/bin/taskbridge" "$target_dir/release/taskbridge"
chmod 0755 "$root/usr/bin/taskbridge"
install -m 0644 packaging/deb/taskbridge.service "$root/lib/systemd/system/taskbridge.service"
# Holds secrets once configured: readable by the service's group only (postinst sets the group).
install -m 0640 packaging/deb/taskbridge.env "$root/etc/taskbridge/taskbridge.env"
install -m 0644 docs/install.md "$root/usr/share/doc/taskbridge/install.md"
install -m 0644 packaging/deb/lintian-overrides "$root/usr/share/lintian/overrides/taskbridge"
install -m 0644 packaging/deb/copyright "$root/usr/share/doc/taskbridge/copyright"
printf 'taskbridge (%s) unstable; urgency=medium\n\n  * Built from the taskbridge sources.\n\n -- %s  %s\n' \
    "$version" "${DEB_MAINTAINER:-taskbridge developers <taskbridge@example.org>}" \
    "$(date -R -d "@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}")" \
    | gzip -9n >"$root/usr/share/doc/taskbridge/changelog.Debian.gz"
chmod 0644 "$root/usr/share/doc/taskbridge/changelog.Debian.gz"
for script in postinst prerm postrm; do
    install -m 0755 "packaging/deb/$script" "$root/DEBIAN/$script"
done
echo /etc/taskbridge/taskbridge.env >"$root/DEBIAN/conffiles"

# The shared libraries the binary needs, as dpkg-shlibdeps finds them (it wants a debian/control).
mkdir -p "$work/src/debian"
printf 'Source: taskbridge\n\nPackage: taskbridge\nArchitecture: any\n' >"$work/src/debian/control"
shlibs="$(cd "$work/src" && dpkg-shlibdeps -O "$root/usr/bin/taskbridge" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')"
[ -n "$shlibs" ] || { echo "build_deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

cat >"$root/DEBIAN/control" <<CONTROL
Package: taskbridge
Version: $version
Architecture: $arch
Maintainer: ${DEB_MAINTAINER:-taskbridge developers <taskbridge@example.org>}
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Depends: $shlibs, adduser
Section: net
Priority: optional
Description: turns conversations into tracked work
 taskbridge takes requests from chat platforms and e-mail, turns each into a
 well-formed task with a language model, checks for duplicates, creates it in
 its own tracker and in the team's (Taiga, Jira, Confluence, Zendesk), and keeps
 both in sync. This package runs it as the systemd service taskbridge, as the
 system user taskbridge, configured by /etc/taskbridge/taskbridge.env, with its
 data in /var/lib/taskbridge.
CONTROL
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) \
    >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"

mkdir -p "$out_dir"
# gzip: 5 s and 11 MB here, where xz takes over a minute for 7.5 MB (zstd, faster still, is
# not accepted by Debian's tools: lintian calls it malformed).
dpkg-deb --root-owner-group -Zgzip --build "$root" "$deb" >&2
echo "$deb"
