"""Searchable PDF/A-2b from a scanned PDF, through OCRmyPDF run as a subprocess.

A subprocess (not ``ocrmypdf.ocr()`` in-process) so that a time limit can really be enforced:
the whole process group is killed when it runs over. OMP_THREAD_LIMIT=1 and ``--jobs 1`` keep
tesseract from oversubscribing the cores.

Pages in different languages: OCRmyPDF takes one language setting per run, and chaining runs
(``--pages`` + ``--skip-text``) is refused with Debian 12's Ghostscript 10.0.0 (it corrupts PDFs
with existing text). So one run is made with the page languages combined ("kor+eng", most-used
first). That text layer is only for the downloadable PDF; the searchable text of each page
should come from ``TesseractEngine.ocr_image`` (one model per page, measured more accurate).
Pages given as None are not OCRed (``--pages``).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from entrepot.ocr.base import LANGUAGES, OcrContext, OcrError, OcrTimeout


def ocrmypdf_command() -> list[str]:
    if importlib.util.find_spec("ocrmypdf") is not None:
        return [sys.executable, "-m", "ocrmypdf"]
    exe = shutil.which("ocrmypdf")
    if exe:
        return [exe]
    raise OcrError("OCRmyPDF is not installed (pip install ocrmypdf, or apt-get install ocrmypdf)")


def pdf_page_count(path: str | Path) -> int:
    try:
        import pikepdf
    except ImportError:  # pragma: no cover - pikepdf comes with ocrmypdf
        import pypdfium2 as pdfium

        doc = pdfium.PdfDocument(str(path))
        try:
            return len(doc)
        finally:
            doc.close()
    with pikepdf.open(str(path)) as pdf:
        return len(pdf.pages)


def _groups(languages: str | Sequence[str | None], pages: int) -> list[tuple[str, list[int]]]:
    """[(language, [1-based page numbers])] in first-appearance order; None pages are skipped."""
    if isinstance(languages, str):
        per_page: list[str | None] = [languages] * pages
    else:
        per_page = list(languages)
        if len(per_page) != pages:
            raise OcrError(
                f"languages_per_page has {len(per_page)} entries for a PDF of {pages} pages",
                pages=pages,
            )
    out: dict[str, list[int]] = {}
    for i, lang in enumerate(per_page, 1):
        if lang is None:
            continue
        if lang not in LANGUAGES:
            raise OcrError(f"unknown language {lang!r}", language=lang)
        out.setdefault(lang, []).append(i)
    return list(out.items())


def _run(cmd: list[str], timeout: float, env: dict[str, str]) -> None:
    proc = subprocess.Popen(  # noqa: S603 - fixed argv
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True
    )
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise OcrTimeout(
            f"making the searchable PDF exceeded the time limit of {timeout:g} s", limit_s=timeout
        ) from None
    if proc.returncode != 0:
        if proc.returncode == 6:  # PriorOcrFoundError
            raise OcrError("the PDF already has a text layer; it needs no OCR", returncode=6)
        tail = err.decode("utf-8", "replace").strip().splitlines()[-5:]
        raise OcrError(
            f"OCRmyPDF failed (exit {proc.returncode}): {' | '.join(tail)}",
            returncode=proc.returncode,
        )


def make_searchable_pdf(
    ctx: OcrContext,
    input_pdf_path: str | Path,
    output_path: str | Path,
    languages: str | Sequence[str | None],
) -> Path:
    """OCR ``input_pdf_path`` into a PDF/A-2b with a text layer at ``output_path``.

    ``languages`` is one language for the whole file or one per page (None: leave that page
    without OCR). Raises OcrTimeout after ``page_timeout_s * pages + pdf_overhead_s`` seconds.
    """
    src = Path(input_pdf_path)
    dst = Path(output_path)
    if not src.is_file():
        raise OcrError(f"no such PDF: {src}")
    pages = pdf_page_count(src)
    groups = _groups(languages, pages)
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    if ctx.temp_dir is not None:
        env["TMPDIR"] = str(ctx.temp_dir)
    if ctx.tessdata_dir is not None:
        env["TESSDATA_PREFIX"] = str(ctx.tessdata_dir)
    base = ocrmypdf_command()
    budget = ctx.page_timeout_s * max(1, pages) + ctx.pdf_overhead_s
    # Most-used language first; tesseract takes "kor+eng" as a combined model.
    groups.sort(key=lambda g: -len(g[1]))
    ocr_pages = sorted(p for _, nums in groups for p in nums)
    part = dst.with_name(dst.name + ".part")
    cmd = [
        *base,
        "--quiet",
        "--jobs", "1",
        "--output-type", "pdfa-2",
        "--optimize", "1",
        "--language", "+".join(LANGUAGES[lang] for lang, _ in groups) if groups else "eng",
        "--tesseract-timeout", f"{ctx.page_timeout_s:g}" if groups else "0",
    ]
    if any(lang == "ko" for lang, _ in groups):  # psm 3 loses much of a Korean page
        cmd += ["--tesseract-pagesegmode", "6"]
    if groups and len(ocr_pages) < pages:
        cmd += ["--pages", ",".join(map(str, ocr_pages))]
    cmd += [str(src), str(part)]
    try:
        _run(cmd, budget, env)
        os.replace(part, dst)
    finally:
        part.unlink(missing_ok=True)
    return dst
