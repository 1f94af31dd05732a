"""Shared fixtures for the OCR tests: skip cleanly when tesseract, its models or fonts are missing."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from entrepot.ocr.base import LANGUAGES

REQUIRED_MODELS = set(LANGUAGES.values())


def _missing() -> str | None:
    if shutil.which("tesseract") is None:
        return "tesseract is not installed (apt-get install tesseract-ocr)"
    out = subprocess.run(  # noqa: S603, S607 - fixed argv
        ["tesseract", "--list-langs"], capture_output=True, text=True, check=False
    ).stdout
    have = {ln.strip() for ln in out.splitlines()[1:]}
    lacking = REQUIRED_MODELS - have
    if lacking:
        return f"tesseract models missing: {sorted(lacking)} (apt-get install tesseract-ocr-kor ...)"
    from entrepot.ocr.render import FONTS, font_candidates

    for lang in FONTS:
        if not font_candidates(lang):
            return f"no font for {lang} (apt-get install fonts-noto-cjk fonts-nanum)"
    try:
        from entrepot.ocr._capi import load_library

        load_library()
    except Exception as exc:  # noqa: BLE001 - turned into a skip reason
        return f"libtesseract cannot be loaded: {exc}"
    return None


@pytest.fixture(scope="session")
def ocr_ready() -> None:
    reason = _missing()
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def engine(ocr_ready: None, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from entrepot.ocr import OcrContext, TesseractEngine

    ctx = OcrContext(page_timeout_s=60, temp_dir=Path(tmp_path_factory.mktemp("ocr")))
    eng = TesseractEngine(ctx)
    yield eng
    eng.close()
