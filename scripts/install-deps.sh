#!/usr/bin/env bash
# Installs what building and testing Sổ Tay needs, only what is missing:
#   scripts/install-deps.sh        the desktop app and the CLI (WebKitGTK, build tools, the UI's npm packages)
#   scripts/install-deps.sh windows  also the MinGW toolchain, the Rust Windows target and NSIS
#                                    (the Windows installer)
#   scripts/install-deps.sh test   also PostgreSQL (sync suite), poppler-utils (PDF read-back), Xvfb,
#                                  WebKitWebDriver and tauri-driver (UI end-to-end), and Wine (the
#                                  Windows installer's install/uninstall check)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential pkg-config libwebkit2gtk-4.1-dev librsvg2-dev libssl-dev)
if [ "${1:-}" = "test" ]; then
  packages+=(postgresql poppler-utils xvfb webkit2gtk-driver wine wine64 dbus-daemon openssl)
fi
if [ "${1:-}" = "windows" ]; then
  packages+=(gcc-mingw-w64-x86-64 nsis)
fi
if ! command -v node >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
if [ ${#missing[@]} -gt 0 ]; then
  echo "Cài các gói còn thiếu / installing missing packages: ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "Cần Rust ≥ 1.92 (cargo) — needs Rust 1.92 or newer: install it with rustup, then run again." >&2
  exit 1
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "Cần Node.js ≥ 20.19 cho giao diện — the UI build needs Node.js 20.19 or newer." >&2
  exit 1
fi

# The UI's packages, exactly as locked.
if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules ]; then
  (cd ui && npm ci --no-audit --no-fund --loglevel=error)
fi

if [ "${1:-}" = "test" ]; then
  command -v tauri-driver >/dev/null 2>&1 || [ -x "$HOME/.cargo/bin/tauri-driver" ] ||
    cargo install tauri-driver --locked --quiet
fi
if [ "${1:-}" = "windows" ]; then
  rustup target list --installed 2>/dev/null | grep -q x86_64-pc-windows-gnu ||
    rustup target add x86_64-pc-windows-gnu
fi
