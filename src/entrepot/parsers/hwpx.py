"""HWPX (OWPML, KS X 6101): Hancom's zipped-XML format.

Sections come in the order of the package spine (Contents/content.hpf), falling back to
Contents/sectionN.xml by number; one page per section. Paragraph text is in <hp:t> runs
(with <hp:tab/>, <hp:lineBreak/> inline); tables (<hp:tbl>/<hp:tr>/<hp:tc>) become
TAB-separated rows. Elements are matched by local name, so the 2011 and 2016 namespaces work.
"""

from __future__ import annotations

import re

from entrepot.core.errors import InvalidInput

from . import model as m
from .ooxml import parse_w3c_date
from .safezip import Element, SafeZip, attr, local, table_rows
from .textutil import clean_text

_KIND = "Hangul (HWPX) document"
_SECTION = re.compile(r"^Contents/section(\d+)\.xml$", re.I)
_SKIP = {"linesegarray", "secPr", "colPr", "pageNum", "fieldBegin", "fieldEnd", "markpenBegin",
         "markpenEnd", "parameters", "shapeComment"}


def _run_text(t: Element, out: list[str]) -> None:
    if t.text:
        out.append(t.text)
    for child in t:
        name = local(child.tag)
        if name == "tab":
            out.append("\t")
        elif name in ("lineBreak", "br"):
            out.append("\n")
        elif name in ("nbSpace", "fwSpace"):
            out.append(" ")
        elif name == "hyphen":
            out.append("-")
        if child.tail:
            out.append(child.tail)


def _walk(el: Element, out: list[str]) -> None:
    for child in el:
        name = local(child.tag)
        if name in _SKIP:
            continue
        if name == "t":
            _run_text(child, out)
        elif name == "p":
            _walk(child, out)
            out.append("\n")
        elif name == "tbl":
            _table(child, out)
        else:
            _walk(child, out)


def _table(tbl: Element, out: list[str]) -> None:
    out.append("\n")
    table_rows(tbl, out, _walk)


class HwpxParser:
    media_types = (m.HWPX,)

    def parse(self, data: bytes, ctx: m.ParseContext) -> m.ParsedDocument:
        with SafeZip(data, ctx, kind=_KIND) as z:
            if z.has("META-INF/manifest.xml") and b"encryption-data" in z.read("META-INF/manifest.xml"):
                raise InvalidInput("The %(kind)s is password-protected and cannot be read.", kind=_KIND)
            package = z.read_optional_xml("Contents/content.hpf")
            sections = self._sections(z, package)
            if not sections:
                raise InvalidInput("The %(kind)s is damaged (it has no sections).", kind=_KIND)
            doc = m.ParsedDocument(media_type=m.HWPX, page_count=len(sections),
                                   truncated=len(sections) > ctx.max_pages)
            for index, name in enumerate(sections[: ctx.max_pages]):
                ctx.check_time()
                out: list[str] = []
                _walk(z.read_xml(name), out)
                doc.pages.append(m.PageText(number=index + 1, text=clean_text("".join(out)),
                                            label=f"section {index + 1}"))
            if package is not None:
                self._meta(package, doc)
        return doc

    @staticmethod
    def _sections(z: SafeZip, package: Element | None) -> list[str]:
        if package is not None:
            hrefs = {}
            for el in package.iter():
                if local(el.tag) == "item" and el.get("id") and el.get("href"):
                    hrefs[el.get("id")] = el.get("href", "").lstrip("/")
            ordered = []
            for el in package.iter():
                if local(el.tag) == "itemref":
                    href = hrefs.get(attr(el, "idref") or "")
                    if href and _SECTION.match(href) and z.has(href):
                        ordered.append(href)
            if ordered:
                return ordered
        found = [(int(match.group(1)), n) for n in z.names() if (match := _SECTION.match(n))]
        return [n for _, n in sorted(found)]

    @staticmethod
    def _meta(package: Element, doc: m.ParsedDocument) -> None:
        for el in package.iter():
            name = local(el.tag)
            value = clean_text("".join(el.itertext()))
            if not value:
                continue
            if name == "title":
                doc.title = value[:1000]
            elif name == "meta":
                key = (el.get("name") or "").lower()
                if key == "creator":
                    doc.author = value[:500]
                elif key in ("createddate", "created"):
                    doc.created = parse_w3c_date(value)
                elif key in ("subject", "description", "keyword"):
                    doc.metadata[key] = value[:1000]
