#!/usr/bin/env bash
# Packs the Windows build of the cargo profile given as $1 (release unless given; built for
# x86_64-pc-windows-gnu by `make windows-installer`) into one installer with Debian's makensis and
# the project's packaging/windows/installer.nsi, offline. Prints the installer's path.
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-target}"
release="$target_dir/x86_64-pc-windows-gnu/${1:-release}"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
# The WebView2 loader the app imports, as webview2-com-sys ships it next to its build output.
loader=$(find "$release/build" -path '*webview2-com-sys-*/out/*' -name WebView2Loader.dll | head -1)
[ -n "$loader" ] || loader=$(find "$release/build" -name WebView2Loader.dll | head -1)
[ -f "$loader" ] || { echo "WebView2Loader.dll not found under $release/build" >&2; exit 1; }
out_dir="$target_dir/windows"
stage="$out_dir/stage"
mkdir -p "$stage"
# Symbols are of no use on a volunteer's laptop and would more than double the download.
for exe in sotay-app.exe sotay.exe; do
  x86_64-w64-mingw32-strip -o "$stage/$exe" "$release/$exe"
done
outfile="$out_dir/SoTay_${version}_x64-setup.exe"
makensis -V2 -INPUTCHARSET UTF8 \
  -DVERSION="$version" \
  -DAPP_EXE="$(realpath "$stage/sotay-app.exe")" \
  -DCLI_EXE="$(realpath "$stage/sotay.exe")" \
  -DLOADER_DLL="$(realpath "$loader")" \
  -DICON="$(realpath src-tauri/icons/icon.ico)" \
  -DOUTFILE="$(realpath "$out_dir")/$(basename "$outfile")" \
  packaging/windows/installer.nsi >&2
echo "$outfile"
