"""Tesseract implementation of OcrEngine.

Pipeline for one page:

1. sample: find text lines on a 1/4-scale copy of the page (row ink profile inside a narrow
   window, so a slightly rotated scan still separates its lines), cut up to four short line
   pieces at full resolution and stack them into a small strip (about 60 characters).
2. detect: recognise the strip with the Japanese model (kana -> ja, mostly Latin -> en); if
   it is Han-dominated, with the Korean model (mostly Hangul and more confident -> ko); else it
   is Chinese, and the share of traditional-only characters in the Japanese model's reading
   (the jpn model knows both traditional and shinjitai/simplified-looking forms) decides
   zh-Hant vs zh-Hans, with chi_sim vs chi_tra confidences on the strip when that is unclear.
   Tesseract OSD (--psm 0) was measured at 1-1.7 s a page here, a third of a page's OCR, so
   it is not used; the strip costs 0.1-0.3 s.
3. recognise the whole page with exactly one model: psm 6 first for Korean (psm 3 lost up to
   87 % of a clean Korean page), psm 3 first for the others; if the result is fragmented or
   poor, the other mode is tried and the better (sum of confidence x characters) kept.

Recognition runs in a worker subprocess (``entrepot.ocr._worker``) that keeps the models
loaded; the page's time limit is enforced by killing that process. OMP_THREAD_LIMIT=1 is
always set for it: parallelism comes from several engines (processes), not OpenMP threads.
An engine is not thread-safe by itself (calls are serialised with a lock); use one engine per
thread for parallel OCR.
"""

from __future__ import annotations

import io
import json
import os
import selectors
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from entrepot.ocr.scripts import count_scripts, normalize_text, variant_votes
from entrepot.ocr.base import (
    LANGUAGES,
    Detection,
    ImageInput,
    OcrContext,
    OcrError,
    OcrPage,
    OcrTimeout,
)

# Detection thresholds, measured on strips of rendered corpus pages (12 passages per language,
# 4 fonts/sizes, clean and scan-like): jpn-model confidence was 85-94 on Japanese, 70-92 on
# English, 46-80 on Chinese, 19-38 on Korean; kor-model confidence 73-94 on Korean and at most
# 44 on anything else; kana made 31-80 % of the jpn reading of Japanese and up to 40 % of its
# (garbage) reading of Korean, at most 6 % of Chinese.
KANA_SHARE_JA = 0.15  # kana among letters of the jpn reading
JA_MIN_CONF = 60
LATIN_SHARE_EN = 0.60  # Latin among letters of the jpn reading
EN_MIN_CONF = 55
KO_MIN_CONF = 60
HANGUL_SHARE_KO = 0.50  # Hangul among letters of the kor reading
ZH_MIN_JPN_CONF = 40
# Simplified vs traditional: chi_sim and chi_tra read the 4-line strip; each aligned pair of
# variant characters (说/說) votes for the surer model. On 4 lines, tra-sim votes were -15..+2
# on simplified and +2..+15 on traditional pages; so a second 4-line strip is read when the
# first is not clear. On 8 lines they were -22..+1 vs +6..+39.
ZH_SIMP_SURE = -3  # tra - sim votes at or below: simplified without a second strip
ZH_TRAD_SURE = 5  # ... at or above: traditional
ZH_VOTE_BIAS = 3.0  # margin = votes - bias + weight x (conf_tra - conf_sim - conf_bias)
ZH_CONF_WEIGHT = 0.2
ZH_CONF_BIAS = 3.0  # chi_tra reads simplified print nearly as confidently as chi_sim does

SAMPLE_LINES = 4
SAMPLE_CHARS = 16  # piece width in line heights (~ CJK characters)


@dataclass
class _Recognition:
    text: str
    confidence: float  # char-weighted mean word confidence
    chars: int
    words: int
    lines: int
    short_lines: int
    psm: int
    model: str
    symbols: list[tuple[str, float]]

    @property
    def score(self) -> float:
        return self.confidence * self.chars


def _parse_tsv(tsv: str) -> tuple[float, int, int, int, int]:
    """(weighted mean conf, chars, words, lines, lines with <= 2 chars) from tesseract TSV."""
    total = 0.0
    chars = 0
    words = 0
    per_line: dict[tuple[str, str, str, str], int] = {}
    for row in tsv.splitlines():
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5":
            continue
        word = cols[11].strip()
        try:
            conf = float(cols[10])
        except ValueError:
            continue
        if not word or conf < 0:
            continue
        n = len(word)
        total += conf * n
        chars += n
        words += 1
        key = (cols[1], cols[2], cols[3], cols[4])
        per_line[key] = per_line.get(key, 0) + n
    mean = total / chars if chars else 0.0
    short = sum(1 for n in per_line.values() if n <= 2)
    return mean, chars, words, len(per_line), short


def _load_image(image: ImageInput) -> Image.Image:
    if isinstance(image, Image.Image):
        return image
    if isinstance(image, bytes | bytearray):
        img = Image.open(io.BytesIO(image))
    elif isinstance(image, str | Path):
        img = Image.open(image)
    else:
        raise OcrError("unsupported image input type", type=type(image).__name__)
    img.load()
    return img


def _to_gray(img: Image.Image) -> Image.Image:
    if img.mode in ("RGBA", "LA", "P"):
        img = img.convert("RGBA")
        bg = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(bg, img)
    return img.convert("L")


def _has_ink(gray: Image.Image) -> bool:
    small = np.asarray(gray.reduce(4), dtype=np.int16)
    return small.size > 0 and int((small < float(np.percentile(small, 90)) - 60).sum()) >= 20


def find_text_bands(gray: Image.Image, dpi: int) -> tuple[list[tuple[int, int, int, int]], int]:
    """Text line boxes (x0, y0, x1, y1) at full resolution, found on a reduced copy.

    Only a window about a third of the text width wide (from the left edge of the ink) is
    profiled, so lines of a page rotated by ~1 degree stay apart.
    """
    f = max(1, round(dpi / 75))
    small = np.asarray(gray.reduce(f) if f > 1 else gray, dtype=np.int16)
    if small.size == 0:
        return [], f
    bg = float(np.percentile(small, 90))
    dark = small < (bg - 60)
    cols = dark.sum(axis=0)
    ink_cols = np.nonzero(cols >= 2)[0]
    if ink_cols.size == 0:
        return [], f
    x0, x1 = int(ink_cols[0]), int(ink_cols[-1]) + 1
    win = max(8, min(x1 - x0, small.shape[1] // 3))
    rows = dark[:, x0 : x0 + win].sum(axis=1)
    is_text = rows >= 2
    bands: list[tuple[int, int]] = []
    y = 0
    n = len(is_text)
    while y < n:
        if not is_text[y]:
            y += 1
            continue
        start = y
        while y < n and is_text[y]:
            y += 1
        bands.append((start, y))
    min_h = max(2, round(2.5 / 25.4 * dpi / f))  # ~2.5 mm: 7 pt text
    max_h = round(15 / 25.4 * dpi / f)  # ~15 mm
    boxes = []
    for ya, yb in bands:
        if not (min_h <= yb - ya <= max_h):
            continue
        band_cols = np.nonzero(dark[ya:yb].sum(axis=0) >= 1)[0]
        if band_cols.size < 3:
            continue
        boxes.append((int(band_cols[0]) * f, ya * f, (int(band_cols[-1]) + 1) * f, yb * f))
    return boxes, f


def sample_strip(
    gray: Image.Image,
    dpi: int,
    *,
    lines: int = SAMPLE_LINES,
    chars: int = SAMPLE_CHARS,
    boxes: list[tuple[int, int, int, int]] | None = None,
    phase: float = 0.25,
) -> Image.Image | None:
    """A small image stacking up to ``lines`` pieces (``chars`` line-heights wide) of text
    lines spread over the page; None when the page has no text lines. ``phase`` (0-1) shifts
    which lines are taken, so two samples with phases 0.25 and 0.75 do not overlap."""
    if boxes is None:
        boxes, _ = find_text_bands(gray, dpi)
    if not boxes:
        return None
    heights = sorted(b[3] - b[1] for b in boxes)
    med = heights[len(heights) // 2]
    body = [b for b in boxes if 0.6 * med <= b[3] - b[1] <= 1.6 * med] or boxes
    if len(body) > lines:
        step = len(body) / lines
        body = [body[min(len(body) - 1, int(step * (i + phase)))] for i in range(lines)]
    pieces = []
    pad = max(2, med // 8)
    for x0, y0, x1, y1 in body:
        h = y1 - y0
        x_end = min(x1, x0 + chars * h)
        box = (max(0, x0 - pad), max(0, y0 - pad), min(gray.width, x_end + pad), min(gray.height, y1 + pad))
        pieces.append(gray.crop(box))
    gap = max(10, med // 2)
    width = max(p.width for p in pieces) + 2 * gap
    height = sum(p.height for p in pieces) + gap * (len(pieces) + 1)
    strip = Image.new("L", (width, height), 255)
    y = gap
    for p in pieces:
        strip.paste(p, (gap, y))
        y += p.height + gap
    return strip


class _Worker:
    """A tesseract worker subprocess and its pipe protocol."""

    def __init__(self, ctx: OcrContext) -> None:
        self._ctx = ctx
        self._proc: subprocess.Popen[bytes] | None = None
        self._buf = b""

    def _start(self) -> subprocess.Popen[bytes]:
        env = dict(os.environ)
        env["OMP_THREAD_LIMIT"] = "1"
        src = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        if self._ctx.temp_dir is not None:
            env["TMPDIR"] = str(self._ctx.temp_dir)
        args = [sys.executable, "-m", "entrepot.ocr._worker", str(self._ctx.tessdata_dir or "")]
        self._proc = subprocess.Popen(  # noqa: S603 - fixed argv, our own module
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            bufsize=0,
            env=env,
            start_new_session=True,
        )
        self._buf = b""
        return self._proc

    def call(self, header: dict, payload: bytes, deadline: float, limit_s: float) -> dict:
        proc = self._proc if self._proc is not None and self._proc.poll() is None else self._start()
        assert proc.stdin is not None and proc.stdout is not None
        msg = json.dumps(dict(header, nbytes=len(payload))).encode() + b"\n"
        try:
            proc.stdin.write(msg)
            proc.stdin.write(payload)
        except (BrokenPipeError, OSError) as exc:
            self.kill()
            raise OcrError("the OCR worker process died", detail=str(exc)) from exc
        fd = proc.stdout.fileno()
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buf:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not sel.select(remaining):
                    if time.monotonic() < deadline:
                        continue
                    self.kill()
                    raise OcrTimeout(
                        f"OCR of a page exceeded the time limit of {limit_s:g} s", limit_s=limit_s
                    )
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    self.kill()
                    raise OcrError("the OCR worker process died (tesseract crashed?)")
                self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        resp = json.loads(line)
        if not resp.get("ok"):
            raise OcrError(f"tesseract failed: {resp.get('error')}", detail=resp.get("error"))
        return resp

    def kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for s in (proc.stdin, proc.stdout):
            if s is not None:
                s.close()

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(timeout=5)
        except (subprocess.TimeoutExpired, OSError):
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


class TesseractEngine:
    """OcrEngine backed by tesseract 5 (libtesseract through a worker process) and OCRmyPDF."""

    def __init__(self, context: OcrContext | None = None) -> None:
        self.context = context or OcrContext()
        self._worker = _Worker(self.context)
        self._lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            self._worker.close()

    def __enter__(self) -> TesseractEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- low level ---------------------------------------------------------------------------
    def _recognize(
        self, gray: Image.Image, model: str, psm: int, dpi: int, deadline: float, symbols: bool = False
    ) -> _Recognition:
        header = {"op": "ocr", "lang": model, "psm": psm, "width": gray.width, "height": gray.height}
        resp = self._worker.call(
            dict(header, dpi=dpi, symbols=symbols),
            gray.tobytes(),
            deadline,
            self.context.page_timeout_s,
        )
        conf, chars, words, lines, short = _parse_tsv(resp["tsv"])
        syms = [(str(c), float(x)) for c, x in resp.get("symbols") or []]
        return _Recognition(resp["text"], conf, chars, words, lines, short, psm, model, syms)

    # -- detection ---------------------------------------------------------------------------
    def _allowed(self, ranked: Sequence[str]) -> str:
        for lang in ranked:
            if lang in self.context.languages:
                return lang
        return sorted(self.context.languages)[0]

    def _detect(
        self, gray: Image.Image, dpi: int, deadline: float, boxes: list[tuple[int, int, int, int]]
    ) -> Detection:
        t0 = time.monotonic()
        langs = self.context.languages

        def done(lang: str | None, script: str | None, method: str) -> Detection:
            return Detection(lang, script, method, time.monotonic() - t0)

        strip = sample_strip(gray, dpi, boxes=boxes)
        if strip is None:
            return done(None, None, "no text lines")
        if len(langs) == 1:
            return done(next(iter(langs)), None, "only language allowed")
        rj = self._recognize(strip, "jpn", 6, dpi, deadline)
        cj = count_scripts(rj.text)
        if cj.letters == 0:
            return done(None, None, "no letters in sample")
        jconf = rj.confidence
        if cj.kana >= 3 and cj.share(cj.kana) >= KANA_SHARE_JA and jconf >= JA_MIN_CONF and "ja" in langs:
            return done("ja", "Japanese", f"kana {cj.kana}/{cj.letters}, jpn conf {jconf:.0f}")
        if cj.share(cj.latin) >= LATIN_SHARE_EN and jconf >= EN_MIN_CONF and "en" in langs:
            return done("en", "Latin", f"latin {cj.latin}/{cj.letters}, jpn conf {jconf:.0f}")
        kconf = -1.0
        if "ko" in langs:
            rk = self._recognize(strip, "kor", 6, dpi, deadline)
            ck = count_scripts(rk.text)
            kconf = rk.confidence
            if kconf >= KO_MIN_CONF and ck.share(ck.hangul) >= HANGUL_SHARE_KO:
                return done("ko", "Hangul", f"hangul {ck.hangul}/{ck.letters}, kor conf {kconf:.0f}")
        zh = sorted({"zh-Hans", "zh-Hant"} & langs)
        if cj.han >= cj.latin and zh and jconf >= ZH_MIN_JPN_CONF:
            if len(zh) == 1:
                return done(zh[0], "Han", "han; one chinese variant allowed")
            vs, vt, cs, ct = self._variant_votes(strip, dpi, deadline)
            if ZH_SIMP_SURE < vt - vs < ZH_TRAD_SURE:
                more = sample_strip(gray, dpi, boxes=boxes, phase=0.75)
                if more is not None:
                    vs2, vt2, cs2, ct2 = self._variant_votes(more, dpi, deadline)
                    vs, vt, cs, ct = vs + vs2, vt + vt2, (cs + cs2) / 2, (ct + ct2) / 2
            margin = (vt - vs) - ZH_VOTE_BIAS + ZH_CONF_WEIGHT * (ct - cs - ZH_CONF_BIAS)
            lang = "zh-Hant" if margin > 0 else "zh-Hans"
            return done(lang, "Han", f"votes sim {vs} tra {vt}, conf sim {cs:.0f} tra {ct:.0f}")
        # nothing clear: the most confident reading among the allowed languages
        ranked = sorted(
            [(jconf, "ja" if cj.kana else ("en" if cj.latin > cj.han else "zh-Hans")), (kconf, "ko")],
            reverse=True,
        )
        order = [lang for _, lang in ranked] + ["en", "ja", "zh-Hans", "zh-Hant", "ko"]
        return done(self._allowed(order), None, f"fallback: jpn conf {jconf:.0f}, kor conf {kconf:.0f}")

    def _variant_votes(self, strip: Image.Image, dpi: int, deadline: float) -> tuple[int, int, float, float]:
        rs = self._recognize(strip, "chi_sim", 6, dpi, deadline, symbols=True)
        rt = self._recognize(strip, "chi_tra", 6, dpi, deadline, symbols=True)
        vs, vt = variant_votes(rs.symbols, rt.symbols)
        return vs, vt, rs.confidence, rt.confidence

    def detect_language(self, image: ImageInput) -> Detection:
        gray, dpi = self._prepare(image)
        boxes, _ = find_text_bands(gray, dpi)
        with self._lock:
            return self._detect(gray, dpi, time.monotonic() + self.context.page_timeout_s, boxes)

    # -- OCR ---------------------------------------------------------------------------------
    def _prepare(self, image: ImageInput) -> tuple[Image.Image, int]:
        img = _load_image(image)
        dpi_info = img.info.get("dpi")
        dpi = self.context.default_dpi
        if dpi_info:
            try:
                d = int(round(float(dpi_info[0])))
                if 70 <= d <= 1200:
                    dpi = d
            except (TypeError, ValueError, IndexError):
                pass
        return _to_gray(img), dpi

    @staticmethod
    def _poor(r: _Recognition, bands: int) -> bool:
        if r.chars < 20:
            return bands >= 2
        if r.confidence < 50:
            return True
        return r.lines >= 6 and r.short_lines > 0.35 * r.lines

    def ocr_image(self, image: ImageInput, *, language: str | None = None) -> OcrPage:
        t0 = time.monotonic()
        deadline = t0 + self.context.page_timeout_s
        gray, dpi = self._prepare(image)
        if language is not None and language not in LANGUAGES:
            raise OcrError(f"unknown language {language!r}", language=language)
        boxes, _ = find_text_bands(gray, dpi)
        with self._lock:
            if language is None:
                det = self._detect(gray, dpi, deadline, boxes)
            elif not boxes:
                det = Detection(None, None, "no text lines")
            else:
                det = Detection(language, None, "given")
            if det.language is None:
                return self._fallback(gray, dpi, deadline, t0, det)
            lang = det.language
            model = LANGUAGES[lang]
            modes = (6, 3) if lang == "ko" else (3, 6)
            best = self._recognize(gray, model, modes[0], dpi, deadline)
            if self._poor(best, len(boxes)):
                alt = self._recognize(gray, model, modes[1], dpi, deadline)
                if alt.score > best.score:
                    best = alt
        text = normalize_text(best.text, lang)
        conf = round(best.confidence, 2) if text else 0.0
        return OcrPage(
            text=text,
            language=lang,
            confidence=conf,
            psm=best.psm,
            seconds=time.monotonic() - t0,
            needs_review=conf < self.context.review_threshold,
            model=model,
            words=best.words,
            detection=det,
        )

    def _fallback(self, gray: Image.Image, dpi: int, deadline: float, t0: float, det: Detection) -> OcrPage:
        """No line the detector trusts (tiny or unusual print): one full-page pass, flagged for review,
        so a page with ink never silently comes back empty."""
        if not _has_ink(gray):
            return OcrPage("", None, 0.0, 0, time.monotonic() - t0, needs_review=True, detection=det)
        best = self._recognize(gray, LANGUAGES["en"], 3, dpi, deadline)
        text = normalize_text(best.text, "en")
        return OcrPage(text=text, language="en" if text else None, confidence=round(best.confidence, 2) if text else 0.0,
                       psm=best.psm, seconds=time.monotonic() - t0, needs_review=True, model=LANGUAGES["en"],
                       words=best.words, detection=det)

    # -- PDF ---------------------------------------------------------------------------------
    def make_searchable_pdf(
        self,
        input_pdf_path: str | Path,
        output_path: str | Path,
        languages: str | Sequence[str | None],
    ) -> Path:
        from entrepot.ocr.pdf import make_searchable_pdf

        return make_searchable_pdf(self.context, input_pdf_path, output_path, languages)
