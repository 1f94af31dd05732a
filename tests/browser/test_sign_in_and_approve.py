"""In Chromium: an approver enrols the entry card at first sign-in, signs in with a TOTP code and
approves a pending account; a second approver of the other authority completes it."""

from __future__ import annotations

from typing import Any

import pyotp
from sqlalchemy import select

from entrepot.core.types import Role
from entrepot.db import Database
from entrepot.db.tables import User
from tests.conftest import PASSWORD, Users, next_code


def _sign_in(page: Any, server: str, username: str) -> None:
    page.goto(server + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit].primary")


def test_totp_sign_in_and_dual_approval(browser: Any, server: str, db: Database, users: Users) -> None:
    users.make("trade-lee", Role.TRADE_APPROVER, totp=False)
    security = users.make("sec-park", Role.SECURITY_APPROVER)
    users.make("applicant-song", enterprise="daedong", active=False, totp=False)

    # Trade approver: first sign-in enrols the entry card from the page, then approves.
    ctx = browser.new_context(locale="en-US")
    page = ctx.new_page()
    _sign_in(page, server, "trade-lee")
    page.wait_for_selector("#totp-secret")
    assert page.locator(".qr svg").count() == 1
    secret = page.inner_text("#totp-secret")
    page.fill("input[name=code]", pyotp.TOTP(secret).now())
    page.click("button[type=submit].primary")
    page.wait_for_selector("#recovery-codes")
    assert page.locator("#recovery-codes li").count() == 10
    page.click("a.button.primary")
    page.goto(server + "/approvals")
    card = page.locator("article.request", has_text="applicant-song")
    card.locator("button[value=approve]").click()
    page.wait_for_load_state()
    assert "trade-lee" in page.locator("article.request", has_text="applicant-song").inner_text()
    ctx.close()

    with db.read() as s:
        assert s.execute(select(User.status).where(User.username == "applicant-song")).scalar_one() == "pending"

    # Security approver signs in with a code and completes the approval, in Korean.
    ctx = browser.new_context(locale="ko-KR")
    page = ctx.new_page()
    _sign_in(page, server, "sec-park")
    page.wait_for_selector("input[name=code]")
    assert page.get_attribute("html", "lang") == "ko"
    page.fill("input[name=code]", next_code(security.totp_secret, None))  # type: ignore[arg-type]
    page.click("button[type=submit].primary")
    page.wait_for_url(server + "/")
    page.goto(server + "/approvals")
    page.locator("article.request", has_text="applicant-song").locator("button[value=approve]").click()
    page.wait_for_selector("#no-requests")
    ctx.close()

    with db.read() as s:
        assert s.execute(select(User.status).where(User.username == "applicant-song")).scalar_one() == "active"

    # The applicant can now sign in and is asked to enrol an entry card.
    ctx = browser.new_context()
    page = ctx.new_page()
    _sign_in(page, server, "applicant-song")
    page.wait_for_selector("#totp-secret")
    ctx.close()
