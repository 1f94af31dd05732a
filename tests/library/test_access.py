"""Nobody sees, counts, previews or downloads a document above their clearance; classified reads are
audited; previews of classified pages carry a watermark; unpublished documents stay with the staff."""

from __future__ import annotations

import re

from sqlalchemy import select

from entrepot.blobs import BlobStore
from entrepot.core.types import Level, Role
from entrepot.db.library import Page
from entrepot.db.tables import AuditRecord
from tests.library.conftest import Library
from tests.parsers import _parser_samples as samples

SECRET_WORD = "Pyongsong-cobalt-contract"


def _setup(lib: Library) -> dict[str, int]:
    ids = {
        "open": lib.upload("open.pdf", samples.make_text_pdf(["Open market report on zinc prices."]))["document_id"],
        "confidential": lib.upload("conf.pdf", samples.make_text_pdf(["Confidential tender terms."]),
                                   level="CONFIDENTIAL")["document_id"],
        "secret": lib.upload(f"{SECRET_WORD}.pdf", samples.make_text_pdf([f"{SECRET_WORD} terms."]),
                             level="SECRET", category="contracts")["document_id"],
        "draft": lib.upload("draft.txt", b"Unpublished draft notes.", publish=False)["document_id"],
    }
    lib.process()
    return ids


def test_lists_and_counts_stop_at_the_clearance(lib: Library) -> None:
    ids = _setup(lib)
    trader = lib.client("open-trader")
    page = trader.get("/library").text
    assert f'id="doc-{ids["open"]}"' in page
    for hidden in ("confidential", "secret", "draft"):
        assert f'id="doc-{ids[hidden]}"' not in page
    assert SECRET_WORD not in page
    assert re.search(r"<h1>Library <small>\(1\)</small>", page)
    contracts = trader.get("/library?category=contracts").text
    assert "(0)" in contracts and SECRET_WORD not in contracts
    cleared = lib.client("conf-trader", clearance=Level.CONFIDENTIAL)
    page = cleared.get("/library").text
    assert f'id="doc-{ids["confidential"]}"' in page and f'id="doc-{ids["secret"]}"' not in page


def test_direct_requests_for_hidden_documents_are_404_everywhere(lib: Library) -> None:
    ids = _setup(lib)
    trader = lib.client("probe-trader", clearance=Level.RESTRICTED)
    for doc in ("confidential", "secret", "draft"):
        base = f"/documents/{ids[doc]}"
        for path in (base, f"{base}/pages/1/image", f"{base}/pages/1/thumb", f"{base}/download",
                     f"{base}/download?searchable=true", f"{base}/diff?a=1&b=1"):
            r = trader.get(path)
            assert r.status_code == 404, (path, r.status_code)
            assert SECRET_WORD not in r.text
    missing = trader.get("/documents/999999")
    assert missing.status_code == 404 and missing.text.count("does not exist") == trader.get(
        f"/documents/{ids['secret']}").text.count("does not exist")
    assert trader.get("/library/board").status_code == 403
    assert trader.get(f"/library/board/status/{ids['secret']}").status_code == 403


def test_classified_reads_are_audited_and_watermarked(lib: Library) -> None:
    ids = _setup(lib)
    reader = lib.client("cleared-reader", clearance=Level.CONFIDENTIAL)
    assert reader.get(f"/documents/{ids['confidential']}").status_code == 200
    image = reader.get(f"/documents/{ids['confidential']}/pages/1/image")
    assert image.status_code == 200 and image.headers["content-type"] == "image/webp"
    assert image.headers["cache-control"] == "no-store"
    with lib.db.read() as s:
        stored = s.execute(select(Page.image).where(Page.number == 1, Page.version_id.in_(
            select(Page.version_id).where(Page.text.contains("Confidential tender"))))).scalar_one()
    assert image.content != BlobStore(lib.settings.blob_dir).read_bytes(stored)  # the watermark changed it
    assert reader.get(f"/documents/{ids['confidential']}/pages/1/thumb").status_code == 404
    assert reader.get(f"/documents/{ids['confidential']}/download").status_code == 200
    assert reader.get(f"/documents/{ids['open']}").status_code == 200
    with lib.db.read() as s:
        rows = s.execute(select(AuditRecord).where(AuditRecord.actor_name == "cleared-reader",
                                                   AuditRecord.action.startswith("document."))
                         .order_by(AuditRecord.seq)).scalars().all()
    assert [(r.action, r.target_id) for r in rows] == [
        ("document.view", str(ids["confidential"])), ("document.preview", str(ids["confidential"])),
        ("document.download", str(ids["confidential"]))]


def test_secret_originals_are_read_online_only(lib: Library) -> None:
    ids = _setup(lib)
    custodian = lib.librarian  # SECRET clearance
    page = custodian.get(f"/documents/{ids['secret']}")
    assert page.status_code == 200 and 'id="download"' not in page.text
    assert custodian.get(f"/documents/{ids['secret']}/download").status_code == 403
    assert custodian.get(f"/documents/{ids['secret']}/pages/1/image").status_code == 200


def test_staff_see_unpublished_within_their_clearance(lib: Library) -> None:
    ids = _setup(lib)
    staff = lib.client("junior-lib", Role.LIBRARIAN, clearance=Level.RESTRICTED, enterprise="centre")
    page = staff.get("/library").text
    assert f'id="doc-{ids["draft"]}"' in page and f'id="doc-{ids["secret"]}"' not in page
    board = staff.get("/library/board").text
    assert SECRET_WORD not in board and "draft.txt" in board
