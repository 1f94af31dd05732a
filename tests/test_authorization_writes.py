"""Every state-changing route of the running app (POST, PUT, PATCH, DELETE), for every kind of caller,
against the planted world of tests/test_authorization_data.py: no 500, and nothing the caller may not
see shows in a body, a header, a redirect or an error page: the SECRET document's title, file name or
text, the unpublished draft, another enterprise's conversation, quote, attachment, rule, hold or flag,
another enterprise's people, someone else's API token.

Routes come from the app; each is called with every planted object its path can name (and a missing
one), with a malformed body and with a plausible one (the planted objects again: the SECRET and
unpublished documents, the other enterprise's people, conversation, message, rule and flag; every upload
sends the SECRET document's own file). Every request carries the CSRF token the caller's pages would give
it, so a refusal is never the CSRF check's alone; the endpoint functions count the requests that got past
the guard and the body's validation. An object the caller may not see, in the path or in the body, must
be answered as one that does not exist: same status, same message.

Then the compliance exports: each ZIP a caller may fetch is opened; no member name or content holds what
lies outside the reviewer's scope (another enterprise's conversation, quote, attachment or people, or
anything of the library), what lies inside is there, and the manifest's hashes match the members.
"""

from __future__ import annotations

import email
import functools
import hashlib
import inspect
import io
import itertools
import json
import re
import time
import types
import typing
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import params
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel
from sqlalchemy import select

from entrepot import policy
from entrepot.actions import auth, compliance, exports, library, retention, sending
from entrepot.blobs import BlobStore
from entrepot.core.config import Settings
from entrepot.core.types import Level, Role
from entrepot.db import Database
from entrepot.db.compliance import Flag
from entrepot.db.library import Document, DocumentVersion
from entrepot.db.retention import ExportJob
from entrepot.db.tables import User
from entrepot.web.context import SESSION_COOKIE
from entrepot.workers.loop import Worker
from tests.authz_people import HOME, OTHER, Caller
from tests.conftest import Users
from tests.test_authorization_data import (
    MARK,
    SECRET_WORD,
    World,
    _bindings,
    _leaks,
    _may_see_secret,
    build_world,
)
from tests.test_authorization_matrix import app_routes, guard_of, page_csrf

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MISSING = 999_999
FLAG_WORD = "osmiridium"  # a lexicon rule of the other enterprise flags messages with it
TOKEN_WORD = "Centre-private-token-hafnium"  # the name of the SECRET librarian's API token
CSRF_REFUSAL = "did not come from this site"
LONG_PASSWORD = "\x00'\"<b>" + "p" * 300  # refused unverified (passwords.MAX_PASSWORD_CHARS): no argon2
#: Session-ending routes go last for each caller, so the caller's other requests keep their session.
LAST = ("/logout",)


@dataclass
class Extras:
    """More planted objects a path or a body can name, beyond those of `build_world`."""

    enterprises: dict[str, int]
    partners: dict[str, int]  # enterprise -> the partner in its conversation
    request_id: int  # declassification of the SECRET document, pending; its reason names the document
    token_id: int  # the SECRET librarian's API token
    rule_id: int  # the other enterprise's lexicon rule, named with its marker
    hold_id: int  # a legal hold on the other enterprise's conversation
    flag_id: int  # a flag on a message of the other enterprise
    secret_file: bytes  # the SECRET document's file: what every upload sends (the library must not say it has it)


def plant_more(w: World, db: Database, enterprises: dict[str, int], blob_dir: Path) -> Extras:
    lib, rev, trader = w.caller("librarian-secret"), w.caller("reviewer-other"), w.caller("trader-other")
    with db.write() as s:
        partners = {ent: s.execute(select(User.id).where(User.username == f"partner-of-{ent}")).scalar_one()
                    for ent in MARK}
        req = library.classify(s, lib.principal, w.docs["secret"].id, "RESTRICTED",  # type: ignore[arg-type]
                               f"{SECRET_WORD} may go to RESTRICTED")
        assert req is not None
        token, _ = auth.create_api_token(s, lib.principal, TOKEN_WORD, 30)  # type: ignore[arg-type]
        rule = compliance.save_rule(s, rev.principal, name=f"{MARK[OTHER]} watch", kind="word",  # type: ignore[arg-type]
                                    pattern=FLAG_WORD, severity="high", enterprise_id=enterprises[OTHER])
        hold = retention.place_hold(s, rev.principal, "conversation", str(w.convs[OTHER]),  # type: ignore[arg-type]
                                    f"{MARK[OTHER]} dispute")
        ids = req.id, token.id, rule.id, hold.id
    with db.write() as s:
        msg, _ = sending.send_message(s, trader.principal, w.convs[OTHER], "flag-me",  # type: ignore[arg-type]
                                        f"{MARK[OTHER]} {FLAG_WORD} shipment")
        flag_id = s.execute(select(Flag.id).where(Flag.message_id == msg.id)).scalar_one()
        blob = s.execute(select(DocumentVersion.blob).where(DocumentVersion.document_id == w.docs["secret"].id)
                         ).scalar_one()
    return Extras(enterprises, partners, *ids, flag_id=flag_id, secret_file=BlobStore(blob_dir).read_bytes(blob))


# -- what a caller may see ---------------------------------------------------------------------------

def _active(c: Caller) -> bool:
    return c.principal is not None and c.principal.active


def _reviews(c: Caller, ent: str) -> bool:
    return _active(c) and policy.allows(c.principal, policy.Action.REVIEW) and c.enterprise in ("centre", ent)


def _covers(c: Caller, ent: str) -> bool:
    """The enterprise's conversations, quotes and attachments: its members (the price board shows all
    its quotes) and the reviewers who cover it."""
    return (policy.may_participate(c.principal) and c.enterprise == ent) or _reviews(c, ent)


def _sees_people_of(c: Caller, ent: str) -> bool:
    """`policy.may_see_user` for the enterprise's people, and the reviewers who read their messages."""
    p = c.principal
    if not _active(c) or p is None:
        return False
    wide = {Role.ADMIN, Role.TRADE_APPROVER, Role.SECURITY_APPROVER, Role.AUDITOR}
    return bool(p.roles & wide) or c.enterprise == ent or _reviews(c, ent)


def _visible(w: World, x: Extras, c: Caller, name: str, value: Any) -> bool | None:
    """May the caller see the object a path parameter names? None: not an object one may be denied."""
    p = c.principal
    if value == MISSING or name in ("category", "number", "enterprise_id"):
        return None
    if name == "document_id":
        doc = next(d for d in w.docs.values() if d.id == value)
        return policy.may_read_document(p, doc)
    if name == "conversation_id":
        return policy.may_participate(p) and c.user_id in w.conv_members[value]
    if name == "message_id":
        conv = next(cv for ent, cv in w.convs.items() if w.attachments[ent] == value)
        return policy.may_participate(p) and c.user_id in w.conv_members[conv]
    if name == "export_id":
        return w.export_owner.get(value) == c.user_id
    if name == "saved_id":
        return w.saved.get(c.user_id) == value  # type: ignore[arg-type]
    if name == "token_id":
        return c.name == "librarian-secret"
    if name == "request_id":
        return _active(c) and p is not None and p.clearance >= Level.SECRET
    if name in ("rule_id", "hold_id", "flag_id"):
        return _reviews(c, OTHER)
    if name == "user_id":
        return _sees_people_of(c, OTHER)
    raise AssertionError(f"no visibility rule for {name}")


def _write_leaks(w: World, x: Extras, c: Caller, url: str, r: Any) -> list[str]:
    found = _leaks(w, c, url, r)
    text = r.content.decode("utf-8", "replace") + " " + " ".join(f"{k}: {v}" for k, v in r.headers.items())
    for ent, marker in MARK.items():
        if marker in text and not _covers(c, ent):
            found.append(f"{ent}'s marker")
        if f"partner-of-{ent}" in text.lower() and not _sees_people_of(c, ent):
            found.append(f"{ent}'s people")
    if TOKEN_WORD in text and c.name != "librarian-secret":
        found.append("another user's API token")
    named = re.findall(r'"document_id":\s*(\d+)', text)  # a JSON answer naming a document by its number
    found += [f"names {key} document" for key, d in w.docs.items()
              if str(d.id) in named and not policy.may_read_document(c.principal, d)
              and not re.search(rf"/{d.id}(?!\d)", url)]
    return found


def _seen(w: World, c: Caller, r: Any) -> set[str]:
    """Markers in a response to a caller allowed to see them: the check can see into write responses."""
    text = r.content.decode("utf-8", "replace")
    out = {f"{ent} marker" for ent, m in MARK.items() if m in text and _covers(c, ent)}
    return out | ({"SECRET word"} if SECRET_WORD in text and _may_see_secret(w, c) else set())


# -- bodies ------------------------------------------------------------------------------------------

_serial = itertools.count(1)


def _values(w: World, x: Extras, path: str) -> dict[str, Any]:
    """A plausible value for every form or JSON field name the app uses, naming planted objects where a
    field names one. A field not listed gets a value of its type (see `_fill`)."""
    n = next(_serial)
    secret, other_conv = w.docs["secret"].id, w.convs[OTHER]
    v: dict[str, Any] = {
        # Passwords that fail before any hashing: too short for an account, too long to verify at sign-in,
        # two that differ for a change (argon2 would take a quarter of a second each time).
        "username": f"matrix-{n}", "display_name": "Matrix Person", "password": "short", "password2": "short",
        "current_password": "not the password", "new_password": "matrix new one 1", "new_password2": "other 2",
        "enterprise_id": x.enterprises[OTHER], "kind": "staff", "clearance": "SECRET", "roles": ["trader"],
        "change": "suspend", "reason": "matrix reason", "authority": "trade", "decision": "approve",
        "approve": True, "name": f"matrix {n}", "country": "KR", "countries": "KR", "description": "matrix",
        "days": 30, "code": "000000", "next": "/", "language": "en", "category": "contracts", "level": "SECRET",
        "document_ids": [secret, w.docs["draft"].id], "published": False, "title": "matrix title",
        "summary": "matrix", "source": "matrix", "issued_on": "2024-01-02", "tags": "matrix", "hs_codes": "750210",
        "q": "matrix", "hs": "750210", "user_ids": [x.partners[OTHER]], "client_id": f"matrix-{n}",
        "body": "matrix message", "reply_to_id": w.attachments[OTHER], "voice": False, "caption": "matrix",
        "product": "matrix steel", "quantity": 2.0, "unit": "t", "price": 10.5, "currency": "USD",
        "incoterm": "FOB", "place": "Busan", "hs_code": "750210", "valid_until": "2030-01-31",
        "collection_id": "", "note": "matrix note", "flag_ids": [x.flag_id],
        "pattern": f"matrixword{n}", "severity": "low", "replaces": x.rule_id, "enabled": "on",
        "threshold": "0.5", "target": str(other_conv), "since": "", "until": "",
        "action": "note", "scope": "conversation",
    }
    # The same name means different things on a few routes.
    if path.startswith("/library/board"):
        v["action"] = "unpublish"  # never "publish": the draft must stay unpublished for later callers
    if path.startswith("/review/rules"):
        v |= {"action": "flag", "kind": "word", "scope": str(x.enterprises[OTHER])}
    if path.startswith("/review/holds"):
        v["kind"] = "conversation"
    if path.endswith("/classify"):
        v["level"] = "OPEN"  # lowering: a request for two approvals, never applied here
    if path == "/login":
        v["password"] = LONG_PASSWORD
    if path.endswith("/retention"):
        v["days"] = "400"
    if path.startswith("/api/v1/documents/"):
        v["title"] = None  # keep the titles: pages shown later to those cleared show the SECRET one
    return v


def _hidden_in_body(w: World, x: Extras, c: Caller, shape: Shape) -> list[str]:
    """Fields of the route's body whose plausible value names an object the caller may not see."""
    names = set(shape.form) | set(shape.model.model_fields if shape.model else ())
    member_of_other = policy.may_participate(c.principal) and c.user_id in w.conv_members[w.convs[OTHER]]
    secret, draft = w.docs["secret"], w.docs["draft"]
    seen = {"target": _reviews(c, OTHER), "replaces": _reviews(c, OTHER), "flag_ids": _reviews(c, OTHER),
            "reply_to_id": member_of_other, "user_ids": _sees_people_of(c, OTHER),
            "document_ids": policy.may_read_document(c.principal, secret) and policy.may_read_document(
                c.principal, draft)}
    return sorted(n for n, visible in seen.items() if n in names and not visible)


def _origin(annotation: Any) -> Any:
    """int | None -> int; list[int] -> list."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and args:
        return _origin(args[0])
    return typing.get_origin(annotation) or annotation


def _fill(name: str, annotation: Any, values: dict[str, Any], unknown: set[str]) -> Any:
    if name in values:
        value = values[name]
    else:
        unknown.add(name)
        value = {int: 1, float: 1.0, bool: False, list: []}.get(_origin(annotation), "matrix")
    kind = _origin(annotation)
    if value is None:
        return None
    if kind is list and not isinstance(value, list):
        value = [value]
    if kind is str and not isinstance(value, str):
        value = str(value)
    return value


@dataclass
class Shape:
    """What a route's body is: a JSON model, or form fields and files."""

    model: type[BaseModel] | None = None
    form: dict[str, Any] = field(default_factory=dict)  # alias -> annotation
    files: list[str] = field(default_factory=list)


def shape_of(route: APIRoute) -> Shape:
    shape = Shape()
    for p in route.dependant.body_params:
        annotation = p.field_info.annotation
        if isinstance(p.field_info, params.File):
            shape.files.append(p.alias)
        elif isinstance(p.field_info, params.Form):
            shape.form[p.alias] = annotation
        elif inspect.isclass(annotation) and issubclass(annotation, BaseModel):
            shape.model = annotation
        else:
            raise AssertionError(f"{route.path}: a body parameter of an unknown kind: {p.alias}")
    return shape


def plausible(shape: Shape, values: dict[str, Any], csrf: str, unknown: set[str], data: bytes) -> dict[str, Any]:
    if shape.model is not None:
        fields = shape.model.model_fields
        return {"json": {name: _fill(name, f.annotation, values, unknown) for name, f in fields.items()}}
    out: dict[str, Any] = {}
    if shape.form or shape.files:
        form = {a: _fill(a, t, values, unknown) for a, t in shape.form.items() if a != "csrf_token"}
        form = {a: ("false" if v is False else "true" if v is True else v) for a, v in form.items()}
        out["data"] = form | {"csrf_token": csrf}
    if shape.files:
        out["files"] = {name: ("matrix.pdf", data, "application/pdf") for name in shape.files}
    return out


def malformed(shape: Shape, csrf: str) -> dict[str, Any]:
    """Broken JSON; form fields of the wrong type, control characters, and no file."""
    if shape.model is not None:
        return {"content": b'{"', "headers": {"content-type": "application/json"}}
    if shape.form:
        junk = {a: LONG_PASSWORD if "password" in a else "\x00'\"<b>not-a-number" for a in shape.form}
        return {"data": junk | {"csrf_token": csrf}}
    return {}


# -- the sweep ---------------------------------------------------------------------------------------

def route_key(route: APIRoute, path: str) -> str:
    return f"{','.join(sorted(route.methods or ()))} {path}"


def count_handlers(app: Any) -> Counter[str]:
    """Count each endpoint function's calls: a request counts once it got past the guard and the body."""
    reached: Counter[str] = Counter()
    for rc in iter_route_contexts(app.routes):
        if not isinstance(rc.original_route, APIRoute):
            continue
        served = rc.dependant  # an included route's own copy: the one its handler calls
        call = served.call
        key = route_key(rc.original_route, str(rc.path))
        if inspect.iscoroutinefunction(call):
            async def counted_async(*a: Any, _call: Any = call, _key: str = key, **k: Any) -> Any:
                reached[_key] += 1
                return await _call(*a, **k)
            wrapper: Any = counted_async
        else:
            def counted(*a: Any, _call: Any = call, _key: str = key, **k: Any) -> Any:
                reached[_key] += 1
                return _call(*a, **k)
            wrapper = counted
        served.call = functools.update_wrapper(wrapper, call)
    return reached


def write_routes(app: Any) -> list[tuple[str, str, APIRoute]]:
    out = [(m, p, r) for p, r in app_routes(app) if isinstance(r, APIRoute)
           for m in sorted(set(r.methods or ()) & WRITE_METHODS)]
    return sorted(out, key=lambda t: (t[1] in LAST, t[1], t[0]))


def _extra_choices(x: Extras) -> dict[str, list[Any]]:
    return {"token_id": [x.token_id], "request_id": [x.request_id], "rule_id": [x.rule_id],
            "hold_id": [x.hold_id], "flag_id": [x.flag_id], "enterprise_id": list(x.enterprises.values()),
            "user_id": [x.partners[OTHER]]}


def write_bindings(w: World, x: Extras, c: Caller, path: str) -> list[dict[str, Any]]:
    """`_bindings` of the data sweep, the objects planted here, and, for a route naming one object, a
    missing one (what a hidden object's answer must equal)."""
    extra = _extra_choices(x)
    names = re.findall(r"\{(\w+)\}", path)
    mine = [n for n in names if n in extra]
    rest = re.sub(r"\{(\w+)\}", lambda m: m.group(0) if m.group(1) not in extra else "x", path)
    out = []
    for combo in itertools.product(*(extra[n] for n in mine)):
        for b in _bindings(w, c, rest):
            out.append(dict(zip(mine, combo, strict=True)) | b)
    if len(names) == 1 and names[0] not in ("category", "number"):
        out.append({names[0]: MISSING})
    return out


def plan(w: World, x: Extras, c: Caller, path: str, route: APIRoute, shape: Shape
         ) -> list[tuple[str, list[dict[str, Any]]]]:
    """(body, path bindings) to send. Callers the route's guard refuses are refused before the path or
    the body is looked at (tests/test_authorization_matrix.py): one request, naming the SECRET document
    where the path can. A malformed body goes first, naming a hidden object first: if the body's
    validation stops it, it stops it whatever the path names, and the sweep moves on (see `sweep_writes`)."""
    bindings = write_bindings(w, x, c, path)
    guard = guard_of(route)
    assert guard is not None
    if not policy.allows(c.principal, guard.action):
        secret = [b for b in bindings if b.get("document_id") == w.docs["secret"].id]
        return [("plausible", (secret or bindings)[:1])]
    out: list[tuple[str, list[dict[str, Any]]]] = []
    if shape.form or shape.model is not None:
        hidden = [b for b in bindings if any(_visible(w, x, c, n, v) is False for n, v in b.items())]
        out.append(("malformed", hidden + [b for b in bindings if b not in hidden]))
    out.append(("plausible", bindings))  # after the malformed: a plausible body may end the session
    if _hidden_in_body(w, x, c, shape):
        out.append(("missing in body", bindings[:1]))
    return out


def _order(c: Caller) -> tuple[int, str]:
    """Those who may change what later callers see go last, the SECRET librarian at the very end."""
    p = c.principal
    powerful = _active(c) and p is not None and bool(p.roles & {Role.LIBRARIAN, Role.CUSTODIAN, Role.ADMIN,
                                                                 Role.REVIEWER})
    return (2 if c.name == "librarian-secret" else 1 if powerful else 0, c.name)


@dataclass
class WriteTally:
    requests: int = 0
    reached: int = 0
    reached_routes: set[str] = field(default_factory=set)
    csrf_refused: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    hidden_compared: int = 0
    seen: set[str] = field(default_factory=set)
    unknown_fields: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    csrf: str = ""  # the current caller's


def _request(t: WriteTally, w: World, x: Extras, c: Caller, variant: str, shape: Shape, path: str
             ) -> dict[str, Any]:
    values = _values(w, x, path)
    if variant == "missing in body":  # the plausible body, naming missing objects instead of hidden ones
        values |= {n: [MISSING] if isinstance(values[n], list) else MISSING
                   for n in _hidden_in_body(w, x, c, shape)}
    if variant != "malformed":
        kw = plausible(shape, values, t.csrf, t.unknown_fields, x.secret_file)
        return kw | {"headers": {"x-csrf-token": t.csrf}}
    kw = malformed(shape, t.csrf)
    return kw | {"headers": {"x-csrf-token": t.csrf, "accept": "application/json", **kw.get("headers", {})}}


def _check(t: WriteTally, w: World, x: Extras, c: Caller, where: str, url: str, r: Any) -> None:
    t.statuses[r.status_code] += 1
    if r.status_code >= 500:
        t.problems.append(f"{where}: server error")
    if r.status_code == 403 and CSRF_REFUSAL in r.text:
        t.csrf_refused += 1
        t.problems.append(f"{where}: refused by the CSRF check alone")
    t.problems.extend(f"{where}: {leak}" for leak in _write_leaks(w, x, c, url, r))
    t.seen |= _seen(w, c, r)


def sweep_writes(app: Any, w: World, x: Extras) -> WriteTally:
    t = WriteTally()
    reached = count_handlers(app)
    for c in sorted(w.callers, key=_order):
        t.csrf = page_csrf(c.client)
        for method, path, route in write_routes(app):
            shape, key = shape_of(route), route_key(route, path)
            body_status: dict[str, Any] = {}  # url -> the plausible body's response
            for variant, bindings in plan(w, x, c, path, route, shape):
                answers: dict[str, Any] = {}  # url -> response
                for b in bindings:
                    url = re.sub(r"\{(\w+)\}", lambda m: str(b[m.group(1)]), path)  # noqa: B023
                    before = reached[key]
                    r = c.client.request(method, url, follow_redirects=False,
                                         **_request(t, w, x, c, variant, shape, path))
                    t.requests += 1
                    if SESSION_COOKIE in r.headers.get("set-cookie", ""):
                        t.csrf = page_csrf(c.client)  # signed out (or in): the pages' token changed
                    if reached[key] > before:
                        t.reached += 1
                        t.reached_routes.add(key)
                    _check(t, w, x, c, f"{method} {url} ({variant}) as {c.name}: {r.status_code}", url, r)
                    if variant == "malformed" and reached[key] == before:
                        break  # stopped by the body's validation, which does not look at the path
                    where = f"{method} {url} ({variant}) as {c.name}"
                    if variant == "plausible" and url not in body_status:
                        body_status[url] = r
                    if variant == "missing in body":
                        _differ(t, where, body_status[url], r, f"the body names {_hidden_in_body(w, x, c, shape)}")
                    answers[url] = r
                    _compare_hidden(t, w, x, c, b, path, answers, f"{method} {{}} ({variant}) as {c.name}")
    return t


def _said(r: Any) -> tuple[int, str]:
    """A response's status and error message (JSON error, page alert or error page), what a caller
    could tell two answers apart by."""
    try:
        message = str(r.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        found = re.search(r'class="(?:flash error|error-message)"[^>]*>(.*?)</p>', r.text, re.S)
        message = found.group(1).strip() if found else ""
    return r.status_code, message


def _differ(t: WriteTally, where: str, hidden: Any, missing: Any, what: str) -> None:
    """An object the caller may not see must be answered as a missing one."""
    t.hidden_compared += 1
    if _said(hidden) == _said(missing):
        return
    t.problems.append(f"{where}: {_said(hidden)} when {what} the caller may not see, {_said(missing)} when "
                      "missing: a hidden object must look missing")


def _compare_hidden(t: WriteTally, w: World, x: Extras, c: Caller, b: dict[str, Any], path: str,
                    answers: dict[str, Any], where: str) -> None:
    """Once the missing object's answer is in (it comes last), each hidden object's must equal it."""
    if len(b) != 1 or next(iter(b.values())) != MISSING:
        return
    (name, _), = b.items()
    missing = answers.pop(re.sub(r"\{\w+\}", str(MISSING), path))
    for url, r in answers.items():
        value = int(url.rstrip("/").split("/")[path.split("/").index("{" + name + "}")])
        if _visible(w, x, c, name, value) is False:
            _differ(t, where.format(url), r, missing, f"the path names {name} {value}")


@pytest.mark.slow
def test_state_changing_routes_leak_nothing(app: Any, db: Database, settings: Settings, users: Users,
                                           enterprises: dict[str, int], capsys: Any) -> None:
    started, cpu = time.monotonic(), time.process_time()
    w = build_world(app, db, settings, users)
    x = plant_more(w, db, enterprises, settings.blob_dir)
    built = time.monotonic() - started
    t = sweep_writes(app, w, x)
    assert not t.problems, f"{len(t.problems)} problems:\n" + "\n".join(t.problems[:80])
    routes = write_routes(app)
    assert len(routes) >= 40
    # The requests reached the code behind the guard, on every route: the sweep proves something. A new
    # route none of whose requests gets there needs a value for its body in `_values`.
    never = sorted({route_key(r, p) for _, p, r in routes} - t.reached_routes)
    assert t.reached > t.requests // 4 and not never, f"never reached a handler: {never}"
    # The markers do show in write responses to those allowed to see them: their absence means something.
    assert {"SECRET word", f"{OTHER} marker"} <= t.seen, t.seen
    # The world is as planted: no caller published the draft or lowered the SECRET document.
    with db.read() as s:
        secret, draft = s.get(Document, w.docs["secret"].id), s.get(Document, w.docs["draft"].id)
        assert secret is not None and secret.level == Level.SECRET and draft is not None and not draft.published
    with capsys.disabled():
        print(f"\n[authz] write routes: {len(routes)} routes x {len(w.callers)} callers, {t.requests} requests, "
              f"{t.reached} reached a handler ({len(t.reached_routes)} routes), {t.csrf_refused} refused by CSRF; "
              f"hidden objects compared with missing ones: {t.hidden_compared}; "
              f"statuses {dict(sorted(t.statuses.items()))}; "
              f"fields given a default: {sorted(t.unknown_fields)}; world {built:.0f} s, "
              f"total {time.monotonic() - started:.0f} s ({time.process_time() - cpu:.0f} s of CPU)")


# -- the exports' contents ---------------------------------------------------------------------------

def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.testzip() is None
        return {name: z.read(name) for name in z.namelist()}


def _readable(name: str, data: bytes) -> str:
    """A member as text, with each part of an EML decoded (quoted-printable and base64 would hide a word)."""
    text = data.decode("utf-8", "replace")
    if name.endswith(".eml"):
        msg = email.message_from_bytes(data)
        for part in msg.walk():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                text += "\n" + payload.decode("utf-8", "replace")
            text += "\n" + str(part.get_filename() or "")
    return text


def plant_exports(w: World, db: Database, settings: Settings, x: Extras) -> dict[int, set[str]]:
    """More exports (every scope, both enterprises); export id -> the enterprises it covers."""
    convs = {cv: ent for ent, cv in w.convs.items()}
    with db.read() as s:
        jobs = {job.id: job for job in s.execute(select(ExportJob)).scalars()}
    covered = {i: {convs[j.scope_id]} for i, j in jobs.items()}
    asks = [("reviewer-centre", "conversation", str(w.convs[HOME]), HOME),
            ("reviewer-centre", "enterprise", str(x.enterprises[HOME]), HOME),
            ("reviewer-centre", "user", "trader-other", OTHER),
            ("reviewer-other", "enterprise", str(x.enterprises[OTHER]), OTHER),
            ("reviewer-other", "user", "trader-other", OTHER),
            ("role-reviewer", "enterprise", str(x.enterprises[HOME]), HOME)]
    with db.write() as s:
        for name, scope, target, ent in asks:
            rev = w.caller(name)
            job = exports.request_export(s, rev.principal, scope, target, None, None)  # type: ignore[arg-type]
            w.export_owner[job.id] = rev.user_id  # type: ignore[assignment]
            covered[job.id] = {ent}
    Worker(db, settings).run_until_idle()
    return covered


@pytest.mark.slow
def test_exports_hold_only_what_the_reader_may_see(app: Any, db: Database, settings: Settings, users: Users,
                                                  enterprises: dict[str, int], capsys: Any) -> None:
    started = time.monotonic()
    w = build_world(app, db, settings, users)
    x = plant_more(w, db, enterprises, settings.blob_dir)
    covered = plant_exports(w, db, settings, x)
    # Export downloads are found in the app: GET routes naming an export.
    paths = [p for p, r in app_routes(app)
             if isinstance(r, APIRoute) and "GET" in (r.methods or ()) and "{export_id}" in p]
    problems, inspected, members, denied, opened = [], 0, 0, 0, set()
    for c in w.callers:
        for path, export_id in itertools.product(paths, covered):
            url = path.replace("{export_id}", str(export_id))
            r = c.client.get(url, follow_redirects=False)
            assert r.status_code < 500, f"GET {url} as {c.name}: {r.status_code}"
            if not r.content.startswith(b"PK"):
                denied += r.status_code != 200
                continue
            expected = _reviews(c, next(iter(covered[export_id]))) and w.export_owner[export_id] == c.user_id
            if not expected:
                problems.append(f"GET {url} as {c.name}: a ZIP it may not have")
            inspected += 1
            opened.add(export_id)
            found = _members(r.content)
            members += len(found)
            problems.extend(_export_problems(w, x, c, url, found, covered[export_id]))
    assert not problems, "\n".join(problems)
    assert opened == set(covered), f"exports their owners could not fetch: {set(covered) - opened}"
    with capsys.disabled():
        print(f"\n[authz] exports: {len(covered)} exports x {len(w.callers)} callers on {paths}; {inspected} ZIPs "
              f"opened ({members} members), {denied} refused; {time.monotonic() - started:.0f} s")


def _export_problems(w: World, x: Extras, c: Caller, url: str, found: dict[str, bytes],
                     covers: set[str]) -> list[str]:
    out = []
    texts = {name: name + "\n" + _readable(name, data) for name, data in found.items()}
    everything = "\n".join(texts.values())
    for name, text in texts.items():
        for ent, marker in MARK.items():
            if ent not in covers and (marker in text or f"partner-of-{ent}" in text.lower()):
                out.append(f"{url} as {c.name}: {name} holds {ent}'s conversation or people")
        if SECRET_WORD in text or TOKEN_WORD in text:
            out.append(f"{url} as {c.name}: {name} holds something of the library or the accounts")
    for ent in covers:
        # The conversation's title, the quote's product and the attachment's name and text carry the marker.
        if MARK[ent] not in everything:
            out.append(f"{url} as {c.name}: {ent}'s messages are missing")
        if f"{MARK[ent]}.txt" not in everything:
            out.append(f"{url} as {c.name}: {ent}'s attachment is missing")
    manifest = json.loads(found["manifest.json"])
    for name, data in found.items():
        if name != "manifest.json" and manifest["sha256"].get(name) != hashlib.sha256(data).hexdigest():
            out.append(f"{url} as {c.name}: {name} does not match the manifest")
    if set(manifest["sha256"]) != set(found) - {"manifest.json"}:
        out.append(f"{url} as {c.name}: the manifest lists other members than the ZIP holds")
    return out
