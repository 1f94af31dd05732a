"""Visible watermarks on previews of classified pages: the viewer's name and the time, across the page."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT_CANDIDATES = [
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/nanum/NanumGothic.ttf"),
]


@lru_cache(maxsize=4)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for path in FONT_CANDIDATES:
        if path.exists():
            return ImageFont.truetype(str(path), size, index=1 if path.suffix == ".ttc" else 0)
    return ImageFont.load_default(size)


def watermark(webp: bytes, viewer: str, level: str, now: datetime | None = None) -> bytes:
    """The page image with a diagonal, repeated, semi-transparent mark; returned as WebP."""
    stamp = f"{level} · {viewer} · {(now or datetime.now(UTC)).strftime('%Y-%m-%d %H:%M UTC')}"
    page = Image.open(io.BytesIO(webp)).convert("RGBA")
    size = max(14, page.width // 32)
    font = _font(size)
    tile = Image.new("RGBA", (page.width * 2, page.height * 2), (0, 0, 0, 0))
    draw = ImageDraw.Draw(tile)
    step_y = size * 5
    for row, y in enumerate(range(0, tile.height, step_y)):
        offset = (row % 2) * size * 8
        for x in range(-offset, tile.width, size * len(stamp) // 2 + size * 4):
            draw.text((x, y), stamp, font=font, fill=(180, 20, 20, 70))
    tile = tile.rotate(30, resample=Image.Resampling.BICUBIC)
    left, top = (tile.width - page.width) // 2, (tile.height - page.height) // 2
    page.alpha_composite(tile.crop((left, top, left + page.width, top + page.height)))
    out = io.BytesIO()
    page.convert("RGB").save(out, "WEBP", quality=75)
    return out.getvalue()
