"""In Chromium: a trader creates a named group, adds a colleague, sees the others typing, sends
formatted text with a link (and a script that stays text), sees delivered and read per message,
replies and jumps to the quoted message, finds a Korean message with the search box and opens it,
and removes a member, whose page is told at once."""

from __future__ import annotations

from typing import Any

from entrepot.core.config import Settings
from entrepot.db import Database
from tests.browser.test_messenger_flow import _send_text, _sign_in
from tests.conftest import Users

HOSTILE = '*Offer* 2,710 https://docs.example/lc <img src=x onerror="window.__xss=1"> javascript:alert(1)'


def test_group_chat_with_members_typing_receipts_replies_and_search(
    browser: Any, server: str, settings: Settings, db: Database, users: Users
) -> None:
    alice, bob, carol = (users.make(n, enterprise="hanbit") for n in ("alice", "bob", "carol"))
    ctxs = [browser.new_context() for _ in range(3)]
    pa, pb, pc = (c.new_page() for c in ctxs)
    for p in (pa, pb, pc):
        p.set_default_timeout(30_000)
    _sign_in(pa, server, "alice", alice.totp_secret)  # type: ignore[arg-type]
    _sign_in(pb, server, "bob", bob.totp_secret)  # type: ignore[arg-type]
    _sign_in(pc, server, "carol", carol.totp_secret)  # type: ignore[arg-type]

    # A named group with Bob; then Carol is added by the owner.
    pa.goto(server + "/messages")
    pa.select_option("#new-conversation select", label="Bob")
    pa.fill("#new-conversation input[name=title]", "Zinc desk")
    pa.click("#new-conversation button[type=submit]")
    pa.wait_for_url("**/messages?conversation=*")
    conversation = pa.url.split("=")[-1]
    pa.wait_for_selector("#chat-title:has-text('Zinc desk')")
    pa.select_option("#add-members select", label="Carol")
    pa.click("#add-members button[type=submit]")
    pa.wait_for_selector(f"#member-list li[data-user='{carol.id}']")
    pc.goto(server + "/messages")  # Carol's page is open elsewhere: it receives, but does not read
    pc.wait_for_selector(f"#conversation-list li[data-id='{conversation}']")

    # Bob opens the group and types: Alice sees it.
    pb.goto(f"{server}/messages?conversation={conversation}")
    pb.wait_for_selector("#chat-title:has-text('Zinc desk')")
    pb.type("#compose textarea", "Checking", delay=40)
    pa.wait_for_selector("#typing:has-text('Bob')")
    pb.fill("#compose textarea", "")

    # Formatting and a link; the markup in the text stays text.
    _send_text(pa, HOSTILE)
    msg = pb.wait_for_selector(".msg:has-text('2,710')")
    assert msg.query_selector("strong").inner_text() == "Offer"
    link = msg.query_selector("a[href='https://docs.example/lc']")
    assert link is not None and link.get_attribute("rel") == "noopener noreferrer"
    assert "<img src=x" in msg.query_selector(".body").inner_text()
    assert msg.query_selector("img") is None
    assert pb.evaluate("window.__xss") is None
    assert pb.locator(".msg a[href^='javascript']").count() == 0
    # Carol's page acknowledged it (delivered to both), Bob's page read it (read by one of two).
    mine = pa.locator(".msg.mine:has-text('2,710') .meta")
    mine.and_(pa.locator("[data-state='delivered']")).wait_for()
    assert "read 1/2" in mine.inner_text()

    # Bob replies to it; Alice sees the quote and jumps to the parent with it.
    msg.hover()
    msg.query_selector("button.reply").click()
    pb.wait_for_selector("#reply-bar:not([hidden]) #reply-preview:has-text('Offer')")
    _send_text(pb, "Agreed, *2,710* it is")
    quote = pa.wait_for_selector(".msg:has-text('Agreed') .reply-quote:has-text('Offer')")
    quote.click()
    pa.wait_for_selector(".msg.highlight:has-text('2,710 https')")

    # Search: a Korean message found from the box, opened at the message.
    _send_text(pa, "부산항 선적 일정을 확인해 주세요")
    pb.wait_for_selector(".msg:has-text('부산항')")
    pb.fill("#message-search input[name=q]", "선적")
    hit = pb.wait_for_selector("#message-hits a")
    assert "Zinc desk" in hit.inner_text()
    assert pb.locator("#message-hits mark:has-text('선적')").count() == 1
    hit.click()
    pb.wait_for_url("**message=*")
    pb.wait_for_selector(".msg.highlight:has-text('부산항')")

    # Carol is removed: her page is told at once and can no longer write.
    pc.goto(f"{server}/messages?conversation={conversation}")
    pc.wait_for_selector(".msg:has-text('부산항')")
    pa.click(f"#member-list li[data-user='{carol.id}'] button.remove")
    pc.wait_for_selector("#connection:has-text('no longer a member')")
    assert pc.is_disabled("#compose textarea")
    pa.wait_for_selector(f"#member-list:not(:has(li[data-user='{carol.id}']))")
    for c in ctxs:
        c.close()
