"""Field validation shared by the actions: clear messages, nothing stored when a field is wrong."""

from __future__ import annotations

import re
import unicodedata

from entrepot.core.errors import InvalidInput

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")


def clean_text(value: str | None, field: str, *, max_len: int, required: bool = True) -> str:
    """NFC text without control or bidi-override characters, trimmed, within `max_len`."""
    text = unicodedata.normalize("NFC", value or "")
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf") or ch in "\n\t")
    text = text.strip()
    if required and not text:
        raise InvalidInput("This field is required.", field=field)
    if len(text) > max_len:
        raise InvalidInput("This field is too long (at most %(n)s characters).", field=field, n=max_len)
    return text


def username(value: str | None) -> str:
    name = unicodedata.normalize("NFKC", value or "").strip().lower()
    if not USERNAME_RE.match(name):
        raise InvalidInput(
            "Usernames have 3 to 64 characters: letters a-z, digits, dot, dash or underscore.",
            field="username",
        )
    return name


def country_code(value: str | None) -> str | None:
    code = (value or "").strip().upper()
    if not code:
        return None
    if not re.fullmatch(r"[A-Z]{2}", code):
        raise InvalidInput("Country must be a two-letter ISO 3166 code.", field="country")
    return code
