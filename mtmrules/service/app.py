"""The CDS Hooks HTTP server (FastAPI, optional extra ``mtmrules[serve]``) around :class:`CdsHooksService`."""

from __future__ import annotations

from mtmrules.errors import InputError
from mtmrules.service.cdshooks import SERVICES, CdsHooksService, HookError, discovery

try:  # the HTTP server is an optional extra; the service logic and `mtmrules hook` work without it
    from fastapi import FastAPI, Request
    from fastapi.middleware.cors import CORSMiddleware
    from fastapi.responses import JSONResponse
except ImportError:  # pragma: no cover - depends on the install
    FastAPI = None  # type: ignore[assignment,misc]


def create_app(service: CdsHooksService):
    """The ASGI app (FastAPI)."""
    if FastAPI is None:
        raise InputError("the CDS Hooks server needs the optional extra: pip install -e '.[serve]' (from a checkout)")
    app = FastAPI(title="mtmrules CDS Hooks service", version="2.0")
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "POST", "OPTIONS"], allow_headers=["*"])

    @app.get("/cds-services")
    def services() -> dict:
        return discovery()

    @app.post("/cds-services/{service_id}")
    async def call(service_id: str, request: Request):
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse(HookError(400, "request body is not JSON").outcome, status_code=400)
        try:
            return service.call(service_id, body)
        except HookError as exc:
            return JSONResponse(exc.outcome, status_code=exc.status)

    @app.post("/cds-services/{service_id}/feedback")
    async def feedback(service_id: str, request: Request):
        if service_id not in SERVICES:
            return JSONResponse(HookError(404, f"unknown CDS service {service_id!r}").outcome, status_code=404)
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse(HookError(400, "request body is not JSON").outcome, status_code=400)
        items = body.get("feedback") if isinstance(body, dict) else None
        if not isinstance(items, list):
            return JSONResponse(HookError(400, "expected {\"feedback\": [...]}").outcome, status_code=400)
        recorded = service.store.record_feedback(items) if service.store else 0
        return {"received": len(items), "suppressions": recorded}

    return app
