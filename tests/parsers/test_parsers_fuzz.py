"""Mutated samples: every outcome is a document or a service exception, never a library crash."""

from __future__ import annotations

import io
import logging
import random
import time

import pytest
from _parser_samples import (
    hwp_para_text,
    hwp_section,
    hwpx_section,
    make_docx,
    make_eml,
    make_hwp,
    make_hwpx,
    make_odt,
    make_pptx,
    make_text_pdf,
    make_tiff,
    make_xlsx,
    text_image,
)

from entrepot.core.errors import EntrepotError
from entrepot.parsers import ParseContext, parse_document


def _png() -> bytes:
    buf = io.BytesIO()
    text_image().save(buf, format="PNG")
    return buf.getvalue()


SAMPLES = {
    "docx": lambda: make_docx(["Trade contract 무역"], [["a", "b"]]),
    "xlsx": lambda: make_xlsx({"S": [["a", 1], ["b", 2]]}),
    "pptx": lambda: make_pptx([("Title", "Body")]),
    "odt": lambda: make_odt(["Paragraph"]),
    "hwpx": lambda: make_hwpx([hwpx_section(["수출"], [["a", "b"]])]),
    "hwp": lambda: make_hwp([hwp_section([hwp_para_text("무역 서류", 13)])]),
    "pdf": lambda: make_text_pdf(["Bill of lading", "Invoice"]),
    "png": _png,
    "tiff": lambda: make_tiff(2),
    "eml": lambda: make_eml(attachment=("a.txt", b"hello", "text/plain"), html=True),
    "html": lambda: b"<html><head><title>T</title></head><body><p>Text</p><script>x</script></body></html>",
}


def _mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    choice = rng.randrange(4)
    if choice == 0:  # flip a few bytes
        for _ in range(rng.randint(1, 8)):
            buf[rng.randrange(len(buf))] = rng.randrange(256)
    elif choice == 1:  # truncate
        del buf[rng.randrange(1, len(buf)) :]
    elif choice == 2:  # overwrite a block
        start = rng.randrange(len(buf))
        buf[start : start + 64] = bytes(rng.randrange(256) for _ in range(64))
    else:  # insert junk
        pos = rng.randrange(len(buf))
        buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 32)))
    return bytes(buf)


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_mutations_never_crash(kind, caplog):
    rng = random.Random(f"entrepot-{kind}")  # noqa: S311 - reproducible mutations, not crypto
    original = SAMPLES[kind]()
    ctx = ParseContext(time_budget_s=5)
    for _ in range(25):
        data = _mutate(original, rng)
        start = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="entrepot.parsers.registry"):
            try:
                doc = parse_document(data, ctx)
                for n in doc.needs_ocr[:1]:
                    doc.render_page(n, dpi=50)
            except EntrepotError:
                pass
        assert time.monotonic() - start < 2
    unexpected = [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]
    assert unexpected == []
