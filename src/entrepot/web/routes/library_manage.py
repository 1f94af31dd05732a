"""The librarian's side: upload (several files, per-file progress), the live ingest board, description
with suggested metadata, publishing, classification, new versions and pages to re-check."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from entrepot.actions import library
from entrepot.blobs import BlobStore
from entrepot.core.errors import EntrepotError, InvalidInput
from entrepot.core.types import Category, Level
from entrepot.db.library import Document
from entrepot.queries import library as q
from entrepot.web.context import Ctx
from entrepot.web.render import page, redirect
from entrepot.web.routes._forms import CsrfField, LibraryManage

router = APIRouter(include_in_schema=False)
UPLOAD_PATHS = ("/library/upload",)


def store_upload(ctx: Ctx, upload: UploadFile) -> library.NewFile:
    """Stream the upload into the blob store by its hash; over the limit is a clear 413."""
    digest, size = BlobStore(ctx.settings.blob_dir).put_stream(upload.file, ctx.settings.max_upload_bytes)
    return library.NewFile(digest, upload.filename or "unnamed", size)


@router.get("/library/upload")
def upload_form(ctx: LibraryManage) -> Response:
    with ctx.db.read() as s:
        cols = q.collections(s)
    return page(ctx, "upload.html", categories=list(Category), levels=[lv for lv in Level
                if ctx.principal and lv <= ctx.principal.clearance], collections=cols)


@router.post("/library/upload")
async def upload(ctx: LibraryManage, file: Annotated[UploadFile, File()], csrf_token: CsrfField,
                 category: Annotated[str, Form(max_length=32)] = Category.TRADE_NEWS,
                 level: Annotated[str, Form(max_length=16)] = "OPEN",
                 collection_id: Annotated[int | None, Form()] = None) -> JSONResponse:
    """One file per request, so the page can show a progress bar for each."""
    new = await run_in_threadpool(store_upload, ctx, file)

    def add() -> tuple[Document, bool]:
        with ctx.db.write() as s:
            return library.add_document(s, ctx.principal, new, category=category, level=level,
                                        collection_id=collection_id or None, ip=ctx.ip)

    doc, created = await run_in_threadpool(add)
    return JSONResponse({"document_id": doc.id, "created": created, "title": doc.title,
                         "status_url": f"/library/board/status/{doc.id}"}, status_code=201 if created else 200)


@router.get("/library/board")
def board(ctx: LibraryManage) -> Response:
    assert ctx.principal is not None
    with ctx.db.read() as s:
        rows, counts = q.board(s, ctx.principal), q.board_counts(s, ctx.principal)
    return page(ctx, "board.html", rows=rows, counts=counts, categories=list(Category))


@router.get("/library/board/rows")
def board_rows(ctx: LibraryManage) -> Response:
    """The table body alone, polled by the board page so it stays live."""
    assert ctx.principal is not None
    with ctx.db.read() as s:
        rows, counts = q.board(s, ctx.principal), q.board_counts(s, ctx.principal)
    return page(ctx, "_board_rows.html", rows=rows, counts=counts)


@router.get("/library/board/status/{document_id}")
def document_status(ctx: LibraryManage, document_id: int) -> JSONResponse:
    assert ctx.principal is not None
    with ctx.db.read() as s:
        doc = library.readable_document(s, ctx.principal, document_id)
        versions = q.versions(s, doc.id)
        v = versions[0] if versions else None
        return JSONResponse({"status": doc.status, "state": v.state if v else None, "step": v.step if v else None,
                             "progress": v.progress if v else 0,
                             "error": ctx.t.stored(v.error) if v and v.error else None})


@router.post("/library/board/bulk")
def bulk(ctx: LibraryManage, csrf_token: CsrfField, action: Annotated[str, Form(max_length=20)],
         document_ids: Annotated[list[int] | None, Form()] = None,
         category: Annotated[str | None, Form(max_length=32)] = None) -> Response:
    assert ctx.principal is not None
    ids = (document_ids or [])[:500]
    with ctx.db.write() as s:
        if action in ("publish", "unpublish"):
            library.set_published(s, ctx.principal, ids, action == "publish", ip=ctx.ip)
        elif action == "category" and category:
            for document_id in ids:
                library.describe(s, ctx.principal, document_id, library.Description(category=category), ip=ctx.ip)
        else:
            raise InvalidInput("Unknown bulk action.", field="action")
    return redirect("/library/board")


def _edit_page(ctx: Ctx, document_id: int, status_code: int = 200, **extra: object) -> Response:
    assert ctx.principal is not None
    with ctx.db.read() as s:
        doc = library.readable_document(s, ctx.principal, document_id)
        cols = q.collections(s)
        history = q.versions(s, doc.id)
    return page(ctx, "document_edit.html", status_code=status_code, doc=doc, collections=cols, history=history,
                categories=list(Category), levels=[lv for lv in Level if lv <= ctx.principal.clearance], **extra)


@router.get("/documents/{document_id}/edit")
def edit_form(ctx: LibraryManage, document_id: int) -> Response:
    return _edit_page(ctx, document_id)


def _split(value: str | None) -> list[str] | None:
    return None if value is None else [v for v in (x.strip() for x in value.replace("，", ",").split(",")) if v]


@router.post("/documents/{document_id}/edit")
def edit(ctx: LibraryManage, csrf_token: CsrfField, document_id: int, title: Annotated[str, Form(max_length=600)],
         category: Annotated[str, Form(max_length=32)], summary: Annotated[str, Form(max_length=25000)] = "",
         source: Annotated[str, Form(max_length=400)] = "", issued_on: Annotated[str, Form(max_length=10)] = "",
         collection_id: Annotated[int | None, Form()] = None, tags: Annotated[str, Form(max_length=2000)] = "",
         countries: Annotated[str, Form(max_length=2000)] = "", hs_codes: Annotated[str, Form(max_length=2000)] = ""
         ) -> Response:
    assert ctx.principal is not None
    d = library.Description(title=title, summary=summary, category=category, source=source, issued_on=issued_on,
                            collection_id=collection_id or 0, tags=_split(tags), countries=_split(countries),
                            hs_codes=_split(hs_codes))
    try:
        with ctx.db.write() as s:
            library.describe(s, ctx.principal, document_id, d, ip=ctx.ip)
    except EntrepotError as exc:
        return _edit_page(ctx, document_id, exc.status_code, error=ctx._(exc.message, **exc.params))
    return redirect(f"/documents/{document_id}")


@router.post("/documents/{document_id}/publish")
def publish(ctx: LibraryManage, csrf_token: CsrfField, document_id: int,
            published: Annotated[bool, Form()]) -> Response:
    assert ctx.principal is not None
    with ctx.db.write() as s:
        library.set_published(s, ctx.principal, [document_id], published, ip=ctx.ip)
    return redirect(f"/documents/{document_id}")


@router.post("/documents/{document_id}/classify")
def classify(ctx: LibraryManage, csrf_token: CsrfField, document_id: int, level: Annotated[str, Form(max_length=16)],
             reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    assert ctx.principal is not None
    try:
        with ctx.db.write() as s:
            req = library.classify(s, ctx.principal, document_id, level, reason, ip=ctx.ip)
    except EntrepotError as exc:
        return _edit_page(ctx, document_id, exc.status_code, error=ctx._(exc.message, **exc.params))
    if req is not None:
        return _edit_page(ctx, document_id, notice=ctx._(
            "Lowering a classification needs a trade and a security approval; the request was sent."))
    return redirect(f"/documents/{document_id}")


@router.post("/library/upload/{document_id}/version")
async def new_version(ctx: LibraryManage, csrf_token: CsrfField, document_id: int,
                      file: Annotated[UploadFile, File()]) -> Response:
    new = await run_in_threadpool(store_upload, ctx, file)

    def add() -> None:
        with ctx.db.write() as s:
            library.add_version(s, ctx.principal, document_id, new, ip=ctx.ip)  # type: ignore[arg-type]

    await run_in_threadpool(add)
    return redirect(f"/documents/{document_id}/edit")


@router.get("/library/review")
def review(ctx: LibraryManage) -> Response:
    assert ctx.principal is not None
    with ctx.db.read() as s:
        rows = q.pages_to_review(s, ctx.principal)
    return page(ctx, "review.html", rows=rows)


@router.post("/library/collections")
def create_collection(ctx: LibraryManage, csrf_token: CsrfField, name: Annotated[str, Form(max_length=300)],
                      description: Annotated[str, Form(max_length=3000)] = "") -> Response:
    assert ctx.principal is not None
    with ctx.db.write() as s:
        library.create_collection(s, ctx.principal, name, description, ip=ctx.ip)
    return redirect("/library/upload")
