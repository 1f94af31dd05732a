"""In Chromium: a trader's message matches a lexicon rule and reaches the reviewer's open queue within
seconds, with its reason; the reviewer escalates and clears it. The trader edits and deletes a message
and the reviewer still reads both originals in the archive. An export is written by the worker while
its page shows the progress, and downloads as valid EML. Editing an archive row makes
`entrepot audit verify` fail."""

from __future__ import annotations

import email
import hashlib
import io
import json
import os
import subprocess
import sys
import time
import zipfile
from email import policy as email_policy
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from entrepot.core.config import Settings
from entrepot.core.types import Role
from entrepot.db import Database
from entrepot.db.messaging import Message
from entrepot.db.tables import ArchiveRecord
from tests.browser.test_messenger_flow import _send_text, _sign_in
from tests.conftest import Users

RULE = {"name": "Bribery", "pattern": "bribe", "description": "Possible bribery of an official"}


def _verify(settings: Settings) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ENTREPOT_DATABASE_URL": settings.db_url, "ENTREPOT_DATA_DIR": str(settings.data_dir)}
    return subprocess.run([sys.executable, "-m", "entrepot", "audit", "verify"], env=env, capture_output=True,
                          text=True, timeout=120)


def _wait_for(check: Any, timeout: float = 20.0) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def test_flag_review_archive_export_and_tamper(browser: Any, server: str, worker: None, settings: Settings,
                                               db: Database, users: Users, tmp_path: Path) -> None:
    alice = users.make("alice", enterprise="hanbit")
    users.make("bob", enterprise="hanbit")
    rev = users.make("rev", Role.REVIEWER)
    cr, ca = browser.new_context(accept_downloads=True), browser.new_context()
    pr, pa = cr.new_page(), ca.new_page()
    for p in (pr, pa):
        p.set_default_timeout(30_000)
    _sign_in(pr, server, "rev", rev.totp_secret)  # type: ignore[arg-type]
    _sign_in(pa, server, "alice", alice.totp_secret)  # type: ignore[arg-type]

    # The reviewer writes a rule, then watches the open queue.
    pr.goto(server + "/review/rules")
    for field in ("name", "pattern", "description"):
        pr.fill(f"#rule-form [name={field}]", RULE[field])
    pr.click("#rule-form button[type=submit]")
    pr.wait_for_selector(f"#rules td:has-text('{RULE['name']}')")
    pr.goto(server + "/review")

    pa.goto(server + "/messages")
    pa.select_option("#new-conversation select", label="Bob")
    pa.click("#new-conversation button[type=submit]")
    pa.wait_for_url("**/messages?conversation=*")
    conversation = int(pa.url.split("=")[-1])
    sent_at = time.monotonic()
    _send_text(pa, "No bribe needed for the permit")
    row = pr.wait_for_selector("#flag-rows tr:has-text('Bribery')", timeout=15_000)  # no reload: the queue polls
    seen_after = time.monotonic() - sent_at
    assert seen_after < 10, f"the flag took {seen_after:.1f} s to appear"
    assert row is not None and "bribe" in row.inner_text() and RULE["description"] in row.inner_text()

    # Escalate, then clear with a reason.
    pr.click("#flag-rows tr:has-text('Bribery') a")
    pr.wait_for_selector("#matched:has-text('bribe')")
    pr.click("#flag-actions button[value=escalate]")
    pr.wait_for_selector("h1 .tag:has-text('escalated')")
    pr.fill("#flag-actions [name=note]", "Colleagues joking; no payment involved")
    pr.click("#flag-actions button[value=clear]")
    pr.wait_for_selector("h1 .tag:has-text('cleared')")
    assert "Colleagues joking" in pr.inner_text("main")

    # The trader edits a message, then deletes it.
    _send_text(pa, "Offer 2,700 CIF Nampo")
    pa.wait_for_selector(".msg.mine:has-text('Offer 2,700 CIF Nampo') button[title=Edit]")
    pa.once("dialog", lambda d: d.accept("Offer 2,750 CIF Nampo"))
    pa.click(".msg.mine:has-text('Offer 2,700 CIF Nampo') button[title=Edit]")
    pa.wait_for_selector(".msg.mine:has-text('Offer 2,750 CIF Nampo')")
    pa.once("dialog", lambda d: d.accept())
    pa.click(".msg.mine:has-text('Offer 2,750 CIF Nampo') button[title=Delete]")

    def deleted() -> bool:
        with db.read() as s:
            when = s.execute(select(Message.deleted_at).where(Message.body == "Offer 2,750 CIF Nampo")).scalar()
            return when is not None
    _wait_for(deleted)
    pa.wait_for_selector(".msg.mine:has-text('Offer 2,750 CIF Nampo')", state="detached")

    # The reviewer still reads both originals.
    pr.goto(f"{server}/review/conversations/{conversation}")
    archive = pr.inner_text("#archive")
    assert "Offer 2,700 CIF Nampo" in archive and "Offer 2,750 CIF Nampo" in archive and "deleted" in archive
    assert "No bribe needed for the permit" in archive

    # The export: written by the worker, its progress on the page, then a valid EML download.
    pr.click("#export-button")
    pr.wait_for_url("**/review/exports/*")
    assert pr.locator("#export-progress").count() == 1
    pr.wait_for_selector("#export-download", timeout=60_000)
    with pr.expect_download() as info:
        pr.click("#export-download")
    path = tmp_path / "export.zip"
    info.value.save_as(path)
    z = zipfile.ZipFile(path)
    manifest = json.loads(z.read("manifest.json"))
    for name, digest in manifest["sha256"].items():
        assert hashlib.sha256(z.read(name)).hexdigest() == digest
    texts = {}
    for name in z.namelist():
        if name.endswith(".eml"):
            msg = email.message_from_bytes(z.read(name), policy=email_policy.default)
            assert msg["From"].addresses[0].username == "alice" and msg["X-Entrepot-Record-Hash"]
            texts[name] = msg.get_content()
    assert any("Offer 2,700 CIF Nampo" == t.strip() for t in texts.values())
    assert any("Before: Offer 2,700 CIF Nampo" in t and "After: Offer 2,750 CIF Nampo" in t for t in texts.values())
    records = [json.loads(line) for line in io.BytesIO(z.read("records.jsonl")).read().decode().splitlines()]
    assert [r["action"] for r in records][-1] == "message.delete"

    # Intact, then an archive row is edited in the database: the command line finds it.
    ok = _verify(settings)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert f"chain conversation:{conversation}: intact" in ok.stdout
    with db.write() as s:
        victim = s.execute(select(ArchiveRecord).where(ArchiveRecord.chain == f"conversation:{conversation}",
                                                       ArchiveRecord.action == "message.text")
                           .order_by(ArchiveRecord.seq)).scalars().first()
        assert victim is not None
        s.execute(update(ArchiveRecord).where(ArchiveRecord.id == victim.id)
                  .values(details={**victim.details, "body": "Nothing to see here"}))
    bad = _verify(settings)
    assert bad.returncode == 1
    assert f"chain conversation:{conversation}: BROKEN at record {victim.seq}" in bad.stderr
    for ctx in (cr, ca):
        ctx.close()
