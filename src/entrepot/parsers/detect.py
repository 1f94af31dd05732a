"""Media-type detection from the content (magic bytes, zip members, OLE streams, text shape).

The file name is never trusted for binary formats. It is only consulted, as a hint, to
choose between the text flavours (plain text, Markdown, CSV) when the content is text and
does not decide by itself.
"""

from __future__ import annotations

import csv
import io
import re
import struct
import zipfile

from . import model as m
from .textutil import bom_encoding, decode_text, guess_utf16_without_bom, looks_binary

_HEAD = 64 * 1024

_OOXML_MAIN = (
    ("word/document.xml", m.DOCX),
    ("xl/workbook.xml", m.XLSX),
    ("ppt/presentation.xml", m.PPTX),
)
_ODF_TYPES = {m.ODT, m.ODS, m.ODP}
_HWP_SIGNATURE = b"HWP Document File"

_MAIL_HEADERS = {
    "from", "to", "cc", "subject", "date", "message-id", "mime-version", "received",
    "return-path", "content-type", "delivered-to", "reply-to", "sender", "x-mailer",
}
_STRONG_MAIL_HEADERS = {"mime-version", "received", "message-id", "return-path", "delivered-to"}
_HEADER_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_-]*):[ \t]?")
_MD_HEADING = re.compile(r"^#{1,6}[ \t]+\S", re.M)
_MD_OTHER = (
    re.compile(r"^```", re.M),
    re.compile(r"\[[^\]\n]+\]\([^)\s]+\)"),
    re.compile(r"^\s{0,3}[-*+][ \t]+\S", re.M),
    re.compile(r"\*\*[^*\n]+\*\*"),
    re.compile(r"^\s{0,3}>[ \t]", re.M),
    re.compile(r"^\|.*\|\s*$", re.M),
)


def detect_media_type(data: bytes, filename_hint: str | None = None) -> str:
    """The media type of ``data`` (one of the constants in ``entrepot.parsers.model``)."""
    if not data:
        return m.EMPTY
    head = data[:_HEAD]

    if b"%PDF-" in head[:1024]:
        return m.PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return m.PNG
    if head.startswith(b"\xff\xd8\xff"):
        return m.JPEG
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return m.TIFF
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return m.GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return m.WEBP
    if head[:2] == b"BM" and len(head) >= 26 and head[14] in (12, 40, 52, 56, 64, 108, 124):
        return m.BMP
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):
        return _detect_zip(data)
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return _detect_ole(data)
    return _detect_text(head, filename_hint)


def _detect_zip(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist())
            mimetype = b""
            if "mimetype" in names:
                info = zf.getinfo("mimetype")
                if info.file_size <= 200:
                    mimetype = zf.read(info).strip()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError,
            struct.error, UnicodeDecodeError):
        return _detect_broken_zip(data)
    mt = mimetype.decode("ascii", "replace")
    if mt in _ODF_TYPES:
        return mt
    if mt == m.HWPX or any(n.lower().startswith("contents/section") for n in names):
        return m.HWPX
    if "[Content_Types].xml" in names:
        for member, media_type in _OOXML_MAIN:
            if member in names:
                return media_type
    return m.ZIP


def _detect_broken_zip(data: bytes) -> str:
    """A zip whose central directory is gone: guess from local headers so the error is specific."""
    head = data[: 4 * 1024 * 1024]
    for member, media_type in _OOXML_MAIN:
        if member.encode() in head and b"[Content_Types].xml" in head:
            return media_type
    for media_type in (*_ODF_TYPES, m.HWPX):
        if b"mimetype" + media_type.encode() in head[:200]:
            return media_type
    return m.ZIP


def _detect_ole(data: bytes) -> str:
    import olefile

    try:
        with olefile.OleFileIO(data) as ole:
            if ole.exists("FileHeader"):
                with ole.openstream("FileHeader") as fh:
                    if fh.read(32).startswith(_HWP_SIGNATURE):
                        return m.HWP
                if ole.exists("BodyText"):
                    return m.HWP  # damaged header: the HWP parser says so specifically
    except Exception:  # noqa: BLE001 - olefile raises many types on garbage
        # A damaged HWP is still worth a specific "damaged" error rather than "unknown".
        head = data[: 4 * 1024 * 1024]
        if _HWP_SIGNATURE in head or all(n.encode("utf-16-le") in head for n in ("FileHeader", "BodyText")):
            return m.HWP
        return m.OLE
    return m.OLE


def _detect_text(head: bytes, filename_hint: str | None) -> str:
    if not (bom_encoding(head) or guess_utf16_without_bom(head)) and looks_binary(head):
        return m.UNKNOWN
    text, encoding = decode_text(head)
    if encoding == "latin-1":
        return m.UNKNOWN
    bad = text.count("\ufffd")
    if bad > max(8, len(text) // 100):
        return m.UNKNOWN
    sample = text[:16384].lstrip("\ufeff")
    if _looks_like_mail(sample):
        return m.EML
    if _looks_like_html(sample):
        return m.HTML
    ext = (filename_hint or "").rsplit(".", 1)[-1].lower() if filename_hint and "." in filename_hint else ""
    if ext in ("md", "markdown"):
        return m.MARKDOWN
    if ext in ("csv", "tsv"):
        return m.CSV
    if ext in ("txt", "text", "log"):
        return m.TEXT
    if _looks_like_csv(sample):
        return m.CSV
    if _looks_like_markdown(sample):
        return m.MARKDOWN
    return m.TEXT


def _looks_like_mail(text: str) -> bool:
    lines = text.split("\n", 200)
    if lines and lines[0].startswith("From "):  # mbox separator
        lines = lines[1:]
    if not lines or not _HEADER_LINE.match(lines[0]):
        return False
    seen: set[str] = set()
    for line in lines:
        line = line.rstrip("\r")
        if not line:
            break
        if line[0] in " \t":
            continue  # folded header
        match = _HEADER_LINE.match(line)
        if not match:
            return False
        seen.add(match.group(1).lower())
    known = seen & _MAIL_HEADERS
    return len(known) >= 3 or (len(known) >= 2 and bool(known & _STRONG_MAIL_HEADERS))


def _looks_like_html(text: str) -> bool:
    start = text.lstrip()[:1024].lower()
    if start.startswith("<?xml"):
        start = start[start.find("?>") + 2 :].lstrip() if "?>" in start else start
    while start.startswith("<!--") and "-->" in start:
        start = start[start.find("-->") + 3 :].lstrip()
    if start.startswith(("<!doctype html", "<html")):
        return True
    if start.startswith("<"):
        lowered = text[:8192].lower()
        return any(tag in lowered for tag in ("<html", "<body", "<head>", "<head "))
    return False


def _looks_like_csv(text: str) -> bool:
    lines = [ln for ln in text.splitlines()[:50] if ln.strip()]
    if len(lines) < 3:
        return False
    if len(lines) == 50 or len(text) >= 16000:
        lines = lines[:-1]  # the last line of a sample may be cut
    for delim in (",", "\t", ";", "|"):
        try:
            widths = {len(row) for row in csv.reader(lines, delimiter=delim)}
        except csv.Error:
            continue
        if len(widths) == 1 and widths.pop() >= 2:
            return True
    return False


def _looks_like_markdown(text: str) -> bool:
    if _MD_HEADING.search(text):
        return True
    return sum(1 for pattern in _MD_OTHER if pattern.search(text)) >= 2
