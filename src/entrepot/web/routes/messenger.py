"""The messenger: the chat page, its JSON API and the WebSocket."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, Query, UploadFile, WebSocket
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, Response

from entrepot import media, policy
from entrepot.actions import auth, members, messaging, sending
from entrepot.blobs import BlobStore
from entrepot.blobs.store import human_size
from entrepot.core.errors import Forbidden, InvalidInput, NotFound, TooLarge
from entrepot.core.reference import load_reference
from entrepot.core.types import Principal
from entrepot.db.messaging import Conversation
from entrepot.parsers import safe_filename
from entrepot.queries import accounts as account_queries
from entrepot.queries import messaging as q
from entrepot.realtime.connection import Connection
from entrepot.realtime.fanout import Fanout
from entrepot.realtime.receipts import ReceiptWriter
from entrepot.realtime.writer import GroupWriter
from entrepot.search import messages as message_search
from entrepot.web.context import SESSION_COOKIE, choose_language
from entrepot.web.render import page, redirect
from entrepot.web.routes._forms import Messaging

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["messenger"])
SearchText = Annotated[str, Query(alias="q", max_length=10_000)]


@router.get("/messages")
def messenger_page(ctx: Messaging, conversation: int | None = None, message: int | None = None,
                   q_text: SearchText = "") -> Response:
    """The conversation list (last activity first, unread counts), the open conversation, and the
    message search; `message` opens the conversation at that message."""
    assert ctx.principal is not None
    with ctx.db.read() as s:
        rows = q.conversations(s, ctx.principal)
        colleagues, _ = account_queries.list_users(s, ctx.principal, account_queries.UserFilter(
            status="active", enterprise_id=ctx.principal.enterprise_id))
        since = q.last_seq(s, ctx.principal.user_id)
        found = _search(s, ctx.principal, q_text) if q_text.strip() else None
    others = [u for u in colleagues if u.id != ctx.principal.user_id]
    return page(ctx, "messages.html", rows=rows, colleagues=others, selected=conversation, since=since,
                jump_to=message, q=q_text, found=found)


def _search(s: Any, principal: Principal, text: str) -> dict[str, Any]:
    result = message_search.search_messages(s, principal, text)
    convs = {c.id: c for c in s.execute(select(Conversation).where(
        Conversation.id.in_({h.message.conversation_id for h in result.hits}))).scalars()}
    titles = q.titles_of(s, list(convs.values()), principal)
    return {"result": result, "titles": titles}


@router.get("/messages/search")
def search_fragment(ctx: Messaging, q_text: SearchText = "") -> Response:
    """Live results for the messenger's search box (the whole page without JavaScript)."""
    assert ctx.principal is not None
    if not ctx.request.headers.get("hx-request"):
        return redirect("/messages?" + urlencode({"q": q_text}))
    with ctx.db.read() as s:
        found = _search(s, ctx.principal, q_text) if q_text.strip() else None
    return page(ctx, "_message_results.html", q=q_text, found=found)


class ConversationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_ids: list[int] = Field(max_length=200)
    title: str | None = Field(None, max_length=200)


class MembersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_ids: list[int] = Field(min_length=1, max_length=200)


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    client_id: str = Field(max_length=64)
    body: str = Field(max_length=8000)
    reply_to_id: int | None = None


class MessageOut(BaseModel):
    id: int
    conversation_id: int
    sender_id: int
    sender: str | None
    client_id: str
    kind: str
    body: str
    reply_to_id: int | None
    reply_to: dict[str, Any] | None = None
    rich: list[Any] | None = None
    attachment: dict[str, Any] | None = None
    quote: dict[str, Any] | None = None
    duration_s: float | None = None
    created_at: str
    edited: bool
    deleted: bool


@api.get("/conversations")
def list_conversations(ctx: Messaging) -> list[dict[str, Any]]:
    assert ctx.principal is not None
    with ctx.db.read() as s:
        rows = q.conversations(s, ctx.principal)
        return [{"id": r.conversation.id, "kind": r.conversation.kind, "title": r.title, "unread": r.unread,
                 "last_activity_at": r.conversation.last_activity_at.isoformat()} for r in rows]


@api.post("/conversations", status_code=201)
def create_conversation(ctx: Messaging, body: ConversationIn) -> dict[str, Any]:
    assert ctx.principal is not None
    refused: Forbidden | None = None
    with ctx.db.write() as s:
        try:
            conv = messaging.start_conversation(s, ctx.principal, body.user_ids, body.title, ip=ctx.ip)
            return {"id": conv.id, "kind": conv.kind}
        except Forbidden as exc:
            refused = exc  # caught inside the transaction: the refusal's audit record is kept
    raise refused


@api.get("/conversations/{conversation_id}/messages", response_model=list[MessageOut])
def history(ctx: Messaging, conversation_id: int, before: Annotated[int | None, Query(ge=1)] = None
            ) -> list[dict[str, Any]]:
    assert ctx.principal is not None
    with ctx.db.read() as s:
        messaging.usable_conversation(s, ctx.principal, conversation_id)
        rows = q.history(s, conversation_id, before)
        replies = q.reply_previews(s, [m for m, _ in rows])
        return [messaging.message_payload(m, reply=replies.get(m.reply_to_id or 0)) | {"sender": name}
                for m, name in rows]


@api.get("/conversations/{conversation_id}")
def conversation_detail(ctx: Messaging, conversation_id: int) -> dict[str, Any]:
    """Name, owner and current members with how far each has received and read."""
    assert ctx.principal is not None
    with ctx.db.read() as s:
        conv, _ = messaging.usable_conversation(s, ctx.principal, conversation_id)
        return {"id": conv.id, "kind": conv.kind, "title": q.title_of(s, conv, ctx.principal),
                "named": bool(conv.title), "owner_id": conv.owner_id,
                "can_manage": bool(policy.may_manage_members(ctx.principal, conv)),
                "members": [{"id": m.user_id, "name": m.name, "read_up_to": m.read_up_to,
                             "delivered_up_to": m.delivered_up_to} for m in q.members(s, conv.id)]}


@api.post("/conversations/{conversation_id}/members")
def add_members(ctx: Messaging, conversation_id: int, body: MembersIn) -> dict[str, Any]:
    """The group's owner adds colleagues; someone the policy refuses is audited and nobody is added."""
    assert ctx.principal is not None
    refused: Forbidden | None = None
    with ctx.db.write() as s:
        try:
            return {"added": members.add_members(s, ctx.principal, conversation_id, body.user_ids, ip=ctx.ip)}
        except Forbidden as exc:
            refused = exc  # caught inside the transaction: the refusal's audit record is kept
    raise refused


@api.delete("/conversations/{conversation_id}/members/{user_id}")
def remove_member(ctx: Messaging, conversation_id: int, user_id: int) -> dict[str, Any]:
    """The owner removes a member, or a member leaves (their own id); archived in the conversation."""
    assert ctx.principal is not None
    with ctx.db.write() as s:
        members.remove_member(s, ctx.principal, conversation_id, user_id)
    return {"removed": user_id}


class MessageHitOut(BaseModel):
    message_id: int
    conversation_id: int
    conversation: str
    sender: str
    created_at: str
    score: float
    snippet_html: str


class MessageSearchOut(BaseModel):
    hits: list[MessageHitOut]
    notice: str | None
    took_ms: float


@api.get("/messages/search", response_model=MessageSearchOut)
def search_messages(ctx: Messaging, q_text: SearchText = "") -> dict[str, Any]:
    """Messages of the conversations one is a current member of, with the library's analysers."""
    assert ctx.principal is not None
    with ctx.db.read() as s:
        found = _search(s, ctx.principal, q_text)
    result, titles = found["result"], found["titles"]
    return {"hits": [{"message_id": h.message.id, "conversation_id": h.message.conversation_id,
                      "conversation": titles.get(h.message.conversation_id, ""), "sender": h.sender,
                      "created_at": h.message.created_at.isoformat(), "score": h.score,
                      "snippet_html": str(h.snippet)} for h in result.hits],
            "notice": ctx._(result.notice) if result.notice else None, "took_ms": result.took_ms}


@api.get("/conversations/{conversation_id}/reads")
def reads(ctx: Messaging, conversation_id: int) -> dict[str, int]:
    assert ctx.principal is not None
    with ctx.db.read() as s:
        messaging.usable_conversation(s, ctx.principal, conversation_id)
        return {str(k): v for k, v in q.read_marks(s, conversation_id).items()}


@api.post("/conversations/{conversation_id}/messages", response_model=MessageOut, status_code=201)
def send(ctx: Messaging, conversation_id: int, body: MessageIn) -> dict[str, Any]:
    """Acknowledged only after commit; the same client id again returns the same message."""
    assert ctx.principal is not None
    with ctx.db.write() as s:
        msg, _ = sending.send_message(s, ctx.principal, conversation_id, body.client_id, body.body,
                                      reply_to_id=body.reply_to_id)
        return messaging.message_payload(msg, reply=messaging.reply_of(s, msg))


def _messenger_principals(session: Any, settings: Any, session_ids: set[str]) -> dict[str, Principal]:
    """The principals of those sessions that are valid and may use the messenger now: asked when a
    socket opens, and by the fan-out for every connection a batch of events reaches."""
    found = auth.session_principals(session, settings, session_ids)
    return {sid: p for sid, p in found.items() if policy.allows(p, policy.Action.MESSAGING)}


def _ws_principal(ws: WebSocket) -> Principal | None:
    """The socket's principal as of now."""
    session_id = auth.session_id_of(ws.cookies.get(SESSION_COOKIE))
    if session_id is None:
        return None
    with ws.app.state.db.read() as s:
        return _messenger_principals(s, ws.app.state.settings, {session_id}).get(session_id)


def _same_origin(ws: WebSocket) -> bool:
    """Browsers send cookies with cross-site WebSocket requests; the Origin header tells them apart."""
    origin = ws.headers.get("origin")
    return origin is None or origin.split("://", 1)[-1] == ws.headers.get("host")


@router.websocket("/ws")
async def websocket(ws: WebSocket, since: Annotated[int, Query(ge=0)] = 0) -> None:
    principal = await run_in_threadpool(_ws_principal, ws) if _same_origin(ws) else None
    if principal is None:
        await ws.close(code=4401)
        return
    await ws.accept()
    t = ws.app.state.catalogs[choose_language(ws, ws.app.state.settings, None)]  # type: ignore[arg-type]
    writer, fanout = _group_writer(ws.app)
    conn = Connection(ws, ws.app.state.db, ws.app.state.bus, principal, lambda: _ws_principal(ws),
                      since, t.gettext, _receipts(ws.app), writer=writer, fanout=fanout,
                      session_id=auth.session_id_of(ws.cookies.get(SESSION_COOKIE)))
    conn.currencies = load_reference(ws.app.state.settings.reference_dir).currencies or None
    await conn.run()


def _receipts(app: Any) -> ReceiptWriter:
    """One receipt writer per app, made with its first connection."""
    writer = getattr(app.state, "receipts", None)
    if writer is None:
        writer = app.state.receipts = ReceiptWriter(app.state.db, writer=_group_writer(app)[0])
    return writer


def close_writer(app: Any) -> None:
    """At shutdown: commit the sends still queued and stop the app's writer thread."""
    found = getattr(app.state, "group_writer", None)
    if found is not None:
        found[0].close()


def _group_writer(app: Any) -> tuple[GroupWriter, Fanout]:
    """One group-commit writer and its fan-out per app, made with its first connection."""
    found = getattr(app.state, "group_writer", None)
    if found is None:
        settings = app.state.settings
        fanout = Fanout(app.state.db, app.state.bus, lambda s, ids: _messenger_principals(s, settings, ids))
        found = app.state.group_writer = (GroupWriter(app.state.db, fanout.deliver), fanout)
    return found


websocket.policy_action = policy.Action.MESSAGING  # type: ignore[attr-defined] # read by the route matrix test


@api.post("/conversations/{conversation_id}/attachments", status_code=201)
async def send_attachment(ctx: Messaging, conversation_id: int, file: Annotated[UploadFile, File()],
                          client_id: Annotated[str, Form(max_length=64)],
                          voice: Annotated[bool, Form()] = False,
                          caption: Annotated[str, Form(max_length=8000)] = "") -> dict[str, Any]:
    """A picture (with a thumbnail), any file (type sniffed from its bytes) or a voice note (audio only)."""
    assert ctx.principal is not None
    limit = ctx.settings.max_attachment_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise TooLarge("The file is larger than the limit of %(size)s.", size=human_size(limit))
    if not data:
        raise InvalidInput("The file is empty.", field="file")

    def store() -> dict[str, Any]:
        blobs = BlobStore(ctx.settings.blob_dir)
        name = safe_filename(file.filename or "attachment")
        duration = None
        if voice:
            audio, duration = media.voice_note(data)
            kind, info = "voice", {"blob": blobs.put_bytes(audio), "type": "audio/webm", "size": len(audio)}
        else:
            sniffed = media.sniff(data, name)
            info = {"blob": blobs.put_bytes(data), "type": sniffed, "size": len(data)}
            kind = "file"
            if sniffed in media.PICTURES:
                kind, info["thumb"] = "image", blobs.put_bytes(media.thumbnail(data))
        info["name"] = name
        with ctx.db.write() as s:
            msg, _ = sending.send_attachment(s, ctx.principal, conversation_id, client_id, kind, info,  # type: ignore[arg-type]
                                             caption, duration)
            return messaging.message_payload(msg)

    return await run_in_threadpool(store)


@router.get("/messages/attachments/{message_id}")
def attachment(ctx: Messaging, message_id: int, thumb: bool = False) -> Response:
    """Only for current members of the conversation; served as a download unless it is a picture or audio."""
    assert ctx.principal is not None
    with ctx.db.read() as s:
        info = dict(messaging.attachment_for(s, ctx.principal, message_id).attachment or {})
    digest = info.get("thumb") if thumb else info.get("blob")
    if not digest:
        raise NotFound("No such attachment.")
    media_type = "image/webp" if thumb else str(info.get("type") or "application/octet-stream")
    inline = thumb or media_type in media.PICTURES or media_type.startswith("audio/")
    return FileResponse(BlobStore(ctx.settings.blob_dir).path(str(digest)), media_type=media_type,
                        filename=str(info.get("name") or "attachment"),
                        content_disposition_type="inline" if inline else "attachment",
                        headers={"cache-control": "private, max-age=3600"})


class EditIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: str = Field(max_length=8000)


@api.patch("/messages/{message_id}")
def edit(ctx: Messaging, message_id: int, body: EditIn) -> dict[str, Any]:
    """Shown as edited to everyone; the original stays in the archive."""
    assert ctx.principal is not None
    with ctx.db.write() as s:
        return messaging.message_payload(messaging.edit_message(s, ctx.principal, message_id, body.body))


@api.delete("/messages/{message_id}")
def delete(ctx: Messaging, message_id: int) -> dict[str, Any]:
    """Shown as deleted to everyone; the original stays in the archive."""
    assert ctx.principal is not None
    with ctx.db.write() as s:
        return messaging.message_payload(messaging.delete_message(s, ctx.principal, message_id))
