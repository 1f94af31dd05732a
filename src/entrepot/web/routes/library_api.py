"""The library in the JSON API: list, read, upload, describe, publish. Same policy as the pages."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from entrepot.actions import library, reading
from entrepot.core.types import Category, Level
from entrepot.db.library import Document, DocumentVersion
from entrepot.queries import library as q
from entrepot.web.routes._forms import Library, LibraryManage
from entrepot.web.routes.library_manage import store_upload

router = APIRouter(prefix="/api/v1", tags=["library"])


class DocumentOut(BaseModel):
    id: int
    title: str
    summary: str | None
    category: str
    level: str
    status: str
    published: bool
    languages: list[str]
    tags: list[str]
    countries: list[str]
    hs_codes: list[str]
    issued_on: date | None
    updated_at: datetime

    @classmethod
    def of(cls, d: Document) -> DocumentOut:
        return cls(id=d.id, title=d.title, summary=d.summary, category=d.category, level=Level(d.level).name,
                   status=d.status, published=d.published, languages=d.languages or [], tags=d.tags,
                   countries=d.countries, hs_codes=d.hs_codes, issued_on=d.issued_on, updated_at=d.updated_at)


class PageOut(BaseModel):
    number: int
    language: str | None
    source: str
    confidence: float | None
    text: str


class VersionOut(BaseModel):
    number: int
    filename: str
    media_type: str | None
    size: int
    state: str
    error: str | None
    page_count: int

    @classmethod
    def of(cls, v: DocumentVersion) -> VersionOut:
        return cls(number=v.number, filename=v.filename, media_type=v.media_type, size=v.size, state=v.state,
                   error=v.error, page_count=v.page_count)


class DocumentDetail(DocumentOut):
    versions: list[VersionOut]
    pages: list[PageOut]


class DocumentList(BaseModel):
    total: int
    documents: list[DocumentOut]


class Upload(BaseModel):
    document_id: int
    created: bool


class DescriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(None, max_length=500)
    summary: str | None = Field(None, max_length=20000)
    category: str | None = Field(None, max_length=32)
    source: str | None = Field(None, max_length=300)
    issued_on: str | None = Field(None, max_length=10)
    tags: list[str] | None = Field(None, max_length=50)
    countries: list[str] | None = Field(None, max_length=50)
    hs_codes: list[str] | None = Field(None, max_length=50)
    published: bool | None = None


@router.get("/documents", response_model=DocumentList)
def list_documents(ctx: Library, category: Annotated[str | None, Query(max_length=32)] = None,
                   page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> DocumentList:
    assert ctx.principal is not None
    with ctx.db.read() as s:
        docs, total = q.browse(s, ctx.principal, q.Browse(category=category, page=page))
        return DocumentList(total=total, documents=[DocumentOut.of(d) for d in docs])


@router.get("/documents/{document_id}", response_model=DocumentDetail)
def get_document(ctx: Library, document_id: int) -> DocumentDetail:
    assert ctx.principal is not None
    with ctx.db.write() as s:
        doc = library.readable_document(s, ctx.principal, document_id)
        current = q.version(s, doc, None)
        pages = q.pages(s, current.id) if current else []
        reading.record_read(s, ctx.principal, doc, "view", ip=ctx.ip, version=current.number if current else None)
        return DocumentDetail(**DocumentOut.of(doc).model_dump(),
                              versions=[VersionOut.of(v) for v in q.versions(s, doc.id)],
                              pages=[PageOut(number=p.number, language=p.language, source=p.source,
                                             confidence=p.confidence, text=p.text) for p in pages])


@router.post("/documents", response_model=Upload, status_code=201)
async def upload_document(ctx: LibraryManage, file: Annotated[UploadFile, File()],
                          category: Annotated[str, Form(max_length=32)] = Category.TRADE_NEWS,
                          level: Annotated[str, Form(max_length=16)] = "OPEN") -> Upload:
    new = await run_in_threadpool(store_upload, ctx, file)

    def add() -> Upload:
        with ctx.db.write() as s:
            doc, created = library.add_document(s, ctx.principal, new, category=category, level=level, ip=ctx.ip)
            return Upload(document_id=doc.id, created=created)

    return await run_in_threadpool(add)


@router.patch("/documents/{document_id}", response_model=DocumentOut)
def describe_document(ctx: LibraryManage, document_id: int, body: DescriptionIn) -> DocumentOut:
    assert ctx.principal is not None
    fields = body.model_dump(exclude={"published"})
    with ctx.db.write() as s:
        doc = library.describe(s, ctx.principal, document_id, library.Description(**fields), ip=ctx.ip)
        if body.published is not None:
            library.set_published(s, ctx.principal, [document_id], body.published, ip=ctx.ip)
        return DocumentOut.of(doc)
