"""Ingest: a stored original becomes pages with text, language, previews and suggested metadata.

`run_pipeline` runs the ordered steps outside any database transaction; the worker then records the
whole result in one transaction (`actions.library.record_ingest`), so a crash mid-way leaves nothing
half-visible and the job simply runs again.
"""

from entrepot.ingest.pipeline import IngestContext, IngestResult, PageResult, StopIngest, run_pipeline

__all__ = ["IngestContext", "IngestResult", "PageResult", "StopIngest", "run_pipeline"]
