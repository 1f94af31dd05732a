"""Every message a user can see exists in Korean and Chinese, with the same placeholders."""

from __future__ import annotations

import re

from entrepot.web.i18n import load_catalogs
from entrepot.web.i18n_extract import extract

PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def test_every_message_is_translated_with_its_placeholders() -> None:
    catalogs = load_catalogs()
    messages = extract()
    assert len(messages) > 300
    for lang in ("ko", "zh"):
        known = catalogs[lang].messages
        missing = sorted(m for m in messages if not known.get(m))
        assert not missing, f"{lang}: untranslated: {missing[:5]} (run scripts/i18n.py and translate)"
        for msgid in messages:
            translated = known[msgid]
            text = translated if isinstance(translated, str) else translated[0]
            assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(msgid)), (lang, msgid)


def test_pages_render_in_each_language(client) -> None:  # type: ignore[no-untyped-def]
    for lang, word in (("ko", "로그인"), ("zh", "登录"), ("en", "Sign in")):
        page = client.get("/login", headers={"accept-language": lang})
        assert f'<html lang="{lang}">' in page.text and word in page.text


def test_stored_english_messages_are_shown_in_the_readers_language() -> None:
    ko, zh, en = (load_catalogs()[lang] for lang in ("ko", "zh", "en"))
    note = "Only the first 200 of 10000 pages were read."
    assert ko.stored(note) == "10000쪽 중 처음 200쪽만 읽었습니다."
    assert zh.stored(note) == "共 10000 页，只读取了前 200 页。"
    assert en.stored(note) == note
    # Text that no message matches stays as it is.
    assert ko.stored("RuntimeError: tesseract exited with 1") == "RuntimeError: tesseract exited with 1"
    assert ko.stored("No such page: 7.") == ko.gettext("No such page: %(n)s.", n="7")
