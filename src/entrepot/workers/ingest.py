"""The ingest job: run the pipeline on versions' originals, then record the results a batch per transaction."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from entrepot import jobs
from entrepot.actions import library
from entrepot.actions.ingest_record import record_ingests
from entrepot.blobs import BlobStore
from entrepot.core.config import Settings
from entrepot.core.errors import EntrepotError
from entrepot.core.reference import load_reference
from entrepot.db import Database
from entrepot.db.library import Document, DocumentVersion
from entrepot.ingest import IngestContext, IngestResult, run_pipeline
from entrepot.parsers import ParseContext

log = logging.getLogger(__name__)
PROGRESS_EVERY_S = 1.0
#: Results wait at most this long for the rest of their batch before they are recorded and visible;
#: past it, the batch's jobs not started yet go back to the queue, so a slow document (OCR) never
#: keeps other workers idle while it holds a batch.
RECORD_EVERY_S = 1.0
#: The outcome of a job given back to the queue unstarted (see RECORD_EVERY_S).
RELEASED: dict[str, Any] = {"released": True}


@dataclass(frozen=True)
class _Parsed:
    """A version the pipeline finished, waiting to be recorded with the rest of its batch."""

    pos: int
    version_id: int
    job_id: int | None
    final_attempt: bool
    result: IngestResult


@dataclass
class IngestRunner:
    """Per worker process: one OCR engine (made on first use) shared by all the jobs it runs."""

    db: Database
    settings: Settings
    _engine: Any = field(default=None, init=False)

    def ocr_engine(self) -> Any:
        if self._engine is None:
            from entrepot.ocr import OcrContext, TesseractEngine

            self._engine = TesseractEngine(OcrContext(page_timeout_s=self.settings.ocr_page_timeout_s))
        return self._engine

    def context(self) -> IngestContext:
        return IngestContext(blobs=BlobStore(self.settings.blob_dir),
                             reference=load_reference(self.settings.reference_dir), ocr=self.ocr_engine,
                             parse=ParseContext(max_file_bytes=self.settings.max_upload_bytes),
                             review_confidence=self.settings.ocr_review_confidence)

    def progress(self, version_id: int, held: list[int]) -> Any:
        """Progress for the board, written at most once a second: a short document writes none. Each
        write also renews the lease of every job the batch still holds (`held`), started or not."""
        next_write = time.monotonic() + PROGRESS_EVERY_S

        def report(step: str, pct: int) -> None:
            nonlocal next_write
            if time.monotonic() < next_write:
                return
            next_write = time.monotonic() + PROGRESS_EVERY_S
            with self.db.write() as s:
                library.record_progress(s, version_id, step, pct)
                jobs.renew_many(s, held, self.settings.job_lease_seconds)  # still alive: keep the jobs
        return report

    def run(self, version_id: int, final_attempt: bool, job_id: int | None = None) -> dict[str, Any]:
        outcome = self.run_batch([(version_id, final_attempt, job_id)])[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def run_batch(self, items: list[tuple[int, bool, int | None]]) -> list[dict[str, Any] | Exception]:
        """Run the pipeline on each (version id, final attempt, job id), recording the results a batch at
        a time: one transaction per batch (or per RECORD_EVERY_S of work) instead of several per document.
        A job given here is finished in the transaction that records its outcome, so a worker killed at
        any point leaves each job either done with its result visible, or to be run again. Jobs not
        started once RECORD_EVERY_S has passed are released: their outcome is RELEASED."""
        ctx = self.context()
        outcomes: dict[int, dict[str, Any] | Exception] = {}
        sources = self._sources([vid for vid, _, _ in items])
        held = [job_id for _, _, job_id in items if job_id is not None]
        pending: list[_Parsed] = []
        started = time.monotonic()
        for pos, (version_id, final_attempt, job_id) in enumerate(items):
            outcome = self._process(ctx, version_id, sources.get(version_id), final_attempt, job_id, held)
            if isinstance(outcome, IngestResult):
                pending.append(_Parsed(pos, version_id, job_id, final_attempt, outcome))
            else:
                outcomes[pos] = outcome
            if time.monotonic() - started >= RECORD_EVERY_S and pos + 1 < len(items):
                unstarted = [job for _, _, job in items[pos + 1:] if job is not None]
                outcomes.update(self._record(pending, held, release=unstarted))
                outcomes.update({p: RELEASED for p in range(pos + 1, len(items))})
                return [outcomes[p] for p in range(len(items))]
        outcomes.update(self._record(pending, held))
        return [outcomes[pos] for pos in range(len(items))]

    def _sources(self, version_ids: list[int]) -> dict[int, tuple[str, str]]:
        """version id -> (blob, filename), for the whole batch in one read."""
        with self.db.read() as s:
            rows = s.execute(select(DocumentVersion.id, DocumentVersion.blob, DocumentVersion.filename)
                             .where(DocumentVersion.id.in_(version_ids))).all()
        return {vid: (blob, filename) for vid, blob, filename in rows}

    def _process(self, ctx: IngestContext, version_id: int, source: tuple[str, str] | None, final_attempt: bool,
                 job_id: int | None, held: list[int]) -> IngestResult | dict[str, Any] | Exception:
        if source is None:
            self._settle(version_id, job_id, held, None)
            return {"skipped": "version gone"}
        blob, filename = source
        try:
            return run_pipeline(ctx.blobs.read_bytes(blob), filename, ctx, self.progress(version_id, held))
        except EntrepotError as exc:
            # A clear, final verdict on the file (damaged, encrypted, too large): no point retrying.
            message = exc.message % exc.params if exc.params else exc.message
            self._settle(version_id, job_id, held, message, final=True, job_error=None)
            return {"failed": message}
        except Exception as exc:  # noqa: BLE001 - recorded on the version; the job retries
            error = f"{type(exc).__name__}: {exc}"
            self._settle(version_id, job_id, held, error, final=final_attempt, job_error=error)
            return exc

    def _settle(self, version_id: int, job_id: int | None, held: list[int], error: str | None, *,
                final: bool = False, job_error: str | None = None) -> None:
        """A version that will not be recorded: its failure (if any) and its job's end, together."""
        with self.db.write() as s:
            if error is not None:
                library.record_failure(s, version_id, error, final=final)
            if job_id is not None:
                jobs.finish(s, job_id, job_error)
        if job_id in held:
            held.remove(job_id)

    def _record(self, pending: list[_Parsed], held: list[int], release: list[int] | None = None
                ) -> dict[int, dict[str, Any] | Exception]:
        """Record pending results in one transaction with their jobs (and give `release` back to the
        queue). Should that fail, each is recorded on its own, so one bad result fails its own job only."""
        if release:
            with self.db.write() as s:
                jobs.release(s, release)
            held[:] = [job for job in held if job not in release]
        if not pending:
            return {}
        try:
            self._record_together(pending)
        except Exception:  # noqa: BLE001 - retried one by one below, where the culprit is isolated
            if len(pending) == 1:
                return self._record_alone(pending[0], held)
            log.warning("recording %d results together failed; recording them one by one", len(pending),
                        exc_info=True)
            out: dict[int, dict[str, Any] | Exception] = {}
            for item in pending:
                out.update(self._record_alone(item, held))
            return out
        self._after_recorded(pending, held)
        return {p.pos: _summary(p.result) for p in pending}

    def _record_together(self, pending: list[_Parsed]) -> None:
        """One transaction: the results (a version deleted meanwhile is skipped) and their jobs done."""
        blobs = BlobStore(self.settings.blob_dir)
        children = [(p.version_id, blobs.put_bytes(c.data), c) for p in pending for c in p.result.children]
        with self.db.write() as s:
            recorded = set(record_ingests(s, [(p.version_id, p.result) for p in pending]))
            for version_id, digest, child in children:
                if version_id in recorded:
                    _add_child(s, version_id, digest, child)
            jobs.finish_done(s, [p.job_id for p in pending if p.job_id is not None])

    def _record_alone(self, item: _Parsed, held: list[int]) -> dict[int, dict[str, Any] | Exception]:
        try:
            self._record_together([item])
        except Exception as exc:  # noqa: BLE001 - recorded on the version; the job retries
            log.warning("recording version %s failed", item.version_id, exc_info=True)
            error = f"{type(exc).__name__}: {exc}"
            self._settle(item.version_id, item.job_id, held, error, final=item.final_attempt, job_error=error)
            return {item.pos: exc}
        self._after_recorded([item], held)
        return {item.pos: _summary(item.result)}

    def _after_recorded(self, pending: list[_Parsed], held: list[int]) -> None:
        for p in pending:
            if p.job_id in held:
                held.remove(p.job_id)


def _add_child(session: Session, version_id: int, digest: str, child: Any) -> None:
    """An e-mail attachment becomes a document of its own, with the parent's classification, in the
    transaction that records the parent (adding the same content again returns the existing document)."""
    parent = session.get(DocumentVersion, version_id)
    assert parent is not None
    parent_doc = session.get(Document, parent.document_id)
    assert parent_doc is not None
    library.add_document(session, None, library.NewFile(digest, child.filename, len(child.data)),
                         category=parent_doc.category, level=parent_doc.level, collection_id=parent_doc.collection_id)


def _summary(result: IngestResult) -> dict[str, Any]:
    return {"pages": len(result.pages), "supported": result.supported}
