"""Office Open XML (DOCX, XLSX, PPTX) read straight from the zip with a hardened XML parser.

DOCX: one page with the body (paragraphs and tables in reading order, table cells separated by
TAB, rows by newlines), then - if present - a "notes" page (footnotes/endnotes) and a
"headers and footers" page. XLSX: one page per sheet (label = sheet name), rows as
TAB-separated cells, shared strings resolved; formulas give their cached value. PPTX: one page
per slide in presentation order. Title, author and creation date from docProps/core.xml.
"""

from __future__ import annotations

import datetime as dt
import posixpath
import re

from . import model as m
from .safezip import Element, SafeZip, iter_xml_end, local, rel_id, table_rows
from .textutil import clean_text

_KIND = {m.DOCX: "Word document", m.XLSX: "Excel workbook", m.PPTX: "PowerPoint presentation"}


def parse_w3c_date(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    value = value.strip()
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        pass
    try:
        return dt.datetime.fromisoformat(value[:19])
    except ValueError:
        return None


def read_core_properties(z: SafeZip, doc: m.ParsedDocument) -> None:
    root = z.read_optional_xml("docProps/core.xml")
    if root is None:
        return
    for el in root:
        name = local(el.tag)
        value = clean_text("".join(el.itertext()))
        if not value:
            continue
        if name == "title":
            doc.title = value[:1000]
        elif name == "creator":
            doc.author = value[:500]
        elif name == "created":
            doc.created = parse_w3c_date(value)
        elif name in ("subject", "description", "keywords", "lastModifiedBy", "modified", "category"):
            doc.metadata[name] = value[:1000]


def _rels(z: SafeZip, part: str) -> dict[str, str]:
    """Relationship id -> part name, for ``part`` (e.g. 'xl/workbook.xml')."""
    folder, base = posixpath.split(part)
    rels_name = posixpath.join(folder, "_rels", base + ".rels")
    root = z.read_optional_xml(rels_name)
    result: dict[str, str] = {}
    if root is None:
        return result
    for rel in root:
        rid, target, mode = rel.get("Id"), rel.get("Target"), rel.get("TargetMode")
        if not rid or not target or mode == "External":
            continue
        if target.startswith("/"):
            resolved = target.lstrip("/")
        else:
            resolved = posixpath.normpath(posixpath.join(folder, target))
        result[rid] = resolved
    return result


# -------------------------------------------------------------------------------------- DOCX
_DOCX_SKIP = {"delText", "instrText", "delInstrText", "Fallback", "rPr", "pPr", "sectPr", "tblPr",
              "trPr", "tcPr", "tblGrid", "commentReference"}


def _docx_text(el: Element, out: list[str]) -> None:
    for child in el:
        name = local(child.tag)
        if name in _DOCX_SKIP:
            continue
        if name == "t":
            out.append(child.text or "")
        elif name == "tab" or name == "ptab":
            out.append("\t")
        elif name in ("br", "cr"):
            out.append("\n")
        elif name == "noBreakHyphen":
            out.append("-")
        elif name == "p":
            _docx_text(child, out)
            out.append("\n")
        elif name == "tbl":
            _docx_table(child, out)
        else:
            _docx_text(child, out)


def _docx_table(tbl: Element, out: list[str]) -> None:
    table_rows(tbl, out, _docx_text)


class DocxParser:
    media_types = (m.DOCX,)

    def parse(self, data: bytes, ctx: m.ParseContext) -> m.ParsedDocument:
        with SafeZip(data, ctx, kind=_KIND[m.DOCX]) as z:
            main = _main_part(z, "word/document.xml")
            root = z.read_xml(main)
            doc = m.ParsedDocument(media_type=m.DOCX)
            out: list[str] = []
            _docx_text(root, out)
            doc.pages.append(m.PageText(number=1, text=clean_text("".join(out)), label="body"))
            extra: list[tuple[str, tuple[str, ...]]] = [("notes", ("word/footnotes.xml", "word/endnotes.xml"))]
            headers = sorted(n for n in z.names() if re.fullmatch(r"word/(header|footer)\d*\.xml", n))
            extra.append(("headers and footers", tuple(headers)))
            for label, parts in extra:
                out = []
                for part in parts:
                    if z.has(part):
                        ctx.check_time()
                        _docx_text(z.read_xml(part), out)
                text = clean_text("".join(out))
                if text:
                    doc.pages.append(m.PageText(number=len(doc.pages) + 1, text=text, label=label))
            doc.page_count = len(doc.pages)
            read_core_properties(z, doc)
        return doc


def _main_part(z: SafeZip, default: str) -> str:
    """The officeDocument part named by _rels/.rels (nearly always the default name)."""
    rels = z.read_optional_xml("_rels/.rels")
    if rels is not None:
        for rel in rels:
            if (rel.get("Type") or "").endswith("/officeDocument") and rel.get("Target"):
                name = rel.get("Target", "").lstrip("/")
                if z.has(name):
                    return name
    return default


# -------------------------------------------------------------------------------------- XLSX
def _shared_strings(z: SafeZip, name: str) -> list[str]:
    if not z.has(name):
        return []
    strings: list[str] = []
    for item in z.read_xml(name):
        if local(item.tag) != "si":
            continue
        # rPh (phonetic guides, e.g. furigana) also contain <t>: drop them
        phonetic = {id(t) for rph in item.iter() if local(rph.tag) == "rPh" for t in rph.iter()}
        parts = [el.text or "" for el in item.iter() if local(el.tag) == "t" and id(el) not in phonetic]
        strings.append("".join(parts))
    return strings


def _sheet_rows(data: bytes, shared: list[str], ctx: m.ParseContext, kind: str) -> str:
    lines: list[str] = []
    for count, row in enumerate(iter_xml_end(data, {"row"}, kind)):
        cells = [_cell_value(c, shared) for c in row.iterchildren("{*}c")]
        while cells and not cells[-1]:
            cells.pop()
        if cells:
            lines.append("\t".join(cells))
        if count % 5000 == 4999:
            ctx.check_time()
    return "\n".join(lines)


def _cell_value(c: Element, shared: list[str]) -> str:
    kind = c.get("t")
    if kind == "inlineStr":
        return " ".join("".join(t.text or "" for t in c.iterfind(".//{*}t")).split())
    value = c.findtext("{*}v")
    if value is None:
        return ""
    if kind == "s":
        try:
            return " ".join(shared[int(value)].split())
        except (ValueError, IndexError):
            return ""
    if kind == "b":
        return "TRUE" if value.strip() == "1" else "FALSE"
    return " ".join(value.split())


class XlsxParser:
    media_types = (m.XLSX,)

    def parse(self, data: bytes, ctx: m.ParseContext) -> m.ParsedDocument:
        kind = _KIND[m.XLSX]
        with SafeZip(data, ctx, kind=kind) as z:
            workbook = _main_part(z, "xl/workbook.xml")
            root = z.read_xml(workbook)
            rels = _rels(z, workbook)
            folder = posixpath.dirname(workbook)
            shared_name = posixpath.join(folder, "sharedStrings.xml")
            for target in rels.values():
                if target.endswith("sharedStrings.xml"):
                    shared_name = target
            shared = _shared_strings(z, shared_name)
            sheets: list[tuple[str, str]] = []
            for el in root.iter():
                if local(el.tag) == "sheet":
                    rid = rel_id(el)
                    sheet_part = rels.get(rid or "")
                    if sheet_part and z.has(sheet_part):
                        sheets.append((clean_text(el.get("name") or ""), sheet_part))
            doc = m.ParsedDocument(media_type=m.XLSX, page_count=len(sheets),
                                   truncated=len(sheets) > ctx.max_pages)
            for index, (name, target) in enumerate(sheets[: ctx.max_pages]):
                ctx.check_time()
                text = clean_text(_sheet_rows(z.read(target), shared, ctx, kind))
                doc.pages.append(m.PageText(number=index + 1, text=text, label=name or None))
            read_core_properties(z, doc)
        return doc


# -------------------------------------------------------------------------------------- PPTX
def _drawing_text(el: Element, out: list[str]) -> None:
    for child in el:
        name = local(child.tag)
        if name in ("Fallback", "rPr", "pPr", "endParaRPr"):
            continue
        if name == "t":
            out.append(child.text or "")
        elif name == "br":
            out.append("\n")
        elif name == "tab":
            out.append("\t")
        elif name == "p":
            _drawing_text(child, out)
            out.append("\n")
        else:
            _drawing_text(child, out)


class PptxParser:
    media_types = (m.PPTX,)

    def parse(self, data: bytes, ctx: m.ParseContext) -> m.ParsedDocument:
        with SafeZip(data, ctx, kind=_KIND[m.PPTX]) as z:
            presentation = _main_part(z, "ppt/presentation.xml")
            root = z.read_xml(presentation)
            rels = _rels(z, presentation)
            slides = []
            for el in root.iter():
                if local(el.tag) == "sldId":
                    target = rels.get(rel_id(el) or "")
                    if target and z.has(target):
                        slides.append(target)
            doc = m.ParsedDocument(media_type=m.PPTX, page_count=len(slides),
                                   truncated=len(slides) > ctx.max_pages)
            for index, target in enumerate(slides[: ctx.max_pages]):
                ctx.check_time()
                out: list[str] = []
                _drawing_text(z.read_xml(target), out)
                doc.pages.append(m.PageText(number=index + 1, text=clean_text("".join(out))))
            read_core_properties(z, doc)
        return doc
