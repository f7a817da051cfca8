#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages that building and testing Sổ Tay needs, only those missing.
# Usage: scripts/install-deps.sh [test]   ("test" adds PostgreSQL for the sync suite and poppler's
# pdftotext, which the sheet tests read PDFs back with)
set -euo pipefail

packages=(build-essential pkg-config)
if [ "${1:-}" = "test" ]; then
  packages+=(postgresql poppler-utils)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Cài các gói còn thiếu / installing missing packages: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "Cần Rust ≥ 1.88 (cargo) — needs Rust 1.88 or newer: install it with rustup, then run again." >&2
  exit 1
fi
