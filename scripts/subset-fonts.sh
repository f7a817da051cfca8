#!/usr/bin/env bash
# Cuts the Noto Sans files in assets/fonts down to what a Vietnamese attendance sheet prints:
# Latin with every Vietnamese letter and tone mark, combining marks, punctuation, the đồng
# sign, arrows, maths and box shapes; TrueType hinting is dropped (a PDF is not rasterised at
# screen sizes). All OpenType layout features are kept, so stacked Vietnamese marks still
# place correctly. The full fonts are ~500 KB each and every byte ships in the app, which
# volunteers download over 3G (#13).
#
# Usage: scripts/subset-fonts.sh DIR_WITH_THE_FULL_NOTO_SANS_TTFS
# fonttools comes from PyPI, in a throwaway virtualenv; not run by CI (the output is committed).
set -euo pipefail
src=${1:?the directory holding the full NotoSans-*.ttf}
out=$(cd "$(dirname "$0")/.." && pwd)/assets/fonts
venv=$(mktemp -d)
trap 'rm -rf "$venv"' EXIT
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet fonttools
unicodes="U+0020-007E,U+00A0-02FF,U+0300-036F,U+1E00-1EFF,U+2000-206F,U+20A0-20CF,U+2100-214F,U+2190-21FF,U+2200-22FF,U+25A0-25FF,U+2713,U+FEFF,U+FFFD"
for style in Regular Bold Italic BoldItalic; do
    "$venv/bin/pyftsubset" "$src/NotoSans-$style.ttf" --unicodes="$unicodes" \
        --layout-features='*' --name-IDs='*' --notdef-outline --no-hinting \
        --output-file="$out/NotoSans-$style.ttf"
done
ls -l "$out"
