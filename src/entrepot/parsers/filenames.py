"""``safe_filename``: a user- or attacker-supplied file name made safe to show and to store."""

from __future__ import annotations

import re
import unicodedata

_RESERVED_CHARS = re.compile(r'[<>:"|?*/\\]')
_WINDOWS_RESERVED = {
    "CON", "PRN", "AUX", "NUL",
    *(f"COM{i}" for i in range(1, 10)),
    *(f"LPT{i}" for i in range(1, 10)),
}
_SPACES = re.compile(r"\s+")


def _drop_char(ch: str) -> bool:
    # Cc: C0/C1 controls; Cf: format characters incl. bidi overrides/isolates, BOM, zero-width;
    # Cs/Co/Cn: surrogates, private use, unassigned; Zl/Zp: line/paragraph separators.
    return unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")


def safe_filename(name: str | bytes | None, *, max_bytes: int = 200, default: str = "unnamed") -> str:
    """Base name without directories, control/bidi characters or reserved names; never empty.

    Keeps CJK and other letters; NFC-normalised; at most ``max_bytes`` bytes of UTF-8
    (the extension is preserved when the stem has to be shortened).
    """
    if isinstance(name, bytes):
        name = name.decode("utf-8", errors="replace")
    if not name:
        return default
    name = unicodedata.normalize("NFC", str(name))
    name = "".join(" " if ch in "\t\n\r" else ch for ch in name if ch in "\t\n\r" or not _drop_char(ch))
    # Directory parts: POSIX and Windows separators, drive letters, UNC prefixes.
    name = re.split(r"[/\\]", name)[-1]
    name = re.sub(r"^[A-Za-z]:", "", name)
    name = _RESERVED_CHARS.sub("_", name)
    name = _SPACES.sub(" ", name).strip(" .")  # no hidden files, no "..", no trailing dots (Windows)
    if not name:
        return default
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    if stem.split(".")[0].upper() in _WINDOWS_RESERVED:
        name = "_" + name
        stem = "_" + stem
    if len(name.encode("utf-8")) > max_bytes:
        ext_part = ("." + ext) if dot and 0 < len(ext.encode("utf-8")) <= 16 else ""
        budget = max_bytes - len(ext_part.encode("utf-8"))
        base = stem if ext_part else name
        cut = base.encode("utf-8")[:budget].decode("utf-8", errors="ignore").rstrip(" .")
        name = (cut or default) + ext_part
    return name or default
