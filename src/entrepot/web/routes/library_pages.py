"""Reading the library: browse by category and collection, a document's page, page images, downloads,
version history and text differences. Every document is fetched through the policy."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import FileResponse, Response

from entrepot import policy
from entrepot.actions import library, reading
from entrepot.blobs import BlobStore
from entrepot.core.errors import Forbidden, NotFound
from entrepot.core.types import Category, Level
from entrepot.queries import library as q
from entrepot.web.render import page
from entrepot.web.routes._forms import Library
from entrepot.web.watermark import watermark

router = APIRouter(include_in_schema=False)
IMAGE_CACHE = "private, max-age=3600"


@router.get("/library")
def browse(ctx: Library, category: Annotated[str | None, Query(max_length=32)] = None,
           collection: Annotated[int | None, Query()] = None,
           page_no: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1) -> Response:
    assert ctx.principal is not None
    category = category if category in {c.value for c in Category} else None
    with ctx.db.read() as s:
        docs, total = q.browse(s, ctx.principal, q.Browse(category=category, collection_id=collection, page=page_no))
        counts = q.category_counts(s, ctx.principal)
        thumbs = q.first_thumbs(s, docs)
        cols = q.collections(s)
    return page(ctx, "library.html", docs=docs, total=total, counts=counts, thumbs=thumbs, collections=cols,
                category=category, collection=collection, page_no=page_no, page_size=q.PAGE_SIZE,
                categories=list(Category))


@router.get("/documents/{document_id}")
def document(ctx: Library, document_id: int, version: Annotated[int | None, Query(ge=1)] = None) -> Response:
    assert ctx.principal is not None
    with ctx.db.write() as s:
        doc = library.readable_document(s, ctx.principal, document_id)
        shown = q.version(s, doc, version)
        if version is not None and shown is None:
            raise NotFound("This version does not exist.")
        pages = q.pages(s, shown.id) if shown else []
        history = q.versions(s, doc.id)
        reading.record_read(s, ctx.principal, doc, "view", ip=ctx.ip, version=shown.number if shown else None)
        can_download = bool(policy.may_download_original(ctx.principal, doc, ctx.settings.secret_original_downloads))
        can_edit = bool(policy.may_edit_document(ctx.principal, doc))
    return page(ctx, "document.html", doc=doc, version=shown, pages=pages, history=history,
                can_download=can_download, can_edit=can_edit, classified=policy.audited(doc))


def _page_image(ctx: Library, document_id: int, number: int, version: int | None, thumb: bool) -> Response:
    assert ctx.principal is not None
    with ctx.db.write() as s:
        doc = library.readable_document(s, ctx.principal, document_id)
        shown = q.version(s, doc, version)
        pg = q.page(s, shown.id, number) if shown else None
        digest = (pg.thumb if thumb else pg.image) if pg else None
        if digest is None or shown is None:
            raise NotFound("This page has no image.")
        classified = policy.audited(doc)
        if classified:
            if thumb:
                raise NotFound("This page has no image.")  # no unwatermarked miniatures of classified pages
            reading.record_read(s, ctx.principal, doc, "preview", ip=ctx.ip, version=shown.number, page=number)
    data = BlobStore(ctx.settings.blob_dir).read_bytes(digest)
    if classified:
        data = watermark(data, f"{ctx.principal.display_name} ({ctx.principal.username})", Level(doc.level).name)
        return Response(data, media_type="image/webp", headers={"cache-control": "no-store"})
    return Response(data, media_type="image/webp", headers={"cache-control": IMAGE_CACHE})


@router.get("/documents/{document_id}/pages/{number}/image")
def page_image(ctx: Library, document_id: int, number: int, version: Annotated[int | None, Query(ge=1)] = None
               ) -> Response:
    return _page_image(ctx, document_id, number, version, thumb=False)


@router.get("/documents/{document_id}/pages/{number}/thumb")
def page_thumb(ctx: Library, document_id: int, number: int, version: Annotated[int | None, Query(ge=1)] = None
               ) -> Response:
    return _page_image(ctx, document_id, number, version, thumb=True)


def _send_blob(ctx: Library, digest: str, filename: str, media_type: str) -> Response:
    path = BlobStore(ctx.settings.blob_dir).path(digest)
    return FileResponse(path, media_type=media_type, filename=filename, headers={"cache-control": "no-store"})


@router.get("/documents/{document_id}/download")
def download(ctx: Library, document_id: int, version: Annotated[int | None, Query(ge=1)] = None,
             searchable: bool = False) -> Response:
    """The original (or its searchable PDF), where the policy allows; classified downloads are audited."""
    assert ctx.principal is not None
    with ctx.db.write() as s:
        doc = library.readable_document(s, ctx.principal, document_id)
        decision = policy.may_download_original(ctx.principal, doc, ctx.settings.secret_original_downloads)
        if not decision:
            raise Forbidden(decision.reason or "Not allowed.")
        shown = q.version(s, doc, version)
        if shown is None:
            raise NotFound("This version does not exist.")
        digest = shown.searchable_pdf if searchable else shown.blob
        if digest is None:
            raise NotFound("There is no searchable PDF for this version.")
        reading.record_read(s, ctx.principal, doc, "download", ip=ctx.ip, version=shown.number)
        name = shown.filename if not searchable else shown.filename.rsplit(".", 1)[0] + ".searchable.pdf"
        media = "application/pdf" if searchable else (shown.media_type or "application/octet-stream")
    return _send_blob(ctx, digest, name, media)


@router.get("/documents/{document_id}/diff")
def diff(ctx: Library, document_id: int, a: Annotated[int, Query(ge=1)], b: Annotated[int, Query(ge=1)]) -> Response:
    assert ctx.principal is not None
    with ctx.db.write() as s:
        doc = library.readable_document(s, ctx.principal, document_id)
        va, vb = q.version(s, doc, a), q.version(s, doc, b)
        if va is None or vb is None:
            raise NotFound("This version does not exist.")
        lines = q.text_diff(s, va, vb)
        reading.record_read(s, ctx.principal, doc, "view", ip=ctx.ip, version=vb.number)
    return page(ctx, "diff.html", doc=doc, a=va, b=vb, lines=lines)
