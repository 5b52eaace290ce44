"""CDS Hooks request → FHIR resources.

:func:`parse_request` checks a request body against CDS Hooks 2.0 (``hook``, ``hookInstance``,
``fhirServer``/``fhirAuthorization``, the context of patient-view / order-select / order-sign, the
prefetch) and returns a :class:`HookRequest`; every problem is an InputError naming the field.
Prefetch values are read by resource type, whatever the EHR named the keys (the older wrapped
``{"resource": {...}}`` shape too) and de-duplicated by type and id. The service
(:mod:`mtmrules.service.cdshooks`) turns these into a profile with
:func:`mtmrules.adapters.fhir.profiles_from_resources`.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field

from mtmrules.errors import InputError
from mtmrules.profile.models import Profile

HOOK_CONTEXT = {   # hook → (required context fields, optional ones); CDS Hooks 2.0 hook definitions
    "patient-view": (("userId", "patientId"), ("encounterId",)),
    "order-select": (("userId", "patientId", "selections", "draftOrders"), ("encounterId",)),
    "order-sign": (("userId", "patientId", "draftOrders"), ("encounterId",)),
}
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
GENERATED_DRAFT_PREFIX = "mtmrules-draft-"


@dataclass
class HookRequest:
    """A checked CDS Hooks request."""

    hook: str
    hook_instance: str
    patient_id: str
    context: dict
    resources: list[dict]                      # prefetch resources, de-duplicated
    drafts: list[dict] = field(default_factory=list)   # the draft MedicationRequests screened (selected ones for order-select)
    generated_ids: set[str] = field(default_factory=set)   # draft references whose id the service made up
    fhir_server: str | None = None
    access_token: str | None = None


def load_json(data: bytes | str) -> object:
    """Parse a request body strictly: duplicate object keys and NaN/Infinity are refused."""
    def no_duplicates(pairs: list[tuple[str, object]]) -> dict:
        out = dict(pairs)
        if len(out) != len(pairs):
            seen: set[str] = set()
            key = next(k for k, _ in pairs if k in seen or seen.add(k))
            raise InputError(f"duplicate JSON key {key!r}", where="body")
        return out

    def no_constants(name: str) -> object:
        raise InputError(f"{name} is not JSON", where="body")

    try:
        return json.loads(data, object_pairs_hook=no_duplicates, parse_constant=no_constants)
    except InputError:
        raise
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg} at character {exc.pos}", where="body") from None
    except UnicodeDecodeError:
        raise InputError("not valid JSON: not UTF-8 text", where="body") from None
    except RecursionError:
        raise InputError("not valid JSON: nested too deeply", where="body") from None
    except ValueError as exc:   # e.g. an integer with more digits than Python converts
        raise InputError(f"not valid JSON: {str(exc)[:80]}", where="body") from None


def parse_request(hook: str, body: object) -> HookRequest:
    """Check a request for a service of ``hook``; InputError(where=field) on the first problem."""
    if not isinstance(body, dict):
        raise InputError("expected a JSON object", where="body")
    if body.get("hook") != hook:
        raise InputError(f"expected {hook!r} for this service, got {body.get('hook')!r}", where="hook")
    instance = body.get("hookInstance")
    if not isinstance(instance, str):
        raise InputError("required: a UUID string", where="hookInstance")
    try:
        uuid.UUID(instance.removeprefix("urn:uuid:"))
    except ValueError:
        raise InputError(f"expected a UUID, got {instance[:60]!r}", where="hookInstance") from None
    server, token = _fhir_access(body)
    context = body.get("context")
    if not isinstance(context, dict):
        raise InputError("required: an object", where="context")
    required, optional = HOOK_CONTEXT[hook]
    for name in required:
        if name not in context or context[name] is None:
            raise InputError(f"required for {hook}", where=f"context.{name}")
    for name in ("userId", "encounterId"):
        if name in context and not (isinstance(context[name], str) and context[name]):
            raise InputError("expected a non-empty string", where=f"context.{name}")
    patient_id = context["patientId"]
    if not isinstance(patient_id, str):
        raise InputError("expected a string", where="context.patientId")
    patient_id = patient_id.removeprefix("Patient/")
    if not FHIR_ID.match(patient_id):
        raise InputError(f"expected a FHIR id, got {patient_id[:60]!r}", where="context.patientId")
    request = HookRequest(hook=hook, hook_instance=instance, patient_id=patient_id, context=context,
                          resources=prefetch_resources(body.get("prefetch")), fhir_server=server, access_token=token)
    if hook in ("order-select", "order-sign"):
        request.drafts, request.generated_ids = draft_orders(context, hook, patient_id)
    return request


def _fhir_access(body: dict) -> tuple[str | None, str | None]:
    server = body.get("fhirServer")
    if server is not None and not (isinstance(server, str) and server):
        raise InputError("expected a URL string", where="fhirServer")
    auth = body.get("fhirAuthorization")
    if auth is None:
        return server, None
    if not isinstance(auth, dict):
        raise InputError("expected an object", where="fhirAuthorization")
    if server is None:
        raise InputError("fhirAuthorization needs fhirServer", where="fhirServer")
    for name in ("access_token", "token_type", "scope", "subject"):
        if not isinstance(auth.get(name), str) or not auth[name]:
            raise InputError("required: a non-empty string", where=f"fhirAuthorization.{name}")
    if auth["token_type"].lower() != "bearer":
        raise InputError("expected 'Bearer'", where="fhirAuthorization.token_type")
    if not isinstance(auth.get("expires_in"), int) or isinstance(auth["expires_in"], bool) or auth["expires_in"] <= 0:
        raise InputError("required: a positive integer", where="fhirAuthorization.expires_in")
    return server, auth["access_token"]


def _resource(value: object, where: str) -> dict:
    if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str) or not value["resourceType"]:
        raise InputError("expected a FHIR resource (an object with resourceType)", where=where)
    if "id" in value and not (isinstance(value["id"], str) and FHIR_ID.match(value["id"])):
        raise InputError("expected a FHIR id string", where=f"{where}.id")
    return value


def _entries(bundle: dict, where: str) -> list[dict]:
    entries = bundle.get("entry", [])
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise InputError("expected a list", where=f"{where}.entry")
    out = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise InputError("expected an object", where=f"{where}.entry[{i}]")
        if entry.get("resource") is not None:
            out.append(_resource(entry["resource"], f"{where}.entry[{i}].resource"))
    return out


def prefetch_resources(prefetch: object) -> list[dict]:
    """Every resource in the prefetch: Bundles unpacked, the older ``{"resource": {...}}`` wrapping read,
    OperationOutcomes and null keys skipped, one resource per type and id (the first)."""
    if prefetch is None:
        return []
    if not isinstance(prefetch, dict):
        raise InputError("expected an object", where="prefetch")
    resources: list[dict] = []
    for key, value in prefetch.items():
        where = f"prefetch.{key}"
        if value is None:
            continue
        if isinstance(value, dict) and "resourceType" not in value and set(value) <= {"resource", "response"}:
            value = value.get("resource")      # CDS Hooks 1.0 drafts wrapped each value
            where += ".resource"
            if value is None:
                continue
        value = _resource(value, where)
        if value["resourceType"] == "Bundle":
            resources.extend(_entries(value, where))
        elif value["resourceType"] != "OperationOutcome":
            resources.append(value)
    seen: set[tuple[str, str]] = set()
    unique = []
    for resource in resources:
        key = (resource["resourceType"], resource.get("id"))
        if key[1] is not None:
            if key in seen:
                continue
            seen.add(key)
        unique.append(resource)
    return unique


def draft_orders(context: dict, hook: str, patient_id: str | None = None) -> tuple[list[dict], set[str]]:
    """The draft MedicationRequests of an order-select / order-sign context (only the selected ones for
    order-select), each with a subject pointing at the context's patient and an id (made up when the
    EHR sent none); returns them and the references whose id was made up."""
    bundle = context.get("draftOrders")
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise InputError("expected a FHIR Bundle", where="context.draftOrders")
    patient_id = patient_id or str(context.get("patientId", "")).removeprefix("Patient/")
    drafts, generated = [], set()
    for i, resource in enumerate(_entries(bundle, "context.draftOrders")):
        if resource["resourceType"] != "MedicationRequest":
            continue
        draft = dict(resource)
        if "id" not in draft:
            draft["id"] = f"{GENERATED_DRAFT_PREFIX}{i + 1}"
            generated.add(f"MedicationRequest/{draft['id']}")
        draft.setdefault("subject", {"reference": f"Patient/{patient_id}"})
        drafts.append(draft)
    if hook == "order-select":
        selections = context.get("selections")
        if not isinstance(selections, list) or not all(isinstance(s, str) and s for s in selections):
            raise InputError("expected a list of references like MedicationRequest/id", where="context.selections")
        known = {f"{r['resourceType']}/{r.get('id')}" for r in _entries(bundle, "context.draftOrders") if "id" in r}
        for i, ref in enumerate(selections):
            if ref not in known:
                raise InputError(f"{ref!r} is not an order in context.draftOrders", where=f"context.selections[{i}]")
        chosen = set(selections)
        drafts = [d for d in drafts if f"MedicationRequest/{d['id']}" in chosen]
    return drafts, generated


def activate_drafts(profile: Profile, draft_refs: set[str]) -> None:
    """Draft orders are screened as if taken: that is the point of order-select/sign."""
    for med in profile.medications:
        if med.source and f"{med.source.type}/{med.source.id}" in draft_refs:
            med.status = "active"
