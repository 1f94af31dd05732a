"""Public types of the OCR module: context, page result, engine protocol, errors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from PIL import Image

from entrepot.core.errors import EntrepotError

# Our language codes (BCP 47) -> tesseract model names.
LANGUAGES: dict[str, str] = {
    "ko": "kor",
    "zh-Hans": "chi_sim",
    "zh-Hant": "chi_tra",
    "ja": "jpn",
    "en": "eng",
}

ImageInput = Image.Image | str | Path | bytes


class OcrError(EntrepotError):
    """OCR could not be done (tesseract missing, bad input, engine failure)."""

    status_code = 500


class OcrTimeout(OcrError):
    """A page took longer than the configured time limit; the OCR process was killed."""

    status_code = 504


@dataclass(frozen=True)
class OcrContext:
    """What an engine may use. Frozen: share one between threads and processes.

    languages        the languages pages may be in (subset of LANGUAGES); detection never
                     answers a language outside it
    page_timeout_s   wall-clock limit for one page (detection + recognition), or for one page
                     of a PDF in make_searchable_pdf (times the page count, plus pdf_overhead_s)
    temp_dir         where temporary files go (None: the system default)
    review_threshold pages with mean confidence below this are marked needs_review
    default_dpi      resolution assumed for images that do not carry one
    tessdata_dir     tesseract's model folder (None: the system default)
    pdf_overhead_s   fixed allowance per make_searchable_pdf call (PDF/A conversion etc.)
    """

    languages: frozenset[str] = frozenset(LANGUAGES)
    page_timeout_s: float = 60.0
    temp_dir: Path | None = None
    review_threshold: float = 70.0
    default_dpi: int = 300
    tessdata_dir: Path | None = None
    pdf_overhead_s: float = 60.0

    def __post_init__(self) -> None:
        unknown = set(self.languages) - set(LANGUAGES)
        if unknown or not self.languages:
            raise ValueError(f"languages must be a non-empty subset of {sorted(LANGUAGES)}: {unknown}")
        if self.page_timeout_s <= 0:
            raise ValueError("page_timeout_s must be positive")
        object.__setattr__(self, "languages", frozenset(self.languages))


@dataclass(frozen=True)
class Detection:
    """Result of script/language detection on a sample of the page's lines."""

    language: str | None  # None: no text found
    script: str | None  # Hangul, Han, Japanese, Latin
    method: str  # how it was decided (for logs and tuning)
    seconds: float = 0.0
    passes: tuple[str, ...] = ()  # models run on sample strips, in order
    cpu_seconds: float = 0.0  # OCR worker CPU time spent on detection


@dataclass(frozen=True)
class OcrPage:
    """OCR result of one page.

    text        recognised text, lines separated by newlines (CJK: no spurious spaces)
    language    ko / zh-Hans / zh-Hant / ja / en, or None when the page has no text
    confidence  mean word confidence 0-100 (weighted by word length), 0 for an empty page
    psm         tesseract page segmentation mode of the kept result (0 when none was run)
    seconds     wall-clock time for the page, detection included
    cpu_seconds CPU time for the page: the OCR worker's plus the calling thread's
    """

    text: str
    language: str | None
    confidence: float
    psm: int
    seconds: float
    needs_review: bool = False
    model: str = ""  # tesseract language string used, e.g. "kor"
    words: int = 0
    cpu_seconds: float = 0.0
    detection: Detection | None = field(default=None, compare=False)

    @property
    def is_empty(self) -> bool:
        return not self.text.strip()


@runtime_checkable
class OcrEngine(Protocol):
    context: OcrContext

    def ocr_image(self, image: ImageInput, *, language: str | None = None) -> OcrPage:
        """OCR one page image; ``language`` None means detect it."""
        ...

    def make_searchable_pdf(
        self,
        input_pdf_path: str | Path,
        output_path: str | Path,
        languages: str | Sequence[str | None],
    ) -> Path:
        """Write a PDF/A-2b copy of a scanned PDF with an invisible text layer."""
        ...

    def close(self) -> None: ...
