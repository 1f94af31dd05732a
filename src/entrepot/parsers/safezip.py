"""Zip containers (OOXML, ODF, HWPX) opened with their limits checked before decompressing.

XML is parsed by lxml with entity resolution, DTD loading and network access off, and any
document with a DOCTYPE is rejected (no OOXML/ODF/HWPX part legitimately has one).

Checks, from the central directory and before any member is inflated: member count, the
sum of declared uncompressed sizes, the per-member compression ratio, encrypted members
and path-traversal names. Reads are bounded again while inflating (a lying header cannot
make us produce more than it declared: zipfile stops at the declared size and checks CRC).
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from collections.abc import Callable
from typing import Any

from lxml import etree

from entrepot.core.errors import InvalidInput, TooLarge

from .model import ParseContext

_DRIVE = re.compile(r"^[A-Za-z]:")
_SMALL_MEMBER = 1024 * 1024  # tiny members may compress very well legitimately (repetitive XML)


def is_unsafe_member_name(name: str) -> bool:
    if not name or "\x00" in name or "\\" in name:
        return True
    if name.startswith("/") or _DRIVE.match(name):
        return True
    return any(part == ".." for part in name.split("/"))


class SafeZip:
    """A checked, read-only view of a zip archive held in memory."""

    def __init__(self, data: bytes, ctx: ParseContext, kind: str = "document") -> None:
        self.ctx = ctx
        self.kind = kind
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data))
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError,
                NotImplementedError, struct.error, UnicodeDecodeError) as exc:
            raise InvalidInput("The %(kind)s is damaged (its zip structure cannot be read).",
                               kind=kind) from exc
        if len(infos) > ctx.max_zip_members:
            raise TooLarge(
                "The %(kind)s has too many parts (%(n)s; the limit is %(limit)s).",
                kind=kind, n=len(infos), limit=ctx.max_zip_members,
            )
        total = 0
        self._infos: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            if is_unsafe_member_name(info.filename):
                raise InvalidInput("The %(kind)s contains a part with an unsafe name.", kind=kind)
            if info.flag_bits & 0x1:
                raise InvalidInput("The %(kind)s is encrypted and cannot be read.", kind=kind)
            total += info.file_size
            if total > ctx.max_uncompressed_bytes:
                raise TooLarge(
                    "The %(kind)s expands to more than %(limit)s MB.",
                    kind=kind, limit=ctx.max_uncompressed_bytes // (1024 * 1024),
                )
            if info.file_size > _SMALL_MEMBER:
                ratio = info.file_size / max(info.compress_size, 1)
                if ratio > ctx.max_compression_ratio:
                    raise TooLarge(
                        "The %(kind)s looks like a zip bomb (a part is compressed %(ratio)s times).",
                        kind=kind, ratio=int(ratio),
                    )
            self._infos[info.filename] = info
        self._read_total = 0

    def __enter__(self) -> SafeZip:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()

    def names(self) -> list[str]:
        return list(self._infos)

    def has(self, name: str) -> bool:
        return name in self._infos

    def read(self, name: str) -> bytes:
        info = self._infos.get(name)
        if info is None:
            raise InvalidInput("The %(kind)s is incomplete (a required part is missing).", kind=self.kind)
        self.ctx.check_time()
        limit = info.file_size
        try:
            with self._zip.open(info) as fh:
                chunks = []
                got = 0
                while True:
                    chunk = fh.read(min(1 << 20, limit - got + 1))
                    if not chunk:
                        break
                    got += len(chunk)
                    if got > limit:
                        raise InvalidInput("The %(kind)s is damaged.", kind=self.kind)
                    chunks.append(chunk)
                    self.ctx.check_time()
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError,
                struct.error) as exc:
            raise InvalidInput("The %(kind)s is damaged (a part cannot be decompressed).",
                               kind=self.kind) from exc
        self._read_total += got
        if self._read_total > self.ctx.max_uncompressed_bytes:
            raise TooLarge(
                "The %(kind)s expands to more than %(limit)s MB.",
                kind=self.kind, limit=self.ctx.max_uncompressed_bytes // (1024 * 1024),
            )
        return b"".join(chunks)

    def read_xml(self, name: str) -> Element:
        return parse_xml(self.read(name), self.kind)

    def read_optional_xml(self, name: str) -> Element | None:
        if not self.has(name):
            return None
        try:
            return self.read_xml(name)
        except InvalidInput:
            return None  # optional parts (metadata) may be broken without losing the document


Element = Any  # lxml.etree._Element


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_comments=True, remove_pis=True, collect_ids=False)


def _reject_doctype(tree: Any, kind: str) -> None:
    info = tree.docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise InvalidInput("The %(kind)s contains forbidden XML constructs.", kind=kind)


def parse_xml(data: bytes, kind: str = "document") -> Element:
    """Parse untrusted XML: no DTDs, no entities, no external resources."""
    try:
        root = etree.fromstring(data, parser=_parser())
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise InvalidInput("The %(kind)s is damaged (its XML cannot be read).", kind=kind) from exc
    _reject_doctype(root.getroottree(), kind)
    return root


def iter_xml_end(data: bytes, tags: set[str], kind: str = "document"):  # noqa: ANN201 - generator
    """Stream ``end`` events for elements with local name in ``tags``; memory stays flat.

    Each yielded element is cleared (with its earlier siblings) after the caller is done with it.
    """
    checked = False
    try:
        context = etree.iterparse(io.BytesIO(data), events=("end",), tag=[f"{{*}}{t}" for t in tags],
                                  resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                                  remove_comments=True, remove_pis=True, collect_ids=False)
        for _event, el in context:
            if not checked:
                _reject_doctype(el.getroottree(), kind)
                checked = True
            yield el
            el.clear(keep_tail=False)
            parent = el.getparent()
            if parent is not None:
                while el.getprevious() is not None:
                    del parent[0]
        if not checked and context.root is not None:
            _reject_doctype(context.root.getroottree(), kind)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise InvalidInput("The %(kind)s is damaged (its XML cannot be read).", kind=kind) from exc


def local(tag: object) -> str:
    """Tag name without namespace ('{ns}p' -> 'p'); comments/PIs give ''."""
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def attr(el: Element, name: str) -> str | None:
    """Attribute by local name, whatever its namespace."""
    v = el.get(name)
    if v is not None:
        return v
    for k, val in el.attrib.items():
        if local(k) == name:
            return val
    return None


def rel_id(el: Element) -> str | None:
    """The r:id attribute (relationship id) of an OOXML element, not its plain 'id'."""
    for key, value in el.attrib.items():
        if key.startswith("{") and key.endswith("}id") and "relationships" in key:
            return value
    return None


def table_rows(tbl: Element, out: list[str], cell_text: Callable[[Element, list[str]], None]) -> None:
    """A word-processing table (tr rows of tc cells, as in DOCX and HWPX) as tab-separated lines."""
    for row in tbl:
        if local(row.tag) != "tr":
            continue
        cells = []
        for cell in row:
            if local(cell.tag) != "tc":
                continue
            parts: list[str] = []
            cell_text(cell, parts)
            cells.append(" ".join("".join(parts).split()))
        out.append("\t".join(cells) + "\n")
    out.append("\n")
