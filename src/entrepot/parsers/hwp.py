"""HWP 5.x binary (Hangul word processor), written from the published HWP 5.0 format spec.

An HWP 5 file is an OLE compound file:
* ``FileHeader``: 32-byte signature "HWP Document File", version (4 bytes LE), properties
  (4 bytes LE): bit 0 = BodyText compressed, bit 1 = password, bit 2 = distribution document
  (its text lives, encrypted, in ``ViewText``).
* ``BodyText/Section0..N``: a record stream, raw-deflate compressed (zlib, wbits=-15) when
  bit 0 is set. Record header = 32 bits LE: tag id (bits 0-9), level (10-19), size (20-31);
  size 0xFFF means a 32-bit size follows. Tag 67 (HWPTAG_BEGIN 16 + 51) is HWPTAG_PARA_TEXT:
  the paragraph's UTF-16LE text, where code units below 32 are controls - "char" controls
  take one unit, "inline" and "extended" controls take eight (the control plus 7 units of
  parameters).
* ``\\x05HwpSummaryInformation``: an OLE property set (title 2, author 4, created 12).

One page per section. Text of tables, text boxes and footnotes is in PARA_TEXT records of
the same stream (at a deeper level), so it comes out in document order. Decompression is
bounded by ``ctx.max_uncompressed_bytes`` in total.
"""

from __future__ import annotations

import datetime as dt
import re
import struct
import zlib

from entrepot.core.errors import InvalidInput, TooLarge

from . import model as m
from .textutil import clean_text

_KIND = "Hangul (HWP) document"
SIGNATURE = b"HWP Document File"
HWPTAG_BEGIN = 0x10
HWPTAG_PARA_TEXT = HWPTAG_BEGIN + 51  # 67
FLAG_COMPRESSED = 0x1
FLAG_PASSWORD = 0x2
FLAG_DISTRIBUTION = 0x4
# Controls that occupy a single UTF-16 unit; every other code below 32 occupies eight.
_CHAR_CONTROLS = {0, 10, 13, 24, 25, 26, 27, 28, 29, 30, 31}
_CONTROL_TEXT = {9: "\t", 10: "\n", 13: "\n", 24: "-", 30: " ", 31: " "}
_SECTION = re.compile(r"^Section(\d+)$")


def para_text(payload: bytes) -> str:
    """Decode one HWPTAG_PARA_TEXT payload into text (controls mapped or dropped)."""
    units = struct.unpack(f"<{len(payload) // 2}H", payload[: len(payload) // 2 * 2])
    out: list[str] = []
    i = 0
    n = len(units)
    while i < n:
        u = units[i]
        if u >= 32:
            # surrogate pairs are joined by the final decode below
            out.append(chr(u))
            i += 1
            continue
        text = _CONTROL_TEXT.get(u)
        if text:
            out.append(text)
        i += 1 if u in _CHAR_CONTROLS else 8
    joined = "".join(out)
    # re-pair UTF-16 surrogates written as separate units
    return joined.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def iter_records(stream: bytes):  # noqa: ANN201 - generator of (tag, level, payload)
    pos = 0
    end = len(stream)
    while pos + 4 <= end:
        (header,) = struct.unpack_from("<I", stream, pos)
        pos += 4
        tag = header & 0x3FF
        level = (header >> 10) & 0x3FF
        size = (header >> 20) & 0xFFF
        if size == 0xFFF:
            if pos + 4 > end:
                raise InvalidInput("The %(kind)s is damaged (a record is cut short).", kind=_KIND)
            (size,) = struct.unpack_from("<I", stream, pos)
            pos += 4
        if pos + size > end:
            raise InvalidInput("The %(kind)s is damaged (a record is cut short).", kind=_KIND)
        yield tag, level, stream[pos : pos + size]
        pos += size


class _Inflater:
    """Raw-deflate decompression with a shared output budget."""

    def __init__(self, ctx: m.ParseContext) -> None:
        self.ctx = ctx
        self.used = 0

    def inflate(self, data: bytes) -> bytes:
        budget = self.ctx.max_uncompressed_bytes - self.used
        d = zlib.decompressobj(-15)
        chunks = []
        produced = 0
        try:
            # feed in slices so a bomb is stopped after at most one slice's worth of output
            view = memoryview(data)
            for start in range(0, len(data), 64 * 1024):
                chunk = d.decompress(view[start : start + 64 * 1024], budget - produced + 1)
                produced += len(chunk)
                chunks.append(chunk)
                while d.unconsumed_tail and produced <= budget:
                    chunk = d.decompress(d.unconsumed_tail, budget - produced + 1)
                    produced += len(chunk)
                    chunks.append(chunk)
                if produced > budget:
                    break
                self.ctx.check_time()
                if d.eof:
                    break
        except zlib.error as exc:
            raise InvalidInput("The %(kind)s is damaged (a section cannot be decompressed).",
                               kind=_KIND) from exc
        if produced <= budget and not d.eof:
            raise InvalidInput("The %(kind)s is damaged or incomplete (a section is cut short).", kind=_KIND)
        if produced > budget:
            raise TooLarge("The %(kind)s expands to more than %(limit)s MB.", kind=_KIND,
                           limit=self.ctx.max_uncompressed_bytes // (1024 * 1024))
        self.used += produced
        return b"".join(chunks)


class HwpParser:
    media_types = (m.HWP,)

    def parse(self, data: bytes, ctx: m.ParseContext) -> m.ParsedDocument:
        import olefile

        try:
            ole = olefile.OleFileIO(data)
        except Exception as exc:  # noqa: BLE001 - olefile raises assorted types on damaged input
            raise InvalidInput("The %(kind)s is damaged and cannot be read.", kind=_KIND) from exc
        with ole:
            try:
                return self._parse(ole, ctx)
            except (InvalidInput, TooLarge):
                raise
            except Exception as exc:  # noqa: BLE001 - corrupt FAT chains etc. inside olefile
                raise InvalidInput("The %(kind)s is damaged and cannot be read.", kind=_KIND) from exc

    def _parse(self, ole, ctx: m.ParseContext) -> m.ParsedDocument:  # noqa: ANN001
        if not ole.exists("FileHeader"):
            raise InvalidInput("The %(kind)s is damaged (no file header).", kind=_KIND)
        header = ole.openstream("FileHeader").read(256)
        if len(header) < min(256, ole.get_size("FileHeader")):
            raise InvalidInput("The %(kind)s is damaged or incomplete.", kind=_KIND)
        if not header.startswith(SIGNATURE) or len(header) < 40:
            raise InvalidInput("The %(kind)s is damaged (bad file header).", kind=_KIND)
        version = struct.unpack_from("<I", header, 32)[0]
        (flags,) = struct.unpack_from("<I", header, 36)
        if flags & FLAG_PASSWORD:
            raise InvalidInput("The %(kind)s is password-protected and cannot be read.", kind=_KIND)
        if flags & FLAG_DISTRIBUTION:
            raise InvalidInput(
                "The %(kind)s is a distribution (copy-protected) document whose text cannot be read.",
                kind=_KIND,
            )
        sections = sorted(
            (int(match.group(1)), path)
            for path in ole.listdir(streams=True, storages=False)
            if len(path) == 2 and path[0] == "BodyText" and (match := _SECTION.match(path[1]))
        )
        if not sections:
            raise InvalidInput("The %(kind)s is damaged (it has no body text).", kind=_KIND)
        inflater = _Inflater(ctx)
        doc = m.ParsedDocument(media_type=m.HWP, page_count=len(sections),
                               truncated=len(sections) > ctx.max_pages)
        doc.metadata["hwp_version"] = ".".join(str((version >> s) & 0xFF) for s in (24, 16, 8, 0))
        for index, (_number, path) in enumerate(sections[: ctx.max_pages]):
            ctx.check_time()
            if ole.get_size(path) > ctx.max_uncompressed_bytes:
                raise TooLarge("The %(kind)s expands to more than %(limit)s MB.", kind=_KIND,
                               limit=ctx.max_uncompressed_bytes // (1024 * 1024))
            raw = ole.openstream(path).read()
            if len(raw) != ole.get_size(path):
                raise InvalidInput("The %(kind)s is damaged or incomplete.", kind=_KIND)
            stream = inflater.inflate(raw) if flags & FLAG_COMPRESSED else raw
            paragraphs = [para_text(payload).rstrip("\n") for tag, _level, payload in iter_records(stream)
                          if tag == HWPTAG_PARA_TEXT]
            doc.pages.append(m.PageText(number=index + 1, text=clean_text("\n".join(paragraphs)),
                                        label=f"section {index + 1}"))
        self._summary(ole, doc)
        return doc

    @staticmethod
    def _summary(ole, doc: m.ParsedDocument) -> None:  # noqa: ANN001
        name = "\x05HwpSummaryInformation"
        if not ole.exists(name) or ole.get_size(name) > 1024 * 1024:
            return
        try:
            props = read_property_set(ole.openstream(name).read())
        except (struct.error, ValueError, UnicodeDecodeError, LookupError, OverflowError):
            return  # optional metadata in a damaged property set
        title, author, created = props.get(2), props.get(4), props.get(12)
        if isinstance(title, str) and clean_text(title):
            doc.title = clean_text(title)[:1000]
        if isinstance(author, str) and clean_text(author):
            doc.author = clean_text(author)[:500]
        if isinstance(created, dt.datetime):
            doc.created = created


_VT_I2, _VT_LPSTR, _VT_LPWSTR, _VT_FILETIME = 2, 30, 31, 64
_FILETIME_EPOCH = dt.datetime(1601, 1, 1, tzinfo=dt.UTC)


def read_property_set(data: bytes) -> dict[int, object]:
    """First section of an OLE property set ([MS-OLEPS]): strings and FILETIMEs by property id.

    (olefile 0.47's getproperties misreads VT_LPWSTR, which HWP summaries use.)
    """
    (n_sections,) = struct.unpack_from("<I", data, 24)
    if n_sections < 1:
        return {}
    (section,) = struct.unpack_from("<I", data, 44)
    _size, count = struct.unpack_from("<II", data, section)
    count = min(count, 256)
    entries = [struct.unpack_from("<II", data, section + 8 + 8 * i) for i in range(count)]
    raw: dict[int, tuple[int, int]] = {}
    for pid, offset in entries:
        pos = section + offset
        (vtype,) = struct.unpack_from("<I", data, pos)
        raw[pid] = (vtype & 0xFFFF, pos + 4)
    codepage = 1200
    if 1 in raw and raw[1][0] == _VT_I2:
        codepage = struct.unpack_from("<H", data, raw[1][1])[0]
    result: dict[int, object] = {}
    for pid, (vtype, pos) in raw.items():
        if vtype == _VT_LPWSTR:
            (chars,) = struct.unpack_from("<I", data, pos)
            text = data[pos + 4 : pos + 4 + 2 * min(chars, 65536)].decode("utf-16-le", "replace")
            result[pid] = text.split("\x00", 1)[0]
        elif vtype == _VT_LPSTR:
            (nbytes,) = struct.unpack_from("<I", data, pos)
            blob = data[pos + 4 : pos + 4 + min(nbytes, 131072)]
            encoding = {1200: "utf-16-le", 65001: "utf-8"}.get(codepage, f"cp{codepage}")
            result[pid] = blob.decode(encoding, "replace").split("\x00", 1)[0]
        elif vtype == _VT_FILETIME:
            (ticks,) = struct.unpack_from("<Q", data, pos)
            if ticks:
                result[pid] = _FILETIME_EPOCH + dt.timedelta(microseconds=ticks // 10)
    return result
