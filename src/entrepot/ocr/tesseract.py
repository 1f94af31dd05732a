"""Tesseract implementation of OcrEngine.

Pipeline for one page:

1. sample: find text lines on a 1/4-scale copy of the page (row ink profile inside a narrow
   window, so a slightly rotated scan still separates its lines), cut two short line pieces at
   full resolution and stack them into a small strip (about 32 characters); further strips
   take other lines.
2. detect, reading strips only as long as the evidence is unclear (recognition costs about
   2-3 ms a character, so every strip reading counts): the Japanese model reads the first
   strip (kana -> ja, mostly Latin -> en); a poor reading there (Hangul read by jpn) sends it to
   the Korean model (confident -> ko); a Han reading starts a sequential simplified/traditional
   test (see ZH_*): the traditional-only vs simplified-only characters of the jpn readings of
   up to eight strips, then chi_sim vs chi_tra votes, until the sum is clear. Measured cost:
   2-5 % of the page's recognition (ja, en: one jpn strip, 0.07 s CPU; ko: jpn and kor strips,
   0.2 s; Chinese: 2.6 jpn strips on average, 0.18 s, up to 8 on hard pages). Tesseract OSD
   (--psm 0) was measured at 1-1.7 s a page, so it is not used, and it does not tell
   simplified from traditional.
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image

from entrepot.ocr.base import (
    LANGUAGES,
    Detection,
    ImageInput,
    OcrContext,
    OcrError,
    OcrPage,
    OcrTimeout,
)
from entrepot.ocr.scripts import count_scripts, normalize_text, variant_counts, variant_votes

# Detection reads small strips of the page (two pieces of text lines, about 32 characters) and
# stops as soon as the evidence is clear, so that it costs a few percent of the page's OCR.
# Thresholds measured on 2-line strips of rendered corpus pages (pages apart from the
# benchmark's; 4 fonts per language, clean and scan-like): jpn-model confidence was 84-95 on
# Japanese, 83-91 on English, 47-82 on Chinese and 16-56 on Korean (mean of two strips: at
# most 36 on Korean, at least 54 on Chinese); kor-model confidence 66-94 on Korean, at most 51
# on anything else; kana made 25-77 % of the jpn reading of Japanese (at least 7 kana), up to
# 48 % of its garbage reading of Korean (at jpn confidence <= 56), at most 7 % of Chinese;
# Latin made at least 98 % of the jpn reading of English and at most 48 % of Korean.
KANA_SHARE_JA = 0.15  # kana among letters of the jpn reading
JA_MIN_CONF = 60
JA_SURE_CONF = 70  # between JA_MIN_CONF and this, the Korean model must disagree first
LATIN_SHARE_EN = 0.60  # Latin among letters of the jpn reading
EN_MIN_CONF = 65
KO_MIN_CONF = 60
HANGUL_SHARE_KO = 0.50  # Hangul among letters of the kor reading
KO_ROUTE_CONF = 45  # jpn confidence below this (first strip, or mean of two): try kor first
ZH_MIN_JPN_CONF = 40
ZH_MIN_CONF = 65  # best chi_sim/chi_tra confidence on a strip: at least 71 on Chinese, at most
# 59 on Korean and 73 on Japanese print; below it the page is not Chinese, at or above it not Korean
ZH_ROUTE_CONF = (60, 48)  # mean jpn confidence of one strip / of several: below, and unless the
# Chinese models read a strip confidently, the Korean model must rule Korean out
# Simplified vs traditional: a sequential test adding evidence strip by strip (positive:
# traditional) until it passes +-ZH_SURE, cheapest evidence first:
#   jpn reading (0.07 s a strip; free for the first): a Poisson log-likelihood ratio over its
#     traditional-only / simplified-only Han symbols, each weighted by whether jpn was sure of
#     it (ZH_JPN_LLR, see scripts.variant_counts), minus ZH_JPN_PER_HAN per Han symbol.
#     Fitted on 220 pages (corpus passages apart from the benchmark's, Noto Sans and Serif,
#     clean and scan-like); per 2-line strip it was -4.2 +- 3.1 on simplified and +5.2 +- 3.8
#     on traditional pages. Counting all symbols alike (the earlier rule) gave -3.6 +- 2.8 and
#     +4.4 +- 3.1, and needed the votes below on 11 of those pages, of which it got 2 wrong;
#   chi_sim and chi_tra readings of the same strip (0.21 s): each aligned pair of variant
#     characters (说/說) votes for the surer model; ZH_VOTE_WEIGHT x (votes_tra - votes_sim
#     + ZH_CONF_WEIGHT x (conf_tra - conf_sim) - ZH_VOTE_BIAS); -4.6 +- 3.4 vs +4.3 +- 3.3.
#     Three times dearer per unit of evidence than jpn strips, and misleading on some serif
#     pages (chi_tra reads simplified glyphs as their traditional forms, 99 % sure): only for
#     pages whose jpn strips ran out.
# On the 220 pages the test stopped after 2.6 jpn strip readings on average (0.18 s of CPU,
# the first strip included; at most 7), all right, none needing votes.
ZH_JPN_SURE_CONF = 90.0  # jpn symbol confidence from which a variant character counts as sure
ZH_JPN_LLR = (1.6, 0.4, -1.7, -0.7)  # traditional-only sure, unsure; simplified-only sure, unsure
ZH_JPN_PER_HAN = 0.095
ZH_VOTE_WEIGHT = 1.2
ZH_CONF_WEIGHT = 0.1
ZH_VOTE_BIAS = 1.1
ZH_SURE = 8.0
# Strip phases (which lines a strip takes); the first is the script strip. The jpn evidence
# gives about three times more separation per second than the votes, so all jpn strips go first.
STRIP_PHASES = (0.25, 0.75, 0.5, 0.125, 0.625, 0.375, 0.875, 0.0625)
ZH_STEPS = tuple(("jpn", i) for i in range(1, len(STRIP_PHASES))) + (("votes", 0), ("votes", 1), ("votes", 2))

SAMPLE_LINES = 2
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


def _summarize(text: str, words: list[tuple[int, float]]) -> tuple[float, int, int, int, int]:
    """(character-weighted mean word confidence, chars, words, lines, lines with <= 2 chars)
    of one reading: ``words`` are the worker's [(characters, confidence)], lines those of
    ``text`` that hold any character (the figures tesseract's TSV gave, without rendering it)."""
    chars = sum(n for n, _ in words)
    mean = sum(n * conf for n, conf in words) / chars if chars else 0.0
    per_line = [n for n in (len("".join(ln.split())) for ln in text.splitlines()) if n]
    short = sum(1 for n in per_line if n <= 2)
    return mean, chars, len(words), len(per_line), short


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


def pick_lines(
    boxes: list[tuple[int, int, int, int]], lines: int = SAMPLE_LINES, phase: float = 0.25
) -> list[tuple[int, int, int, int]]:
    """Up to ``lines`` body-text line boxes spread over the page; ``phase`` (0-1) shifts which
    lines are taken, so samples with phases 0.25, 0.75 and 0.5 do not overlap."""
    if not boxes:
        return []
    heights = sorted(b[3] - b[1] for b in boxes)
    med = heights[len(heights) // 2]
    body = [b for b in boxes if 0.6 * med <= b[3] - b[1] <= 1.6 * med] or boxes
    if len(body) > lines:
        step = len(body) / lines
        body = [body[min(len(body) - 1, int(step * (i + phase)))] for i in range(lines)]
    return body


def sample_strip(
    gray: Image.Image,
    dpi: int,
    *,
    lines: int = SAMPLE_LINES,
    chars: int = SAMPLE_CHARS,
    boxes: list[tuple[int, int, int, int]] | None = None,
    phase: float = 0.25,
    picked: list[tuple[int, int, int, int]] | None = None,
) -> Image.Image | None:
    """A small image stacking up to ``lines`` pieces (``chars`` line-heights wide) of text
    lines spread over the page (or of the ``picked`` line boxes); None when the page has no
    text lines."""
    if picked is None:
        if boxes is None:
            boxes, _ = find_text_bands(gray, dpi)
        picked = pick_lines(boxes, lines, phase)
    if not picked:
        return None
    heights = sorted(b[3] - b[1] for b in picked)
    med = heights[len(heights) // 2]
    pieces = []
    pad = max(2, med // 8)
    for x0, y0, x1, y1 in picked:
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


class _Strips:
    """The detection strips of one page, cut on first use; a phase that would repeat the lines
    of an earlier one (a page of few lines) gives None."""

    def __init__(self, gray: Image.Image, dpi: int, boxes: list[tuple[int, int, int, int]]) -> None:
        self._gray, self._dpi, self._boxes = gray, dpi, boxes
        self._cache: dict[int, Image.Image | None] = {}
        self._seen: list[list[tuple[int, int, int, int]]] = []

    def get(self, index: int) -> Image.Image | None:
        if index not in self._cache:
            for i in range(index):  # cut in order, so duplicates are told apart consistently
                self.get(i)
            picked = pick_lines(self._boxes, SAMPLE_LINES, STRIP_PHASES[index])
            if not picked or picked in self._seen:
                self._cache[index] = None
            else:
                self._seen.append(picked)
                self._cache[index] = sample_strip(self._gray, self._dpi, picked=picked)
        return self._cache[index]


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
        self._cpu = 0.0  # CPU seconds the worker reported, summed (read under the lock)

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
        self._cpu += float(resp.get("cpu") or 0.0)
        stats = _summarize(resp["text"], [(int(n), float(c)) for n, c in resp.get("words") or []])
        syms = [(str(c), float(x)) for c, x in resp.get("symbols") or []]
        return _Recognition(resp["text"], *stats, psm, model, syms)

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
        cpu0 = self._cpu
        langs = self.context.languages
        strips = _Strips(gray, dpi, boxes)
        passes: list[str] = []

        def done(lang: str | None, script: str | None, method: str) -> Detection:
            return Detection(lang, script, method, time.monotonic() - t0, tuple(passes), self._cpu - cpu0)

        def read(index: int, model: str, symbols: bool = False) -> _Recognition | None:
            strip = strips.get(index)
            if strip is None:
                return None
            passes.append(model)
            return self._recognize(strip, model, 6, dpi, deadline, symbols=symbols)

        if strips.get(0) is None:
            return done(None, None, "no text lines")
        if len(langs) == 1:
            return done(next(iter(langs)), None, "only language allowed")
        rj = read(0, "jpn", True)  # its symbols feed the simplified/traditional test
        assert rj is not None
        cj = count_scripts(rj.text)
        if cj.letters == 0:
            return done(None, None, "no letters in sample")
        jconf = rj.confidence
        kconf = -1.0

        def korean() -> bool:
            nonlocal kconf
            if "ko" not in langs or kconf >= 0:
                return False
            rk = read(0, "kor")
            assert rk is not None
            ck = count_scripts(rk.text)
            kconf = rk.confidence
            return kconf >= KO_MIN_CONF and ck.share(ck.hangul) >= HANGUL_SHARE_KO

        def ko_done() -> Detection:
            return done("ko", "Hangul", f"kor conf {kconf:.0f}, jpn conf {jconf:.0f}")

        kana_like = cj.kana >= 3 and cj.share(cj.kana) >= KANA_SHARE_JA
        if kana_like and jconf >= JA_MIN_CONF and "ja" in langs:
            if jconf >= JA_SURE_CONF or not korean():
                return done("ja", "Japanese", f"kana {cj.kana}/{cj.letters}, jpn conf {jconf:.0f}")
            return ko_done()
        if cj.share(cj.latin) >= LATIN_SHARE_EN and jconf >= EN_MIN_CONF and "en" in langs:
            return done("en", "Latin", f"latin {cj.latin}/{cj.letters}, jpn conf {jconf:.0f}")
        if jconf < KO_ROUTE_CONF and korean():
            return ko_done()
        zh = sorted({"zh-Hans", "zh-Hant"} & langs)
        if cj.han >= cj.latin and not kana_like and zh and jconf >= ZH_MIN_JPN_CONF:
            found = self._chinese(zh, rj, read, korean)
            if found == "ko":
                return ko_done()
            if isinstance(found, tuple):
                lang, method = found
                return done(lang, "Han", method)
        if korean():
            return ko_done()
        # nothing clear: the most confident reading among the allowed languages
        ranked = sorted(
            [(jconf, "ja" if cj.kana else ("en" if cj.latin > cj.han else "zh-Hans")), (kconf, "ko")],
            reverse=True,
        )
        order = [lang for _, lang in ranked] + ["en", "ja", "zh-Hans", "zh-Hant", "ko"]
        return done(self._allowed(order), None, f"fallback: jpn conf {jconf:.0f}, kor conf {kconf:.0f}")

    def _chinese(
        self,
        zh: list[str],
        first: _Recognition,
        read: Callable[..., _Recognition | None],
        korean: Callable[[], bool],
    ) -> tuple[str, str] | str | None:
        """Simplified or traditional (sequential test, see ZH_*); "ko" when the Korean model
        claims the page, None when the Chinese models do not read it confidently."""
        jconfs = [first.confidence]
        parts: list[str] = []
        confirmed = False  # the Chinese models read a strip confidently: not Korean

        def jpn_evidence(r: _Recognition) -> float:
            *counts, n = variant_counts(r.symbols, ZH_JPN_SURE_CONF)
            return sum(w * c for w, c in zip(ZH_JPN_LLR, counts, strict=True)) - ZH_JPN_PER_HAN * n

        score = jpn_evidence(first)
        parts.append(f"jpn {score:+.1f}")
        for kind, index in ZH_STEPS:
            if abs(score) >= ZH_SURE or len(zh) == 1:
                break
            if kind == "jpn":
                r = read(index, "jpn", True)
                if r is None:
                    continue
                jconfs.append(r.confidence)
                if len(jconfs) == 2 and sum(jconfs) / 2 < KO_ROUTE_CONF and korean():
                    return "ko"
                e = jpn_evidence(r)
                parts.append(f"jpn {e:+.1f}")
            else:
                rs = read(index, "chi_sim", True)
                rt = read(index, "chi_tra", True)
                if rs is None or rt is None:
                    continue
                if max(rs.confidence, rt.confidence) < ZH_MIN_CONF:
                    return "ko" if korean() else None
                confirmed = True
                vs, vt = variant_votes(rs.symbols, rt.symbols)
                dc = rt.confidence - rs.confidence
                e = ZH_VOTE_WEIGHT * (vt - vs + ZH_CONF_WEIGHT * dc - ZH_VOTE_BIAS)
                parts.append(f"votes {vs}:{vt} {e:+.1f}")
            score += e
        # Korean print read by jpn looks like Han with low confidence: rule it out unless clear
        route = ZH_ROUTE_CONF[0] if len(jconfs) == 1 else ZH_ROUTE_CONF[1]
        if not confirmed and sum(jconfs) / len(jconfs) < route and korean():
            return "ko"
        if len(zh) == 1:
            return zh[0], "han; one chinese variant allowed"
        lang = "zh-Hant" if score > 0 else "zh-Hans"
        return lang, f"simplified/traditional evidence {score:+.1f} ({', '.join(parts)})"

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
        c0 = time.thread_time()
        deadline = t0 + self.context.page_timeout_s
        gray, dpi = self._prepare(image)
        if language is not None and language not in LANGUAGES:
            raise OcrError(f"unknown language {language!r}", language=language)
        boxes, _ = find_text_bands(gray, dpi)
        with self._lock:
            w0 = self._cpu
            page = self._read_page(gray, dpi, deadline, boxes, language)
            worker_cpu = self._cpu - w0
        return replace(
            page,
            seconds=time.monotonic() - t0,
            cpu_seconds=round(worker_cpu + time.thread_time() - c0, 4),
        )

    def _read_page(
        self,
        gray: Image.Image,
        dpi: int,
        deadline: float,
        boxes: list[tuple[int, int, int, int]],
        language: str | None,
    ) -> OcrPage:
        if language is None:
            det = self._detect(gray, dpi, deadline, boxes)
        elif not boxes:
            det = Detection(None, None, "no text lines")
        else:
            det = Detection(language, None, "given")
        if det.language is None:
            return self._fallback(gray, dpi, deadline, det)
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
            seconds=0.0,
            needs_review=conf < self.context.review_threshold,
            model=model,
            words=best.words,
            detection=det,
        )

    def _fallback(self, gray: Image.Image, dpi: int, deadline: float, det: Detection) -> OcrPage:
        """No line the detector trusts (tiny or unusual print): one full-page pass, flagged for review,
        so a page with ink never silently comes back empty."""
        if not _has_ink(gray):
            return OcrPage("", None, 0.0, 0, 0.0, needs_review=True, detection=det)
        best = self._recognize(gray, LANGUAGES["en"], 3, dpi, deadline)
        text = normalize_text(best.text, "en")
        confidence = round(best.confidence, 2) if text else 0.0
        return OcrPage(text=text, language="en" if text else None, confidence=confidence,
                       psm=best.psm, seconds=0.0, needs_review=True, model=LANGUAGES["en"],
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
