"""Korean, Chinese and English from gettext catalogs (.po files read with Babel at start-up)."""

from __future__ import annotations

import functools
import re
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po

from entrepot.core.config import LANGUAGES

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGE_NAMES = {"en": "English", "ko": "한국어", "zh": "中文"}


@dataclass(frozen=True, eq=False)
class Translations:
    language: str
    messages: dict[str, str | tuple[str, ...]] = field(default_factory=dict)

    def gettext(self, message: str, **params: Any) -> str:
        text = self.messages.get(message)
        out = text if isinstance(text, str) and text else message
        return out % params if params else out

    def stored(self, text: str) -> str:
        """A message stored already formatted in English (a version's error, a job's note), in this
        language: matched against the catalog's messages, its parameters carried over."""
        if self.language == "en" or not text:
            return text
        exact = self.messages.get(text)
        if isinstance(exact, str) and exact:
            return exact
        for pattern, message in _patterns(self):
            match = pattern.fullmatch(text)
            if match:
                return self.gettext(message, **{k: self.gettext(v) for k, v in match.groupdict().items()})
        return text

    def ngettext(self, singular: str, plural: str, n: int, **params: Any) -> str:
        forms = self.messages.get(singular)
        if isinstance(forms, tuple) and forms and all(forms):
            # Korean and Chinese have one plural form; English has two.
            out = forms[0] if len(forms) == 1 or n == 1 else forms[1]
        elif isinstance(forms, str) and forms:
            out = forms  # a catalog kept as a plain entry: right for one-form languages
        else:
            out = singular if n == 1 else plural
        params.setdefault("num", n)
        return out % params


_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


@functools.cache
def _patterns(t: Translations) -> list[tuple[re.Pattern[str], str]]:
    """Each parameterised message as a pattern that reads its parameters back out of the English text."""
    out = []
    for message in t.messages:
        if isinstance(message, str) and _PLACEHOLDER.search(message):
            parts, pos, seen = [], 0, set()
            for m in _PLACEHOLDER.finditer(message):
                name = m.group(1)
                parts += [re.escape(message[pos:m.start()]), f"(?P={name})" if name in seen else f"(?P<{name}>.+?)"]
                seen.add(name)
                pos = m.end()
            parts.append(re.escape(message[pos:]))
            out.append((re.compile("".join(parts), re.DOTALL), message))
    return out


def load_catalogs(locale_dir: Path = LOCALE_DIR) -> dict[str, Translations]:
    catalogs = {"en": Translations("en")}
    for lang in LANGUAGES:
        po = locale_dir / lang / "LC_MESSAGES" / "messages.po"
        if lang == "en" or not po.is_file():
            continue
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=lang.replace("zh", "zh_Hans"))
        msgs: dict[str, str | tuple[str, ...]] = {}
        for m in catalog:
            if not m.id or m.fuzzy:
                continue
            if isinstance(m.id, tuple):
                msgs[m.id[0]] = tuple(m.string or ())
            elif isinstance(m.id, str) and isinstance(m.string, str) and m.string:
                msgs[m.id] = m.string
        catalogs[lang] = Translations(lang, msgs)
    return catalogs


_current: ContextVar[Translations] = ContextVar("translations", default=Translations("en"))  # noqa: B039 - never mutated


def current() -> Translations:
    return _current.get()


def activate(t: Translations) -> Any:
    return _current.set(t)


def deactivate(token: Any) -> None:
    _current.reset(token)


def negotiate(accept_language: str | None, default: str) -> str:
    """The first supported language of an Accept-Language header, by quality."""
    if not accept_language:
        return default
    choices: list[tuple[float, str]] = []
    for part in accept_language.split(",")[:20]:
        tag, _, q = part.strip().partition(";q=")
        try:
            quality = float(q) if q else 1.0
        except ValueError:
            continue
        base = tag.split("-")[0].strip().lower()
        if base in LANGUAGES:
            choices.append((quality, base))
    return max(choices, key=lambda c: c[0])[1] if choices else default
