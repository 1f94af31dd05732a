"""Trade reference tables (HS nomenclature, country and currency names) read from a folder of CSVs.

The folder is a setting (`reference_dir`) because the tables are published data, not code; without it
codes are checked by their form only.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path


@dataclass(frozen=True, eq=False)
class Reference:
    hs_codes: dict[str, str] = field(default_factory=dict)  # 6-digit code -> description
    #: lower-cased country name in any of en/ko/ja/zh -> ISO alpha-2
    country_names: dict[str, str] = field(default_factory=dict)
    country_codes: frozenset[str] = frozenset()
    currencies: frozenset[str] = frozenset()

    def hs_valid(self, code: str) -> bool:
        if self.hs_codes:
            return code in self.hs_codes
        return len(code) == 6 and code.isdigit() and 1 <= int(code[:2]) <= 97


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


@lru_cache(maxsize=4)
def load_reference(folder: Path | None) -> Reference:
    if folder is None or not folder.is_dir():
        return Reference()
    hs = {r["hscode"]: r["description"] for r in _rows(folder / "harmonized-system.csv")
          if len(r.get("hscode", "")) == 6}
    names: dict[str, str] = {}
    codes: set[str] = set()
    for r in _rows(folder / "country-names.csv"):
        code = (r.get("code") or r.get("alpha2") or "").upper()
        if len(code) != 2:
            continue
        codes.add(code)
        for key, value in r.items():
            if key not in ("code", "alpha2") and value and len(value) >= 2:
                names[value.strip().lower()] = code
    currencies = {r["AlphabeticCode"] for r in _rows(folder / "iso4217-currency-codes.csv")
                  if r.get("AlphabeticCode") and not r.get("WithdrawalDate")}
    return Reference(hs, names, frozenset(codes), frozenset(currencies))
