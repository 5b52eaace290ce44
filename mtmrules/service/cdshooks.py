"""CDS Hooks 2.0: discovery, patient-view / order-select / order-sign services, feedback, suppressions.

``CdsHooksService.prepare`` (check the request) and ``evaluate`` (cards) are the one code path used by
the HTTP server (``mtmrules serve``, which adds authentication and FHIR server reads) and by
``mtmrules hook REQUEST.json`` (offline replay of the prefetch, ``call``). Card uuids are keyed (unpredictable) and
remembered per hookInstance and caller; feedback is accepted only for those. An overridden card with a
reason suppresses the same problem for that patient for a configurable period (SQLite); suppressed
problems are listed in later reports.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from mtmrules.adapters import fhir
from mtmrules.adapters.cdshooks import HookRequest, activate_drafts, parse_request
from mtmrules.engine.engine import Engine
from mtmrules.errors import InputError
from mtmrules.report.models import Problem, Report
from mtmrules.service.store import SuppressionStore, apply_suppressions

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
    """A request that cannot be answered: HTTP status + OperationOutcome (naming the field when known)."""

    def __init__(self, status: int, message: str, where: str | None = None) -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.status = status
        code = {401: "security", 403: "forbidden", 404: "not-found", 412: "processing", 413: "too-costly",
                415: "not-supported"}.get(status, "invalid")
        issue: dict = {"severity": "error", "code": code, "diagnostics": str(self)}
        if where:
            issue["expression"] = [where]
        self.outcome = {"resourceType": "OperationOutcome", "issue": [issue]}

    @classmethod
    def from_input(cls, exc: InputError) -> "HookError":
        return cls(400, exc.reason, exc.where)


def discovery() -> dict:
    """The discovery document (GET /cds-services)."""
    return {"services": [{"hook": hook, "id": sid, "title": title, "description": description, "prefetch": PREFETCH}
                         for sid, (hook, title, description) in SERVICES.items()]}


def prefetch_queries(patient_id: str) -> list[str]:
    """The prefetch templates filled in for one patient (what is read from a FHIR server)."""
    return [template.replace("{{context.patientId}}", patient_id) for template in PREFETCH.values()]


@dataclass
class CdsHooksService:
    """Requests in, cards out; the HTTP server (:mod:`.app`) adds authentication and FHIR reads around it."""

    engine: Engine
    store: SuppressionStore | None = None
    as_of: date | None = None       # fixed evaluation date (tests, replays); default: today
    #: secret that card and suggestion uuids are derived from: random per service, so outsiders cannot
    #: predict them; ``mtmrules hook`` (offline, no feedback) passes a fixed key for reproducible output
    card_key: bytes = field(default_factory=lambda: os.urandom(32), repr=False)

    def _uuid(self, *parts: str) -> str:
        """An unpredictable (keyed) but repeatable uuid for a card or suggestion."""
        digest = hmac.new(self.card_key, "\x1f".join(parts).encode(), hashlib.sha256).digest()
        return str(uuid.UUID(bytes=digest[:16], version=4))

    def call(self, service_id: str, body: Any) -> dict:
        """Answer a request from its prefetch alone (``mtmrules hook``: offline, no FHIR server is read)."""
        request = self.prepare(service_id, body)
        return self.evaluate(request, [], [])

    def prepare(self, service_id: str, body: Any) -> HookRequest:
        """Check a request for ``service_id``; HookError 404/400 naming the field."""
        if service_id not in SERVICES:
            raise HookError(404, f"unknown CDS service {service_id!r}")
        try:
            return parse_request(SERVICES[service_id][0], body)
        except InputError as exc:
            raise HookError.from_input(exc) from None

    def needs_fetch(self, request: HookRequest) -> bool:
        """The prefetch lacks the patient, so the record must be read from the FHIR server."""
        return not any(r["resourceType"] == "Patient" and r.get("id") == request.patient_id for r in request.resources)

    def evaluate(self, request: HookRequest, fetched: list[dict], missing: list[str], iss: str | None = None) -> dict:
        """Cards for a checked request. ``missing`` lists FHIR reads that did not complete: the answer then
        starts with a card saying screening was incomplete (or is only that card without the patient)."""
        resources = [*request.resources, *fetched, *request.drafts]
        try:
            profiles = fhir.profiles_from_resources(resources) if resources else []
        except InputError as exc:
            raise HookError(400, exc.reason, exc.where or "prefetch") from None
        except (TypeError, AttributeError, KeyError, ValueError, IndexError) as exc:
            raise HookError(400, f"a resource has an unexpected shape ({type(exc).__name__}: {exc})", "prefetch") from None
        profile = next((p for p in profiles if p.id == request.patient_id), None)
        if profile is None:
            if missing:
                return {"cards": [self._incomplete_card(request.hook_instance, missing, screened=False)]}
            raise HookError(412, f"no data for Patient/{request.patient_id}: send the prefetch templates from "
                                 "GET /cds-services, or a fhirServer this service may read", "prefetch")
        draft_refs = {f"MedicationRequest/{d['id']}" for d in request.drafts}
        activate_drafts(profile, draft_refs)
        as_of = self.as_of or date.today()
        report = apply_suppressions(self.engine.check(profile, as_of=as_of), self.store)
        problems = report.problems
        if request.hook in ("order-select", "order-sign"):
            problems = [p for p in problems if draft_refs & set(p.implicated)]
        cards = [self._card(request.hook_instance, report, p, draft_refs - request.generated_ids) for p in problems]
        if self.store is not None and cards:
            self.store.remember_cards(request.hook_instance, iss,
                                      [(c["uuid"], report.patient.id, p.id, p.rule) for c, p in zip(cards, problems)])
        if missing:
            cards.insert(0, self._incomplete_card(request.hook_instance, missing, screened=True))
        return {"cards": cards}

    # --- output --------------------------------------------------------------------------------

    def _card(self, hook_instance: str, report: Report, problem: Problem, deletable_refs: set[str]) -> dict:
        # card uuids are keyed (unpredictable without card_key) and remembered server-side: feedback must
        # name a card we issued
        card_id = self._uuid("card", hook_instance, problem.id)
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
        deletable = [ref for ref in problem.implicated if ref in deletable_refs]
        stops = [iv for iv in problem.interventions if iv.action in ("stop", "switch")]
        if deletable and stops:
            card["suggestions"] = [{
                "label": f"Remove the draft order ({stops[0].target or 'medication'})",
                "uuid": self._uuid("suggestion", card_id), "isRecommended": problem.severity in ("contraindicated", "major"),
                "actions": [{"type": "delete", "description": f"Delete draft {ref}", "resourceId": ref} for ref in deletable],
            }]
            card["selectionBehavior"] = "at-most-one"
        return card

    def _incomplete_card(self, hook_instance: str, missing: list[str], screened: bool) -> dict:
        what = ("Screening used only the data that arrived in time; problems involving the rest may be missing."
                if screened else "Nothing was screened: the patient's record could not be read in time.")
        return {"uuid": self._uuid("incomplete", hook_instance), "indicator": "warning",
                "summary": "Medication screening incomplete: the FHIR server did not return all data",
                "detail": what + "\n\nNot read:\n" + "\n".join(f"- {m}" for m in missing),
                "source": {"label": "mtmrules"}}


FEEDBACK_OUTCOMES = ("accepted", "overridden")
OVERRIDE_CODES = {(r["system"], r["code"]) for r in OVERRIDE_REASONS}
MAX_COMMENT = 2000


def parse_feedback(body: Any, max_age: timedelta, skew: timedelta = timedelta(minutes=5)) -> list[dict]:
    """Check a feedback body (CDS Hooks 2.0): ``{"feedback": [{card, outcome, outcomeTimestamp,
    acceptedSuggestions | overrideReason}]}``; HookError 400 naming the field on the first problem."""
    if not isinstance(body, dict) or not isinstance(body.get("feedback"), list) or not body["feedback"]:
        raise HookError(400, "expected a non-empty list", "feedback")
    now = datetime.now(timezone.utc)
    items = []
    for i, item in enumerate(body["feedback"]):
        where = f"feedback[{i}]"
        if not isinstance(item, dict):
            raise HookError(400, "expected an object", where)
        unknown = set(item) - {"card", "outcome", "outcomeTimestamp", "acceptedSuggestions", "overrideReason", "extension"}
        if unknown:
            raise HookError(400, "unknown field", f"{where}.{sorted(unknown)[0]}")
        if not isinstance(item.get("card"), str):
            raise HookError(400, "required: the card uuid", f"{where}.card")
        if item.get("outcome") not in FEEDBACK_OUTCOMES:
            raise HookError(400, "expected accepted or overridden", f"{where}.outcome")
        stamp = item.get("outcomeTimestamp")
        try:
            when = datetime.fromisoformat(stamp.replace("Z", "+00:00")) if isinstance(stamp, str) else None
        except ValueError:
            when = None
        if when is None or when.tzinfo is None:
            raise HookError(400, "required: an instant with a time zone, e.g. 2026-11-20T10:00:00Z",
                            f"{where}.outcomeTimestamp")
        if when > now + skew or when < now - max_age:
            raise HookError(400, "not within the time the card could have been shown", f"{where}.outcomeTimestamp")
        if item["outcome"] == "accepted":
            if "overrideReason" in item:
                raise HookError(400, "only for overridden cards", f"{where}.overrideReason")
            accepted = item.get("acceptedSuggestions")
            if not isinstance(accepted, list) or not accepted or \
                    not all(isinstance(s, dict) and isinstance(s.get("id"), str) and s["id"] for s in accepted):
                raise HookError(400, "required for accepted: a list of {\"id\": suggestion uuid}",
                                f"{where}.acceptedSuggestions")
        else:
            if "acceptedSuggestions" in item:
                raise HookError(400, "only for accepted cards", f"{where}.acceptedSuggestions")
            reason = item.get("overrideReason")
            if reason is not None:
                if not isinstance(reason, dict) or set(reason) - {"reason", "userComment"}:
                    raise HookError(400, "expected {reason, userComment}", f"{where}.overrideReason")
                coding = reason.get("reason")
                if coding is not None and (not isinstance(coding, dict)
                                           or (coding.get("system"), coding.get("code")) not in OVERRIDE_CODES):
                    raise HookError(400, "expected one of the card's overrideReasons", f"{where}.overrideReason.reason")
                comment = reason.get("userComment")
                if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_COMMENT):
                    raise HookError(400, f"expected text of at most {MAX_COMMENT} characters",
                                    f"{where}.overrideReason.userComment")
        items.append(item)
    return items
