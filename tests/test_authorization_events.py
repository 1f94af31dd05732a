"""Every WebSocket frame a page may send and every event type the server sends, for every kind of caller,
answers what the policy says.

The types come from the product's registry (entrepot.messaging.events), which the connection itself
dispatches and delivers through; the tests below also read the source for every `emit(...)` and every
frame the connection handles or sends, so a type added without a registry entry (a policy decision)
fails here.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from starlette.websockets import WebSocketDisconnect

from entrepot import policy
from entrepot.actions import accounts, members, messaging, sending
from entrepot.core.types import Principal
from entrepot.db import Database
from entrepot.db.messaging import UserEvent
from entrepot.messaging import events
from tests.authz_people import HOME, OTHER, Caller, make_callers
from tests.conftest import Users

SRC = Path(__file__).parents[1] / "src" / "entrepot"
FOREIGN_TITLE = "Zzyzx-foreign-desk"  # a conversation title that must never reach an outsider

#: One well-formed frame of each registered type; `{conv}` is filled per scope. A registered type
#: missing here fails the test: each frame type needs a sample to be checked.
SAMPLES: dict[str, dict[str, Any]] = {
    "ping": {"type": "ping"},
    "pong": {"type": "pong"},
    "ack": {"type": "ack", "seq": 1},
    "typing": {"type": "typing", "conversation_id": "{conv}"},
    "send": {"type": "send", "client_id": "m-{scope}", "conversation_id": "{conv}", "body": "matrix"},
    "quote": {"type": "quote", "client_id": "q-{scope}", "conversation_id": "{conv}",
              "quote": {"product": "zinc", "quantity": 10, "unit": "t", "price": 2710, "currency": "USD",
                        "incoterm": "FOB", "place": "Busan"}},
    "read": {"type": "read", "conversation_id": "{conv}", "up_to": 0},
}


# -- the registry matches the code -------------------------------------------------------------------

def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)
            and (getattr(n.func, "id", None) == name or getattr(n.func, "attr", None) == name)]


def test_every_emitted_event_type_is_registered() -> None:
    emitted: dict[str, str] = {}
    for path in SRC.rglob("*.py"):
        for call in _calls(ast.parse(path.read_text()), "emit"):
            if len(call.args) < 3:
                continue
            arg = call.args[2]
            assert isinstance(arg, ast.Constant) and isinstance(arg.value, str), (
                f"{path.name}:{call.lineno}: emit() with a computed event type cannot be checked")
            emitted[arg.value] = f"{path.name}:{call.lineno}"
    assert len(emitted) >= 5, emitted
    missing = sorted(set(emitted) - set(events.EVENT_TYPES))
    assert not missing, f"event types without a delivery decision in messaging.events: {missing}"
    unused = sorted(set(events.EVENT_TYPES) - set(emitted))
    assert not unused, f"registered event types nothing emits: {unused}"


def _frame_types_sent(tree: ast.AST) -> set[str]:
    """'type' values of dict literals passed to _send / send_ephemeral."""
    found = set()
    for name in ("_send", "send_ephemeral"):
        for call in _calls(tree, name):
            for arg in call.args:
                if isinstance(arg, ast.Dict):
                    for k, v in zip(arg.keys, arg.values, strict=True):
                        if isinstance(k, ast.Constant) and k.value == "type" and isinstance(v, ast.Constant):
                            found.add(v.value)
    return found


def test_connection_handles_exactly_the_registered_frames() -> None:
    tree = ast.parse((SRC / "realtime" / "connection.py").read_text())
    handle = next(n for n in ast.walk(tree) if isinstance(n, ast.AsyncFunctionDef) and n.name == "_handle")
    handled: set[str] = set()
    for node in ast.walk(handle):
        if isinstance(node, ast.Compare) and getattr(node.left, "id", None) == "kind":
            for comp in node.comparators:
                for c in ([comp] if isinstance(comp, ast.Constant) else getattr(comp, "elts", [])):
                    if isinstance(c, ast.Constant):
                        handled.add(c.value)
    assert handled == set(events.CLIENT_FRAMES), (handled, set(events.CLIENT_FRAMES))
    assert set(SAMPLES) == set(events.CLIENT_FRAMES), "add a sample frame for each registered frame type"
    sent = set()
    for path in (SRC / "realtime").glob("*.py"):
        sent |= _frame_types_sent(ast.parse(path.read_text()))
    assert sent - {"event"} <= events.SERVER_FRAMES, f"unregistered server frames: {sent - events.SERVER_FRAMES}"
    assert events.SERVER_FRAMES - {"event"} <= sent


def test_unregistered_event_types_are_never_delivered() -> None:
    assert not events.deliverable("unregistered.kind", {"conversation_id": 1}, {1})
    assert not events.deliverable("message", {}, {1})
    assert not events.deliverable("message", {"conversation_id": 2}, {1})
    assert events.deliverable("message", {"conversation_id": 1}, {1})


# -- the matrix -------------------------------------------------------------------------------------

class World:
    """For each enterprise: a conversation with every participating caller of it, and one they are all
    outside of; the callers of the other enterprise are outsiders to both."""

    def __init__(self, db: Database, users: Users, callers: list[Caller]) -> None:
        self.convs: dict[str, int] = {}
        self.outside: dict[str, int] = {}
        for ent in ("centre", HOME, OTHER):
            host, lone, partner = (users.make(f"host-{ent}", enterprise=ent), users.make(f"lone-{ent}", enterprise=ent),
                                   users.make(f"partner-{ent}", enterprise=ent))
            with db.write() as s:
                hp = accounts.principal_of(accounts.get_user(s, host.id))
                mine = [c.user_id for c in callers if c.enterprise == ent and c.principal is not None
                        and policy.may_participate(c.principal)]
                self.convs[ent] = messaging.start_conversation(s, hp, [lone.id, *mine], title=f"{ent}-room").id
                self.outside[ent] = messaging.start_conversation(s, hp, [partner.id], title=FOREIGN_TITLE).id

    def scopes(self, caller: Caller) -> dict[str, int]:
        own = caller.enterprise or HOME
        other = OTHER if own != OTHER else HOME
        return {"own": self.convs[own], "same-enterprise-nonmember": self.outside[own],
                "other-enterprise": self.convs[other]}


def _fill(template: Any, conv: int, scope: str) -> Any:
    if isinstance(template, dict):
        return {k: _fill(v, conv, scope) for k, v in template.items()}
    if template == "{conv}":
        return conv
    return template.replace("{scope}", scope) if isinstance(template, str) else template


def _until_pong(ws: Any) -> list[dict[str, Any]]:
    ws.send_json({"type": "ping"})
    frames = []
    while (frame := ws.receive_json())["type"] != "pong":
        frames.append(frame)
    return frames


def _may_open(principal: Principal | None) -> bool:
    return policy.allows(principal, policy.Action.MESSAGING)


def _refused(caller: Caller) -> int | None:
    """The close code when the socket does not open for this caller, else None."""
    try:
        with caller.client.websocket_connect("/ws") as ws:
            _until_pong(ws)
        return None
    except WebSocketDisconnect as closed:
        return closed.code


@pytest.fixture
def callers(app: Any, db: Database, users: Users, enterprises: dict[str, int]) -> list[Caller]:
    return make_callers(app, db, users)


def test_client_frames_by_caller(db: Database, users: Users, callers: list[Caller], capsys: Any) -> None:
    """Each registered frame, sent by each caller about a conversation of their own, one of their
    enterprise they are not in and one of another enterprise: accepted exactly where the policy
    (route-level action, then may_use_conversation) says, refused with an error that names nothing."""
    world = World(db, users, callers)
    checked, mismatches = 0, []
    for caller in callers:
        # The socket opens only for MESSAGING; every frame's own action must then be allowed as well.
        opens = _may_open(caller.principal) and all(
            policy.allows(caller.principal, f.action) for f in events.CLIENT_FRAMES.values())
        if not opens:
            code = _refused(caller)
            if code != 4401:
                mismatches.append(f"{caller.name}: socket should be refused (4401), got {code}")
            checked += len(events.CLIENT_FRAMES) * 3
            continue
        with caller.client.websocket_connect("/ws") as ws:
            for kind, frame in events.CLIENT_FRAMES.items():
                for scope, conv in world.scopes(caller).items():
                    expected = not frame.per_conversation or scope == "own"
                    sample = _fill(SAMPLES[kind], conv, scope)
                    ws.send_json(sample)
                    if kind == "ping":
                        got = [ws.receive_json()]
                        while got[-1]["type"] != "pong":
                            got.append(ws.receive_json())
                    else:
                        got = _until_pong(ws)
                    errors = [f["message"] for f in got if f["type"] == "error"]
                    if bool(errors) == expected:
                        mismatches.append(f"{caller.name} {kind} to {scope}: expected "
                                          f"{'accepted' if expected else 'refused'}, got {errors or got}")
                    if kind in ("send", "quote") and expected and not any(f["type"] == "sent" for f in got):
                        mismatches.append(f"{caller.name} {kind}: no 'sent' acknowledgement: {got}")
                    leaked = [e for e in errors if FOREIGN_TITLE in e or str(conv) in e]
                    if leaked:
                        mismatches.append(f"{caller.name} {kind} to {scope}: error names the target: {leaked}")
                    checked += 1
            ws.send_json({"type": "teleport"})
            assert "Unknown frame" in _until_pong(ws)[-1]["message"]
            ws.send_json({"type": ["send"]})  # not a name at all: refused, the connection survives
            assert "Unknown frame" in _until_pong(ws)[-1]["message"]
    assert not mismatches, "\n".join(mismatches)
    assert checked == len(callers) * len(events.CLIENT_FRAMES) * 3
    with capsys.disabled():
        print(f"\n[authz] client frames x callers x scopes: {len(events.CLIENT_FRAMES)} x {len(callers)} x 3 "
              f"= {checked}")


def _plant(db: Database, user_id: int, world: World, caller: Caller) -> tuple[set[str], set[str]]:
    """Every registered event type, about each scope, straight into the caller's own log (as a stale
    entry would be after a move or a removal). Returns (markers that must arrive, markers that must not)."""
    may, may_not = set(), set()
    scopes = world.scopes(caller)
    with db.write() as s:
        for kind, spec in events.EVENT_TYPES.items():
            for scope, conv in scopes.items():
                marker = f"{kind}@{scope}"
                payload: dict[str, Any] = {"marker": marker, "title": FOREIGN_TITLE if scope != "own" else "mine"}
                payload[spec.conversation_key or "removed_from"] = conv
                messaging.emit(s, [user_id], kind, payload)
                delivered = _may_open(caller.principal) and (spec.conversation_key is None or scope == "own")
                (may if delivered else may_not).add(marker)
        messaging.emit(s, [user_id], "unregistered.kind", {"conversation_id": scopes["own"], "marker": "unregistered"})
        may_not.add("unregistered")
        messaging.emit(s, [user_id], "message", {"conversation_id": scopes["own"], "marker": "sentinel"})
    return may, may_not


def test_server_events_by_caller(db: Database, users: Users, callers: list[Caller], capsys: Any) -> None:
    """Every registered event type reaches a caller only while the policy lets them use the conversation
    it is about; nothing about another enterprise's or a foreign conversation goes out, and a type with
    no registry entry goes nowhere."""
    world = World(db, users, callers)
    checked, mismatches = 0, []
    for caller in callers:
        if caller.user_id is None:  # anonymous: no log, no socket
            if _refused(caller) != 4401:
                mismatches.append("anonymous: socket should be refused")
            checked += len(events.EVENT_TYPES) * 3
            continue
        may, may_not = _plant(db, caller.user_id, world, caller)
        checked += len(events.EVENT_TYPES) * 3
        if not _may_open(caller.principal):
            if _refused(caller) != 4401:
                mismatches.append(f"{caller.name}: socket should be refused")
            continue
        got: set[str] = set()
        with caller.client.websocket_connect("/ws") as ws:
            while "sentinel" not in got:
                frame = ws.receive_json()
                if frame["type"] == "event":
                    got.add(str((frame.get("payload") or {}).get("marker")))
                    if caller.principal is not None and FOREIGN_TITLE in json.dumps(frame) and \
                            frame["event"] != "conversation.removed":
                        mismatches.append(f"{caller.name}: foreign content delivered: {frame}")
        got.discard("None")
        got.discard("sentinel")
        if got != may:
            mismatches.append(f"{caller.name}: missing {sorted(may - got)}, extra {sorted(got & may_not)}")
    assert not mismatches, "\n".join(mismatches)
    with capsys.disabled():
        print(f"\n[authz] event types x callers x scopes: {len(events.EVENT_TYPES)} x {len(callers)} x 3 = {checked}")


def test_product_events_are_all_registered_and_stay_in_the_conversation(db: Database, users: Users,
                                                                         enterprises: dict[str, int]) -> None:
    """Drive every action that writes events; each type written is registered, each is written only
    to current members of the conversation (never to another enterprise)."""
    a, b, c = (users.make(n, enterprise=HOME) for n in ("ev-a", "ev-b", "ev-c"))
    outsider = users.make("ev-out", enterprise=OTHER)
    with db.write() as s:
        pa, pb = (accounts.principal_of(accounts.get_user(s, u.id)) for u in (a, b))
        conv = messaging.start_conversation(s, pa, [b.id], title="group").id
    with db.write() as s:
        members.add_members(s, pa, conv, [c.id])
        msg, _ = sending.send_message(s, pa, conv, "ev-1", "hello")
        messaging.edit_message(s, pa, msg.id, "hello again")
        msg2, _ = sending.send_message(s, pa, conv, "ev-2", "bye")
        messaging.delete_message(s, pa, msg2.id)
        messaging.mark_read(s, pb, conv, msg.id)
    with db.write() as s:
        members.mark_delivered(s, [(accounts.principal_of(accounts.get_user(s, c.id)), {conv: msg2.id})])
        members.remove_member(s, pa, conv, c.id)
    with db.read() as s:
        rows = s.execute(select(UserEvent.type, UserEvent.user_id)).all()
    written = {t for t, _ in rows}
    assert written <= set(events.EVENT_TYPES), written - set(events.EVENT_TYPES)
    assert written == set(events.EVENT_TYPES), f"not exercised here: {set(events.EVENT_TYPES) - written}"
    assert outsider.id not in {u for _, u in rows}
