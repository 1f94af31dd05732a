"""OpenDocument (ODT; ODS and ODP too) from content.xml and meta.xml.

ODT: one page with the body. ODS: one page per table (label = table name). ODP: one page per
slide. Repeated empty rows/columns (``number-*-repeated``) are never expanded.
"""

from __future__ import annotations

from entrepot.core.errors import InvalidInput

from . import model as m
from .ooxml import parse_w3c_date
from .safezip import Element, SafeZip, attr, local
from .textutil import clean_text

_KIND = {m.ODT: "OpenDocument text", m.ODS: "OpenDocument spreadsheet", m.ODP: "OpenDocument presentation"}
_SKIP = {"tracked-changes", "forms", "scripts", "font-face-decls", "automatic-styles",
         "sequence-decls", "variable-decls", "user-field-decls", "note-citation", "annotation"}


def _text(el: Element, out: list[str]) -> None:
    """Inline content of a paragraph-like element, children and tails in order."""
    if el.text:
        out.append(el.text)
    for child in el:
        name = local(child.tag)
        if name == "s":
            out.append(" " * max(1, min(int(attr(child, "c") or 1), 1000)))
        elif name == "tab":
            out.append("\t")
        elif name == "line-break":
            out.append("\n")
        elif name in ("p", "h"):
            out.append("\n")
            _text(child, out)
            out.append("\n")
        elif name == "table":
            out.append("\n")
            _table(child, out)
        elif name not in _SKIP:
            _text(child, out)
        if child.tail:
            out.append(child.tail)


def _block(el: Element, out: list[str]) -> None:
    for child in el:
        name = local(child.tag)
        if name in _SKIP:
            continue
        if name in ("p", "h"):
            _text(child, out)
            out.append("\n")
        elif name == "table":
            _table(child, out)
        else:
            _block(child, out)


def _table(table: Element, out: list[str]) -> None:
    for row in table.iter():
        if local(row.tag) != "table-row":
            continue
        cells = []
        for cell in row:
            if local(cell.tag) not in ("table-cell", "covered-table-cell"):
                continue
            parts: list[str] = []
            _block(cell, parts)
            cells.append(" ".join("".join(parts).split()))
        while cells and not cells[-1]:
            cells.pop()
        if cells:
            out.append("\t".join(cells) + "\n")
    out.append("\n")


class OdfParser:
    media_types = (m.ODT, m.ODS, m.ODP)

    def parse(self, data: bytes, ctx: m.ParseContext) -> m.ParsedDocument:
        with SafeZip(data, ctx, kind="OpenDocument file") as z:
            media_type = z.read("mimetype").decode("ascii", "replace").strip() if z.has("mimetype") else m.ODT
            kind = _KIND.get(media_type, "OpenDocument file")
            if z.has("META-INF/manifest.xml") and b"encryption-data" in z.read("META-INF/manifest.xml"):
                raise InvalidInput("The %(kind)s is password-protected and cannot be read.", kind=kind)
            root = z.read_xml("content.xml")
            body = next((el for el in root.iter() if local(el.tag) == "body"), None)
            if body is None:
                raise InvalidInput("The %(kind)s is damaged (it has no body).", kind=kind)
            doc = m.ParsedDocument(media_type=media_type)
            chunks: list[tuple[str | None, Element]] = []
            for content in body:
                name = local(content.tag)
                if name == "spreadsheet":
                    chunks += [(attr(t, "name"), t) for t in content if local(t.tag) == "table"]
                elif name == "presentation":
                    chunks += [(attr(p, "name"), p) for p in content if local(p.tag) == "page"]
                else:
                    chunks.append((None, content))
            doc.page_count = len(chunks)
            doc.truncated = len(chunks) > ctx.max_pages
            for index, (label, el) in enumerate(chunks[: ctx.max_pages]):
                ctx.check_time()
                out: list[str] = []
                if local(el.tag) == "table":
                    _table(el, out)
                else:
                    _block(el, out)
                doc.pages.append(m.PageText(number=index + 1, text=clean_text("".join(out)),
                                            label=clean_text(label or "") or None))
            self._meta(z, doc)
        return doc

    @staticmethod
    def _meta(z: SafeZip, doc: m.ParsedDocument) -> None:
        root = z.read_optional_xml("meta.xml")
        if root is None:
            return
        for el in root.iter():
            name = local(el.tag)
            value = clean_text("".join(el.itertext()))
            if not value:
                continue
            if name == "title":
                doc.title = value[:1000]
            elif name == "initial-creator" or (name == "creator" and not doc.author):
                doc.author = value[:500]
            elif name == "creation-date":
                doc.created = parse_w3c_date(value)
            elif name in ("subject", "description", "keyword"):
                doc.metadata[name] = value[:1000]
