"""Plain text, Markdown and CSV: charset detected, one page of text (form feeds split pages)."""

from __future__ import annotations

import csv
import re

from . import model as m
from .textutil import clean_text, decode_text

_MD_TITLE = re.compile(r"^\s{0,3}#[ \t]+(.+?)[ \t#]*$", re.M)


class PlainTextParser:
    media_types: tuple[str, ...] = (m.TEXT,)
    media_type_hint: str = m.TEXT

    def parse(self, data: bytes, ctx: m.ParseContext) -> m.ParsedDocument:
        ctx.check_time()
        text, encoding = decode_text(data)
        # Form feeds separate pages in text exported from mainframes/printers.
        raw_pages = text.split("\f") if "\f" in text else [text]
        media_type = self.media_type_hint
        doc = m.ParsedDocument(media_type=media_type, page_count=len(raw_pages),
                               truncated=len(raw_pages) > ctx.max_pages)
        doc.metadata["encoding"] = encoding
        for index, page in enumerate(raw_pages[: ctx.max_pages]):
            doc.pages.append(m.PageText(number=index + 1, text=clean_text(page)))
        if media_type == m.MARKDOWN:
            match = _MD_TITLE.search(text[:65536])
            if match:
                doc.title = clean_text(match.group(1))[:1000] or None
        return doc


class MarkdownParser(PlainTextParser):
    media_types = (m.MARKDOWN,)
    media_type_hint = m.MARKDOWN


class CsvParser:
    media_types = (m.CSV,)

    def parse(self, data: bytes, ctx: m.ParseContext) -> m.ParsedDocument:
        ctx.check_time()
        text, encoding = decode_text(data)
        text = text.lstrip("\ufeff")
        sample = text[:16384]
        try:
            dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",\t;|")
        except csv.Error:
            dialect = csv.excel
        lines: list[str] = []
        try:
            reader = csv.reader(text.splitlines(), dialect)
            for number, row in enumerate(reader):
                if number % 10000 == 0:
                    ctx.check_time()
                cells = [" ".join(cell.split()) for cell in row]
                while cells and not cells[-1]:
                    cells.pop()
                if cells:
                    lines.append("\t".join(cells))
        except csv.Error:
            lines = text.splitlines()  # not really CSV after all (or a giant field): keep the text
        doc = m.ParsedDocument(media_type=m.CSV, page_count=1)
        doc.metadata["encoding"] = encoding
        doc.pages.append(m.PageText(number=1, text=clean_text("\n".join(lines))))
        return doc
