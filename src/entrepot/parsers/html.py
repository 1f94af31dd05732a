"""HTML to text with the standard library's tokenizer: no scripts, styles or hidden templates."""

from __future__ import annotations

import codecs
import re
from html.parser import HTMLParser

from . import model as m
from .textutil import bom_encoding, clean_text, decode_text

_SKIP = {"script", "style", "noscript", "template", "svg", "math", "head", "object", "iframe", "select"}
_BLOCK = {
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "fieldset", "figcaption",
    "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav",
    "ol", "p", "pre", "section", "table", "tbody", "thead", "tfoot", "tr", "ul", "caption", "summary",
    "details", "body", "html",
}
_CELL = {"td", "th"}
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
         "track", "wbr"}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)


class _Extractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.title: list[str] = []
        self.meta: dict[str, str] = {}
        self._skip = 0
        self._in_title = False
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
            return
        if tag == "meta":
            values = dict(attrs)
            name = (values.get("name") or "").lower()
            if name in ("author", "description", "keywords") and values.get("content"):
                self.meta[name] = values["content"] or ""
            return
        if tag in _VOID:
            if tag in ("br", "hr"):
                self.out.append("\n")
            return
        if tag in _SKIP:
            self._skip += 1
        elif tag in _BLOCK:
            self.out.append("\n")
        elif tag in _CELL:
            self.out.append("\t")
        if tag == "pre":
            self._pre += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in _SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK:
            self.out.append("\n")
        if tag == "pre":
            self._pre = max(0, self._pre - 1)

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title.append(data)
            return
        if self._skip:
            return
        self.out.append(data if self._pre else re.sub(r"\s+", " ", data))


def html_to_text(markup: str) -> tuple[str, str | None, dict[str, str]]:
    """(text, title, meta) of an HTML document."""
    parser = _Extractor()
    parser.feed(markup)
    parser.close()
    lines = ("".join(parser.out)).split("\n")
    text = "\n".join(" ".join(line.split(" ")).strip(" ") for line in lines)
    title = clean_text(" ".join("".join(parser.title).split())) or None
    return clean_text(text), title, parser.meta


def decode_html(data: bytes) -> str:
    if not bom_encoding(data):
        declared = _META_CHARSET.search(data[:4096])
        if declared:
            try:
                name = codecs.lookup(declared.group(1).decode("ascii")).name
                # Browsers treat these labels as their supersets (WHATWG encoding standard).
                name = {"euc_kr": "cp949", "gb2312": "gb18030", "gbk": "gb18030", "shift_jis": "cp932",
                        "latin-1": "cp1252", "iso8859-1": "cp1252", "ascii": "cp1252"}.get(name, name)
                return data.decode(name, errors="replace")
            except (LookupError, UnicodeDecodeError):
                pass
    return decode_text(data)[0]


class HtmlParser:
    media_types = (m.HTML,)

    def parse(self, data: bytes, ctx: m.ParseContext) -> m.ParsedDocument:
        ctx.check_time()
        text, title, meta = html_to_text(decode_html(data))
        doc = m.ParsedDocument(media_type=m.HTML, title=title, page_count=1)
        doc.pages.append(m.PageText(number=1, text=text))
        if meta.get("author"):
            doc.author = clean_text(meta["author"])[:500] or None
        for key in ("description", "keywords"):
            if meta.get(key):
                doc.metadata[key] = clean_text(meta[key])[:1000]
        return doc
