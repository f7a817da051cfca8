#!/usr/bin/env bash
# Re-creates assets/fonts from Debian's fonts-noto-core package: Noto Sans (SIL Open Font License
# 1.1), which covers every Vietnamese letter and tone mark, cut down by scripts/subset-fonts.sh to
# what a sheet prints. The PDF sheets embed these files and never use system fonts.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download fonts-noto-core && dpkg-deb -x fonts-noto-core_*.deb x)
scripts/subset-fonts.sh "$work/x/usr/share/fonts/truetype/noto"
zcat -f "$work/x/usr/share/doc/fonts-noto-core/copyright" > assets/fonts/COPYRIGHT-noto.txt
echo "assets/fonts updated from $(ls "$work"/fonts-noto-core_*.deb | xargs basename)"
