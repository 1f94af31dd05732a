"""Ingest benchmark: text documents through the worker processes, and OCR of scanned pages.

    .venv/bin/python bench/ingest.py [--corpus DIR] [--pages N] [--repeat N] [--workers N] [--langs ko,en]
                                     [--text-docs N] [--text-workers N] [--skip-ocr]

Text section: corpus passages of all five languages, interleaved, stored as .txt documents and run
through `entrepot worker` (see bench_text_docs for what is counted).

OCR section: renders A4 pages at 300 dpi from the search-test corpora (one folder per
language, passages.jsonl), a clean and a scan-like ("noisy") variant of each, and reads every
page twice in the same run, interleaved: with our engine (which is NOT told the language) and
with bare single-language ``tesseract`` given the right language (CLI, default psm 3,
OMP_THREAD_LIMIT=1). CER = Levenshtein distance on whitespace-stripped text / reference length.
Both wall-clock and CPU seconds per page are reported (ours: the OCR worker's CPU plus the
calling thread's; bare: the tesseract process's): on a shared, busy machine the wall-clock ratio
swings with the load, the CPU ratio much less. "det cpu" is the part of ours spent detecting the
language (the OCR worker's CPU on the sample strips).

Prints a table and one final JSON line:
{"bench": "ingest", "text_docs_per_s": <float; null unless all ready>,
 "ocr": {"ko": {"s_per_page", "tesseract_s_per_page", "cpu_s_per_page", "tesseract_cpu_s_per_page",
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


def bare_tesseract(png: Path, lang: str) -> tuple[str, float, float]:
    """(text, wall seconds, CPU seconds) of the plain CLI given the page's language."""
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    t0 = time.monotonic()
    proc = subprocess.Popen(  # noqa: S603, S607 - fixed argv
        ["tesseract", str(png), "-", "-l", LANGUAGES[lang]],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    assert proc.stdout is not None
    out = proc.stdout.read().decode("utf-8", "replace")
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own CPU time
    proc.returncode = os.waitstatus_to_exitcode(status)
    secs = time.monotonic() - t0
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, proc.args)
    return out, secs, usage.ru_utime + usage.ru_stime


def _ocr_task(engine: TesseractEngine, png: Path, ref: str, lang: str, variant: str, idx: int) -> dict:
    # alternate which system goes first, so neither always gets the warmer cache
    results: dict = {"lang": lang, "variant": variant}
    order = ("ours", "bare") if idx % 2 == 0 else ("bare", "ours")
    for who in order:
        if who == "ours":
            t0 = time.monotonic()
            page = engine.ocr_image(png)
            results["ours_s"] = time.monotonic() - t0
            results["ours_cpu"] = page.cpu_seconds
            results["ours_cer"] = cer(ref, page.text)
            results["detected"] = page.language
            results["conf"] = page.confidence
            results["psm"] = page.psm
            results["detect_s"] = page.detection.seconds if page.detection else 0.0
            results["detect_cpu"] = page.detection.cpu_seconds if page.detection else 0.0
        else:
            text, secs, cpu = bare_tesseract(png, lang)
            results["bare_s"] = secs
            results["bare_cpu"] = cpu
            results["bare_cer"] = cer(ref, text)
    return results


def bench_ocr(corpus: Path, pages: int, workers: int, langs: list[str], repeat: int = 1) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-ocr-") as tmp:
        tasks = []
        for lang in langs:
            for i, text in enumerate(load_pages(corpus, lang, pages)):
                rendered = render_page(text, lang, variant=i)
                for variant, img in (("clean", rendered.image), ("noisy", scan_noise(rendered.image, seed=i))):
                    png = Path(tmp) / f"{lang}-{i}-{variant}.png"
                    img.save(png, dpi=(300, 300))
                    tasks.append((png, rendered.text, lang, variant))
        # (task, order key): each page once per repeat, which system goes first alternating per repeat too
        runs = [(t, i + r) for r in range(repeat) for i, t in enumerate(tasks)]
        engines = [TesseractEngine(OcrContext(page_timeout_s=300, temp_dir=Path(tmp))) for _ in range(workers)]
        t_start = time.monotonic()
        try:
            if workers == 1:
                rows = [_ocr_task(engines[0], *t, k) for t, k in runs]
            else:
                with ThreadPoolExecutor(workers) as pool:
                    futs = [pool.submit(_ocr_task, engines[i % workers], *t, k) for i, (t, k) in enumerate(runs)]
                    rows = [f.result() for f in futs]
        finally:
            for e in engines:
                e.close()
        wall = time.monotonic() - t_start

    out: dict = {}
    print(
        f"{'lang':8} {'pages':>5} {'s/page':>7} {'tess s/p':>8} {'ratio':>6} {'cpu s/p':>7} {'tess cpu':>8} "
        f"{'cpu rat':>7} {'detect s':>8} {'det cpu':>7} "
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
            "cpu_s_per_page": round(mean([r["ours_cpu"] for r in rs]), 3),
            "tesseract_cpu_s_per_page": round(mean([r["bare_cpu"] for r in rs]), 3),
            "cer": round(mean([r["ours_cer"] for r in clean]), 4),
            "cer_noisy": round(mean([r["ours_cer"] for r in noisy]), 4),
            "tesseract_cer": round(mean([r["bare_cer"] for r in clean]), 4),
            "tesseract_cer_noisy": round(mean([r["bare_cer"] for r in noisy]), 4),
            "detect_s_per_page": round(mean([r["detect_s"] for r in rs]), 3),
            "detect_cpu_s_per_page": round(mean([r["detect_cpu"] for r in rs]), 3),
            "language_accuracy": round(mean([float(r["detected"] == lang) for r in rs]), 3),
            "pages": len(rs) // repeat,
        }
        out[lang] = d
        print(
            f"{lang:8} {d['pages']:5d} {d['s_per_page']:7.2f} {d['tesseract_s_per_page']:8.2f} "
            f"{d['s_per_page'] / d['tesseract_s_per_page']:6.2f} {d['cpu_s_per_page']:7.2f} "
            f"{d['tesseract_cpu_s_per_page']:8.2f} {d['cpu_s_per_page'] / d['tesseract_cpu_s_per_page']:7.2f} "
            f"{d['detect_s_per_page']:8.2f} {d['detect_cpu_s_per_page']:7.2f} "
            f"{d['cer']:6.3f} {d['cer_noisy']:8.3f} {d['tesseract_cer']:7.3f} {d['tesseract_cer_noisy']:8.3f} "
            f"{d['language_accuracy']:7.2f} {mean([r['conf'] for r in rs]):5.1f}"
        )
    print(f"# {len(rows)} page readings, {workers} worker(s), wall {wall:.1f} s")
    return out


def text_corpus(corpus: Path, count: int) -> list[str]:
    """Passages of every language's corpus, interleaved (ko, zh-Hans, zh-Hant, ja, en, ko, ...), so each
    language keeps its share whatever the count."""
    columns: list[list[str]] = []
    for folder in CORPORA.values():
        path = corpus / folder / "passages.jsonl"
        if path.is_file():
            with path.open(encoding="utf-8") as fh:
                columns.append([json.loads(line)["text"] for line in fh])
    texts: list[str] = []
    for row in range(max((len(c) for c in columns), default=0)):
        texts += [c[row] for c in columns if row < len(c)]
    return texts[:count]


def _recorded(db_url: str) -> tuple[int, int]:
    """(versions recorded or failed, of them ready) in the benchmark's database."""
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    try:
        with engine.connect() as c:
            done, ready = c.execute(text("SELECT count(*), coalesce(sum(state = 'ready'), 0) FROM document_versions "
                                         "WHERE state IN ('ready', 'unsupported', 'failed')")).one()
    finally:
        engine.dispose()
    return int(done), int(ready)


def _group_cpu_s(pgid: int) -> float:
    """CPU seconds used so far by the live processes of a process group (Linux /proc)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[2]) == pgid:  # pgrp; then utime and stime are fields 11 and 12 after the name
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _cpu_between(samples: list[tuple[float, float]], start: float, end: float) -> float:
    """CPU seconds the workers used from `start` to `end` (wall clock), from the polling samples."""
    before = max((cpu for t, cpu in samples if t <= start), default=0.0)
    after = min((cpu for t, cpu in samples if t >= end), default=samples[-1][1] if samples else 0.0)
    return after - before


def bench_text_docs(args: argparse.Namespace) -> float | None:
    """Text documents per second through the product's own path: the library action stores each file
    and queues its ingest job; then `entrepot worker --processes N` (one process per core by default)
    claims jobs in batches, parses, detects languages, analyses, indexes and records each batch in one
    committed transaction. The figure is steady state: documents recorded once every worker process
    has committed its first batch, divided by the time from then to the last commit (the jobs'
    finished_at), which leaves out the one-time start of each process (imports, analyser models: a
    few seconds); the rate
    counted from the launch is printed beside it. The workers' CPU seconds over the same span are
    sampled too: on a machine shared with other work, docs per CPU-second times the cores says what
    the workers would do with the machine to themselves (the wall-clock figure needs an idle machine)."""
    import signal
    import tempfile

    from sqlalchemy import func, select

    from entrepot.actions import library
    from entrepot.actions.library import INGEST_JOB
    from entrepot.blobs import BlobStore
    from entrepot.core.config import load_settings
    from entrepot.db import Database
    from entrepot.db.migrate import upgrade
    from entrepot.db.tables import Job

    texts = text_corpus(args.corpus, args.text_docs)
    if not texts:
        return None
    with tempfile.TemporaryDirectory(prefix="entrepot-bench-") as tmp:
        settings = load_settings(data_dir=Path(tmp), database_url=f"sqlite:///{tmp}/entrepot.db")
        db = Database(settings.db_url)
        upgrade(db.engine)
        blobs = BlobStore(settings.blob_dir)
        with db.write() as s:
            for i, body in enumerate(texts):
                data = body.encode("utf-8")
                library.add_document(s, None, library.NewFile(blobs.put_bytes(data), f"doc-{i}.txt", len(data)))
        procs = args.text_workers or os.cpu_count() or 1
        env = {**os.environ, "ENTREPOT_DATABASE_URL": settings.db_url, "ENTREPOT_DATA_DIR": tmp}
        launched = time.time()
        cpu: list[tuple[float, float]] = []
        with open(Path(tmp) / "worker.log", "wb") as log:
            worker = subprocess.Popen(  # noqa: S603 - our own CLI
                [sys.executable, "-m", "entrepot", "worker", "--processes", str(procs)],
                env=env, stdout=log, stderr=log, start_new_session=True)
            try:
                deadline = time.monotonic() + args.text_timeout
                while time.monotonic() < deadline and worker.poll() is None:
                    cpu.append((time.time(), _group_cpu_s(worker.pid)))
                    if _recorded(settings.db_url)[0] >= len(texts):
                        break
                    time.sleep(0.25)
            finally:
                if worker.poll() is None:
                    os.killpg(worker.pid, signal.SIGINT)  # the worker's own process group, started above
                    try:
                        worker.wait(30)
                    except subprocess.TimeoutExpired:
                        os.killpg(worker.pid, signal.SIGKILL)
                        worker.wait(10)
        done, ready = _recorded(settings.db_url)
        with db.read() as s:
            # (worker process, commit time, jobs finished by that commit)
            stamps = list(s.execute(select(Job.worker, Job.finished_at, func.count())
                                    .where(Job.kind == INGEST_JOB, Job.finished_at.is_not(None))
                                    .group_by(Job.worker, Job.finished_at).order_by(Job.finished_at)).all())
        db.dispose()
        if done < len(texts):
            tail = (Path(tmp) / "worker.log").read_text(errors="replace")[-2000:]
            print(f"# text documents: only {done}/{len(texts)} recorded; worker log ends:\n{tail}", file=sys.stderr)
    # The window opens once every worker process has committed its first batch (so each has loaded
    # its analysers) and closes with the last commit.
    starts = {}
    for name, at, _ in stamps:
        starts.setdefault(name, at)
    first, last = max(starts.values()), stamps[-1][1]
    if last <= first:
        return None
    steady_docs = sum(n for _, at, n in stamps if at > first)
    steady = steady_docs / max((last - first).total_seconds(), 1e-6)
    cold = ready / max(last.timestamp() - launched, 1e-6)
    busy = _cpu_between(cpu, first.timestamp(), last.timestamp())
    per_cpu_s = steady_docs / busy if busy > 0 else float("nan")
    print(f"# text documents: {ready}/{len(texts)} ready ({done} recorded) with `entrepot worker --processes "
          f"{procs}`: {steady:.1f} docs/s once every worker committed ({(last - first).total_seconds():.1f} s), "
          f"{cold:.1f} docs/s counted from the launch ({last.timestamp() - launched:.1f} s); "
          f"workers' CPU {busy:.1f} s = {per_cpu_s:.0f} docs per CPU-second "
          f"({per_cpu_s * (os.cpu_count() or 1):.0f} docs/s on {os.cpu_count()} idle cores); "
          f"load average {os.getloadavg()[0]:.2f}")
    return round(steady, 1) if ready == len(texts) else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=default_corpus())
    ap.add_argument("--pages", type=int, default=3, help="pages per language (each also noisy)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=1, help="read every page this many times with each system "
                    "(at a load of 3-4 on 2 cores one pass's CPU ratio swings by about +-4 %%)")
    ap.add_argument("--langs", default=",".join(CORPORA))
    ap.add_argument("--text-docs", type=int, default=2000, help="text documents for the throughput part")
    ap.add_argument("--text-workers", type=int, default=0, help="worker processes (default: one per core)")
    ap.add_argument("--text-timeout", type=float, default=600, help="seconds to wait for the text documents")
    ap.add_argument("--skip-ocr", action="store_true", help="only the text-document part")
    args = ap.parse_args(argv)
    if not args.corpus.is_dir():
        print(f"corpus folder not found: {args.corpus}", file=sys.stderr)
        return 2
    langs = [x for x in args.langs.split(",") if x]
    text_rate = bench_text_docs(args)
    ocr = {} if args.skip_ocr else bench_ocr(args.corpus, args.pages, max(1, args.workers), langs, max(1, args.repeat))
    result = {"bench": "ingest", "text_docs_per_s": text_rate, "ocr": ocr}
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
