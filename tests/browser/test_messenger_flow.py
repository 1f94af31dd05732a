"""In Chromium: two traders of one enterprise exchange text, a picture, a file, a voice note from the
fake microphone and a price quote; they see read receipts; a kill -9 of the server loses nothing that
was acknowledged; a trader of another enterprise can neither find nor message them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from PIL import Image
from sqlalchemy import select

from entrepot.core.config import Settings
from entrepot.db import Database
from entrepot.db.messaging import Message
from tests.browser.conftest import _free_port
from tests.conftest import PASSWORD, Users, next_code


class Server:
    def __init__(self, settings: Settings) -> None:
        self.settings, self.port = settings, _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "ENTREPOT_DATABASE_URL": self.settings.db_url,
               "ENTREPOT_DATA_DIR": str(self.settings.data_dir)}
        self.proc = subprocess.Popen([sys.executable, "-m", "entrepot", "serve", "--port", str(self.port)], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        for _ in range(300):
            try:
                if httpx.get(self.url + "/api/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def kill(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)


def _sign_in(page: Any, url: str, username: str, secret: str, last: int | None = None) -> None:
    page.goto(url + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit].primary")
    page.fill("input[name=code]", next_code(secret, last))
    page.click("button[type=submit].primary")
    page.wait_for_url(url + "/")


def _send_text(page: Any, text: str) -> None:
    page.fill("#compose textarea", text)
    page.click("#compose button[type=submit]")


def test_two_traders_chat_through_a_restart(browser: Any, settings: Settings, db: Database, users: Users,
                                            tmp_path: Path) -> None:
    alice = users.make("alice", enterprise="hanbit")
    bob = users.make("bob", enterprise="hanbit")
    carol = users.make("carol", enterprise="daedong")
    server = Server(settings)
    server.start()
    try:
        ca, cb = browser.new_context(), browser.new_context()
        pa, pb = ca.new_page(), cb.new_page()
        for p in (pa, pb):
            p.set_default_timeout(30_000)
        _sign_in(pa, server.url, "alice", alice.totp_secret)  # type: ignore[arg-type]
        _sign_in(pb, server.url, "bob", bob.totp_secret)  # type: ignore[arg-type]
        pa.goto(server.url + "/messages")
        assert "archived and subject to compliance review" in pa.inner_text("#archive-notice")
        pa.select_option("#new-conversation select", label="Bob")
        pa.click("#new-conversation button[type=submit]")
        pa.wait_for_url("**/messages?conversation=*")
        conversation = pa.url.split("=")[-1]
        pb.goto(f"{server.url}/messages?conversation={conversation}")

        _send_text(pa, "Zinc at 2,710 CIF Nampo?")
        pb.wait_for_selector(".msg:has-text('Zinc at 2,710 CIF Nampo?')")
        pa.wait_for_selector(".msg.mine .meta:has-text('read')")  # Bob's page marked it read

        picture, document = tmp_path / "crate.png", tmp_path / "specs.txt"
        Image.new("RGB", (640, 480), (20, 120, 200)).save(picture)
        document.write_text("Packing specification: 25 kg bags.")
        pa.set_input_files("#attach-input", [str(picture), str(document)])
        pb.wait_for_selector(".msg .attachment img")
        pb.wait_for_selector(".msg .attachment a:has-text('specs.txt')")

        pa.click("#record")
        time.sleep(2.0)
        pa.click("#record")
        pb.wait_for_selector(".msg .attachment audio")
        duration = float(pb.inner_text(".msg .attachment .duration").split()[0])
        assert 1.0 <= duration <= 4.0

        pa.click("#quote-box summary")
        for name, value in (("product", "Zinc ingot"), ("quantity", "25"), ("price", "2710"), ("place", "Nampo")):
            pa.fill(f"#quote-form [name={name}]", value)
        pa.click("#quote-form button[type=submit]")
        pb.wait_for_selector(".quote-card .price:has-text('2,710 USD / t')")

        # The server dies hard; the acknowledged messages are all there when it comes back.
        server.kill()
        _send_text(pb, "Sent while the server was down")
        pb.wait_for_selector("#connection:has-text('Offline')")
        server.start()
        pa.wait_for_selector(".msg:has-text('Sent while the server was down')", timeout=40_000)
        with db.read() as s:
            bodies = [m.body for m in s.execute(select(Message).order_by(Message.id)).scalars()]
        assert bodies.count("Zinc at 2,710 CIF Nampo?") == 1 and bodies.count("Sent while the server was down") == 1
        assert len(bodies) == 6

        # Another enterprise: Alice and Bob are not in Carol's list, and she cannot reach them.
        cc = browser.new_context()
        pc = cc.new_page()
        _sign_in(pc, server.url, "carol", carol.totp_secret)  # type: ignore[arg-type]
        pc.goto(server.url + "/messages")
        options = pc.locator("#new-conversation select option").all_inner_texts()
        assert "Alice" not in options and "Bob" not in options
        status = pc.evaluate("""async (id) => {
            const csrf = JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRF-Token'];
            const r = await fetch('/api/v1/conversations', {method: 'POST', headers: {'Content-Type': 'application/json',
                'X-CSRF-Token': csrf}, body: JSON.stringify({user_ids: [id]})});
            return r.status; }""", alice.id)
        assert status == 403
        for ctx in (ca, cb, cc):
            ctx.close()
    finally:
        server.kill()
