"""The CDS Hooks HTTP server (FastAPI, optional extra ``mtmrules[serve]``) around :class:`CdsHooksService`.

Each service or feedback call is, in order: authenticated (bearer JWT, :mod:`.auth`), routed (404),
checked for a JSON content type (415) and the body-size cap (413), parsed strictly (400 on duplicate
keys), checked against CDS Hooks 2.0 (400 naming the field), completed from the issuer's allowed FHIR
server if the prefetch lacks the patient (:mod:`.fhirclient`, one deadline), and evaluated on a worker
thread, which also serialises the answer, so the event loop only moves bytes. Every failure is an
OperationOutcome. One log line per request: method, path, status, time, iss and sub; never patient
data or tokens.
"""

from __future__ import annotations

import json
import logging
import os
import time
from datetime import timedelta
from functools import partial

from mtmrules.adapters.cdshooks import load_json
from mtmrules.errors import InputError
from mtmrules.service.auth import Authenticator, AuthError, Caller
from mtmrules.service.cdshooks import SERVICES, CdsHooksService, HookError, discovery, parse_feedback, prefetch_queries
from mtmrules.service.config import ServiceConfig
from mtmrules.service.fhirclient import FhirAccessError, allowed_server, fetch_all

try:  # the HTTP server is an optional extra; the service logic and `mtmrules hook` work without it
    import anyio
    from fastapi import FastAPI, Request
    from fastapi.middleware.cors import CORSMiddleware
    from fastapi.responses import Response
except ImportError:  # pragma: no cover - depends on the install
    FastAPI = None  # type: ignore[assignment,misc]

log = logging.getLogger("mtmrules.service")
INSECURE_CALLER_ISS = "insecure-no-auth"


def dumps(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _json(value: object, status: int = 200, headers: dict | None = None) -> "Response":
    return Response(dumps(value), status_code=status, media_type="application/json", headers=headers)


def _error(exc: HookError) -> "Response":
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if exc.status == 401 else None
    return _json(exc.outcome, exc.status, headers)


def create_app(service: CdsHooksService, config: ServiceConfig | None = None, *, insecure_no_auth: bool = False):
    """The ASGI app. Authentication is on unless ``insecure_no_auth`` (local development only: every
    request is then logged as a warning and served as issuer ``insecure-no-auth``)."""
    if FastAPI is None:
        raise InputError("the CDS Hooks server needs the optional extra: pip install -e '.[serve]' (from a checkout)")
    if config is None and not insecure_no_auth:
        raise InputError("the CDS Hooks server needs a configuration with trusted issuers (--config), "
                         "or --insecure-no-auth for local development")
    config = config or ServiceConfig(audience="http://127.0.0.1")
    authenticator = None if insecure_no_auth else Authenticator(config, service.store)
    all_servers = tuple(s for issuer in config.issuers for s in issuer.fhir_servers)
    workers = anyio.CapacityLimiter(config.workers)
    discovery_body = dumps(discovery())

    app = FastAPI(title="mtmrules CDS Hooks service", version="2.0", docs_url=None, redoc_url=None, openapi_url=None)
    if config.allowed_origins:
        app.add_middleware(CORSMiddleware, allow_origins=config.allowed_origins, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])

    async def authenticate(request: Request) -> Caller:
        if authenticator is None:
            log.warning("insecure-no-auth: %s %s served without authentication", request.method, request.url.path)
            return Caller(iss=INSECURE_CALLER_ISS, sub=None, fhir_servers=all_servers)
        try:
            return await anyio.to_thread.run_sync(authenticator.verify, request.headers.get("authorization"),
                                                  request.url.path)
        except AuthError as exc:
            raise HookError(401, str(exc)) from None

    async def read_json(request: Request) -> object:
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/json" and not (media.startswith("application/") and media.endswith("+json")):
            raise HookError(415, "expected Content-Type: application/json", "Content-Type")
        limit = config.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            raise HookError(413, f"the request body is larger than {limit} bytes", "body")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise HookError(413, f"the request body is larger than {limit} bytes", "body")
            chunks.append(chunk)
        try:
            return load_json(b"".join(chunks))
        except InputError as exc:
            raise HookError.from_input(exc) from None

    async def answer(request: Request, handler) -> "Response":
        start = time.perf_counter()
        caller = None
        try:
            caller = await authenticate(request)
            response = await handler(caller)
        except HookError as exc:
            response = _error(exc)
        except Exception:  # a bug must still answer with an OperationOutcome, and never with a traceback
            log.exception("internal error on %s", request.url.path)
            response = _error(HookError(500, "internal error"))
        log.info("%s %s %d %.1fms iss=%s sub=%s", request.method, request.url.path, response.status_code,
                 (time.perf_counter() - start) * 1000, caller.iss if caller else "-", caller.sub if caller else "-")
        return response

    @app.get("/cds-services")
    async def services() -> Response:
        return Response(discovery_body, media_type="application/json")

    @app.post("/cds-services/{service_id}")
    async def call(service_id: str, request: Request) -> Response:
        async def handle(caller: Caller) -> Response:
            started = time.monotonic()
            if service_id not in SERVICES:
                raise HookError(404, f"unknown CDS service {service_id!r}")
            hook_request = service.prepare(service_id, await read_json(request))
            fetched, missing = [], []
            if service.needs_fetch(hook_request) and hook_request.fhir_server:
                try:
                    base = allowed_server(hook_request.fhir_server, caller.fhir_servers)
                except FhirAccessError as exc:
                    raise HookError(403, str(exc).removeprefix("fhirServer: "), "fhirServer") from None
                remaining = max(0.05, config.deadline_s - (time.monotonic() - started))
                result = await fetch_all(base, prefetch_queries(hook_request.patient_id), hook_request.access_token,
                                         remaining, config.max_pages)
                fetched, missing = result.resources, result.missing
            body = await anyio.to_thread.run_sync(
                lambda: dumps(service.evaluate(hook_request, fetched, missing, caller.iss)), limiter=workers)
            return Response(body, media_type="application/json")
        return await answer(request, handle)

    @app.post("/cds-services/{service_id}/feedback")
    async def feedback(service_id: str, request: Request) -> Response:
        async def handle(caller: Caller) -> Response:
            if service_id not in SERVICES:
                raise HookError(404, f"unknown CDS service {service_id!r}")
            items = parse_feedback(await read_json(request), timedelta(seconds=config.card_memory_s))
            if service.store is None:
                raise HookError(404, "this service keeps no feedback")
            known = await anyio.to_thread.run_sync(service.store.issued, [i["card"] for i in items], caller.iss)
            for i, item in enumerate(items):
                if item["card"] not in known:
                    raise HookError(400, "not a card this service issued to you (or it is too old)",
                                    f"feedback[{i}].card")
            recorded = await anyio.to_thread.run_sync(
                partial(service.store.record_feedback, items, caller.iss, caller.sub))
            return _json({"received": len(items), "suppressions": recorded})
        return await answer(request, handle)

    return app


CONFIG_ENV = "MTMRULES_SERVICE_CONFIG"


def app_from_environment():
    """The app for one of several server processes (``mtmrules serve --workers N``): configuration from
    ``$MTMRULES_SERVICE_CONFIG``, site policy from ``$MTMRULES_SITE``; all processes share the SQLite file."""
    from mtmrules.engine.engine import Engine
    from mtmrules.service.config import load_config
    from mtmrules.service.store import SuppressionStore

    config = load_config(os.environ[CONFIG_ENV])
    site = os.environ.get("MTMRULES_SITE")
    store = SuppressionStore(config.db, days=config.suppress_days, card_memory_s=config.card_memory_s)
    return create_app(CdsHooksService(Engine(executor="fast", site=site or None), store), config)
