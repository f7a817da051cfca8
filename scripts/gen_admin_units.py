#!/usr/bin/env python3
"""Generate assets/admin-units.json: Vietnam's administrative units after the 2025 reform.

The output lists the 34 provinces / centrally-run cities and their 3,321 communes,
wards and special zones (xã, phường, đặc khu), with the General Statistics Office
(GSO) codes. Data comes from the PyPI package ``vietnam-provinces``, which since
its 2025.x releases only ships the post-reform (two-level) data.

How to run, from the repository root:

    pip install vietnam-provinces==2025.10.1
    python3 scripts/gen_admin_units.py

Output shape (UTF-8, ensure_ascii=False, indent=1, provinces and communes sorted by code):

    {
     "source": "vietnam-provinces <version>",
     "reform": "2025",
     "provinces": [
      {"code": "38", "name": "Tỉnh Thanh Hóa", "short_name": "Thanh Hóa",
       "communes": [{"code": "14869", "name": "Xã ..."}, ...]},
      ...
     ]
    }

Codes are strings: provinces zero-padded to 2 digits, communes to 5 digits.
"name" is the full official name with its type prefix (Tỉnh / Thành phố for
provinces, Xã / Phường / Đặc khu for communes); "short_name" is the province
name without the prefix. All names are NFC-normalised.

Clean-ups applied to the package data (names are otherwise kept verbatim,
including the source's tone-mark placement, e.g. "Hoà" vs "Hòa"):
  * runs of whitespace collapsed to a single space and trimmed
    (the package has e.g. "Phường  Buôn Ma Thuột");
  * the explicit corrections listed in NAME_FIXES below.

Dependencies: Python 3 standard library + vietnam_provinces.
"""

import json
import re
import sys
import unicodedata
from pathlib import Path

import vietnam_provinces
from vietnam_provinces import Province, VietNamDivisionType, Ward

PINNED_VERSION = '2025.10.1'
OUTPUT = Path(__file__).resolve().parent.parent / 'assets' / 'admin-units.json'

# Commune code -> (name as found in the package, corrected name).
# Applied only if the package still has the wrong name; otherwise a notice is printed.
NAME_FIXES = {
    24718: ('Xã Đắk song', 'Xã Đắk Song'),  # Lâm Đồng; capitalisation typo upstream
}

COMMUNE_PREFIX = {
    VietNamDivisionType.XA: 'Xã ',
    VietNamDivisionType.PHUONG: 'Phường ',
    VietNamDivisionType.DAC_KHU: 'Đặc khu ',
}
CITY_PREFIX = 'Thành phố '
PROVINCE_PREFIX = 'Tỉnh '


def clean(name: str) -> str:
    return unicodedata.normalize('NFC', re.sub(r'\s+', ' ', name).strip())


def province_names(p: Province) -> tuple[str, str]:
    """Return (full name with prefix, short name without prefix)."""
    name = clean(p.name)
    if p.division_type == VietNamDivisionType.THANH_PHO_TRUNG_UONG:
        short = name.removeprefix(CITY_PREFIX)
        return CITY_PREFIX + short, short
    if p.division_type == VietNamDivisionType.TINH:
        short = name.removeprefix(PROVINCE_PREFIX)
        return PROVINCE_PREFIX + short, short
    raise ValueError(f'unexpected province division type {p.division_type!r} for {p.name!r}')


def commune_name(w: Ward) -> str:
    name = clean(w.name)
    fix = NAME_FIXES.get(int(w.code))
    if fix is not None:
        wrong, right = fix
        if name == wrong:
            name = right
        else:
            print(f'note: fix for {int(w.code):05d} not applied, package now has {name!r}', file=sys.stderr)
    prefix = COMMUNE_PREFIX[w.division_type]
    if not name.startswith(prefix):
        name = prefix + name
    return name


def main() -> None:
    version = vietnam_provinces.__version__
    if version != PINNED_VERSION:
        print(f'warning: vietnam-provinces {version} installed, script written for {PINNED_VERSION}',
              file=sys.stderr)

    communes_by_province: dict[int, list[dict]] = {}
    for w in Ward.iter_all():
        communes_by_province.setdefault(int(w.province_code), []).append(
            {'code': f'{int(w.code):05d}', 'name': commune_name(w)}
        )

    provinces = []
    for p in sorted(Province.iter_all(), key=lambda p: int(p.code)):
        name, short = province_names(p)
        communes = sorted(communes_by_province.pop(int(p.code), []), key=lambda c: c['code'])
        provinces.append({
            'code': f'{int(p.code):02d}',
            'name': name,
            'short_name': short,
            'communes': communes,
        })

    assert not communes_by_province, f'communes with unknown province: {sorted(communes_by_province)}'
    assert len(provinces) == 34, f'expected 34 provinces, got {len(provinces)}'
    by_code = {p['code']: p for p in provinces}
    assert by_code['38']['name'] == 'Tỉnh Thanh Hóa', by_code['38']['name']
    assert len(by_code['38']['communes']) == 166, \
        f"expected 166 communes in province 38, got {len(by_code['38']['communes'])}"
    all_codes = [c['code'] for p in provinces for c in p['communes']]
    assert len(all_codes) == len(set(all_codes)), 'duplicate commune codes'

    data = {
        'source': f'vietnam-provinces {version}',
        'reform': '2025',
        'provinces': provinces,
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(data, ensure_ascii=False, indent=1) + '\n', encoding='utf-8')
    print(f'wrote {OUTPUT}: {len(provinces)} provinces, {len(all_codes)} communes')


if __name__ == '__main__':
    main()
