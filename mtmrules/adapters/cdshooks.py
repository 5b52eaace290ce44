"""CDS Hooks request → FHIR resources: prefetch values read by resource type (whatever the EHR named the
keys) and the draft orders of order-select / order-sign. The service (:mod:`mtmrules.service.cdshooks`)
turns these into a profile with :func:`mtmrules.adapters.fhir.profiles_from_resources`."""

from __future__ import annotations

from mtmrules.errors import InputError
from mtmrules.profile.models import Profile


def prefetch_resources(prefetch: dict | None) -> list[dict]:
    """Every resource in the prefetch: Bundles are unpacked, OperationOutcomes and empty keys skipped."""
    resources: list[dict] = []
    for value in (prefetch or {}).values():
        if not isinstance(value, dict):
            continue
        if value.get("resourceType") == "Bundle":
            resources.extend(e["resource"] for e in value.get("entry") or [] if isinstance(e, dict) and e.get("resource"))
        elif value.get("resourceType") == "OperationOutcome":
            continue
        elif "resourceType" in value:
            resources.append(value)
    return resources


def draft_orders(context: dict, hook: str) -> list[dict]:
    """The draft MedicationRequests of an order-select / order-sign context (only the selected ones for
    order-select), each with a subject pointing at the context's patient."""
    bundle = context.get("draftOrders")
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise InputError(f"{hook}: context.draftOrders must be a FHIR Bundle")
    drafts = [e["resource"] for e in bundle.get("entry") or []
              if isinstance(e, dict) and (e.get("resource") or {}).get("resourceType") == "MedicationRequest"]
    if hook == "order-select" and context.get("selections"):
        chosen = {s.split("/")[-1] for s in context["selections"]}
        drafts = [d for d in drafts if str(d.get("id")) in chosen]
    for draft in drafts:
        if "subject" not in draft:
            draft["subject"] = {"reference": f"Patient/{context.get('patientId')}"}
    return drafts


def activate_drafts(profile: Profile, draft_refs: set[str]) -> None:
    """Draft orders are screened as if taken: that is the point of order-select/sign."""
    for med in profile.medications:
        if med.source and f"{med.source.type}/{med.source.id}" in draft_refs:
            med.status = "active"
