"""Feeds, exports and every page of the running app, for every kind of caller, against planted data:
the answer equals what the policy says, and nothing above a caller's clearance (a SECRET document with a
distinctive word in its title, file name and text) shows in a body, a count, a facet, a snippet, a
thumbnail, a link, a file name or an error message.

Feeds are the routes behind a FeedGuard; exports are found by asking every GET route of the app and
keeping those that answer with a file (a content-disposition, or neither HTML nor JSON). Each must have
an expectation in DECISIONS below, written from the policy module: an export or feed added later
without one fails here.
"""

from __future__ import annotations

import itertools
import re
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from entrepot import policy
from entrepot.actions import accounts, exports, messaging, quotes, saved_searches
from entrepot.core.config import Settings
from entrepot.core.types import Category, Level, Principal, Role
from entrepot.db import Database
from entrepot.db.library import Document
from entrepot.web.context import SESSION_COOKIE, FeedGuard
from entrepot.workers.loop import Worker
from tests.authz_people import HOME, OTHER, Caller, _session, make_callers
from tests.conftest import Users
from tests.parsers import _parser_samples as samples
from tests.test_authorization_matrix import app_routes, guard_of

SECRET_WORD = "Quetzalcoatl"  # in the SECRET document's title, file name and text; never asked for
QUERY_WORD = "Xochipilli"  # also in its text: what callers search for (pages echo a query; never this word)
DRAFT_WORD = "Unpublished-wolfram-memo"
MARK = {HOME: "Hanbit-only-tungsten", OTHER: "Daedong-only-vanadium"}  # price board and attachment names
PAGE_TYPES = ("text/html", "application/json")


@dataclass
class World:
    callers: list[Caller]
    docs: dict[str, Document]  # detached copies, for the policy's per-object answers
    convs: dict[str, int]  # enterprise -> conversation with the marker quote and attachment
    attachments: dict[str, int]  # enterprise -> message id of the attachment
    conv_members: dict[int, set[int]]
    saved: dict[int, int] = field(default_factory=dict)  # user id -> their saved search (SECRET_WORD)
    export_owner: dict[int, int] = field(default_factory=dict)  # export id -> requesting user id

    def caller(self, name: str) -> Caller:
        return next(c for c in self.callers if c.name == name)


def _upload(c: Caller, name: str, data: bytes, level: str, category: str, publish: bool = True) -> int:
    h = {"x-csrf-token": c.csrf or "", "accept": "application/json"}
    r = c.client.post("/library/upload", files={"file": (name, data)}, headers=h,
                      data={"level": level, "category": category, "csrf_token": c.csrf or ""})
    assert r.status_code in (200, 201), r.text
    doc = int(r.json()["document_id"])
    if publish:
        r = c.client.post(f"/documents/{doc}/publish", data={"published": "true", "csrf_token": c.csrf or ""},
                          headers=h, follow_redirects=False)
        assert r.status_code in (200, 303), r.text
    return doc


def _principal(db: Database, user_id: int) -> Principal:
    with db.read() as s:
        return accounts.principal_of(accounts.get_user(s, user_id))


def build_world(app: Any, db: Database, settings: Settings, users: Users) -> World:
    callers = make_callers(app, db, users)
    by = {c.name: c for c in callers}
    lib = by["librarian-secret"]
    pdf = samples.make_text_pdf
    ids = {
        "open": _upload(lib, "open-zinc.pdf", pdf(["Open market report on zinc prices."]), "OPEN", "trade_news"),
        "restricted": _upload(lib, "restricted.pdf", pdf(["Restricted tin outlook."]), "RESTRICTED", "trends"),
        "confidential": _upload(lib, "conf.pdf", pdf(["Confidential tender terms."]), "CONFIDENTIAL", "regulations"),
        "secret": _upload(lib, f"{SECRET_WORD}-nickel-accord.pdf",
                          pdf([f"{SECRET_WORD} nickel accord, sealed {QUERY_WORD} terms and prices."],
                              title=f"{SECRET_WORD} accord"), "SECRET", "contracts"),
        "draft": _upload(lib, f"{DRAFT_WORD}.pdf", pdf([f"{DRAFT_WORD} notes."]), "OPEN", "trade_news",
                         publish=False),
    }
    Worker(db, settings).run_until_idle()
    with db.read() as s:
        docs = {k: s.get(Document, v) for k, v in ids.items()}
        for d in docs.values():
            s.expunge(d)
    assert all(d.status == "ready" for d in docs.values()), {k: d.status for k, d in docs.items()}

    convs, attachments, conv_members = {}, {}, {}
    for ent, sender_name in ((HOME, "role-trader"), (OTHER, "trader-other")):
        sender = by[sender_name]
        partner = users.make(f"partner-of-{ent}", enterprise=ent)
        with db.write() as s:
            sp = _principal(db, sender.user_id)  # type: ignore[arg-type]
            conv = messaging.start_conversation(s, sp, [partner.id], title=f"{MARK[ent]} desk").id
            quotes.send_quote(s, sp, conv, f"q-{ent}", quotes.QuoteIn(
                product=MARK[ent], quantity=5, unit="t", price=100, currency="USD", incoterm="FOB", place="Busan"),
                None)
        r = sender.client.post(f"/api/v1/conversations/{conv}/attachments", headers={"x-csrf-token": sender.csrf or ""},
                               files={"file": (f"{MARK[ent]}.txt", f"{MARK[ent]} terms".encode())},
                               data={"client_id": f"a-{ent}"})
        assert r.status_code == 201, r.text
        convs[ent], attachments[ent] = conv, int(r.json()["id"])
        conv_members[conv] = {sender.user_id, partner.id}  # type: ignore[arg-type]
    world = World(callers, docs, convs, attachments, conv_members)

    with db.write() as s:
        for c in callers:
            if c.principal is not None and c.principal.active:
                world.saved[c.user_id] = saved_searches.save_search(  # type: ignore[index]
                    s, c.principal, "watch", QUERY_WORD, {}).id
        saved_searches.check_alerts(s)
        # The centre's reviewer exports the other enterprise's conversation (in scope: the operator
        # reviews all); the other enterprise's own reviewer exports theirs.
        for name, ent in (("reviewer-centre", OTHER), ("reviewer-other", OTHER)):
            rev = by[name]
            job = exports.request_export(s, rev.principal, "conversation", convs[ent], None, None)  # type: ignore[arg-type]
            world.export_owner[job.id] = rev.user_id  # type: ignore[assignment]
    Worker(db, settings).run_until_idle()
    return world


# -- what the policy says, for each feed and export --------------------------------------------------

def _library_reader(c: Caller) -> bool:
    return policy.allows(c.principal, policy.Action.LIBRARY)


def _feed_reader(c: Caller) -> bool:
    """Feed readers are identified by their token alone, which works only while the account is active."""
    return c.feed_token is not None and c.principal is not None and c.principal.active and _library_reader(c)


def _doc(w: World, b: dict[str, Any]) -> Document:
    return next(d for d in w.docs.values() if d.id == b["document_id"])


def _download(w: World, c: Caller, b: dict[str, Any], s: Settings) -> bool:
    return _library_reader(c) and bool(policy.may_download_original(c.principal, _doc(w, b),  # type: ignore[arg-type]
                                                                    s.secret_original_downloads))


def _page_image(w: World, c: Caller, b: dict[str, Any], s: Settings) -> bool:
    return _library_reader(c) and policy.may_read_document(c.principal, _doc(w, b))


def _thumb(w: World, c: Caller, b: dict[str, Any], s: Settings) -> bool:
    # No unwatermarked miniatures of classified pages (policy.audited), whoever asks.
    return _page_image(w, c, b, s) and not policy.audited(_doc(w, b))


def _attachment(w: World, c: Caller, b: dict[str, Any], s: Settings) -> bool:
    conv = next(cv for ent, cv in w.convs.items() if w.attachments[ent] == b["message_id"])
    return policy.allows(c.principal, policy.Action.MESSAGING) and c.user_id in w.conv_members[conv]


def _export(w: World, c: Caller, b: dict[str, Any], s: Settings) -> bool:
    return policy.allows(c.principal, policy.Action.REVIEW) and w.export_owner.get(b["export_id"]) == c.user_id


def _prices(w: World, c: Caller, b: dict[str, Any], s: Settings) -> bool:
    return policy.allows(c.principal, policy.Action.MESSAGING)


def _category_feed(w: World, c: Caller, b: dict[str, Any], s: Settings) -> bool:
    return _feed_reader(c)


def _saved_feed(w: World, c: Caller, b: dict[str, Any], s: Settings) -> bool:
    return _feed_reader(c) and w.saved.get(c.user_id) == b["saved_id"]  # type: ignore[arg-type]


DECISIONS = {
    "/documents/{document_id}/download": _download,
    "/documents/{document_id}/pages/{number}/image": _page_image,
    "/documents/{document_id}/pages/{number}/thumb": _thumb,
    "/messages/attachments/{message_id}": _attachment,
    "/review/exports/{export_id}/download": _export,
    "/prices.csv": _prices,
    "/feeds/category/{category}.atom": _category_feed,
    "/feeds/saved/{saved_id}.atom": _saved_feed,
}


# -- the sweep ---------------------------------------------------------------------------------------

#: Path parameters left at a missing id: users (the route matrix and test_lists_are_filtered_in_the_query
#: cover the directory) and review flags (reviewers' scope: tests/messaging/test_compliance*.py).
UNBOUND = frozenset({"user_id", "flag_id"})


def _bindings(w: World, caller: Caller, path: str) -> list[dict[str, Any]]:
    """Values for the route's path parameters: every planted object a parameter can name."""
    names = re.findall(r"\{(\w+)\}", path)
    choices: dict[str, list[Any]] = {
        "document_id": [d.id for d in w.docs.values()],
        "number": [1],
        "category": [c.value for c in Category],
        "saved_id": sorted({w.saved[u] for u in (caller.user_id, w.caller("librarian-secret").user_id)
                            if u in w.saved}) or [999_999],
        "message_id": list(w.attachments.values()),
        "export_id": list(w.export_owner),
        "conversation_id": list(w.convs.values()),
    }
    unbound = sorted(set(names) - set(choices) - UNBOUND)
    assert not unbound, f"{path}: bind {unbound} to planted objects (or list them in UNBOUND, saying why)"
    values = [choices.get(n, [999_999]) for n in names]
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*values)]


def _may_see_secret(w: World, c: Caller) -> bool:
    return _library_reader(c) and policy.may_read_document(c.principal, w.docs["secret"])


def _may_see_draft(w: World, c: Caller) -> bool:
    return _library_reader(c) and policy.may_read_document(c.principal, w.docs["draft"])


def _leaks(w: World, c: Caller, url: str, r: Any) -> list[str]:
    text = r.content.decode("utf-8", "replace") + " " + " ".join(f"{k}: {v}" for k, v in r.headers.items())
    found = []
    secret_link = re.compile(rf"/documents/{w.docs['secret'].id}(?!\d)")
    if not _may_see_secret(w, c):
        if SECRET_WORD in text:
            found.append("SECRET word")
        # A page may echo the address asked for; any other link or thumbnail says the document exists.
        if not secret_link.search(url) and secret_link.search(text):
            found.append("a link or thumbnail of the SECRET document")
    # The audit trail shows auditors unpublished documents' file names (within their clearance): by design.
    audit_trail = url.startswith(("/audit", "/api/v1/audit"))
    if not _may_see_draft(w, c) and DRAFT_WORD in text and not audit_trail:
        found.append("unpublished draft")
    return found


@dataclass
class Tally:
    requests: int = 0
    exports: set[str] = field(default_factory=set)
    feeds: set[str] = field(default_factory=set)
    decided: int = 0
    mismatches: list[str] = field(default_factory=list)


def _allowed(r: Any) -> bool | None:
    if r.status_code == 200:
        return True
    if r.status_code in (401, 403, 404) or (r.status_code == 303 and r.headers["location"].startswith("/login")):
        return False
    return None


def _is_file(r: Any) -> bool:
    media = r.headers.get("content-type", "").split(";")[0].strip()
    return r.status_code == 200 and ("content-disposition" in r.headers or media not in PAGE_TYPES)


def sweep(app: Any, w: World, settings: Settings) -> Tally:
    t = Tally()
    routes = [(p, r) for p, r in app_routes(app) if isinstance(r, APIRoute) and "GET" in r.methods]
    for path, route in routes:
        feed = isinstance(guard_of(route), FeedGuard)
        if feed:
            t.feeds.add(path)
        for caller in w.callers:
            for b in _bindings(w, caller, path):
                url = re.sub(r"\{(\w+)\}", lambda m: str(b[m.group(1)]), path)  # noqa: B023
                params = {"q": QUERY_WORD, "token": caller.feed_token or "none"}
                r = caller.client.get(url, params=params, follow_redirects=False)
                t.requests += 1
                if r.status_code >= 500:
                    t.mismatches.append(f"GET {url} as {caller.name}: {r.status_code}")
                if _is_file(r):
                    t.exports.add(path)
                for leak in _leaks(w, caller, url, r):
                    t.mismatches.append(f"GET {url} as {caller.name} ({r.status_code}): {leak}")
                decide = DECISIONS.get(path)
                if decide is not None:
                    expected, got = decide(w, caller, b, settings), _allowed(r)
                    t.decided += 1
                    if got != expected:
                        word = "allowed" if expected else "denied"
                        t.mismatches.append(f"GET {url} as {caller.name}: expected {word}, got {r.status_code}")
                    if got and feed:
                        t.mismatches.extend(_feed_content(w, caller, b, r.text, url))
                    if got and path == "/prices.csv":
                        t.mismatches.extend(_board_content(caller, r.text))
    return t


def _feed_content(w: World, c: Caller, b: dict[str, Any], body: str, url: str) -> list[str]:
    """A feed lists exactly what the policy lets its reader read, in its category or matching its search."""
    out = []
    for key, d in w.docs.items():
        wanted = policy.may_read_document(c.principal, d) and (
            d.category == b["category"] if "category" in b else key == "secret")
        if (f"/documents/{d.id}</id>" in body) != wanted:
            out.append(f"{url} as {c.name}: document {key} {'missing' if wanted else 'listed'}")
    return out


def _board_content(c: Caller, body: str) -> list[str]:
    out = []
    for ent, marker in MARK.items():
        same = c.principal is not None and c.enterprise == ent
        if (marker in body) != same:
            out.append(f"/prices.csv as {c.name}: {marker} {'missing' if same else 'listed'}")
    return out


@pytest.mark.slow
def test_feeds_exports_and_pages_leak_nothing(app: Any, db: Database, settings: Settings, users: Users,
                                             enterprises: dict[str, int], capsys: Any) -> None:
    started = time.monotonic()
    w = build_world(app, db, settings, users)
    t = sweep(app, w, settings)
    assert not t.mismatches, f"{len(t.mismatches)} problems:\n" + "\n".join(t.mismatches[:80])
    undecided = sorted((t.exports | t.feeds) - set(DECISIONS))
    assert not undecided, f"feeds or exports with no policy expectation in DECISIONS: {undecided}"
    assert set(DECISIONS) <= t.exports | t.feeds, f"never answered with a file: {set(DECISIONS) - t.exports}"
    # Positive control: the word is there for those cleared for it, so its absence elsewhere means something.
    lib = w.caller("librarian-secret")
    assert SECRET_WORD in lib.client.get("/api/v1/search", params={"q": QUERY_WORD}).text
    with capsys.disabled():
        gets = {p for p, r in app_routes(app) if isinstance(r, APIRoute) and "GET" in r.methods}
        print(f"\n[authz] GET routes swept: {len(gets)} "
              f"routes, {len(w.callers)} callers, {t.requests} requests; feeds {len(t.feeds)}, "
              f"exports {len(t.exports)}: {sorted(t.exports)}; feed/export decisions checked {t.decided}; "
              f"{time.monotonic() - started:.0f} s")


def test_counts_and_facets_stop_at_the_clearance(app: Any, db: Database, settings: Settings, users: Users,
                                                 enterprises: dict[str, int]) -> None:
    """Totals and facet counts equal the number of planted documents the policy lets each caller read."""
    w = build_world(app, db, settings, users)
    problems = []
    for c in w.callers:
        if not _library_reader(c):
            continue
        readable = [d for d in w.docs.values() if policy.may_read_document(c.principal, d)]
        listed = c.client.get("/api/v1/documents").json()
        if listed["total"] != len(readable) or {d["id"] for d in listed["documents"]} != {d.id for d in readable}:
            problems.append(f"{c.name}: listed {listed['total']}, may read {len(readable)}")
        found = c.client.get("/api/v1/search", params={"q": QUERY_WORD}).json()
        secret = int(_may_see_secret(w, c))
        cats = dict(found["facets"].get("category", []))
        if found["total"] != secret or cats.get("contracts", 0) != secret:
            problems.append(f"{c.name}: search total {found['total']}, contracts facet {cats}, expected {secret}")
        page = c.client.get("/library").text
        match = re.search(r"<h1>Library <small>\((\d+)\)</small>", page)
        if not match or int(match.group(1)) != len(readable):
            problems.append(f"{c.name}: library page count {match and match.group(1)}, expected {len(readable)}")
    # The audit trail follows the clearance too: the SECRET document's records (its file name) show to
    # an auditor cleared for SECRET, not to one cleared for OPEN (role-auditor).
    cleared = users.make("auditor-secret", Role.AUDITOR, clearance=Level.SECRET)
    token, _ = _session(db, cleared.id)
    trail = TestClient(app, client=("127.0.0.1", 5000), cookies={SESSION_COOKIE: token}).get("/api/v1/audit").text
    assert SECRET_WORD in trail and SECRET_WORD not in w.caller("role-auditor").client.get("/api/v1/audit").text
    assert not problems, "\n".join(problems)
    assert any(_may_see_secret(w, c) for c in w.callers) and any(
        not _may_see_secret(w, c) and _library_reader(c) for c in w.callers)
