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


def _text_worker(settings: object, barrier: object) -> None:
    from entrepot.db import Database
    from entrepot.search.analyzers import get_analyzer
    from entrepot.workers.loop import Worker

    get_analyzer("multilingual").index_batch(["준비 准备 準備 ready"])  # load the analysers before the clock
    barrier.wait()  # type: ignore[attr-defined]
    Worker(Database(settings.db_url), settings).run_until_idle()  # type: ignore[attr-defined]


def bench_text_docs(args: argparse.Namespace) -> float | None:
    """Text documents per second through the product's whole pipeline (store, parse, language,
    analyse, index, describe, record), with one worker process per core on the embedded SQLite."""
    import multiprocessing
    import tempfile

    from entrepot.actions import library
    from entrepot.blobs import BlobStore
    from entrepot.core.config import load_settings
    from entrepot.db import Database
    from entrepot.db.migrate import upgrade

    texts: list[str] = []
    for folder in CORPORA.values() if isinstance(CORPORA, dict) else CORPORA:
        path = args.corpus / folder / "passages.jsonl"
        if path.is_file():
            with path.open(encoding="utf-8") as fh:
                texts += [json.loads(line)["text"] for line in fh]
    texts = texts[: args.text_docs]
    if not texts:
        return None
    with tempfile.TemporaryDirectory(prefix="entrepot-bench-") as tmp:
        settings = load_settings(data_dir=Path(tmp), database_url=f"sqlite:///{tmp}/entrepot.db")
        db = Database(settings.db_url)
        upgrade(db.engine)
        blobs = BlobStore(settings.blob_dir)
        with db.write() as s:
            for i, text in enumerate(texts):
                data = text.encode("utf-8")
                library.add_document(s, None, library.NewFile(blobs.put_bytes(data), f"doc-{i}.txt", len(data)))
        procs = args.text_workers or os.cpu_count() or 1
        ctx = multiprocessing.get_context("spawn")
        barrier = ctx.Barrier(procs + 1)
        workers = [ctx.Process(target=_text_worker, args=(settings, barrier)) for _ in range(procs)]
        for w in workers:
            w.start()
        barrier.wait()
        started = time.perf_counter()
        for w in workers:
            w.join()
        wall = time.perf_counter() - started
        with db.read() as s:
            from sqlalchemy import func, select

            from entrepot.db.library import Document

            ready = s.execute(select(func.count()).select_from(Document).where(Document.status == "ready")).scalar_one()
    rate = ready / wall
    print(f"# text documents: {ready}/{len(texts)} ready in {wall:.1f} s with {procs} worker process(es): "
          f"{rate:.1f} docs/s")
    return round(rate, 1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=default_corpus())
    ap.add_argument("--pages", type=int, default=3, help="pages per language (each also noisy)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--langs", default=",".join(CORPORA))
    ap.add_argument("--text-docs", type=int, default=2000, help="text documents for the throughput part")
    ap.add_argument("--text-workers", type=int, default=0, help="worker processes (default: one per core)")
    ap.add_argument("--skip-ocr", action="store_true", help="only the text-document part")
    args = ap.parse_args(argv)
    if not args.corpus.is_dir():
        print(f"corpus folder not found: {args.corpus}", file=sys.stderr)
        return 2
    langs = [x for x in args.langs.split(",") if x]
    text_rate = bench_text_docs(args)
    ocr = {} if args.skip_ocr else bench_ocr(args.corpus, args.pages, max(1, args.workers), langs)
    result = {"bench": "ingest", "text_docs_per_s": text_rate, "ocr": ocr}
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
