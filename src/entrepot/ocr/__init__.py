"""OCR of scanned trade documents (ko, zh-Hans, zh-Hant, ja, en).

    from entrepot.ocr import OcrContext, TesseractEngine
    with TesseractEngine(OcrContext(page_timeout_s=60)) as engine:
        page = engine.ocr_image(image)           # detects the language per page
        engine.make_searchable_pdf("in.pdf", "out.pdf", ["ko", "en"])

Needs Debian's tesseract-ocr with tesseract-ocr-{kor,chi-sim,chi-tra,jpn,eng} (libtesseract5
is loaded with ctypes) and, for PDFs, OCRmyPDF with ghostscript.
"""

from entrepot.ocr.base import (
    LANGUAGES,
    Detection,
    OcrContext,
    OcrEngine,
    OcrError,
    OcrPage,
    OcrTimeout,
)
from entrepot.ocr.metrics import cer
from entrepot.ocr.tesseract import TesseractEngine

__all__ = [
    "LANGUAGES",
    "Detection",
    "OcrContext",
    "OcrEngine",
    "OcrError",
    "OcrPage",
    "OcrTimeout",
    "TesseractEngine",
    "cer",
]
