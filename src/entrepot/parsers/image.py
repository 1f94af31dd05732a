"""Raster images through Pillow: every frame is a page that needs OCR.

Pixel limits come from the parse context, checked for every frame before decoding; Pillow's
own process-wide MAX_IMAGE_PIXELS is never changed. Its DecompressionBombWarning is silenced
around our calls (our limit decides) and its DecompressionBombError (above twice Pillow's
global limit) becomes TooLarge too. Multi-page TIFF: one page per frame. EXIF orientation
is applied when rendering.

(``warnings.catch_warnings`` touches the process-wide filter list; on Python 3.11 that is not
thread-safe, but the only effect of a race is that another thread's Pillow warning is shown
or hidden - no limit depends on it.)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import warnings
from collections.abc import Iterator

from entrepot.core.errors import InvalidInput, TooLarge

from . import model as m
from .textutil import clean_text

_MULTI_FRAME = {"TIFF"}  # GIF/WebP animations are one picture, not pages
_PIL_FORMATS = ("PNG", "JPEG", "TIFF", "GIF", "BMP", "WEBP", "MPO")


@contextlib.contextmanager
def _pillow_guard(ctx: m.ParseContext) -> Iterator[None]:
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            # "Corrupt EXIF data", "Truncated File Read" and the like: the image is still usable.
            warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
            yield
    except Image.DecompressionBombError as exc:
        raise TooLarge(
            "The image is too large (over %(limit)s million pixels).", limit=ctx.max_image_pixels // 1_000_000
        ) from exc
    except UnidentifiedImageError as exc:
        raise InvalidInput("The image format is not recognised or the file is damaged.") from exc
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError,
            ZeroDivisionError, MemoryError) as exc:
        # Pillow signals truncated/corrupt data with these (SyntaxError from some plugins).
        raise InvalidInput("The image is damaged or incomplete and cannot be read.") from exc


def _check_pixels(size: tuple[int, int], ctx: m.ParseContext) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise InvalidInput("The image is damaged (it has no size).")
    if width * height > ctx.max_image_pixels:
        raise TooLarge(
            "The image is too large (%(width)s x %(height)s pixels; the limit is %(limit)s million).",
            width=width, height=height, limit=ctx.max_image_pixels // 1_000_000,
        )


def _open(data: bytes, ctx: m.ParseContext):  # noqa: ANN202 - PIL.ImageFile
    from PIL import Image

    image = Image.open(io.BytesIO(data), formats=_PIL_FORMATS)
    _check_pixels(image.size, ctx)
    return image


def _frame_count(image) -> int:  # noqa: ANN001
    if image.format not in _MULTI_FRAME:
        return 1
    return int(getattr(image, "n_frames", 1) or 1)


class ImageParser:
    media_types = (m.PNG, m.JPEG, m.TIFF, m.GIF, m.BMP, m.WEBP)

    def parse(self, data: bytes, ctx: m.ParseContext) -> m.ParsedDocument:
        with _pillow_guard(ctx):
            image = _open(data, ctx)
            with image:
                media_type = _media(image.format)
                total = _frame_count(image)
                keep = min(total, ctx.max_pages)
                doc = m.ParsedDocument(media_type=media_type, page_count=total, truncated=total > keep)
                for index in range(keep):
                    ctx.check_time()
                    if index:
                        image.seek(index)
                        _check_pixels(image.size, ctx)
                    doc.pages.append(m.PageText(number=index + 1, text=""))
                    doc.needs_ocr.append(index + 1)
                image.seek(0)
                image.load()  # damaged data fails here rather than later in OCR
                self._metadata(image, doc)
        doc._renderer = _ImageRenderer(data, ctx)
        return doc

    @staticmethod
    def _metadata(image, doc: m.ParsedDocument) -> None:  # noqa: ANN001
        try:
            exif = image.getexif()
        except Exception:  # noqa: BLE001 - broken EXIF is not a broken image
            return
        doc.metadata["width"] = str(image.size[0])
        doc.metadata["height"] = str(image.size[1])
        artist = exif.get(0x013B)  # Artist
        description = exif.get(0x010E)  # ImageDescription
        stamp = exif.get(0x0132)  # DateTime "YYYY:MM:DD HH:MM:SS"
        if isinstance(artist, str) and clean_text(artist):
            doc.author = clean_text(artist)[:500]
        if isinstance(description, str) and clean_text(description):
            doc.title = clean_text(description)[:500]
        if isinstance(stamp, str):
            with contextlib.suppress(ValueError):
                doc.created = dt.datetime.strptime(stamp.strip("\x00 "), "%Y:%m:%d %H:%M:%S")


def _media(fmt: str | None) -> str:
    return {
        "PNG": m.PNG, "JPEG": m.JPEG, "MPO": m.JPEG, "TIFF": m.TIFF,
        "GIF": m.GIF, "BMP": m.BMP, "WEBP": m.WEBP,
    }.get(fmt or "", m.UNKNOWN)


class _ImageRenderer:
    """Frame ``number`` as RGB (or L), EXIF orientation applied. ``dpi`` is ignored: native pixels."""

    def __init__(self, data: bytes, ctx: m.ParseContext) -> None:
        self._data = data
        self._ctx = ctx

    def __call__(self, number: int, dpi: int):  # noqa: ANN204, ARG002
        from PIL import Image, ImageOps

        with _pillow_guard(self._ctx):
            image = _open(self._data, self._ctx)
            with image:
                if number > 1:
                    image.seek(number - 1)
                    _check_pixels(image.size, self._ctx)
                frame = ImageOps.exif_transpose(image)
                if frame.mode in ("RGB", "L"):
                    return frame.copy() if frame is image else frame
                if frame.mode in ("RGBA", "LA", "PA") or "transparency" in frame.info:
                    rgba = frame.convert("RGBA")
                    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                    return Image.alpha_composite(white, rgba).convert("RGB")
                return frame.convert("RGB")
