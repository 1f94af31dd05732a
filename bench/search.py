"""Passage-retrieval benchmark for entrepot.search.analyzers against FTS5 and tantivy baselines.

All passages of all languages go into ONE index per system; every question is asked as an OR of
its analyser's terms (BM25) and must find the passage named in its `passage_id`.

    .venv/bin/python bench/search.py                      # all corpora under ../shared/data/corpora
    .venv/bin/python bench/search.py --corpus ../shared/data/probes/cross-script
    .venv/bin/python bench/search.py --scale 100000 --systems entrepot,fts5-default

Prints a table, then one JSON line: {"bench": "search", "scale": N, ..., "systems": {...}}.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from entrepot.search.analyzers import (  # noqa: E402
    AnalyzerConfig,
    MultilingualAnalyzer,
    ParallelAnalyzer,
    RankingWeights,
    build_match_expression,
    create_fts_table,
    insert_documents,
    ranked_sql,
    sql_params,
)
from entrepot.search.analyzers.scripts import HAN_CLASS, HANGUL_CLASS, KANA_CLASS  # noqa: E402

DEFAULT_CORPUS = REPO.parent / "shared" / "data" / "corpora"
ALL_SYSTEMS = ["entrepot", "entrepot-lab", "fts5-default", "fts5-trigram", "tantivy-default", "tantivy-cjk-bigram"]
TOP_K = 10
_DEF = AnalyzerConfig()
_DEFW = RankingWeights()


@dataclass(frozen=True, slots=True)
class Passage:
    id: str
    lang: str
    text: str


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    lang: str
    text: str
    passage_id: str


def _read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_corpus(root: Path) -> tuple[list[Passage], list[Question]]:
    """root is one corpus folder (passages.jsonl + questions.jsonl) or a folder of them."""
    dirs = (
        [root]
        if (root / "passages.jsonl").exists()
        else sorted(p.parent for p in root.glob("*/passages.jsonl"))
    )
    if not dirs:
        raise SystemExit(f"no passages.jsonl under {root}")
    passages: dict[str, Passage] = {}
    questions: list[Question] = []
    for d in dirs:
        for r in _read_jsonl(d / "passages.jsonl"):
            # The title is part of the document, as it would be for a stored file.
            text = f"{r.get('title', '')}\n{r['text']}".strip()
            passages.setdefault(r["id"], Passage(r["id"], r["lang"], text))
        for r in _read_jsonl(d / "questions.jsonl"):
            questions.append(Question(r["id"], r["lang"], r["question"], r["passage_id"]))
    return list(passages.values()), questions


_SENT_END = re.compile(r"(?<=[。！？!?])|(?<=[.;])\s+")


def make_distractors(passages: list[Passage], n: int, seed: int = 7) -> list[Passage]:
    """n fake passages, each 3-8 random sentences of one language (keeps term statistics realistic)."""
    if n <= 0:
        return []
    rng = random.Random(seed)  # noqa: S311 - reproducible sampling, not security
    by_lang: dict[str, list[str]] = defaultdict(list)
    for p in passages:
        by_lang[p.lang].extend(s.strip() for s in _SENT_END.split(p.text) if len(s.strip()) > 5)
    langs = [p.lang for p in passages]  # proportional to the real corpus
    out = []
    for i in range(n):
        lang = rng.choice(langs)
        sents = by_lang[lang]
        k = rng.randint(3, 8)
        sep = " " if lang == "en" else ""
        out.append(Passage(f"distractor-{i}", lang, sep.join(rng.choice(sents) for _ in range(k))))
    return out


# -- systems --------------------------------------------------------------------------------


class System:
    name = ""

    def prepare(self) -> None:
        """Load models (not timed: a service loads them once per process, not per build)."""

    def build(self, passages: list[Passage], workdir: Path) -> None:
        raise NotImplementedError

    def search(self, text: str) -> list[int]:
        raise NotImplementedError

    def index_bytes(self) -> int:
        raise NotImplementedError

    def close(self) -> None:
        pass


def _dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


class _SqliteSystem(System):
    def _open(self, workdir: Path) -> None:
        self.path = workdir / f"{self.name}.sqlite3"
        self.conn = sqlite3.connect(self.path, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=OFF")
        self.conn.execute("PRAGMA synchronous=OFF")

    def _finish(self, table: str) -> None:
        self.conn.execute(f"INSERT INTO {table}({table}) VALUES ('optimize')")  # noqa: S608
        self.conn.commit()

    def index_bytes(self) -> int:
        return self.path.stat().st_size

    def close(self) -> None:
        self.conn.close()
        if getattr(self, "parallel", None) is not None:
            self.parallel.close()


def _ready(_: int) -> int:
    return 0  # the pool's initializer has loaded the analysers by the time this runs


class ProductSystem(System):
    """The product itself: one published document per passage in a migrated Entrepot database, indexed
    by the product's `entrepot search reindex` (analysis in worker processes) and queried through
    `entrepot.search.service.search` as an OPEN-clearance trader, so the policy clause, facets and
    snippets are all part of every measured query."""

    name = "entrepot"

    def __init__(self, processes: int) -> None:
        from entrepot.search.reindex import analysis_pool

        self.processes = max(1, processes or os.cpu_count() or 1)
        self.pool = analysis_pool(self.processes)

    def prepare(self) -> None:
        from entrepot.search.reindex import warm

        list(self.pool.map(_ready, range(self.processes)))
        warm()

    def build(self, passages: list[Passage], workdir: Path) -> None:
        from sqlalchemy import insert

        from entrepot.core.types import Level, Principal, Role, UserKind, UserStatus
        from entrepot.db import Database
        from entrepot.db.library import Document, DocumentVersion, Page
        from entrepot.db.migrate import upgrade
        from entrepot.search.reindex import reindex

        self.path = workdir / "entrepot-product.db"
        self.db = Database(f"sqlite:///{self.path}")
        upgrade(self.db.engine)
        n = len(passages)
        with self.db.engine.begin() as c:
            for start in range(0, n, 20_000):
                ids = range(start + 1, min(n, start + 20_000) + 1)
                c.execute(insert(Document), [{"id": i, "title": f"p{i}", "category": "trends", "level": 0,
                                              "published": True, "status": "ready", "current_version_id": i,
                                              "languages": [], "suggestions": {}} for i in ids])
                c.execute(insert(DocumentVersion), [{"id": i, "document_id": i, "number": 1, "blob": "0" * 64,
                                                     "filename": "p.txt", "size": 0, "state": "ready"} for i in ids])
                c.execute(insert(Page), [{"id": i, "version_id": i, "number": 1, "text": passages[i - 1].text,
                                          "language": None, "source": "text"} for i in ids])
        reindex(self.db, pool=self.pool)  # `entrepot search reindex`, with the warmed pool
        self.principal = Principal(user_id=1, username="bench", display_name="Bench", enterprise_id=1,
                                   kind=UserKind.STAFF, status=UserStatus.ACTIVE, clearance=Level.OPEN,
                                   roles=frozenset({Role.TRADER}))

    def search(self, text: str) -> list[int]:
        from entrepot.search.service import SearchRequest, search

        with self.db.read() as session:
            result = search(session, self.principal, SearchRequest(text=text, page_size=TOP_K))
        return [h.document.id - 1 for h in result.hits]

    def index_bytes(self) -> int:
        return self.path.stat().st_size

    def close(self) -> None:
        self.pool.shutdown()
        self.db.dispose()


class EntrepotSystem(_SqliteSystem):
    """The analysers alone on a bare FTS5 table (the laboratory the recipe was tuned in)."""

    name = "entrepot-lab"

    def __init__(self, config: AnalyzerConfig, weights: RankingWeights, processes: int) -> None:
        self.analyzer = MultilingualAnalyzer(config)
        self.weights = weights
        self.parallel = ParallelAnalyzer(self.analyzer, processes) if processes > 0 else None

    def prepare(self) -> None:
        if self.parallel is not None:
            self.parallel.warm()
        else:
            self.analyzer.index_batch(["준비 東京に 中文 ready"])

    def build(self, passages: list[Passage], workdir: Path) -> None:
        self._open(workdir)
        create_fts_table(self.conn, "docs")
        self._sql = ranked_sql("docs")
        insert_documents(
            self.conn,
            self.analyzer,
            ((i, p.text) for i, p in enumerate(passages)),
            table="docs",
            parallel=self.parallel,
        )
        self._finish("docs")

    def search(self, text: str) -> list[int]:
        analysed = self.analyzer.analyze_query(text)
        expr = build_match_expression(analysed)
        if expr is None:
            return []
        params = (*sql_params(self.weights, analysed.lang), expr, TOP_K)
        return [r[0] for r in self.conn.execute(self._sql, params).fetchall()]


def _unicode61_terms(text: str) -> list[str]:
    """Query terms as FTS5 unicode61 would cut them: runs of L*/N*/Co characters, lower-cased."""
    out, cur = [], []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat[0] in "LN" or cat == "Co":
            cur.append(ch)
        elif cur:
            out.append("".join(cur))
            cur = []
    if cur:
        out.append("".join(cur))
    return list(dict.fromkeys(t.casefold() for t in out))


def _quote(t: str) -> str:
    return '"' + t.replace('"', '""') + '"'


class Fts5DefaultSystem(_SqliteSystem):
    name = "fts5-default"
    tokenize = "unicode61"

    def build(self, passages: list[Passage], workdir: Path) -> None:
        self._open(workdir)
        self.conn.execute(f"CREATE VIRTUAL TABLE docs USING fts5(body, tokenize='{self.tokenize}')")
        self.conn.executemany(
            "INSERT INTO docs(rowid, body) VALUES (?, ?)", ((i, p.text) for i, p in enumerate(passages))
        )
        self._finish("docs")

    def terms(self, text: str) -> list[str]:
        return _unicode61_terms(text)

    def search(self, text: str) -> list[int]:
        terms = self.terms(text)[:256]
        if not terms:
            return []
        expr = " OR ".join(_quote(t) for t in terms)
        rows = self.conn.execute(
            "SELECT rowid FROM docs WHERE docs MATCH ? ORDER BY bm25(docs) LIMIT ?", (expr, TOP_K)
        ).fetchall()
        return [r[0] for r in rows]


class Fts5TrigramSystem(Fts5DefaultSystem):
    name = "fts5-trigram"
    tokenize = "trigram"

    def terms(self, text: str) -> list[str]:
        # The trigram analyser's terms: every 3-character substring (case-insensitive, like the index).
        t = re.sub(r"\s+", " ", text.casefold()).strip()
        return list(dict.fromkeys(t[i : i + 3] for i in range(len(t) - 2)))


_CJK_RUN = re.compile(f"([{HANGUL_CLASS}{KANA_CLASS}{HAN_CLASS}]+)")


class TantivySystem(System):
    name = "tantivy-default"

    def _analyzer(self):
        import tantivy

        return (
            tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
            .filter(tantivy.Filter.remove_long(40))
            .filter(tantivy.Filter.lowercase())
            .build()
        )

    def field_tokenizer(self) -> str:
        return "default"

    def doc_text(self, text: str) -> str:
        return text

    def terms(self, text: str) -> list[str]:
        return list(dict.fromkeys(self.default.analyze(text)))

    def build(self, passages: list[Passage], workdir: Path) -> None:
        import tantivy

        self.default = self._analyzer()
        sb = tantivy.SchemaBuilder()
        sb.add_integer_field("rid", stored=True)
        sb.add_text_field("body", tokenizer_name=self.field_tokenizer())
        self.schema = sb.build()
        self.dir = workdir / self.name
        self.dir.mkdir()
        self.index = tantivy.Index(self.schema, path=str(self.dir))
        writer = self.index.writer()
        for i, p in enumerate(passages):
            writer.add_document(tantivy.Document(rid=i, body=self.doc_text(p.text)))
        writer.commit()
        writer.wait_merging_threads()
        self.index.reload()
        self.searcher = self.index.searcher()
        self._tantivy = tantivy

    def search(self, text: str) -> list[int]:
        terms = self.terms(text)[:256]
        if not terms:
            return []
        q = self._tantivy.Query
        query = q.boolean_query(
            [(self._tantivy.Occur.Should, q.term_query(self.schema, "body", t)) for t in terms]
        )
        hits = self.searcher.search(query, TOP_K).hits
        return [self.searcher.doc(addr)["rid"][0] for _, addr in hits]

    def index_bytes(self) -> int:
        return _dir_bytes(self.dir)


class TantivyCjkBigramSystem(TantivySystem):
    """CJK runs split into overlapping character pairs (a lone character stays), the rest default."""

    name = "tantivy-cjk-bigram"

    def field_tokenizer(self) -> str:
        return "whitespace"

    def _tokens(self, text: str) -> list[str]:
        out: list[str] = []
        for i, part in enumerate(_CJK_RUN.split(text)):
            if i % 2:  # a CJK run
                out.extend([part] if len(part) == 1 else [part[j : j + 2] for j in range(len(part) - 1)])
            elif part:
                out.extend(self.default.analyze(part))
        return out

    def doc_text(self, text: str) -> str:
        return " ".join(self._tokens(text))

    def terms(self, text: str) -> list[str]:
        return list(dict.fromkeys(self._tokens(text)))


# -- measurement ----------------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def evaluate(system: System, passages: list[Passage], questions: list[Question], workdir: Path,
             ranks: dict[str, int] | None = None) -> dict:
    t0 = time.perf_counter()
    system.prepare()
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    system.build(passages, workdir)
    build_s = time.perf_counter() - t0
    pid_to_row = {p.id: i for i, p in enumerate(passages)}
    per_lang: dict[str, list[tuple[int, float]]] = defaultdict(list)  # (hit@1, rr@10)
    hit10: dict[str, list[int]] = defaultdict(list)
    lat: list[float] = []
    for q in questions:
        t = time.perf_counter()
        rows = system.search(q.text)
        lat.append((time.perf_counter() - t) * 1000)
        target = pid_to_row.get(q.passage_id)
        rank = rows.index(target) + 1 if target in rows else 0
        if ranks is not None:
            ranks[q.id] = rank
        per_lang[q.lang].append((int(rank == 1), 1.0 / rank if rank else 0.0))
        hit10[q.lang].append(int(rank > 0))
    langs = {
        lang: {
            "n": len(v),
            "r1": round(statistics.fmean(x[0] for x in v), 4),
            "r10": round(statistics.fmean(hit10[lang]), 4),
            "mrr10": round(statistics.fmean(x[1] for x in v), 4),
        }
        for lang, v in sorted(per_lang.items())
    }
    return {
        "langs": langs,
        "p50_ms": round(_pct(lat, 0.50), 3),
        "p95_ms": round(_pct(lat, 0.95), 3),
        "p99_ms": round(_pct(lat, 0.99), 3),
        "build_pps": round(len(passages) / build_s, 1),
        "build_s": round(build_s, 2),
        "load_s": round(load_s, 2),
        "index_bytes": system.index_bytes(),
    }


def limit_questions(questions: list[Question], n: int | None) -> list[Question]:
    if not n:
        return questions
    by_lang: dict[str, list[Question]] = defaultdict(list)
    for q in questions:
        by_lang[q.lang].append(q)
    return [q for qs in by_lang.values() for q in qs[:n]]


def print_table(results: dict[str, dict], out=sys.stdout) -> None:
    langs = sorted({lang for r in results.values() for lang in r["langs"]})
    head = f"{'system':<20}" + "".join(f"{lang + ' r1/r10/mrr':>24}" for lang in langs)
    head += f"{'p50ms':>8}{'p95ms':>8}{'p99ms':>8}{'build/s':>9}{'MB':>8}"
    print(head, file=out)
    for name, r in results.items():
        row = f"{name:<20}"
        for lang in langs:
            m = r["langs"].get(lang)
            row += f"{m['r1']:>8.3f}{m['r10']:>8.3f}{m['mrr10']:>8.3f}" if m else f"{'-':>24}"
        row += f"{r['p50_ms']:>8.2f}{r['p95_ms']:>8.2f}{r['p99_ms']:>8.2f}{r['build_pps']:>9.0f}"
        row += f"{r['index_bytes'] / 1e6:>8.1f}"
        print(row, file=out)


def main(argv: Iterable[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="a corpus folder or a folder of them")
    ap.add_argument("--scale", type=int, default=0, help="add N distractor passages (recombined sentences)")
    ap.add_argument(
        "--systems", default=",".join(ALL_SYSTEMS), help="comma-separated subset of " + ",".join(ALL_SYSTEMS)
    )
    ap.add_argument("--limit-questions", type=int, default=0, help="at most N questions per language")
    ap.add_argument("--langs", default="", help="only questions with these comma-separated lang values")
    ap.add_argument("--ranks-out", type=Path, default=None,
                    help="write one JSON line per question: its text and the target's rank in each system (0: missed)")
    # Tuning knobs for the entrepot system (defaults are the shipped recipe).
    ap.add_argument("--grams", default=_DEF.grams, choices=["none", "unigram", "bigram", "unigram+bigram"])
    ap.add_argument(
        "--query-grams", default=_DEF.query_grams, choices=["always", "terms", "fallback", "never"]
    )
    ap.add_argument(
        "--gram-scripts", default=",".join(sorted(_DEF.gram_scripts)), help="comma-separated: han,kana,hangul"
    )
    ap.add_argument("--gram-weight", type=float, default=_DEFW.grams)
    ap.add_argument(
        "--same-language", type=float, default=_DEFW.same_language, help="score factor, query language"
    )
    ap.add_argument("--no-ja-subwords", action="store_true")
    ap.add_argument(
        "--processes", type=int, default=1, help="extra analysis worker processes for the build (0: none)"
    )
    args = ap.parse_args(list(argv) if argv is not None else None)

    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = set(systems) - set(ALL_SYSTEMS)
    if unknown:
        ap.error(f"unknown systems: {sorted(unknown)}")
    passages, questions = load_corpus(args.corpus)
    if args.langs:
        wanted = set(args.langs.split(","))
        questions = [q for q in questions if q.lang in wanted]
    questions = limit_questions(questions, args.limit_questions)
    passages = passages + make_distractors(passages, args.scale)
    config = AnalyzerConfig(
        grams=args.grams,
        query_grams=args.query_grams,
        gram_scripts=frozenset(s for s in args.gram_scripts.split(",") if s),
        japanese_subwords=not args.no_ja_subwords,
    )
    weights = RankingWeights(grams=args.gram_weight, same_language=args.same_language)
    factories = {
        "entrepot": lambda: ProductSystem(args.processes),
        "entrepot-lab": lambda: EntrepotSystem(config, weights, args.processes),
        "fts5-default": Fts5DefaultSystem,
        "fts5-trigram": Fts5TrigramSystem,
        "tantivy-default": TantivySystem,
        "tantivy-cjk-bigram": TantivyCjkBigramSystem,
    }
    results: dict[str, dict] = {}
    ranks: dict[str, dict[str, int]] = {name: {} for name in systems}
    workdir = Path(tempfile.mkdtemp(prefix="entrepot-bench-"))
    try:
        for name in systems:
            system = factories[name]()
            try:
                results[name] = evaluate(system, passages, questions, workdir, ranks[name])
            finally:
                system.close()
            r = results[name]
            print(f"# {name}: models {r['load_s']} s, built in {r['build_s']} s", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if args.ranks_out:
        with args.ranks_out.open("w", encoding="utf-8") as f:
            for q in questions:
                row = {"id": q.id, "lang": q.lang, "question": q.text, "passage_id": q.passage_id,
                       "ranks": {name: ranks[name].get(q.id, 0) for name in systems}}
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"# corpus={args.corpus} passages={len(passages)} questions={len(questions)}", end=" ")
    print(f"scale={args.scale} cpus={os.cpu_count()}")
    print_table(results)
    print(
        json.dumps(
            {
                "bench": "search",
                "scale": args.scale,
                "passages": len(passages),
                "questions": len(questions),
                "systems": results,
            },
            ensure_ascii=False,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
