"""Update the Korean and Chinese catalogs from the messages in the code and templates.

    python scripts/i18n.py          # add new messages (empty), drop unused ones, keep translations
    python scripts/i18n.py --check  # exit 1 if a message lacks a translation
"""

from __future__ import annotations

import sys

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from entrepot.web.i18n import LOCALE_DIR
from entrepot.web.i18n_extract import extract

LOCALES = {"ko": "ko", "zh": "zh_Hans"}


def update(lang: str, messages: set[str]) -> list[str]:
    path = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    old: dict[str, str] = {}
    if path.exists():
        with path.open("rb") as fh:
            old = {m.id: m.string for m in read_po(fh, locale=LOCALES[lang]) if m.id and isinstance(m.id, str)}
    catalog = Catalog(locale=LOCALES[lang], project="Entrepot", charset="utf-8")
    for msg in sorted(messages):
        catalog.add(msg, old.get(msg, ""))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        write_po(fh, catalog, width=120, omit_header=False, sort_output=True)
    return [m for m in sorted(messages) if not old.get(m)]


def main() -> int:
    messages = extract()
    missing = {lang: update(lang, messages) for lang in LOCALES}
    for lang, msgs in missing.items():
        print(f"{lang}: {len(messages)} messages, {len(msgs)} untranslated")
    return 1 if "--check" in sys.argv and any(missing.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
