#!/usr/bin/env bash
# The Debian package of the desktop app, as volunteers download it (over 3G): built by the
# Tauri bundler from the `dist` profile (Cargo.toml), then repacked with xz, which dpkg has
# read since Debian 6 and which takes the package from ~20 MB (the bundler's gzip) to ~14 MB.
# The repack also names the package `sotay`: the bundler derives the name from productName
# ("Sổ Tay" -> "sổ-tay"), which dpkg refuses to install (tauri-apps/tauri#14366).
# Prints the package's path and size.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
rm -rf "$target/dist/bundle/deb"
(cd "$root/src-tauri" && ../ui/node_modules/.bin/tauri build --bundles deb -- --profile dist)
deb=$(ls "$target"/dist/bundle/deb/*.deb)
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
dpkg-deb --raw-extract "$deb" "$tree/pkg"
rm "$deb"
sed -i 's/^Package: .*/Package: sotay/' "$tree/pkg/DEBIAN/control"
version=$(sed -n 's/^Version: //p' "$tree/pkg/DEBIAN/control")
deb="$target/dist/bundle/deb/sotay_${version}_amd64.deb"
dpkg-deb --root-owner-group -Zxz -z9 --build "$tree/pkg" "$deb" >/dev/null
echo "$deb: $(stat -c %s "$deb") bytes"
