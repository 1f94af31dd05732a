"""Synthetic page rendering: text -> A4 page image, and a "scanned" variant.

Used by the OCR self-tests and the ingest benchmark (and handy for a health check of the OCR
stack): it draws wrapped text with the system's CJK fonts (Debian packages fonts-noto-cjk and
fonts-nanum), picking the right face of NotoSansCJK per language.
"""

from __future__ import annotations

import io
import os
import random
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

A4_MM = (210.0, 297.0)

# (path, face index) candidates per language, best first.
_NOTO_SANS = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
_NOTO_SERIF = "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"
_NANUM = "/usr/share/fonts/truetype/nanum/NanumGothic.ttf"
_NANUM_MYEONGJO = "/usr/share/fonts/truetype/nanum/NanumMyeongjo.ttf"
_DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
_LIBERATION_SERIF = "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf"

# NotoSansCJK-Regular.ttc faces: 0=JP 1=KR 2=SC 3=TC (4=HK)
FONTS: dict[str, list[tuple[str, int]]] = {
    "ko": [(_NOTO_SANS, 1), (_NANUM, 0), (_NANUM_MYEONGJO, 0), (_NOTO_SERIF, 1)],
    "zh-Hans": [(_NOTO_SANS, 2), (_NOTO_SERIF, 2)],
    "zh-Hant": [(_NOTO_SANS, 3), (_NOTO_SERIF, 3)],
    "ja": [(_NOTO_SANS, 0), (_NOTO_SERIF, 0)],
    "en": [(_LIBERATION_SERIF, 0), (_DEJAVU, 0), (_NOTO_SANS, 0)],
}


class FontMissing(RuntimeError):
    """No usable font for the language is installed."""


def font_candidates(lang: str) -> list[tuple[str, int]]:
    return [(p, i) for p, i in FONTS[lang] if os.path.exists(p)]


def load_font(lang: str, size_px: int, variant: int = 0) -> ImageFont.FreeTypeFont:
    """The ``variant``-th installed font for ``lang`` (cycling), at ``size_px`` pixels."""
    cands = font_candidates(lang)
    if not cands:
        raise FontMissing(f"no font installed for {lang!r} (need fonts-noto-cjk / fonts-nanum)")
    path, index = cands[variant % len(cands)]
    return ImageFont.truetype(path, size_px, index=index)


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Greedy wrap: break at spaces when the text has them, anywhere for CJK runs."""
    lines: list[str] = []
    for para in text.splitlines() or [""]:
        para = " ".join(para.split())
        cur = ""
        i = 0
        while i < len(para):
            # next token: a word with its leading space for space-separated text, or one char
            ch = para[i]
            if ch.isascii() and ch.isalnum() or (ch == " "):
                j = i + 1
                while j < len(para) and para[j] != " " and para[j].isascii():
                    j += 1
                tok = para[i:j]
            else:
                j = i + 1
                tok = ch
            cand = cur + tok
            if cur and font.getlength(cand) > width:
                lines.append(cur.rstrip())
                cur = tok.lstrip()
            else:
                cur = cand
            i = j
        if cur.strip():
            lines.append(cur.rstrip())
    return lines


@dataclass(frozen=True)
class RenderedPage:
    image: Image.Image
    text: str  # the text actually drawn (lines joined with "\n")


def render_page(
    text: str,
    lang: str,
    *,
    dpi: int = 300,
    font_pt: float = 11.0,
    margin_mm: float = 20.0,
    size_mm: tuple[float, float] = A4_MM,
    variant: int = 0,
    max_lines: int | None = None,
) -> RenderedPage:
    """Draw ``text`` wrapped on a white page (grayscale 'L') of ``size_mm`` at ``dpi``.

    Text that does not fit is cut off; ``RenderedPage.text`` is what was drawn.
    """
    w = round(size_mm[0] / 25.4 * dpi)
    h = round(size_mm[1] / 25.4 * dpi)
    margin = round(margin_mm / 25.4 * dpi)
    size_px = max(8, round(font_pt / 72 * dpi))
    font = load_font(lang, size_px, variant)
    line_h = round(size_px * 1.6)
    lines = _wrap(text, font, w - 2 * margin)
    fit = max(1, (h - 2 * margin) // line_h)
    if max_lines is not None:
        fit = min(fit, max_lines)
    lines = lines[:fit]
    img = Image.new("L", (w, h), 255)
    draw = ImageDraw.Draw(img)
    y = margin
    for line in lines:
        draw.text((margin, y), line, font=font, fill=0)
        y += line_h
    return RenderedPage(img, "\n".join(lines))


def scan_noise(image: Image.Image, seed: int = 0, *, strength: float = 1.0) -> Image.Image:
    """Simulate a mediocre scan: slight rotation, blur, gaussian noise, JPEG artefacts."""
    import numpy as np

    rnd = random.Random(seed)  # nosec B311 # repeatable noise for test scans, not a secret
    img = image.convert("L")
    angle = rnd.uniform(0.4, 1.0) * strength * rnd.choice((-1, 1))
    img = img.rotate(angle, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=255)
    img = img.filter(ImageFilter.GaussianBlur(radius=0.8 * strength))
    arr = np.asarray(img, dtype=np.float32)
    rng = np.random.default_rng(seed)
    arr = arr + rng.normal(0.0, 12.0 * strength, arr.shape).astype(np.float32)
    # a slightly grey paper
    arr = arr * 0.92 + 12
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "L")
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=max(10, int(45 - 10 * strength)))
    buf.seek(0)
    out = Image.open(buf)
    out.load()
    return out


def save_pdf(images: list[Image.Image], path: str | Path, dpi: int = 300) -> Path:
    """Write images as a PDF of scanned pages (one image per page, no text layer)."""
    path = Path(path)
    first, *rest = [im.convert("L") for im in images]
    first.save(path, format="PDF", resolution=float(dpi), save_all=True, append_images=rest)
    return path
