"""Compliance benchmark: flagging throughput, send-to-review-queue latency, off-topic precision/recall.

    .venv/bin/python bench/compliance.py [--data ../shared/data] [--messages 5000] [--rules 1000]
        [--sends 500] [--rate 20] [--attachments 6] [--backend sqlite|postgresql] [--skip-queue]

Throughput: 1,000 lexicon entries (words, phrases and about 10% regular expressions; English,
Korean, Chinese and Japanese; half bound to their language) drawn from the dev half of the corpora's
vocabulary, run over chat lines of the test half (see _compliance_data.py) exactly as a send does:
language detection, one analysis, the rule index and the regular expressions (behind their word
tests), the off-topic score. Reported per message in one process (the headline: that is how one server
process screens, its analysis cache warmed by the dev half's lines only), per CPU second, with nothing
reused from the analysis cache, in one process per core, with the analysis batched, and for
comparison rule by rule (the naive loop).

Queue latency: starts `entrepot serve` and `entrepot worker` on a temporary data folder (SQLite, or a
throw-away PostgreSQL database with --backend postgresql), creates traders, a reviewer and the same
1,000 rules through the actions, then POSTs --sends messages at --rate per second through the JSON
API (about a third carry a rule's word); a poller reads the flags table every 20 ms (a flag is in the
review queue once its row is committed) and the latency of a message is from the start of its POST to
the first poll that sees its flag. Then --attachments files (text PDFs and pictures read by OCR) are
sent one by one and timed to their flags, through the worker's real job queue.

Off-topic: labelled conversations built at run time (see _compliance_data.py): trade talk with short
replies and asides (must not be flagged), drifting ones and general ones (must be). The rule runs with
the shipped defaults (Settings.offtopic_window / offtopic_threshold); its vocabulary gets the trade
tables of the other half only, so no test goods, country or currency is known to it. Precision and
recall are over conversations (flagged at least once); the table adds the per-message classifier
and the flags per drifting conversation (one per episode).

Prints a table and one final JSON line:
{"bench": "compliance", "flag_msgs_per_s", "queue_p50_s", "queue_p99_s", "offtopic_precision",
 "offtopic_recall", ...}
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import multiprocessing
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(BENCH))

import _compliance_data as labelled  # noqa: E402

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TARGET_MSGS_PER_S, TARGET_P99_S, TARGET_PRECISION = 2000.0, 5.0, 0.9
RULE_LANGS = {"en": "en", "ko": "ko", "zh-Hans": "zh-Hans", "ja": "ja"}
PROBES = {
    "en": "contraband",
    "ko": "밀수품",
    "zh-Hans": "走私",
    "ja": "密輸",
}  # rules every probe message trips


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


# ---------------------------------------------------------------- rules and messages


def make_rules(pools: labelled.Pools, n: int, seed: int) -> list[dict[str, Any]]:
    """n rules over four languages from the dev half's words, the rarer ones (a lexicon names risky
    words, not "the"): ~10% regexes, ~30% phrases, the rest words; half bound to their language."""
    import regex

    from entrepot.compliance.lexicon import tokens_of_many

    rng = random.Random(seed)
    rules: list[dict[str, Any]] = []
    per_lang = n // len(RULE_LANGS)
    for lang in RULE_LANGS:
        sample = rng.sample(pools.general[lang], min(2000, len(pools.general[lang])))
        docs = tokens_of_many(sample)
        df: dict[str, int] = {}
        for toks in docs:
            for t in set(toks):
                df[t] = df.get(t, 0) + 1
        rare = [t for t, c in df.items() if 2 <= c <= 6 and len(t) > 1 and not t.isdigit()]
        pairs = [
            (a, b) for toks in docs for a, b in zip(toks, toks[1:], strict=False) if a in df and df[a] <= 6
        ]
        sep = "" if lang in ("zh-Hans", "ja") else " "
        for i in range(per_lang):
            word = rng.choice(rare)
            if i % 10 == 0:
                w = regex.escape(word)
                kind, pattern = (
                    "regex",
                    rng.choice(
                        [
                            rf"\b{w}\s+\d+",
                            rf"{w}.{{0,20}}\d{{3,}}",
                            r"\b\d{4}-\d{4}-\d{4}-\d{4}\b",
                            rf"(?:wire|send)\s+{w}",
                            rf"{w}[^\s]{{0,3}}\s?(?:usd|cash)",
                        ]
                    ),
                )
            elif i % 10 <= 3:
                a, b = rng.choice(pairs)
                kind, pattern = "phrase", f"{a}{sep}{b}"
            else:
                kind, pattern = "word", word
            rules.append(
                {
                    "kind": kind,
                    "pattern": pattern,
                    "language": rng.choice([None, RULE_LANGS[lang]]),
                    "name": f"{lang}-{kind}-{i}",
                }
            )
    rules = rules[: n - len(PROBES)]
    rules += [
        {"kind": "word", "pattern": word, "language": None, "name": f"probe-{lang}"}
        for lang, word in PROBES.items()
    ]
    return rules


def chat_lines(data: Path, n: int, seed: int, split: str = "test") -> list[str]:
    pools = labelled.load_pools(data, split)
    talk = labelled.Talk(pools, split, random.Random(seed))
    lines = [t for c in labelled.conversations(talk, n // 20, n // 40, n // 80) for _, t in c.lines]
    random.Random(seed).shuffle(lines)
    while len(lines) < n:
        lines += lines[: n - len(lines)]
    return lines[:n]


# ---------------------------------------------------------------- throughput


def _compile(rules: list[dict[str, Any]]) -> Any:
    from entrepot.compliance.lexicon import Lexicon, Rule

    return Lexicon(
        Rule(i + 1, 1, r["kind"], r["pattern"], r["language"], "low", "flag", "") for i, r in enumerate(rules)
    )


def _screen_all(
    lexicon: Any, vocab: Any, messages: list[str], cached: bool = True
) -> tuple[float, float, int]:
    """The send path's screening of each message, one after another: (seconds, CPU seconds, messages
    with a match). Other load on the machine stretches the seconds; the CPU seconds say what the code
    costs. `cached=False` analyses every script run again (the analysis cache's share)."""
    from entrepot.compliance.lexicon import tokens_of
    from entrepot.ingest.language import detect_language

    matched = 0
    cpu = time.process_time()
    t = time.perf_counter()
    for m in messages:
        tokens = tokens_of(m, cached=cached)
        matched += bool(lexicon.match(m, detect_language(m), tokens))
        vocab.score(m, tokens)
    return time.perf_counter() - t, time.process_time() - cpu, matched


def _process_main(
    rules: list[dict[str, Any]],
    reference_dir: str,
    messages: list[str],
    warm_lines: list[str],
    start: Any,
    out: Any,
) -> None:
    from entrepot.compliance.topic import load_vocabulary

    lexicon, vocab = _compile(rules), load_vocabulary(Path(reference_dir))
    _screen_all(lexicon, vocab, warm_lines)
    start.wait()
    seconds, _, _ = _screen_all(lexicon, vocab, messages)
    out.put((len(messages), seconds))


def _naive(rules: list[dict[str, Any]], messages: list[str]) -> float:
    """Rule by rule: each rule's tokens looked for in each message, each regex run alone (msgs/s)."""
    import regex

    from entrepot.compliance.lexicon import language_family, tokens_of
    from entrepot.ingest.language import detect_language

    compiled = [
        (
            r,
            regex.compile(r["pattern"], regex.I) if r["kind"] == "regex" else None,
            tokens_of(r["pattern"]) if r["kind"] != "regex" else None,
        )
        for r in rules
    ]
    t = time.perf_counter()
    for m in messages:
        toks, fam = tokens_of(m), language_family(detect_language(m))
        norm = unicodedata.normalize("NFKC", m)
        for r, pattern, seq in compiled:
            if r["language"] and language_family(r["language"]) != fam:
                continue
            if pattern is not None:
                pattern.search(norm, timeout=0.05)
            elif seq:
                any(toks[i : i + len(seq)] == seq for i in range(len(toks) - len(seq) + 1))
    return len(messages) / (time.perf_counter() - t)


def bench_throughput(
    args: argparse.Namespace, rules: list[dict[str, Any]], messages: list[str], warm_lines: list[str]
) -> dict[str, Any]:
    from entrepot.compliance import lexicon as lex_mod
    from entrepot.compliance.lexicon import tokens_of, tokens_of_many
    from entrepot.compliance.topic import load_vocabulary
    from entrepot.ingest.language import detect_language

    t = time.perf_counter()
    tokens_of("warm 한국어 中文 日本語です")
    warm_s = time.perf_counter() - t
    t = time.perf_counter()
    lexicon = _compile(rules)
    compile_s = time.perf_counter() - t
    t = time.perf_counter()
    vocab = load_vocabulary(args.data / "trade")
    vocab_s = time.perf_counter() - t
    # A server that has run a while: the analysers' word caches warmed by other text (the dev half).
    _screen_all(lexicon, vocab, warm_lines)
    n = len(messages)
    seconds, cpu_s, matched = _screen_all(lexicon, vocab, messages)
    uncached_s, _, _ = _screen_all(lexicon, vocab, messages, cached=False)
    out: dict[str, Any] = {
        "messages": n,
        "rules": len(lexicon),
        "regex_rules": sum(r["kind"] == "regex" for r in rules),
        "languages": len(RULE_LANGS),
        "msgs_per_s": n / seconds,
        "cpu_msgs_per_s": n / cpu_s,
        "uncached_msgs_per_s": n / uncached_s,
        "matched_share": matched / n,
        "compile_s": compile_s,
        "vocabulary_s": vocab_s,
        "analysers_load_s": warm_s,
    }
    langs = [detect_language(m) for m in messages]
    t = time.perf_counter()
    toks = [tokens_of(m, cached=False) for m in messages]
    out["analyse_msgs_per_s"] = n / (time.perf_counter() - t)
    t = time.perf_counter()
    for m, lang, tk in zip(messages, langs, toks, strict=True):
        lexicon.match(m, lang, tk)
    out["match_msgs_per_s"] = n / (time.perf_counter() - t)
    t = time.perf_counter()
    for m, tk in zip(messages, toks, strict=True):
        vocab.score(m, tk)
    out["score_msgs_per_s"] = n / (time.perf_counter() - t)
    # The regular expressions alone: word tests and joined passes against one search per rule.
    norm = [unicodedata.normalize("NFKC", m) for m in messages]
    t = time.perf_counter()
    for m, lang in zip(norm, langs, strict=True):
        lexicon._match_regexes(m, lex_mod.language_family(lang), {})
    out["regex_joined_msgs_per_s"] = n / (time.perf_counter() - t)
    leaves = [r for r in lexicon.rules if r.kind == "regex"]
    singles = [(r, lex_mod.regex.compile(r.pattern, lex_mod._FLAGS)) for r in leaves]
    t = time.perf_counter()
    for m, lang in zip(norm, langs, strict=True):
        fam = lex_mod.language_family(lang)
        for r, p in singles:
            if r.language is None or lex_mod.language_family(r.language) == fam:
                p.search(m, timeout=lex_mod.REGEX_TIMEOUT_S)
    out["regex_each_msgs_per_s"] = n / (time.perf_counter() - t)
    t = time.perf_counter()
    for i in range(0, n, 64):
        batch = messages[i : i + 64]
        for m, tk in zip(batch, tokens_of_many(batch), strict=True):
            lexicon.match(m, detect_language(m), tk)
            vocab.score(m, tk)
    out["batched_msgs_per_s"] = n / (time.perf_counter() - t)
    out["naive_msgs_per_s"] = _naive(rules, messages[: min(n, 400)])
    procs = args.processes or os.cpu_count() or 1
    if procs > 1:
        ctx = multiprocessing.get_context("spawn")
        start, queue = ctx.Event(), ctx.Queue()
        ps = [
            ctx.Process(
                target=_process_main,
                args=(rules, str(args.data / "trade"), messages[i::procs], warm_lines, start, queue),
            )
            for i in range(procs)
        ]
        for p in ps:
            p.start()
        time.sleep(1)
        deadline = time.monotonic() + 300
        while queue.empty() and time.monotonic() < deadline and any(p.is_alive() for p in ps):
            start.set()
            time.sleep(0.2)
        results = [queue.get(timeout=600) for _ in ps]
        for p in ps:
            p.join(30)
        out["processes"] = procs
        out["multi_msgs_per_s"] = sum(k for k, _ in results) / max(s for _, s in results)
    return out


# ---------------------------------------------------------------- off-topic precision and recall


def _run_rule(vocab: Any, settings: Any, convs: list[labelled.Conversation]) -> dict[str, Any]:
    from entrepot.compliance.lexicon import tokens_of_many
    from entrepot.compliance.topic import drift_decision

    texts = [t for c in convs for _, t in c.lines]
    scores = {t: vocab.score(t, tk) for t, tk in zip(texts, tokens_of_many(texts), strict=True)}
    tp = fp = fn = 0
    episodes: list[int] = []
    for c in convs:
        window: list[float] = []
        drifting, flags = False, 0
        for _, text in c.lines:  # the same steps as actions.screening._track_topic
            s = scores[text]
            if s.tokens < settings.min_tokens:
                continue
            window = (window + [s.score])[-settings.window :]
            decision, _ = drift_decision(window, drifting, settings)
            if decision == "start":
                drifting, flags = True, flags + 1
            elif decision == "end":
                drifting = False
        flagged = flags > 0
        tp += flagged and c.drifts
        fp += flagged and not c.drifts
        fn += c.drifts and not flagged
        if c.drifts:
            episodes.append(flags)
    mtp = mfp = mfn = 0
    for c in convs:
        for label, text in c.lines:
            if label == "reply":
                continue
            s = scores[text]
            off = s.tokens >= settings.min_tokens and s.score < settings.threshold
            mtp += off and label == "general"
            mfp += off and label == "trade"
            mfn += (not off) and label == "general"
    return {
        "conversations": len(convs),
        "drifting": sum(c.drifts for c in convs),
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn) if tp + fn else 0.0,
        "false_flags": fp,
        "missed": fn,
        "flags_per_drifting": statistics.mean(episodes) if episodes else 0.0,
        "max_flags_per_drifting": max(episodes, default=0),
        "msg_precision": mtp / (mtp + mfp) if mtp + mfp else 0.0,
        "msg_recall": mtp / (mtp + mfn) if mtp + mfn else 0.0,
    }


def bench_offtopic(args: argparse.Namespace) -> dict[str, Any]:
    from entrepot.compliance.topic import TopicSettings, TradeVocabulary
    from entrepot.core.config import Settings

    defaults = Settings.model_fields
    settings = TopicSettings(
        int(defaults["offtopic_window"].default), float(defaults["offtopic_threshold"].default)
    )
    out: dict[str, Any] = {
        "window": settings.window,
        "threshold": settings.threshold,
        "min_tokens": settings.min_tokens,
    }
    for split, other in (("dev", "test"), ("test", "dev")):
        reference, currency_names = labelled.reference_half(args.data, other)
        vocab = TradeVocabulary(reference, currency_names)  # type: ignore[arg-type]
        pools = labelled.load_pools(args.data, split)
        talk = labelled.Talk(pools, split, random.Random(args.seed + (0 if split == "dev" else 1)))
        convs = labelled.conversations(talk, args.trade_convs, args.drift_convs, args.general_convs)
        out[split] = _run_rule(vocab, settings, convs)
    return out


# ---------------------------------------------------------------- send to review queue


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("ENTREPOT_")}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(port: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with status {proc.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not answer in time")


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass


def _pg(name: str, create: bool) -> str:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def populate(
    data_dir: Path, database_url: str | None, reference_dir: Path, rules: list[dict[str, Any]]
) -> dict[str, Any]:
    """An enterprise, two traders and a reviewer with web sessions, a conversation, and the rules."""
    from sqlalchemy import insert, select

    from entrepot.accounts.tokens import digest, new_token
    from entrepot.actions import accounts, compliance, messaging
    from entrepot.core.config import load_settings
    from entrepot.db import Database
    from entrepot.db.migrate import upgrade
    from entrepot.db.tables import User, UserRole, WebSession

    settings = load_settings(data_dir=data_dir, database_url=database_url, reference_dir=reference_dir)
    db = Database(settings.db_url)
    upgrade(db.engine)
    with db.write() as s:
        ent = accounts.create_enterprise(s, None, "Bench Trading", "KR", is_operator=True).id
    people = {"alice": "trader", "bob": "trader", "rev": "reviewer"}
    with db.write() as s:
        s.execute(
            insert(User),
            [
                {
                    "enterprise_id": ent,
                    "username": name,
                    "display_name": name.title(),
                    "kind": "staff",
                    "status": "active",
                    "clearance": 0,
                    "password_hash": "-",
                }
                for name in people
            ],
        )
        ids = {name: uid for name, uid in s.execute(select(User.username, User.id)).all()}
        s.execute(insert(UserRole), [{"user_id": ids[n], "role": role} for n, role in people.items()])
        sessions = {n: (new_token(), new_token(16)) for n in people}
        s.execute(
            insert(WebSession),
            [
                {"id": digest(tok), "user_id": ids[n], "csrf_token": csrf, "mfa_passed": True}
                for n, (tok, csrf) in sessions.items()
            ],
        )
    with db.write() as s:
        principals = {n: accounts.principal_of(s.get(User, ids[n])) for n in people}
        conv = messaging.start_conversation(s, principals["alice"], [ids["bob"]], None).id
    t = time.perf_counter()
    with db.write() as s:
        for r in rules:
            compliance.save_rule(
                s,
                principals["rev"],
                name=r["name"],
                kind=r["kind"],
                pattern=r["pattern"],
                severity="medium",
                language=r["language"],
            )
    rules_s = time.perf_counter() - t
    db.dispose()
    return {"sessions": sessions, "conversation": conv, "rules_s": rules_s, "db_url": settings.db_url}


class Poller(threading.Thread):
    """Reads newly committed flags every 20 ms: message id -> first time seen."""

    def __init__(self, db_url: str) -> None:
        super().__init__(daemon=True)
        from entrepot.db import Database

        self.db = Database(db_url)
        self.seen: dict[int, float] = {}
        self.last_id = 0
        self.stop_flag = threading.Event()

    def run(self) -> None:
        from sqlalchemy import select

        from entrepot.db.compliance import Flag

        while not self.stop_flag.is_set():
            with self.db.read() as s:
                rows = s.execute(select(Flag.id, Flag.message_id).where(Flag.id > self.last_id)).all()
            now = time.time()
            for fid, mid in rows:
                self.seen.setdefault(int(mid), now)
                self.last_id = max(self.last_id, int(fid))
            self.stop_flag.wait(0.02)


def _post(port: int, session: tuple[str, str], path: str, body: bytes, content_type: str) -> dict[str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request(
            "POST",
            path,
            body=body,
            headers={
                "Cookie": f"entrepot_session={session[0]}",
                "x-csrf-token": session[1],
                "content-type": content_type,
                "accept": "application/json",
            },
        )
        resp = conn.getresponse()
        data = resp.read()
        if resp.status not in (200, 201):
            raise RuntimeError(f"POST {path}: {resp.status} {data[:200]!r}")
        return json.loads(data)
    finally:
        conn.close()


def _multipart(name: str, data: bytes, client_id: str) -> tuple[bytes, str]:
    boundary = f"bench{random.getrandbits(64):x}"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="client_id"\r\n\r\n{client_id}\r\n'.encode(),
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n".encode()
        + data
        + b"\r\n",
        f"--{boundary}--\r\n".encode(),
    ]
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _picture(text: str) -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    font_path = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    font = ImageFont.truetype(str(font_path), 40) if font_path.exists() else ImageFont.load_default(40)
    image = Image.new("RGB", (1400, 260), "white")
    ImageDraw.Draw(image).text((60, 60), "Plan for next week:", font=font, fill="black")
    ImageDraw.Draw(image).text((60, 140), text, font=font, fill="black")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _pdf(text: str) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    pdf.add_page()
    pdf.multi_cell(0, 8, "Payment terms: 30% deposit, balance against B/L copy.")
    pdf.add_page()
    pdf.multi_cell(0, 8, text)
    return bytes(pdf.output())


def bench_queue(args: argparse.Namespace, rules: list[dict[str, Any]], messages: list[str]) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="entrepot-bench-compliance-"))
    data_dir = work / "data"
    pg_name = f"entrepot_bench_compliance_{os.getpid()}" if args.backend == "postgresql" else None
    server = worker = None
    poller: Poller | None = None
    try:
        database_url = _pg(pg_name, True) if pg_name else None
        setup = populate(data_dir, database_url, args.data / "trade", rules)
        log(f"{len(rules)} rules saved through the actions in {setup['rules_s']:.1f}s")
        port = free_port()
        env = clean_env()
        env.update(
            {
                "ENTREPOT_DATA_DIR": str(data_dir),
                "ENTREPOT_REFERENCE_DIR": str(args.data / "trade"),
                "ENTREPOT_WORKER_PROCESSES": "1",
                "OMP_THREAD_LIMIT": "1",
            }
        )
        if database_url:
            env["ENTREPOT_DATABASE_URL"] = database_url
        server = subprocess.Popen(  # noqa: S603 - our own command line
            [sys.executable, "-m", "entrepot", "serve", "--port", str(port), "--no-migrate"],
            cwd=str(REPO),
            env=env,
            stdout=open(work / "server.log", "wb"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        worker = subprocess.Popen(
            [sys.executable, "-m", "entrepot", "worker", "--processes", "1"],
            cwd=str(REPO),
            env=env,
            stdout=open(work / "worker.log", "wb"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_http(port, server, 90)
        poller = Poller(setup["db_url"])
        poller.start()
        conv, sessions = setup["conversation"], setup["sessions"]
        path = f"/api/v1/conversations/{conv}/messages"
        rng = random.Random(args.seed)
        probes = list(PROBES.values())

        def send(i: int, body: str) -> tuple[int, float]:
            who = sessions["alice" if i % 2 else "bob"]
            t0 = time.time()
            sent = _post(
                port, who, path, json.dumps({"client_id": f"q{i}", "body": body}).encode(), "application/json"
            )
            return int(sent["id"]), t0

        for i in range(20):  # warm-up (analysers, vocabulary, connections); not measured
            send(-1 - i, f"{messages[i]} {probes[i % 4]}")
        deadline = time.time() + 60
        while len(poller.seen) < 20 and time.time() < deadline:
            time.sleep(0.1)
        plan = [
            (
                i,
                f"{messages[i % len(messages)]} {rng.choice(probes)}"
                if rng.random() < 0.35
                else messages[i % len(messages)],
            )
            for i in range(args.sends)
        ]
        sent: dict[int, float] = {}
        errors = 0
        t_start = time.time()
        with ThreadPoolExecutor(max_workers=16) as pool:
            futures = []
            for k, (i, body) in enumerate(plan):
                delay = t_start + k / args.rate - time.time()
                if delay > 0:
                    time.sleep(delay)
                futures.append(pool.submit(send, i, body))
            for f in futures:
                try:
                    mid, t0 = f.result()
                    sent[mid] = t0
                except Exception as exc:  # noqa: BLE001 - counted and reported
                    errors += 1
                    log(f"send failed: {exc}")
        send_s = time.time() - t_start
        time.sleep(3)
        latencies = [poller.seen[mid] - t0 for mid, t0 in sent.items() if mid in poller.seen]
        flagged = len(latencies)
        # Attachments: screened by the worker after the send.
        attach: list[float] = []
        missing_attach = 0
        for k in range(args.attachments):
            word = "contraband"
            name, data = (
                (f"terms-{k}.pdf", _pdf(f"Route the cargo so the {word} is not seen at customs."))
                if k % 2 == 0
                else (f"board-{k}.png", _picture(f"ship via Dalian, hide the {word}"))
            )
            body, ctype = _multipart(name, data, f"a{k}")
            t0 = time.time()
            mid = int(
                _post(port, sessions["alice"], f"/api/v1/conversations/{conv}/attachments", body, ctype)["id"]
            )
            limit = time.time() + 120
            while mid not in poller.seen and time.time() < limit:
                time.sleep(0.05)
            if mid in poller.seen:
                attach.append(poller.seen[mid] - t0)
            else:
                missing_attach += 1
        review_page = urllib.request.Request(
            f"http://127.0.0.1:{port}/review", headers={"Cookie": f"entrepot_session={sessions['rev'][0]}"}
        )
        with urllib.request.urlopen(review_page, timeout=60) as resp:  # noqa: S310 - loopback
            page_ok = resp.status == 200 and PROBES["en"] in resp.read().decode("utf-8", "replace") or None
        return {
            "backend": args.backend,
            "sends": len(sent),
            "errors": errors,
            "rate": args.rate,
            "offered_rate": len(plan) / send_s if send_s else 0.0,
            "flagged": flagged,
            "p50_s": pct(latencies, 0.5),
            "p95_s": pct(latencies, 0.95),
            "p99_s": pct(latencies, 0.99),
            "max_s": max(latencies, default=None),
            "attachments": args.attachments,
            "attach_p50_s": pct(attach, 0.5),
            "attach_max_s": max(attach, default=None),
            "attach_missing": missing_attach,
            "review_page_lists_flags": bool(page_ok),
        }
    finally:
        if poller is not None:
            poller.stop_flag.set()
            poller.join(5)
            poller.db.dispose()
        stop(server)
        stop(worker)
        if pg_name:
            try:
                _pg(pg_name, False)
            except Exception as exc:  # noqa: BLE001
                log(f"could not drop {pg_name}: {exc}")


# ---------------------------------------------------------------- report


def fmt(v: Any, spec: str = ".3f") -> str:
    return "-" if v is None else format(v, spec) if isinstance(v, float) else str(v)


def print_table(tp: dict[str, Any], q: dict[str, Any] | None, ot: dict[str, Any], load: float) -> None:
    rows = [
        (
            "throughput",
            "rules (regexes) / languages",
            f"{tp['rules']} ({tp['regex_rules']}) / {tp['languages']}",
        ),
        ("", "messages / with a lexicon match", f"{tp['messages']} / {tp['matched_share']:.1%}"),
        (
            "",
            "per message, one process (msgs/s)",
            f"{tp['msgs_per_s']:.0f}  (target {TARGET_MSGS_PER_S:.0f})",
        ),
        (
            "",
            f"per message, {tp.get('processes', 1)} processes (msgs/s)",
            fmt(tp.get("multi_msgs_per_s"), ".0f"),
        ),
        ("", "  the same per CPU second (msgs/s)", f"{tp['cpu_msgs_per_s']:.0f}"),
        ("", "  the same, no run's analysis reused (msgs/s)", f"{tp['uncached_msgs_per_s']:.0f}"),
        ("", "analysis batched by 64 (msgs/s)", f"{tp['batched_msgs_per_s']:.0f}"),
        ("", "  analysis alone, nothing reused (msgs/s)", f"{tp['analyse_msgs_per_s']:.0f}"),
        ("", "  rule index + regexes, tokens given", f"{tp['match_msgs_per_s']:.0f}"),
        ("", "  off-topic score, tokens given", f"{tp['score_msgs_per_s']:.0f}"),
        (
            "",
            "  regexes joined / one search each",
            f"{tp['regex_joined_msgs_per_s']:.0f} / {tp['regex_each_msgs_per_s']:.0f}",
        ),
        ("", "naive: every rule per message", f"{tp['naive_msgs_per_s']:.0f}"),
        (
            "",
            "compile rules / vocabulary / analysers",
            f"{tp['compile_s']:.2f}s / {tp['vocabulary_s']:.2f}s / {tp['analysers_load_s']:.2f}s",
        ),
    ]
    if q:
        rows += [
            ("queue", "backend / sends / errors", f"{q['backend']} / {q['sends']} / {q['errors']}"),
            ("", "rate asked / offered (msgs/s)", f"{q['rate']:.0f} / {q['offered_rate']:.1f}"),
            ("", "flagged messages", str(q["flagged"])),
            (
                "",
                "send -> queue p50 / p95 / p99 / max (s)",
                " / ".join(fmt(q[k]) for k in ("p50_s", "p95_s", "p99_s", "max_s"))
                + f"  (target p99 < {TARGET_P99_S:g})",
            ),
            (
                "",
                "attachments: p50 / max (s), missing",
                f"{fmt(q['attach_p50_s'])} / {fmt(q['attach_max_s'])}, "
                f"{q['attach_missing']} of {q['attachments']}",
            ),
            ("", "reviewer's /review lists the flags", str(q["review_page_lists_flags"])),
        ]
    for split in ("dev", "test"):
        r = ot[split]
        rows += [
            (f"off-topic {split}", "conversations (drifting)", f"{r['conversations']} ({r['drifting']})"),
            (
                "",
                "precision / recall",
                f"{r['precision']:.3f} / {r['recall']:.3f}"
                + (f"  (target precision >= {TARGET_PRECISION})" if split == "test" else ""),
            ),
            ("", "false flags / missed", f"{r['false_flags']} / {r['missed']}"),
            (
                "",
                "flags per drifting conv (mean / max)",
                f"{r['flags_per_drifting']:.2f} / {r['max_flags_per_drifting']}",
            ),
            ("", "per message: precision / recall", f"{r['msg_precision']:.3f} / {r['msg_recall']:.3f}"),
        ]
    rows.append(
        ("", "window / threshold / min words", f"{ot['window']} / {ot['threshold']} / {ot['min_tokens']}")
    )
    rows.append(("machine", "busy while measuring throughput", f"{load:.0%}"))
    width = max(len(b) for _, b, _ in rows)
    for a, b, c in rows:
        print(f"{a:<18} {b:<{width}}  {c}")


def machine_busy(seconds: float = 1.0) -> float:
    def sample() -> tuple[float, float]:
        with open("/proc/stat", encoding="ascii") as f:
            vals = [int(v) for v in f.readline().split()[1:]]
        return float(sum(vals)), float(vals[3] + vals[4])

    a = sample()
    time.sleep(seconds)
    b = sample()
    return 1 - (b[1] - a[1]) / max(1.0, b[0] - a[0])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--data", type=Path, default=REPO.parent / "shared" / "data", help="the shared data folder"
    )
    ap.add_argument("--messages", type=int, default=5000, help="chat lines for the throughput part")
    ap.add_argument("--rules", type=int, default=1000)
    ap.add_argument(
        "--processes", type=int, default=0, help="processes for the multi-process figure (0: cores)"
    )
    ap.add_argument(
        "--sends", type=int, default=500, help="messages sent through the API for the queue latency"
    )
    ap.add_argument("--rate", type=float, default=20.0, help="messages per second offered to the server")
    ap.add_argument(
        "--attachments", type=int, default=6, help="files and pictures sent for attachment screening"
    )
    ap.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--skip-queue", action="store_true", help="no server: throughput and off-topic only")
    ap.add_argument("--trade-convs", type=int, default=200)
    ap.add_argument("--drift-convs", type=int, default=150)
    ap.add_argument("--general-convs", type=int, default=50)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args(argv)
    args.data = args.data.resolve()
    for k in [k for k in os.environ if k.startswith("ENTREPOT_")]:
        del os.environ[k]

    log("building rules and messages")
    rules = make_rules(labelled.load_pools(args.data, "dev"), args.rules, args.seed)
    messages = chat_lines(args.data, args.messages, args.seed)
    log("off-topic rule on the labelled conversations")
    offtopic = bench_offtopic(args)
    log("throughput")
    busy = {"v": 0.0}
    sampler = threading.Thread(target=lambda: busy.update(v=machine_busy(5.0)), daemon=True)
    sampler.start()
    throughput = bench_throughput(args, rules, messages, chat_lines(args.data, 3000, args.seed, "dev"))
    sampler.join()
    queue = None
    if not args.skip_queue:
        log(f"send -> review queue through a server ({args.backend})")
        queue = bench_queue(args, rules, messages)
    print_table(throughput, queue, offtopic, busy["v"])
    result = {
        "bench": "compliance",
        "flag_msgs_per_s": round(throughput["msgs_per_s"], 1),
        "queue_p50_s": round(queue["p50_s"], 4) if queue and queue["p50_s"] is not None else None,
        "queue_p99_s": round(queue["p99_s"], 4) if queue and queue["p99_s"] is not None else None,
        "offtopic_precision": round(offtopic["test"]["precision"], 4),
        "offtopic_recall": round(offtopic["test"]["recall"], 4),
        "flag_msgs_per_s_multiprocess": round(throughput.get("multi_msgs_per_s") or 0, 1) or None,
        "flag_msgs_per_s_uncached": round(throughput["uncached_msgs_per_s"], 1),
        "flag_msgs_per_cpu_s": round(throughput["cpu_msgs_per_s"], 1),
        "attachment_p50_s": round(queue["attach_p50_s"], 3) if queue and queue["attach_p50_s"] else None,
        "offtopic_msg_precision": round(offtopic["test"]["msg_precision"], 4),
        "offtopic_msg_recall": round(offtopic["test"]["msg_recall"], 4),
    }
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
