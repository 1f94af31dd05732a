"""The ingest job: run the pipeline on a version's original, then record the result in one transaction."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from entrepot import jobs
from entrepot.actions import library
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
        return IngestContext(blobs=BlobStore(self.settings.blob_dir), reference=load_reference(self.settings.reference_dir),
                             ocr=self.ocr_engine, parse=ParseContext(max_file_bytes=self.settings.max_upload_bytes),
                             review_confidence=self.settings.ocr_review_confidence)

    def progress(self, version_id: int, job_id: int | None) -> Any:
        """Progress for the board, written at most once a second: a short document writes none."""
        next_write = time.monotonic() + PROGRESS_EVERY_S

        def report(step: str, pct: int) -> None:
            nonlocal next_write
            if time.monotonic() < next_write:
                return
            next_write = time.monotonic() + PROGRESS_EVERY_S
            with self.db.write() as s:
                library.record_progress(s, version_id, step, pct)
                if job_id is not None:
                    jobs.renew(s, job_id, self.settings.job_lease_seconds)  # still alive: keep the job
        return report

    def run(self, version_id: int, final_attempt: bool, job_id: int | None = None) -> dict[str, Any]:
        outcome = self.run_batch([(version_id, final_attempt, job_id)])[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def run_batch(self, items: list[tuple[int, bool, int | None]]) -> list[dict[str, Any] | Exception]:
        """Run the pipeline on each version, then record every success in one transaction: short
        documents cost one commit per batch instead of several each."""
        ctx = self.context()
        outcomes: list[dict[str, Any] | Exception] = []
        done: list[tuple[int, IngestResult]] = []
        for version_id, final_attempt, job_id in items:
            outcome = self._process(ctx, version_id, final_attempt, job_id)
            if isinstance(outcome, IngestResult):
                done.append((version_id, outcome))
                outcomes.append({"pages": len(outcome.pages), "supported": outcome.supported})
            else:
                outcomes.append(outcome)
        if done:
            with self.db.write() as s:
                for version_id, result in done:
                    library.record_ingest(s, version_id, result)
        for version_id, result in done:
            for child in result.children:
                self._ingest_child(version_id, child)
        return outcomes

    def _process(self, ctx: IngestContext, version_id: int, final_attempt: bool, job_id: int | None
                 ) -> IngestResult | dict[str, Any] | Exception:
        with self.db.read() as s:
            version = s.get(DocumentVersion, version_id)
            if version is None:
                return {"skipped": "version gone"}
            blob, filename = version.blob, version.filename
        try:
            return run_pipeline(ctx.blobs.read_bytes(blob), filename, ctx, self.progress(version_id, job_id))
        except EntrepotError as exc:
            # A clear, final verdict on the file (damaged, encrypted, too large): no point retrying.
            message = exc.message % exc.params if exc.params else exc.message
            with self.db.write() as s:
                library.record_failure(s, version_id, message, final=True)
            return {"failed": message}
        except Exception as exc:  # noqa: BLE001 - recorded on the version; the job retries
            with self.db.write() as s:
                library.record_failure(s, version_id, f"{type(exc).__name__}: {exc}", final=final_attempt)
            return exc

    def _ingest_child(self, version_id: int, child: Any) -> None:
        """An e-mail attachment becomes a document of its own, with the parent's classification."""
        digest = BlobStore(self.settings.blob_dir).put_bytes(child.data)
        with self.db.write() as s:
            parent = s.get(DocumentVersion, version_id)
            assert parent is not None
            parent_doc = s.get(Document, parent.document_id)
            assert parent_doc is not None
            library.add_document(s, None, library.NewFile(digest, child.filename, len(child.data)),
                                 category=parent_doc.category, level=parent_doc.level,
                                 collection_id=parent_doc.collection_id)
