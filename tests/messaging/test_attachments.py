"""Pictures, files and voice notes in conversations: type from content, thumbnails, durations,
members-only downloads, and clear refusals for hostile or oversized files."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import csrf_of
from tests.messaging.test_messenger import People, _conversation, people  # noqa: F401 - fixture
from tests.parsers import _parser_samples as samples


def _post(client, conv: int, name: str, data: bytes, client_id: str, voice: bool = False):  # type: ignore[no-untyped-def]
    return client.post(f"/api/v1/conversations/{conv}/attachments", files={"file": (name, data)},
                       data={"client_id": client_id, "voice": "true" if voice else "false"},
                       headers={"x-csrf-token": csrf_of(client), "accept": "application/json"})


def _png(w: int = 800, h: int = 600) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (w, h), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def test_picture_file_and_members_only_download(people: People) -> None:
    a, b, c = people.client("alice"), people.client("bob"), people.client("carol", "daedong")
    conv = _conversation(a, people.ids["bob"])
    pic = _post(a, conv, "product.jpg", _png(), "p1")  # named .jpg, really a PNG: the bytes decide
    assert pic.status_code == 201, pic.text
    body = pic.json()
    assert body["kind"] == "image" and body["attachment"]["type"] == "image/png" and body["attachment"]["thumb"]
    thumb = b.get(f"/messages/attachments/{body['id']}", params={"thumb": "true"})
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/webp"
    assert Image.open(io.BytesIO(thumb.content)).width <= 480
    doc = _post(a, conv, "../../etc/specs.pdf", samples.make_text_pdf(["Specification"]), "f1")
    assert doc.json()["kind"] == "file" and doc.json()["attachment"]["name"] == "specs.pdf"
    download = b.get(f"/messages/attachments/{doc.json()['id']}")
    assert download.status_code == 200 and download.headers["content-disposition"].startswith("attachment")
    assert c.get(f"/messages/attachments/{doc.json()['id']}").status_code == 404


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_voice_notes_get_their_duration(people: People, tmp_path: Path) -> None:
    a, _b = people.client("alice"), people.client("bob")
    conv = _conversation(a, people.ids["bob"])
    webm = tmp_path / "note.webm"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=2.5", "-c:a", "libopus",
                    str(webm)], check=True, timeout=60)
    r = _post(a, conv, "note.webm", webm.read_bytes(), "v1", voice=True)
    assert r.status_code == 201, r.text
    assert r.json()["kind"] == "voice" and 2.3 <= r.json()["duration_s"] <= 2.7
    fake = _post(a, conv, "note.webm", b"this is not audio at all", "v2", voice=True)
    assert fake.status_code == 400 and "audio recording" in fake.json()["error"]["message"]


def test_hostile_attachments_are_refused(people: People) -> None:
    a, _b = people.client("alice"), people.client("bob")
    conv = _conversation(a, people.ids["bob"])
    bomb = _post(a, conv, "bomb.png", samples.png_header_only(40000, 40000), "b1")
    assert bomb.status_code == 400 and "too large" in bomb.json()["error"]["message"]
    empty = _post(a, conv, "empty.txt", b"", "e1")
    assert empty.status_code == 400
    big = _post(a, conv, "big.bin", b"x" * (26 * 1024 * 1024), "g1")
    assert big.status_code == 413
