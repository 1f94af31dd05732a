"""Chat attachments: what a file really is (from its bytes), picture thumbnails, voice-note duration."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

from PIL import Image

from entrepot.core.errors import InvalidInput
from entrepot.parsers import detect_media_type

AUDIO_MAGIC = [
    (b"\x1a\x45\xdf\xa3", "audio/webm"),
    (b"OggS", "audio/ogg"),
    (b"ID3", "audio/mpeg"),
    (b"\xff\xfb", "audio/mpeg"),
    (b"\xff\xf3", "audio/mpeg"),
]
PICTURES = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "image/tiff"}
MAX_PIXELS = 60_000_000
THUMB = 480
TOOL_TIMEOUT_S = 30


def sniff(data: bytes, filename: str) -> str:
    for magic, media in AUDIO_MAGIC:
        if data.startswith(magic):
            return media
    if data[4:8] == b"ftyp" and data[8:11] in (b"M4A", b"mp4", b"iso"):
        return "audio/mp4"
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    return detect_media_type(data, filename)


def thumbnail(data: bytes) -> bytes:
    """A small WebP of a picture; decompression bombs and broken files are refused clearly."""
    too_large = InvalidInput("The picture is too large (%(n)s megapixels at most).", n=MAX_PIXELS // 1_000_000)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise too_large from exc
    except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds for broken files
        raise InvalidInput("The picture could not be read; it may be damaged.") from exc
    try:
        with img:
            if img.width * img.height > MAX_PIXELS:
                raise too_large
            img.thumbnail((THUMB, THUMB))
            out = io.BytesIO()
            img.convert("RGB").save(out, "WEBP", quality=70)
            return out.getvalue()
    except InvalidInput:
        raise
    except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds for broken files
        raise InvalidInput("The picture could not be read; it may be damaged.") from exc


def voice_note(data: bytes) -> tuple[bytes, float]:
    """(remuxed audio, seconds). Browsers' MediaRecorder leaves the duration out of WebM; a remux
    without re-encoding writes it, then ffprobe can read it."""
    if not sniff(data, "").startswith("audio/"):
        raise InvalidInput("A voice note must be an audio recording.")
    ffmpeg, ffprobe = shutil.which("ffmpeg"), shutil.which("ffprobe")
    if ffmpeg is None or ffprobe is None:
        raise InvalidInput("Voice notes need ffmpeg on the server.")
    with tempfile.TemporaryDirectory(prefix="entrepot-voice-") as tmp:
        src, dst = Path(tmp) / "in", Path(tmp) / "out.webm"
        src.write_bytes(data)
        try:
            subprocess.run([ffmpeg, "-v", "error", "-y", "-i", str(src), "-c", "copy", str(dst)],  # noqa: S603
                           check=True, capture_output=True, timeout=TOOL_TIMEOUT_S)
            probe = subprocess.run([ffprobe, "-v", "error", "-show_entries", "format=duration", "-of", "json",  # noqa: S603
                                    str(dst)], check=True, capture_output=True, timeout=TOOL_TIMEOUT_S)
            seconds = float(json.loads(probe.stdout)["format"]["duration"])
        except (subprocess.SubprocessError, KeyError, ValueError) as exc:
            raise InvalidInput("The voice note could not be read; it may be damaged.") from exc
        return dst.read_bytes(), round(seconds, 2)
