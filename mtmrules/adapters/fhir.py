"""FHIR R4 input adapter: Bundles, resource lists and Bulk Data (NDJSON) exports → Profiles.

Reads raw JSON tolerantly, as real EHR payloads (and the CDS Hooks examples) need: R4
``doseAndRate`` and the older ``doseQuantity`` directly on the dosage, ``timing.repeat`` and
``timing.code``, ``asNeeded*``, ``Dosage.text`` through the sig parser. Only what the patient is
currently taking counts as active. Every profile item keeps the resource type and id it came from;
anything that cannot be used is listed in the profile's ``import_issues`` (and so in the report's
``unresolved``) with the reason — nothing is dropped silently.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date
from typing import Any

from pydantic import ValidationError

from mtmrules.errors import InputError
from mtmrules.knowledge.dose import format_number
from mtmrules.profile.models import Allergy, Code, Condition, Fill, ImportIssue, Lab, Medication, Profile, Source

SYSTEMS = {
    "http://www.nlm.nih.gov/research/umls/rxnorm": "rxnorm", "http://hl7.org/fhir/sid/ndc": "ndc",
    "http://www.whocc.no/atc": "atc", "http://snomed.info/sct": "snomed", "http://hl7.org/fhir/sid/icd-10-cm": "icd10",
    "http://hl7.org/fhir/sid/icd-10": "icd10", "http://loinc.org": "loinc",
}
MEDICATION_TYPES = ("MedicationRequest", "MedicationStatement", "MedicationAdministration", "MedicationDispense")
USED_TYPES = ("Patient", "Medication", "Condition", "AllergyIntolerance", "Observation", *MEDICATION_TYPES)
ACTIVE_STATUS = {
    "MedicationRequest": {"active", "on-hold"},
    "MedicationStatement": {"active", "intended", "on-hold"},
    "MedicationAdministration": {"in-progress", "on-hold"},
}
ERROR_STATUS = {"entered-in-error"}
PERIOD_DAYS = {"s": 1 / 86400, "min": 1 / 1440, "h": 1 / 24, "d": 1.0, "wk": 7.0, "mo": 30.0, "a": 365.0}
WHEN_TEXT = {"HS": "at bedtime", "MORN": "every morning", "EVE": "every evening", "NIGHT": "at bedtime"}
OBSERVATION_STATUS = {"final", "amended", "corrected", "preliminary"}


def _ref_id(reference: str | None) -> str | None:
    """'Patient/123', 'urn:uuid:123', '#med1' → '123' / 'med1'."""
    if not reference:
        return None
    return reference.split("/")[-1].split(":")[-1].lstrip("#")


def _date(value: Any) -> date | None:
    if isinstance(value, str) and len(value) >= 10:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _codes(concept: dict | None) -> list[Code]:
    out = []
    for coding in (concept or {}).get("coding") or []:
        system = SYSTEMS.get(coding.get("system", ""))
        if system and coding.get("code"):
            out.append(Code(system=system, code=str(coding["code"]), display=coding.get("display")))
    return out


def _text(concept: dict | None) -> str | None:
    concept = concept or {}
    return concept.get("text") or next((c.get("display") for c in concept.get("coding") or [] if c.get("display")), None)


def _status_code(concept: dict | None) -> str | None:
    return next((c.get("code") for c in (concept or {}).get("coding") or [] if c.get("code")), None)


def _label(resource: dict) -> str:
    return f"{resource.get('resourceType')}/{resource.get('id', '?')}"


def _quantity_text(q: dict | None) -> str | None:
    if not q or q.get("value") is None:
        return None
    unit = q.get("unit") or q.get("code")
    # A dose without a unit counts units of the product (Synthea writes {"value": 1.0} for one tablet).
    return f"{format_number(float(q['value']))} {unit or 'each'}"


def dosage_fields(dosage: dict | None) -> dict[str, Any]:
    """One FHIR Dosage → native dose/frequency/sig/route/prn fields."""
    if not dosage:
        return {}
    out: dict[str, Any] = {}
    dose = None
    for dr in dosage.get("doseAndRate") or []:
        dose = _quantity_text(dr.get("doseQuantity")) or _quantity_text((dr.get("doseRange") or {}).get("high"))
        if dose:
            break
    dose = dose or _quantity_text(dosage.get("doseQuantity")) or _quantity_text(dosage.get("dose"))
    if dose:
        out["dose"] = dose
    timing = dosage.get("timing") or {}
    repeat = timing.get("repeat") or {}
    frequency = None
    if repeat.get("period") and repeat.get("periodUnit") in PERIOD_DAYS:
        times = float(repeat.get("frequencyMax") or repeat.get("frequency") or 1)
        days = float(repeat["period"]) * PERIOD_DAYS[repeat["periodUnit"]]
        per_day = times / days
        if per_day >= 1 and float(per_day).is_integer():
            frequency = f"{int(per_day)} times daily"
        elif per_day > 1:
            frequency = f"every {format_number(24 / per_day)} hours"
        else:
            frequency = f"every {format_number(1 / per_day)} days"
    elif _status_code(timing.get("code")):
        frequency = _status_code(timing.get("code"))
    elif repeat.get("when"):
        frequency = WHEN_TEXT.get(repeat["when"][0])
    if frequency:
        out["frequency"] = frequency
    if dosage.get("text"):
        out["sig"] = dosage["text"]
    if dosage.get("asNeededBoolean") or dosage.get("asNeededCodeableConcept"):
        out["prn"] = True
    route = _text(dosage.get("route"))
    if route:
        out["route"] = route
    return out


class _Patient:
    """Resources of one patient, gathered before building the profile."""

    def __init__(self, pid: str) -> None:
        self.pid = pid
        self.patient: dict | None = None
        self.resources: list[dict] = []


def _medication_concept(resource: dict, medications: dict[str, dict]) -> dict | None:
    if resource.get("medicationCodeableConcept"):
        return resource["medicationCodeableConcept"]
    ref = _ref_id((resource.get("medicationReference") or {}).get("reference"))
    contained = {c.get("id"): c for c in resource.get("contained") or [] if c.get("resourceType") == "Medication"}
    medication = contained.get(ref) or medications.get(ref or "")
    return medication.get("code") if medication else None


def _medication(resource: dict, medications: dict[str, dict], issues: list[ImportIssue]) -> Medication | None:
    rtype, status = resource["resourceType"], resource.get("status", "unknown")
    if status in ERROR_STATUS:
        issues.append(ImportIssue(kind="medication", input=_label(resource), reason="entered in error; ignored"))
        return None
    concept = _medication_concept(resource, medications)
    codes = _codes(concept)
    name = _text(concept)
    if not codes and not name:
        issues.append(ImportIssue(kind="medication", input=_label(resource),
                                  reason="no medication code or text (medicationReference not found)"))
        return None
    code = next((c for c in codes if c.system == "rxnorm"), codes[0] if codes else None)
    dosages = resource.get("dosageInstruction") or resource.get("dosage") or []
    if isinstance(dosages, dict):  # MedicationAdministration.dosage is a single object
        dosages = [dosages]
    fields = dosage_fields(dosages[0] if dosages else None)
    active = status in ACTIVE_STATUS.get(rtype, set())
    start = (_date(resource.get("authoredOn")) or _date((resource.get("effectivePeriod") or {}).get("start"))
             or _date(resource.get("effectiveDateTime")) or _date(resource.get("dateAsserted")))
    prescriber = (resource.get("requester") or resource.get("informationSource") or {}).get("display")
    try:
        return Medication(name=name, code=code, status="active" if active else "stopped", start_date=start,
                          prescriber=prescriber, source=Source(type=rtype, id=str(resource.get("id", "?"))), **fields)
    except ValidationError as exc:
        issues.append(ImportIssue(kind="medication", input=_label(resource), reason=exc.errors()[0]["msg"]))
        return None


def _dispenses(resources: list[dict], medications: dict[str, dict], meds: list[Medication],
               issues: list[ImportIssue]) -> None:
    """Completed dispenses become fill history on the matching medication (by code or name)."""
    for resource in resources:
        if resource.get("status") not in ("completed", None):
            continue
        concept = _medication_concept(resource, medications)
        codes, name = _codes(concept), _text(concept)
        when = _date(resource.get("whenHandedOver")) or _date(resource.get("whenPrepared"))
        days = (resource.get("daysSupply") or {}).get("value")
        if when is None or not days or days <= 0:
            issues.append(ImportIssue(kind="dispense", input=_label(resource),
                                      reason="no hand-over date or days' supply; not used for adherence"))
            continue
        fill = Fill(date=when, days_supply=int(days))
        target = next((m for m in meds if (m.code and any(c.code == m.code.code for c in codes)) or
                       (name and m.name and m.name.lower() == name.lower())), None)
        if target is None:
            code = next((c for c in codes if c.system == "rxnorm"), codes[0] if codes else None)
            target = Medication(name=name, code=code, status="active",
                                source=Source(type="MedicationDispense", id=str(resource.get("id", "?"))),
                                **dosage_fields((resource.get("dosageInstruction") or [None])[0]))
            meds.append(target)
        target.fills.append(fill)


def _condition(resource: dict, issues: list[ImportIssue]) -> Condition | None:
    verification = _status_code(resource.get("verificationStatus"))
    if verification in ("refuted", "entered-in-error"):
        issues.append(ImportIssue(kind="condition", input=_label(resource), reason=f"verification status {verification}; ignored"))
        return None
    clinical = _status_code(resource.get("clinicalStatus"))
    active = clinical in (None, "active", "recurrence", "relapse") and not resource.get("abatementDateTime")
    codes = _codes(resource.get("code"))
    code = next((c for c in codes if c.system in ("snomed", "icd10")), None)
    name = _text(resource.get("code"))
    if code is None and not name:
        issues.append(ImportIssue(kind="condition", input=_label(resource), reason="no code or text"))
        return None
    return Condition(name=name, code=code, status="active" if active else "resolved",
                     onset_date=_date(resource.get("onsetDateTime")),
                     source=Source(type="Condition", id=str(resource.get("id", "?"))))


def _allergy(resource: dict, issues: list[ImportIssue]) -> Allergy | None:
    verification = _status_code(resource.get("verificationStatus"))
    clinical = _status_code(resource.get("clinicalStatus"))
    label = _text(resource.get("code")) or _label(resource)
    if verification in ("refuted", "entered-in-error"):
        issues.append(ImportIssue(kind="allergy", input=label, reason=f"verification status {verification}; ignored"))
        return None
    if clinical in ("inactive", "resolved"):
        issues.append(ImportIssue(kind="allergy", input=label, reason=f"clinical status {clinical}; ignored"))
        return None
    codes = _codes(resource.get("code"))
    code = next((c for c in codes if c.system == "rxnorm"), codes[0] if codes else None)
    reactions = resource.get("reaction") or []
    manifestations = [_text(m) for r in reactions for m in r.get("manifestation") or []]
    severities = [r.get("severity") for r in reactions if r.get("severity") in ("mild", "moderate", "severe")]
    severity = "severe" if resource.get("criticality") == "high" or "severe" in severities else (
        "moderate" if "moderate" in severities else "mild" if severities else None)
    reaction = ", ".join(m for m in manifestations if m) or None
    if verification == "unconfirmed":
        reaction = f"{reaction or 'reaction not recorded'} (unconfirmed)"
    return Allergy(substance=_text(resource.get("code")), code=code, reaction=reaction, severity=severity,
                   type=resource.get("type") if resource.get("type") in ("allergy", "intolerance") else None,
                   source=Source(type="AllergyIntolerance", id=str(resource.get("id", "?"))))


def _labs(resource: dict, counter: Counter) -> list[Lab]:
    if resource.get("status") not in OBSERVATION_STATUS:
        counter["Observation not final"] += 1
        return []
    when = _date(resource.get("effectiveDateTime")) or _date((resource.get("effectivePeriod") or {}).get("start")) \
        or _date(resource.get("issued"))
    parts = [(resource.get("code"), resource.get("valueQuantity"))]
    parts += [(c.get("code"), c.get("valueQuantity")) for c in resource.get("component") or []]
    labs = []
    for concept, quantity in parts:
        if not quantity or quantity.get("value") is None:
            continue
        loinc = next((c.code for c in _codes(concept) if c.system == "loinc"), None)
        name = _text(concept)
        if not (loinc or name):
            continue
        labs.append(Lab(name=name, loinc=loinc, value=float(quantity["value"]),
                        unit=quantity.get("unit") or quantity.get("code"), date=when,
                        source=Source(type="Observation", id=str(resource.get("id", "?")))))
    if not labs:
        counter["Observation without a numeric value"] += 1
    return labs


def _build(group: _Patient, medications: dict[str, dict], ignored: Counter) -> Profile:
    issues: list[ImportIssue] = []
    patient = group.patient or {}
    meds, conditions, allergies, labs = [], [], [], []
    dispenses = []
    counter: Counter = Counter()
    for resource in group.resources:
        rtype = resource.get("resourceType")
        if rtype in ("MedicationRequest", "MedicationStatement", "MedicationAdministration"):
            med = _medication(resource, medications, issues)
            if med:
                meds.append(med)
        elif rtype == "MedicationDispense":
            dispenses.append(resource)
        elif rtype == "Condition":
            cond = _condition(resource, issues)
            if cond:
                conditions.append(cond)
        elif rtype == "AllergyIntolerance":
            allergy = _allergy(resource, issues)
            if allergy:
                allergies.append(allergy)
        elif rtype == "Observation":
            labs.extend(_labs(resource, counter))
    _dispenses(dispenses, medications, meds, issues)
    for what, n in sorted(counter.items()):
        issues.append(ImportIssue(kind="observation", input=f"{what} ×{n}", reason="not used"))
    for rtype, n in sorted(ignored.items()):
        issues.append(ImportIssue(kind="resource", input=f"{rtype} ×{n}", reason="resource type not used by mtmrules"))
    if patient.get("deceasedDateTime") or patient.get("deceasedBoolean"):
        issues.append(ImportIssue(kind="patient", input=f"Patient/{group.pid}",
                                  reason=f"patient is deceased ({patient.get('deceasedDateTime', 'date unknown')[:10]}); "
                                         "not screened"))
    if not group.patient:
        issues.append(ImportIssue(kind="patient", input=f"Patient/{group.pid}",
                                  reason="no Patient resource: age and sex unknown"))
    gender = patient.get("gender")
    try:
        return Profile(id=group.pid, name=_person_name(patient.get("name")),
                       sex=gender if gender in ("female", "male", "other") else "unknown",
                       deceased=bool(patient.get("deceasedDateTime") or patient.get("deceasedBoolean")),
                       birth_date=_date(patient.get("birthDate")), medications=meds, conditions=conditions,
                       allergies=allergies, labs=labs, import_issues=issues)
    except ValidationError as exc:
        raise InputError(f"Patient/{group.pid}: {exc.errors()[0]['msg']}") from None


def _person_name(names: object) -> str | None:
    """FHIR HumanName list → "Given Family" (the official name first, else the first usable one)."""
    if not isinstance(names, list):
        return None
    usable = [n for n in names if isinstance(n, dict) and (n.get("text") or n.get("family") or n.get("given"))]
    usable.sort(key=lambda n: n.get("use") != "official")
    if not usable:
        return None
    name = usable[0]
    if name.get("text"):
        return str(name["text"])
    return " ".join([*map(str, name.get("given") or []), str(name.get("family") or "")]).strip() or None


def _subject(resource: dict) -> str | None:
    if resource.get("resourceType") == "Patient":
        return str(resource.get("id")) if resource.get("id") else None
    for key in ("subject", "patient"):
        ref = (resource.get(key) or {}).get("reference")
        if ref:
            return _ref_id(ref)
    return None


def profiles_from_resources(resources: Iterable[dict], where: str = "<resources>") -> list[Profile]:
    """Group FHIR resources by patient and build one profile per patient (Patient-file order first)."""
    groups: dict[str, _Patient] = {}
    medications: dict[str, dict] = {}
    ignored: dict[str, Counter] = defaultdict(Counter)
    unattached: Counter = Counter()
    for resource in resources:
        if not isinstance(resource, dict) or "resourceType" not in resource:
            raise InputError("expected FHIR resources (objects with a resourceType)", file=where)
        rtype = resource["resourceType"]
        if rtype == "Medication":
            medications[str(resource.get("id"))] = resource
            continue
        pid = _subject(resource)
        if pid is None:
            unattached[rtype] += 1
            continue
        group = groups.setdefault(pid, _Patient(pid))
        if rtype == "Patient":
            group.patient = resource
        elif rtype in USED_TYPES:
            group.resources.append(resource)
        else:
            ignored[pid][rtype] += 1
    if not groups:
        raise InputError("no patient found (no Patient resource and no resource with a subject)", file=where)
    ordered = sorted(groups.values(), key=lambda g: (g.patient is None,))
    profiles = [_build(g, medications, ignored[g.pid]) for g in ordered]
    if unattached:
        for profile in profiles:
            profile.import_issues.extend(ImportIssue(kind="resource", input=f"{t} ×{n}", reason="no patient reference; not used")
                                         for t, n in sorted(unattached.items()))
    return profiles


def profile_from_bundle(bundle: dict, where: str = "<bundle>") -> Profile:
    """The profile of the one patient in a FHIR Bundle (any type: transaction, collection, searchset, document)."""
    profiles = profiles_from_bundle(bundle, where)
    if len(profiles) != 1:
        raise InputError(f"bundle holds {len(profiles)} patients; use profiles_from_bundle", file=where)
    return profiles[0]


def profiles_from_bundle(bundle: dict, where: str = "<bundle>") -> list[Profile]:
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise InputError("expected a FHIR Bundle (resourceType: Bundle)", file=where)
    entries = bundle.get("entry")
    if not isinstance(entries, list):
        raise InputError("Bundle.entry: expected a list of entries", file=where)
    resources = []
    for i, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            raise InputError(f"Bundle.entry[{i}].resource: expected a resource", file=where)
        if resource.get("resourceType") == "Bundle":
            resources.extend(e.get("resource") for e in resource.get("entry") or [] if isinstance(e, dict))
        else:
            resources.append(resource)
    return profiles_from_resources(resources, where)


def load_fhir_json(data: Any, where: str) -> list[Profile]:
    """A parsed FHIR JSON document: a Bundle, a single resource, or a list of resources."""
    if isinstance(data, list):
        return profiles_from_resources(data, where)
    if isinstance(data, dict) and data.get("resourceType") == "Bundle":
        return profiles_from_bundle(data, where)
    if isinstance(data, dict) and "resourceType" in data:
        return profiles_from_resources([data], where)
    raise InputError("not a FHIR Bundle or resource list", file=where)

