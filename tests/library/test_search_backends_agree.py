"""SQLite FTS5 and PostgreSQL return the same ranking, with the same BM25 scores, on the same data."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from entrepot.db import Database
from entrepot.db.library import Document, DocumentVersion, Page
from entrepot.db.migrate import upgrade
from entrepot.search.backend import page_index
from entrepot.search.service import analyse, index_rows
from tests.conftest import PG_URL

CORPORA = Path(__file__).resolve().parents[3] / "shared" / "data" / "corpora"
SETS = {"korquad-v1.0": "ko", "cmrc2018": "zh-Hans", "drcd": "zh-Hant", "jsquad-v1.3": "ja", "squad-v1.1": "en"}
PER_SET = 40


def _sample() -> tuple[list[str], list[str]]:
    if not CORPORA.is_dir():
        pytest.skip("../shared/data/corpora is not there")
    passages, questions = [], []
    for folder in SETS:
        with (CORPORA / folder / "passages.jsonl").open(encoding="utf-8") as fh:
            rows = [json.loads(line) for _, line in zip(range(PER_SET), fh, strict=False)]
        ids = {r["id"] for r in rows}
        passages += [r["text"] for r in rows]
        with (CORPORA / folder / "questions.jsonl").open(encoding="utf-8") as fh:
            qs = [json.loads(line) for line in fh]
        mine = [q["question"] for q in qs if q["passage_id"] in ids]
        # Quoted phrases (“” too) filter alike on both backends and neither scores them.
        questions += mine[:8] + [q for q in mine[8:] if '"' in q or "“" in q][:2]
    return passages, questions


@pytest.fixture
def postgres() -> Iterator[Database]:
    name = f"entrepot_agree_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"PostgreSQL is not available: {type(exc).__name__}")
    db = Database(make_url(PG_URL).set(database=name).render_as_string(hide_password=False))
    upgrade(db.engine)
    yield db
    db.dispose()
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _load(db: Database, passages: list[str]) -> None:
    rows = index_rows(list(enumerate(passages, start=1)))
    with db.write() as s:
        s.add(Document(id=1, title="corpus", category="trends", level=0, published=True, status="ready",
                       current_version_id=1, languages=[], suggestions={}))
        s.add(DocumentVersion(id=1, document_id=1, number=1, blob="0" * 64, filename="c.txt", size=0, state="ready"))
        s.flush()
        s.add_all(Page(id=i, version_id=1, number=i, text=t) for i, t in enumerate(passages, start=1))
        s.flush()
        page_index(s).replace(s, rows)


def _ranking(db: Database, question: str) -> list[tuple[int, float]]:
    query, _ = analyse(question)
    with db.read() as s:
        scored = page_index(s).scored_pages(s, query)
        if scored is None:
            return []
        sub = scored.subquery()
        rows = s.execute(select(sub.c.page_id, sub.c.score).order_by(sub.c.score.desc(), sub.c.page_id).limit(10))
        return [(pid, round(float(score), 6)) for pid, score in rows]


def test_sqlite_and_postgresql_rank_alike(tmp_path: Path, postgres: Database) -> None:
    passages, questions = _sample()
    sqlite = Database(f"sqlite:///{tmp_path / 'agree.db'}")
    upgrade(sqlite.engine)
    _load(sqlite, passages)
    _load(postgres, passages)
    compared = 0
    for q in questions:
        a, b = _ranking(sqlite, q), _ranking(postgres, q)
        assert [p for p, _ in a] == [p for p, _ in b], q
        assert all(abs(x - y) <= 1e-4 * max(1.0, abs(x)) for (_, x), (_, y) in zip(a, b, strict=True)), q
        compared += bool(a)
    assert compared >= 30
