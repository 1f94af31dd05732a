"""Ingest benchmark: OCR of scanned pages (and, later, text documents).

    .venv/bin/python bench/ingest.py [--corpus DIR] [--pages N] [--workers N] [--langs ko,en]

OCR section: renders A4 pages at 300 dpi from the search-test corpora (one folder per
language, passages.jsonl), a clean and a scan-like ("noisy") variant of each, and reads every
page twice in the same run, interleaved: with our engine (which is NOT told the language) and
with bare single-language ``tesseract`` given the right language (CLI, default psm 3,
OMP_THREAD_LIMIT=1). CER = Levenshtein distance on whitespace-stripped text / reference length.

Prints a table and one final JSON line:
{"bench": "ingest", "text_docs_per_s": null, "ocr": {"ko": {"s_per_page", "tesseract_s_per_page",
 "cer", "cer_noisy", ...}, ...}}
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from entrepot.ocr import LANGUAGES, OcrContext, TesseractEngine, cer  # noqa: E402
from entrepot.ocr.render import render_page, scan_noise  # noqa: E402

CORPORA = {
    "ko": "korquad-v1.0",
    "zh-Hans": "cmrc2018",
    "zh-Hant": "drcd",
    "ja": "jsquad-v1.3",
    "en": "squad-v1.1",
}
PASSAGES_PER_PAGE = 8  # more than fits: the page is filled, the overflow cut


def default_corpus() -> Path:
    return REPO.parent / "shared" / "data" / "corpora"


def load_pages(corpus: Path, lang: str, pages: int, skip: int = 40) -> list[str]:
    """Page texts: runs of consecutive passages, after the first ``skip`` (used for tuning)."""
    path = corpus / CORPORA[lang] / "passages.jsonl"
    texts: list[str] = []
    with path.open(encoding="utf-8") as f:
        rows = [json.loads(line)["text"] for line in f]
    for i in range(pages):
        chunk = rows[skip + i * PASSAGES_PER_PAGE : skip + (i + 1) * PASSAGES_PER_PAGE]
        if not chunk:
            break
        texts.append("\n".join(chunk))
    return texts


def bare_tesseract(png: Path, lang: str) -> tuple[str, float]:
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    t0 = time.monotonic()
    out = subprocess.run(  # noqa: S603, S607 - fixed argv
        ["tesseract", str(png), "-", "-l", LANGUAGES[lang]],
        capture_output=True,
        env=env,
        check=True,
    ).stdout.decode("utf-8", "replace")
    return out, time.monotonic() - t0


def _ocr_task(engine: TesseractEngine, png: Path, ref: str, lang: str, variant: str, idx: int) -> dict:
    # alternate which system goes first, so neither always gets the warmer cache
    results: dict = {"lang": lang, "variant": variant}
    order = ("ours", "bare") if idx % 2 == 0 else ("bare", "ours")
    for who in order:
        if who == "ours":
            t0 = time.monotonic()
            page = engine.ocr_image(png)
            results["ours_s"] = time.monotonic() - t0
            results["ours_cer"] = cer(ref, page.text)
            results["detected"] = page.language
            results["conf"] = page.confidence
            results["psm"] = page.psm
            results["detect_s"] = page.detection.seconds if page.detection else 0.0
        else:
            text, secs = bare_tesseract(png, lang)
            results["bare_s"] = secs
            results["bare_cer"] = cer(ref, text)
    return results


def bench_ocr(corpus: Path, pages: int, workers: int, langs: list[str]) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-ocr-") as tmp:
        tasks = []
        for lang in langs:
            for i, text in enumerate(load_pages(corpus, lang, pages)):
                rendered = render_page(text, lang, variant=i)
                for variant, img in (("clean", rendered.image), ("noisy", scan_noise(rendered.image, seed=i))):
                    png = Path(tmp) / f"{lang}-{i}-{variant}.png"
                    img.save(png, dpi=(300, 300))
                    tasks.append((png, rendered.text, lang, variant))
        engines = [TesseractEngine(OcrContext(page_timeout_s=300, temp_dir=Path(tmp))) for _ in range(workers)]
        t_start = time.monotonic()
        try:
            if workers == 1:
                rows = [_ocr_task(engines[0], *t, i) for i, t in enumerate(tasks)]
            else:
                with ThreadPoolExecutor(workers) as pool:
                    futs = [pool.submit(_ocr_task, engines[i % workers], *t, i) for i, t in enumerate(tasks)]
                    rows = [f.result() for f in futs]
        finally:
            for e in engines:
                e.close()
        wall = time.monotonic() - t_start

    out: dict = {}
    print(
        f"{'lang':8} {'pages':>5} {'s/page':>7} {'tess s/p':>8} {'ratio':>6} {'detect s':>8} "
        f"{'CER':>6} {'CERnoisy':>8} {'tessCER':>7} {'tessCERn':>8} {'lang ok':>7} {'conf':>5}"
    )
    for lang in langs:
        rs = [r for r in rows if r["lang"] == lang]
        if not rs:
            continue
        clean = [r for r in rs if r["variant"] == "clean"]
        noisy = [r for r in rs if r["variant"] == "noisy"]

        def mean(xs: list[float]) -> float:
            return sum(xs) / len(xs) if xs else float("nan")

        d = {
            "s_per_page": round(mean([r["ours_s"] for r in rs]), 3),
            "tesseract_s_per_page": round(mean([r["bare_s"] for r in rs]), 3),
            "cer": round(mean([r["ours_cer"] for r in clean]), 4),
            "cer_noisy": round(mean([r["ours_cer"] for r in noisy]), 4),
            "tesseract_cer": round(mean([r["bare_cer"] for r in clean]), 4),
            "tesseract_cer_noisy": round(mean([r["bare_cer"] for r in noisy]), 4),
            "detect_s_per_page": round(mean([r["detect_s"] for r in rs]), 3),
            "language_accuracy": round(mean([float(r["detected"] == lang) for r in rs]), 3),
            "pages": len(rs),
        }
        out[lang] = d
        print(
            f"{lang:8} {d['pages']:5d} {d['s_per_page']:7.2f} {d['tesseract_s_per_page']:8.2f} "
            f"{d['s_per_page'] / d['tesseract_s_per_page']:6.2f} {d['detect_s_per_page']:8.2f} "
            f"{d['cer']:6.3f} {d['cer_noisy']:8.3f} {d['tesseract_cer']:7.3f} {d['tesseract_cer_noisy']:8.3f} "
            f"{d['language_accuracy']:7.2f} {mean([r['conf'] for r in rs]):5.1f}"
        )
    print(f"# {len(rows)} pages, {workers} worker(s), wall {wall:.1f} s")
    return out


def bench_text_docs(args: argparse.Namespace) -> float | None:
    """Text-document ingest throughput: to be added with the text-document pipeline."""
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=default_corpus())
    ap.add_argument("--pages", type=int, default=3, help="pages per language (each also noisy)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--langs", default=",".join(CORPORA))
    args = ap.parse_args(argv)
    if not args.corpus.is_dir():
        print(f"corpus folder not found: {args.corpus}", file=sys.stderr)
        return 2
    langs = [x for x in args.langs.split(",") if x]
    ocr = bench_ocr(args.corpus, args.pages, max(1, args.workers), langs)
    result = {"bench": "ingest", "text_docs_per_s": bench_text_docs(args), "ocr": ocr}
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
