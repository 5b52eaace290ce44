"""CDS Hooks 2.0: discovery, patient-view / order-select / order-sign services, feedback, suppressions.

``CdsHooksService.call`` is the one code path used by the HTTP server (``mtmrules serve``) and by
``mtmrules hook REQUEST.json`` (offline replay). Prefetch values are read by resource type,
whatever the EHR named the keys. An overridden card with a reason suppresses the same problem for
that patient for a configurable period (SQLite); suppressed problems are listed in later reports.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from mtmrules.adapters import fhir
from mtmrules.adapters.cdshooks import activate_drafts, draft_orders, prefetch_resources
from mtmrules.engine.engine import Engine
from mtmrules.errors import InputError
from mtmrules.report.models import Problem, Report
from mtmrules.service.store import SuppressionStore, apply_suppressions

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
            try:
                drafts = draft_orders(context, hook)
            except InputError as exc:
                raise HookError(400, str(exc)) from None
        as_of = self.as_of or date.today()
        try:
            profile = next((p for p in fhir.profiles_from_resources([*resources, *drafts]) if p.id == str(patient_id)), None)
        except InputError as exc:
            raise HookError(400, str(exc)) from None
        if profile is None:
            raise HookError(412, f"no data for Patient/{patient_id} in the prefetch")
        draft_refs = {f"MedicationRequest/{d.get('id')}" for d in drafts}
        activate_drafts(profile, draft_refs)
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
        resources = prefetch_resources(request.get("prefetch"))
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


