"""CDS Hooks 2.0: discovery, patient-view / order-select / order-sign services, feedback, suppressions.

``CdsHooksService.call`` is the one code path used by the HTTP server (``mtmrules serve``) and by
``mtmrules hook REQUEST.json`` (offline replay). Prefetch values are read by resource type,
whatever the EHR named the keys. An overridden card with a reason suppresses the same problem for
that patient for a configurable period (SQLite); suppressed problems are listed in later reports.
"""

from __future__ import annotations

import json
import sqlite3
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from mtmrules import fhir
from mtmrules.engine.engine import Engine
from mtmrules.errors import InputError
from mtmrules.profile.models import Profile
from mtmrules.report.models import Problem, Report, Suppressed

try:  # the HTTP server is an optional extra; the service logic and `mtmrules hook` work without it
    from fastapi import FastAPI, Request
    from fastapi.middleware.cors import CORSMiddleware
    from fastapi.responses import JSONResponse
except ImportError:  # pragma: no cover - depends on the install
    FastAPI = None  # type: ignore[assignment,misc]

NAMESPACE = uuid.UUID("0b6f3f4e-6a53-4b0e-8f3f-6e1d2f7a9c21")
INDICATOR = {"contraindicated": "critical", "major": "warning", "moderate": "warning", "minor": "info"}
OVERRIDE_SYSTEM = "https://mtmrules.dev/fhir/CodeSystem/override-reason"
OVERRIDE_REASONS = [
    {"system": OVERRIDE_SYSTEM, "code": "benefit-outweighs-risk", "display": "Benefit outweighs risk"},
    {"system": OVERRIDE_SYSTEM, "code": "already-addressed", "display": "Already addressed / will monitor"},
    {"system": OVERRIDE_SYSTEM, "code": "not-clinically-relevant", "display": "Not clinically relevant for this patient"},
    {"system": OVERRIDE_SYSTEM, "code": "patient-declined", "display": "Patient declined the change"},
]
PREFETCH = {
    "patient": "Patient/{{context.patientId}}",
    "medicationRequests": "MedicationRequest?patient={{context.patientId}}&status=active",
    "medicationStatements": "MedicationStatement?patient={{context.patientId}}&status=active",
    "conditions": "Condition?patient={{context.patientId}}",
    "allergies": "AllergyIntolerance?patient={{context.patientId}}",
    "observations": "Observation?patient={{context.patientId}}&category=laboratory,vital-signs&_sort=-date&_count=200",
}
SERVICES = {
    "mtmrules-patient-view": ("patient-view", "mtmrules medication review",
                              "Ranked medication-related problems for the whole medication list, with suggested interventions."),
    "mtmrules-order-select": ("order-select", "mtmrules order check (select)",
                              "Problems involving the selected draft medication orders, checked against everything the patient takes."),
    "mtmrules-order-sign": ("order-sign", "mtmrules order check (sign)",
                            "Problems involving the draft medication orders being signed, with full dose checks."),
}


class HookError(Exception):
    """A request that cannot be answered: HTTP status + OperationOutcome."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.outcome = {"resourceType": "OperationOutcome",
                        "issue": [{"severity": "error", "code": "processing" if status == 412 else "invalid",
                                   "diagnostics": message}]}


def discovery() -> dict:
    return {"services": [{"hook": hook, "id": sid, "title": title, "description": description, "prefetch": PREFETCH}
                         for sid, (hook, title, description) in SERVICES.items()]}


class SuppressionStore:
    """Overrides with a reason, per patient and problem, until an expiry date (SQLite)."""

    def __init__(self, path: str | Path = ":memory:", days: int = 90) -> None:
        self.path, self.days = str(path), days
        self._memory = sqlite3.connect(":memory:", check_same_thread=False) if self.path == ":memory:" else None
        with self._connect() as db:
            db.execute("CREATE TABLE IF NOT EXISTS cards (card TEXT PRIMARY KEY, patient TEXT, problem TEXT, rule TEXT)")
            db.execute("CREATE TABLE IF NOT EXISTS suppressions (patient TEXT, problem TEXT, rule TEXT, reason TEXT, "
                       "comment TEXT, created TEXT, until TEXT, PRIMARY KEY (patient, problem))")

    def _connect(self) -> sqlite3.Connection:
        return self._memory if self._memory is not None else sqlite3.connect(self.path)

    def remember_cards(self, rows: list[tuple[str, str, str, str]]) -> None:
        with self._connect() as db:
            db.executemany("INSERT OR REPLACE INTO cards VALUES (?, ?, ?, ?)", rows)

    def record_feedback(self, items: list[dict]) -> int:
        """Store overrides that carry a reason; returns how many suppressions were recorded."""
        count = 0
        with self._connect() as db:
            for item in items:
                if item.get("outcome") != "overridden" or not item.get("overrideReason"):
                    continue
                row = db.execute("SELECT patient, problem, rule FROM cards WHERE card = ?", (item.get("card"),)).fetchone()
                if row is None:
                    continue
                stamp = item.get("outcomeTimestamp") or datetime.now(timezone.utc).isoformat()
                created = date.fromisoformat(stamp[:10])
                reason = item["overrideReason"].get("reason") or {}
                db.execute("INSERT OR REPLACE INTO suppressions VALUES (?, ?, ?, ?, ?, ?, ?)",
                           (*row, reason.get("display") or reason.get("code", "overridden"),
                            item["overrideReason"].get("userComment"), created.isoformat(),
                            (created + timedelta(days=self.days)).isoformat()))
                count += 1
        return count

    def active(self, patient: str, as_of: date) -> dict[str, tuple[str, str, str]]:
        """problem id → (rule, reason, until) for suppressions still in force at ``as_of``."""
        with self._connect() as db:
            rows = db.execute("SELECT problem, rule, reason, until FROM suppressions WHERE patient = ? AND until >= ? "
                              "AND created <= ?", (patient, as_of.isoformat(), as_of.isoformat())).fetchall()
        return {problem: (rule, reason, until) for problem, rule, reason, until in rows}


def apply_suppressions(report: Report, store: SuppressionStore | None) -> Report:
    """Move suppressed problems out of ``problems`` into ``suppressed`` (re-ranking the rest)."""
    if store is None:
        return report
    active = store.active(report.patient.id, report.as_of)
    if not active:
        return report
    kept = [p for p in report.problems if p.id not in active]
    for rank, problem in enumerate(kept, 1):
        problem.rank = rank
    report.suppressed += [Suppressed(id=p.id, rule=p.rule, title=p.title, reason=active[p.id][1], until=active[p.id][2])
                          for p in report.problems if p.id in active]
    report.problems = kept
    return report


@dataclass
class CdsHooksService:
    engine: Engine
    store: SuppressionStore | None = None
    as_of: date | None = None       # fixed evaluation date (tests, replays); default: today
    timeout_s: float = 5.0

    def call(self, service_id: str, request: Any) -> dict:
        if service_id not in SERVICES:
            raise HookError(404, f"unknown CDS service {service_id!r}")
        hook = SERVICES[service_id][0]
        if not isinstance(request, dict) or not isinstance(request.get("context"), dict):
            raise HookError(400, "a CDS Hooks request needs hook, hookInstance and context")
        context = request["context"]
        patient_id = context.get("patientId")
        if not patient_id:
            raise HookError(400, "context.patientId is required")
        resources = self._resources(request, patient_id)
        drafts = []
        if hook in ("order-select", "order-sign"):
            drafts = self._draft_orders(context, hook)
        as_of = self.as_of or date.today()
        try:
            profile = next((p for p in fhir.profiles_from_resources([*resources, *drafts]) if p.id == str(patient_id)), None)
        except InputError as exc:
            raise HookError(400, str(exc)) from None
        if profile is None:
            raise HookError(412, f"no data for Patient/{patient_id} in the prefetch")
        draft_refs = {f"MedicationRequest/{d.get('id')}" for d in drafts}
        _activate_drafts(profile, draft_refs)
        report = apply_suppressions(self.engine.check(profile, as_of=as_of), self.store)
        problems = report.problems
        if draft_refs:
            problems = [p for p in problems if draft_refs & set(p.implicated)]
        cards = [self._card(request, report, p, draft_refs) for p in problems]
        if self.store is not None:
            self.store.remember_cards([(c["uuid"], report.patient.id, p.id, p.rule) for c, p in zip(cards, problems)])
        return {"cards": cards}

    # --- input ---------------------------------------------------------------------------------

    def _resources(self, request: dict, patient_id: str) -> list[dict]:
        prefetch = request.get("prefetch") or {}
        resources: list[dict] = []
        for key, value in prefetch.items():
            if value is None:
                continue
            if isinstance(value, dict) and value.get("resourceType") == "Bundle":
                resources.extend(e["resource"] for e in value.get("entry") or [] if isinstance(e, dict) and e.get("resource"))
            elif isinstance(value, dict) and value.get("resourceType") == "OperationOutcome":
                continue
            elif isinstance(value, dict) and "resourceType" in value:
                resources.append(value)
        if any(r.get("resourceType") == "Patient" for r in resources):
            return resources
        fetched = self._fetch(request, patient_id)
        if fetched is None:
            raise HookError(412, "prefetch lacks the Patient and no FHIR server could be reached; send the prefetch "
                                 "templates from GET /cds-services")
        return resources + fetched

    def _fetch(self, request: dict, patient_id: str) -> list[dict] | None:
        server = request.get("fhirServer")
        if not server:
            return None
        token = (request.get("fhirAuthorization") or {}).get("access_token")
        resources = []
        for template in PREFETCH.values():
            url = f"{server.rstrip('/')}/{template.replace('{{context.patientId}}', str(patient_id))}"
            req = urllib.request.Request(url, headers={"Accept": "application/fhir+json",
                                                      **({"Authorization": f"Bearer {token}"} if token else {})})
            try:
                with urllib.request.urlopen(req, timeout=self.timeout_s) as response:  # noqa: S310 - EHR-supplied
                    data = json.loads(response.read())
            except (urllib.error.URLError, OSError, ValueError):
                return None
            if data.get("resourceType") == "Bundle":
                resources.extend(e["resource"] for e in data.get("entry") or [] if e.get("resource"))
            else:
                resources.append(data)
        return resources

    @staticmethod
    def _draft_orders(context: dict, hook: str) -> list[dict]:
        bundle = context.get("draftOrders")
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            raise HookError(400, f"{hook}: context.draftOrders must be a FHIR Bundle")
        drafts = [e["resource"] for e in bundle.get("entry") or []
                  if isinstance(e, dict) and (e.get("resource") or {}).get("resourceType") == "MedicationRequest"]
        if hook == "order-select" and context.get("selections"):
            chosen = {s.split("/")[-1] for s in context["selections"]}
            drafts = [d for d in drafts if str(d.get("id")) in chosen]
        for draft in drafts:
            if "subject" not in draft:
                draft["subject"] = {"reference": f"Patient/{context.get('patientId')}"}
        return drafts

    # --- output --------------------------------------------------------------------------------

    def _card(self, request: dict, report: Report, problem: Problem, draft_refs: set[str]) -> dict:
        card_id = str(uuid.uuid5(NAMESPACE, f"{request.get('hookInstance', '')}:{problem.id}"))
        summary = problem.title if len(problem.title) < 140 else problem.title[:136].rstrip() + "…"
        detail = [f"**{problem.severity.capitalize()} · {problem.kind}** — {problem.explanation}", ""]
        detail += [f"- **{iv.action}** ({iv.to}): {iv.text}" for iv in problem.interventions]
        detail += ["", "References: " + "; ".join(f"[{r.key}]({r.url})" if r.url else r.key for r in problem.references)]
        pack = problem.rule.split("/")[0]
        card: dict = {
            "uuid": card_id, "summary": summary, "indicator": INDICATOR[problem.severity], "detail": "\n".join(detail),
            "source": {"label": f"mtmrules {pack} {report.packs.get(pack, '')}".strip(),
                       "topic": {"system": "https://mtmrules.dev/fhir/CodeSystem/dtp-category",
                                 "code": problem.category, "display": problem.category.replace("-", " ")}},
            "overrideReasons": OVERRIDE_REASONS,
        }
        deletable = [ref for ref in problem.implicated if ref in draft_refs]
        stops = [iv for iv in problem.interventions if iv.action in ("stop", "switch")]
        if deletable and stops:
            card["suggestions"] = [{
                "label": f"Remove the draft order ({stops[0].target or 'medication'})",
                "uuid": str(uuid.uuid5(NAMESPACE, f"{card_id}:delete")), "isRecommended": problem.severity in ("contraindicated", "major"),
                "actions": [{"type": "delete", "description": f"Delete draft {ref}", "resourceId": ref} for ref in deletable],
            }]
            card["selectionBehavior"] = "at-most-one"
        return card


def _activate_drafts(profile: Profile, draft_refs: set[str]) -> None:
    """Draft orders are screened as if taken: that is the point of order-select/sign."""
    for med in profile.medications:
        if med.source and f"{med.source.type}/{med.source.id}" in draft_refs:
            med.status = "active"


def create_app(service: CdsHooksService):
    """The ASGI app (FastAPI)."""
    if FastAPI is None:
        raise InputError("the CDS Hooks server needs the optional extra: pip install 'mtmrules[serve]'")
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
