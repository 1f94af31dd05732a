"""The library through the JSON API, with API tokens: same policy as the pages."""

from __future__ import annotations

from fastapi.testclient import TestClient

from entrepot.core.types import Level
from tests.conftest import csrf_of
from tests.library.conftest import Library


def _token(client: TestClient) -> dict[str, str]:
    secret = client.post("/api/v1/tokens", json={"name": "script"}, headers={"x-csrf-token": csrf_of(client)}).json()
    return {"authorization": f"Bearer {secret['token']}"}


def test_upload_describe_publish_and_read_through_the_api(lib: Library) -> None:
    api = TestClient(lib.app, client=("127.0.0.1", 5000))
    staff = _token(lib.librarian)
    r = api.post("/api/v1/documents", files={"file": ("rates.txt", b"Freight rates Nampo-Dalian: USD 38 per tonne")},
                 data={"category": "price_reports", "level": "RESTRICTED"}, headers=staff)
    assert r.status_code == 201 and r.json()["created"] is True
    doc = r.json()["document_id"]
    lib.process()
    r = api.patch(f"/api/v1/documents/{doc}", json={"tags": ["freight"], "countries": ["kp", "CN"], "hs_codes": ["8901.90"],
                                                    "published": True}, headers=staff)
    assert r.status_code == 200 and r.json()["countries"] == ["CN", "KP"] and r.json()["hs_codes"] == ["890190"]
    bad = api.patch(f"/api/v1/documents/{doc}", json={"hs_codes": ["12"]}, headers=staff)
    assert bad.status_code == 400 and "not a valid code" in bad.json()["error"]["message"]
    low = _token(lib.client("api-open"))
    assert api.get("/api/v1/documents", headers=low).json()["total"] == 0
    assert api.get(f"/api/v1/documents/{doc}", headers=low).status_code == 404
    cleared = _token(lib.client("api-restricted", clearance=Level.RESTRICTED))
    body = api.get(f"/api/v1/documents/{doc}", headers=cleared).json()
    assert body["level"] == "RESTRICTED" and "USD 38" in body["pages"][0]["text"]
    assert api.post("/api/v1/documents", files={"file": ("x.txt", b"x")}, headers=cleared).status_code == 403
