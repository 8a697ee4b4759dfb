"""The FastAPI app: routes, settings, middleware and the session manager, wired together."""

from __future__ import annotations

import logging
import sys
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.trustedhost import TrustedHostMiddleware

from .assets import asset_dirs
from .client import serve
from .lessons import lessons_script_json
from .protocol import PROTOCOL_VERSION
from .security import SecurityHeaders, trusted_hosts
from .sessions import SessionManager
from .settings import Settings
from .sqlite_store import open_store


def create_app(settings: Settings | None = None, trainer_factory=None, store=None) -> FastAPI:
    """The app; `trainer_factory` (default engine.trainer.Trainer) makes a session's trainer.
    Sessions are kept in `store`, else in the store the settings choose (store.py): Redis
    with `redis_url`, else a SQLite file in the state directory, else nowhere."""
    settings = settings or Settings()
    static_dir, templates_dir = asset_dirs()
    templates = Jinja2Templates(directory=str(templates_dir))
    sessions = SessionManager(settings, trainer_factory)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if settings.redis_url:
            from .cluster import Cluster  # the only module that imports redis

            sessions.cluster = sessions.rooms.cluster = sessions.store = Cluster(
                settings.redis_url, settings, sessions
            )
        else:
            sessions.store = store if store is not None else open_store(settings)
        if sessions.store is not None:
            await sessions.store.start(sessions)
            await sessions.restore()
        sessions.start()
        yield
        await sessions.shutdown()

    app = FastAPI(
        title="Backprop Lab", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.settings = settings
    app.state.sessions = sessions
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=trusted_hosts(settings))
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=str(static_dir)), name="static")

    @app.get("/", response_class=HTMLResponse)
    async def index(request: Request):
        return templates.TemplateResponse(
            request,
            "index.html",
            {
                "protocol_version": PROTOCOL_VERSION,
                "limits": settings.limits(),
                "lessons_json": lessons_script_json(),
            },
        )

    @app.get("/healthz")
    async def healthz():
        store = sessions.store
        health = {
            "status": "ok",
            "protocol": PROTOCOL_VERSION,
            "sessions": len(sessions.sessions),
            "store": "none" if store is None else store.name if store.up else f"{store.name} down",
        }
        if sessions.cluster is not None:
            health.update(worker=sessions.cluster.id, redis="up" if sessions.cluster.up else "down")
        return health

    @app.websocket("/ws")
    async def websocket(ws: WebSocket):
        await serve(ws, sessions, settings)

    return app


def app_from_environment() -> FastAPI:
    """The app of one worker process (`--workers N`): its settings come from the
    BACKPROP_LAB_* variables the supervisor set (workers.py)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = Settings()
    sys.setswitchinterval(settings.gil_switch_interval_s)
    return create_app(settings)
