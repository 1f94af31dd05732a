"""The application factory. No import-time state: the CLI and the tests both call `create_app`."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from entrepot import __version__
from entrepot.actions import screening
from entrepot.core.config import Settings
from entrepot.db import Database
from entrepot.jobs import open_database
from entrepot.realtime.bus import make_bus
from entrepot.web import errors, i18n, openapi
from entrepot.web.collector import Collector
from entrepot.web.middleware import SecurityMiddleware
from entrepot.web.render import make_environment
from entrepot.web.routes import (
    account_pages,
    admin_pages,
    alerts_feeds,
    api,
    auth_pages,
    library_api,
    library_manage,
    library_pages,
    messenger,
    prices,
    retention_pages,
    review,
    search_pages,
)
from entrepot.web.routes import exports as export_pages

STATIC_DIR = Path(__file__).parent / "static"


def _warm(config: screening.Screening, collector: Collector | None) -> None:
    """Load what screening needs; then a server process takes the collector in hand (see
    web.collector). Not in tests, which make many apps in one process."""
    screening.warm(config)
    if collector is not None:
        collector.start()


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    await app.state.bus.start()
    collector = Collector() if getattr(app.state, "serving", False) else None
    # The analysers and the trade vocabulary take seconds to load: not on the first message's time.
    threading.Thread(target=_warm, args=(app.state.db.after_commit_context["screening"], collector),
                     name="screening-warm", daemon=True).start()
    try:
        yield
    finally:
        await asyncio.to_thread(messenger.close_writer, app)
        await app.state.bus.stop()
        if collector is not None:
            collector.stop()


def create_app(settings: Settings, db: Database | None = None) -> FastAPI:
    app = FastAPI(title="Entrepot", version=__version__, docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=_lifespan)
    app.state.settings = settings
    app.state.db = db or open_database(settings)
    app.state.bus = make_bus(settings.redis_url)
    app.state.db.after_commit_context["bus"] = app.state.bus
    app.state.db.after_commit_context["screening"] = screening.Screening.from_settings(settings)
    app.state.catalogs = i18n.load_catalogs()
    app.state.templates = make_environment()
    for router in (auth_pages.router, account_pages.router, admin_pages.router, library_pages.router,
                   library_manage.router, search_pages.router, alerts_feeds.router, messenger.router, messenger.api,
                   prices.router, prices.api, review.router, api.router, library_api.router, search_pages.api,
                   api.docs_router, retention_pages.router, export_pages.router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    errors.install(app)
    openapi.install(app)
    uploads = dict.fromkeys((*library_manage.UPLOAD_PATHS, "/api/v1/documents"), settings.max_upload_bytes + (1 << 20))
    uploads["/api/v1/conversations/"] = settings.max_attachment_bytes + (1 << 20)
    app.add_middleware(SecurityMiddleware, settings=settings, body_limits=uploads)
    return app
