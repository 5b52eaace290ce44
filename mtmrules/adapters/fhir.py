"""FHIR R4 input adapter: Bundles, resource lists and Bulk Data (NDJSON) exports → Profiles.

Reads raw JSON tolerantly, as real EHR payloads (and the CDS Hooks examples) need: R4
``doseAndRate`` and the older ``doseQuantity`` directly on the dosage, ``timing.repeat`` and
``timing.code``, ``asNeeded*``, ``Dosage.text`` through the sig parser. Only what the patient is
currently taking counts as active. Every profile item keeps the resource type and id it came from;
anything that cannot be used is listed in the profile's ``import_issues`` (and so in the report's
``unresolved``) with the reason — nothing is dropped silently.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date
from functools import lru_cache
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
OBSERVATION_STATUS = {"final", "amended", "corrected", "preliminary"}


class MalformedResource(ValueError):
    """A resource whose fields do not have the shape FHIR R4 gives them (reported, not used)."""


def _obj(value: Any) -> dict:
    """A JSON object where FHIR puts one; anything else reads as absent."""
    return value if isinstance(value, dict) else {}


def _items(value: Any) -> list:
    """A FHIR list: a single object where a list belongs is taken as a list of one."""
    if isinstance(value, list):
        return value
    return [value] if isinstance(value, dict) else []


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _ref_id(reference: Any) -> str | None:
    """'Patient/123', 'http://x/fhir/Patient/123/_history/2', 'urn:uuid:123', '#med1' → '123' / 'med1'."""
    if isinstance(reference, dict):
        reference = reference.get("reference")
    return _reference_target(reference) if isinstance(reference, str) else None


@lru_cache(maxsize=4096)   # every resource of a patient names it by the same reference text
def _reference_target(reference: str) -> str | None:
    reference = reference.strip().split("/_history/")[0].rstrip("/")
    return reference.split("/")[-1].split(":")[-1].lstrip("#") or None


def _at(value: Any, *keys: str) -> Any:
    """``value[key1][key2]…`` where each level is a JSON object; None where the path breaks."""
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _date(*values: Any) -> date | None:
    """The date of the first of ``values`` that is a FHIR date or dateTime."""
    for value in values:
        if value is not None and isinstance(value, str) and len(value) >= 10:   # most are absent: no call
            try:
                return date.fromisoformat(value[:10])
            except ValueError:
                pass
    return None


def _number(value: Any) -> float | None:
    """A finite JSON number (or numeric string); None for NaN, Infinity, true/false or text."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None


def _codes(concept: Any) -> list[Code]:
    codings = concept.get("coding") if isinstance(concept, dict) else None
    if not codings:
        return []
    out = []
    for coding in _items(codings):
        coding = _obj(coding)
        system = SYSTEMS.get(coding.get("system")) if isinstance(coding.get("system"), str) else None
        code = coding.get("code")
        if system and isinstance(code, (str, int)) and not isinstance(code, bool) and str(code).strip():
            out.append(Code(system=system, code=str(code), display=_str(coding.get("display"))))
    return out


#: SNOMED semantic tags that end a display ("Penicillin (substance)") and name no part of the thing
_SEMANTIC_TAG = re.compile(r"\s*\((substance|product|medicinal product|finding|disorder|situation)\)\s*$", re.I)


def _text(concept: Any) -> str | None:
    if not isinstance(concept, dict):  # STU3-era or hand-written payloads: a bare string
        return _str(concept) if isinstance(concept, str) else None
    text = concept.get("text")
    if not (isinstance(text, str) and text.strip()):
        text = next((_str(_obj(c).get("display")) for c in _items(concept.get("coding"))
                     if _str(_obj(c).get("display"))), None)
        if not text:
            return None
    # a tag can only end a text that ends in ")": most texts are spared the regex search
    return _SEMANTIC_TAG.sub("", text) if text.rstrip().endswith(")") else text


def _status_code(concept: Any) -> str | None:
    """The code of a status CodeableConcept — or the plain string STU3 used (``"confirmed"``)."""
    if isinstance(concept, str):
        return concept.strip().lower() or None
    if not isinstance(concept, dict):
        return None
    for coding in _items(concept.get("coding")):
        if isinstance(coding, dict) and isinstance(coding.get("code"), str):
            return coding["code"]
    return None


def _label(resource: dict) -> str:
    return f"{resource.get('resourceType')}/{_id(resource)}"


def _id(resource: dict) -> str:
    rid = resource.get("id")
    return str(rid) if isinstance(rid, (str, int)) and not isinstance(rid, bool) else "?"


#: UCUM codes and unit texts of FHIR quantities → words the sig reader knows
UCUM_WORDS = {"[iu]": "unit", "[iU]": "unit", "u": "unit", "[iu]/ml": "unit/mL", "{tbl}": "tablet", "{tab}": "tablet",
              "{tablet}": "tablet", "{cap}": "capsule", "{capsule}": "capsule", "{puff}": "puff", "{actuat}": "puff",
              "{spray}": "spray", "{drp}": "drop", "[drp]": "drop", "{drop}": "drop", "{patch}": "patch",
              "{vial}": "vial", "{supp}": "suppository", "{suppository}": "suppository", "ug": "mcg", "meq": "meq",
              "[meq]": "meq", "mmol": "mmol", "ml": "mL", "l": "L", "g": "g", "mg": "mg", "{packet}": "packet"}
#: FHIR timing.repeat.when codes → sig phrases (each counts one administration; AC/PC/C are three)
WHEN_TEXT = {"HS": "at bedtime", "MORN": "in the morning", "MORN.early": "in the morning", "MORN.late": "in the morning",
             "NOON": "at noon", "AFT": "in the afternoon", "AFT.early": "in the afternoon", "AFT.late": "in the afternoon",
             "EVE": "in the evening", "EVE.early": "in the evening", "EVE.late": "in the evening", "NIGHT": "at night",
             "WAKE": "upon waking", "AC": "before meals", "PC": "after meals", "C": "with meals", "ACM": "before breakfast",
             "ACD": "before lunch", "ACV": "before dinner", "PCM": "after breakfast", "PCD": "after lunch",
             "PCV": "after dinner", "CM": "with breakfast", "CD": "with lunch", "CV": "with dinner"}
#: timing.code values the sig reader would not read as written
TIMING_CODES = {"WK": "weekly", "MO": "monthly", "AM": "every morning", "PM": "every evening", "QD": "daily"}
DAY_CODES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PERIOD_WORDS = {"s": "seconds", "min": "minutes", "h": "hours", "d": "days", "wk": "weeks", "mo": "months", "a": "years"}


def _unit_word(q: dict) -> str | None:
    unit = _str(q.get("unit")) or _str(q.get("code"))
    if unit is None:
        return None
    word = UCUM_WORDS.get(unit, UCUM_WORDS.get(unit.lower()))
    if word:
        return word
    return unit[1:-1] if unit.startswith("{") and unit.endswith("}") else unit   # {tablet(s)} → tablet(s)


def _dose_value(q: dict) -> float:
    value = _number(q.get("value"))
    if value is None:
        raise MalformedResource(f"dose value {q.get('value')!r:.30} is not a finite number")
    return value


def _quantity_text(q: Any) -> str | None:
    if not isinstance(q, dict) or q.get("value") is None:
        return None
    # A dose without a unit counts units of the product (Synthea writes {"value": 1.0} for one tablet).
    return f"{format_number(_dose_value(q))} {_unit_word(q) or 'each'}"


def _range_text(r: Any) -> str | None:
    r = _obj(r)
    low, high = _obj(r.get("low")), _obj(r.get("high"))
    if high.get("value") is None:
        return _quantity_text(low)
    if low.get("value") is None:
        return f"up to {_quantity_text(high)}"
    if _dose_value(low) > _dose_value(high):
        raise MalformedResource(f"doseRange low {format_number(_dose_value(low))} is above its high "
                                f"{format_number(_dose_value(high))}")
    return f"{format_number(_dose_value(low))}-{_quantity_text(high)}"


def _positive(holder: dict, key: str, where: str) -> float | None:
    """A timing number that must be positive and finite when present (frequency, period, periodMax …)."""
    if holder.get(key) is None:
        return None
    value = _number(holder.get(key))
    if value is None or value <= 0:
        raise MalformedResource(f"{where}.{key} {holder.get(key)!r:.30} is not a positive number")
    return value


def _span(low: float, high: float | None) -> str:
    return format_number(low) if high is None or high == low else f"{format_number(low)}-{format_number(high)}"


def _timing_text(timing: Any) -> str | None:
    """FHIR Timing → a sig phrase: 'every 4-6 hours', '2 times per 1 days', 'on mon, wed', 'at 08:00 and 14:00'."""
    if not timing or not isinstance(timing, dict):
        return None
    repeat = _obj(timing.get("repeat"))
    parts = []
    where = "timing.repeat"
    raw_unit = repeat.get("periodUnit")
    unit = PERIOD_WORDS.get(raw_unit) if isinstance(raw_unit, str) else None
    if raw_unit is not None and unit is None:
        raise MalformedResource(f"{where}.periodUnit {raw_unit!r:.30} is not a UCUM unit of time "
                                f"({', '.join(PERIOD_WORDS)})")
    period = _positive(repeat, "period", where)
    frequency, frequency_max = _positive(repeat, "frequency", where), _positive(repeat, "frequencyMax", where)
    period_max = _positive(repeat, "periodMax", where)
    if frequency_max is not None and frequency is not None and frequency_max < frequency or \
            period_max is not None and period is not None and period_max < period:
        raise MalformedResource(f"{where}: a maximum (frequencyMax/periodMax) below its minimum")
    if period and unit:
        frequency = frequency or 1.0
        if frequency == 1 and frequency_max is None:
            parts.append(f"every {_span(period, period_max)} {unit}")
        else:
            parts.append(f"{_span(frequency, frequency_max)} times per {format_number(period)} {unit}")
    code = _status_code(timing.get("code"))
    if code and not parts:
        parts.append(TIMING_CODES.get(code.upper(), code))
    days = _items(repeat.get("dayOfWeek"))
    unknown = [d for d in days if d not in DAY_CODES]
    if unknown:
        raise MalformedResource(f"{where}.dayOfWeek {unknown[0]!r:.20} is not a day code ({', '.join(DAY_CODES)})")
    if days:
        parts.append("on " + ", ".join(days))
    unknown = [w for w in _items(repeat.get("when")) if w not in WHEN_TEXT]
    if unknown:
        # "when" counts administrations: a code left out would undercount them
        raise MalformedResource(f"{where}.when {unknown[0]!r:.20} is not an event code mtmrules reads")
    when = [WHEN_TEXT[w] for w in _items(repeat.get("when"))]
    times = [str(t)[:5] for t in _items(repeat.get("timeOfDay")) if isinstance(t, str)]
    anchors = when + [f"at {t}" for t in times]
    if anchors:
        parts.append(" and ".join(anchors))
    if _number(repeat.get("count")) == 1 and not parts:
        parts.append("once")
    return " ".join(parts) or None


def dosage_fields(dosage: Any) -> dict[str, Any]:
    """One FHIR Dosage → native dose/frequency/sig/route/prn fields, in words the sig reader reads:
    doseQuantity or doseRange (UCUM codes such as [iU], {tbl}, {puff}, ug), timing.repeat (frequency,
    frequencyMax, period, periodMax, periodUnit, dayOfWeek, when, timeOfDay), timing.code,
    maxDosePerPeriod, asNeeded*; ``text`` is kept as the sig, used where the structured parts say nothing."""
    if not dosage or not isinstance(dosage, dict):
        return {}
    out: dict[str, Any] = {}
    dose = None
    if dosage.get("doseAndRate"):
        for dr in map(_obj, _items(dosage["doseAndRate"])):
            dose = _quantity_text(dr.get("doseQuantity")) or _range_text(dr.get("doseRange"))
            if dose:
                break
    if dose is None and ("doseQuantity" in dosage or "dose" in dosage):
        dose = _quantity_text(dosage.get("doseQuantity")) or _quantity_text(dosage.get("dose"))
    if dose:
        out["dose"] = dose
    frequency = _timing_text(dosage["timing"]) if dosage.get("timing") else None
    caps = dosage.get("maxDosePerPeriod")
    for cap in map(_obj, _items(caps)) if caps else ():
        top, bottom = _obj(cap.get("numerator")), _obj(cap.get("denominator"))
        if top.get("value") is not None:
            _positive(top, "value", "maxDosePerPeriod.numerator")
            per = PERIOD_WORDS.get(_str(bottom.get("code")) or _str(bottom.get("unit")) or "d")
            if per is None:
                unit = bottom.get("code") or bottom.get("unit")
                raise MalformedResource(f"maxDosePerPeriod.denominator unit {unit!r:.20} is not a UCUM unit of time")
            length = _positive(bottom, "value", "maxDosePerPeriod.denominator") or 1.0
            limit = f"max {_quantity_text(top)} per {format_number(length)} {per}"
            frequency = f"{frequency} {limit}" if frequency else limit
    if frequency:
        out["frequency"] = frequency
    text = dosage.get("text")
    if isinstance(text, str) and text.strip():
        out["sig"] = text
    if dosage.get("asNeededBoolean") is True or ("asNeededCodeableConcept" in dosage or "asNeededFor" in dosage) \
            and (_obj(dosage.get("asNeededCodeableConcept")) or _items(dosage.get("asNeededFor"))):
        out["prn"] = True
    route = _text(dosage["route"]) if "route" in dosage else None
    if route:
        out["route"] = route
    return out


class _Patient:
    """Resources of one patient, gathered before building the profile."""

    def __init__(self, pid: str) -> None:
        self.pid = pid
        self.patient: dict | None = None
        self.resources: list[dict] = []
        self.issues: list[ImportIssue] = []

    def set_patient(self, resource: dict) -> None:
        """The first Patient resource wins; a second one that disagrees is reported, never merged over it."""
        if self.patient is None:
            self.patient = resource
            return
        differs = [k for k in ("birthDate", "gender", "deceasedBoolean", "deceasedDateTime")
                   if self.patient.get(k) != resource.get(k)]
        if differs:
            self.issues.append(ImportIssue(
                kind="patient", input=_label(resource),
                reason=f"a second Patient resource for the same patient disagrees on {', '.join(differs)}; "
                       "the first one is used — check the source record"))


#: MedicationRequest.intent values that are not an order to give the drug
NOT_ORDERS = {"proposal", "plan", "option"}
#: "no known allergy" statements coded as an AllergyIntolerance (SNOMED CT): not allergies. Only the
#: first two say the patient has no known *drug* allergy; the others are about foods, latex, insects, the environment.
NO_KNOWN_DRUG_ALLERGY = {"716186003": "no known allergy", "409137002": "no known drug allergy"}
NO_KNOWN_OTHER_ALLERGY = {"429625007": "no known food allergy", "428607008": "no known environmental allergy",
                          "1003774007": "no known latex allergy", "428197003": "no known insect allergy"}


def _medication_concept(resource: dict, medications: dict[str, dict]) -> Any:
    return resource.get("medicationCodeableConcept") or _referenced_concept(resource, medications)


def _referenced_concept(resource: dict, medications: dict[str, dict]) -> Any:
    """The code of the Medication a resource references (contained, or elsewhere in the export)."""
    ref = _ref_id(resource.get("medicationReference"))
    contained = {c.get("id"): c for c in map(_obj, _items(resource.get("contained")))
                 if c.get("resourceType") == "Medication"}
    medication = contained.get(ref) or medications.get(ref or "")
    return medication.get("code") if medication else None


def _unknown_modifiers(resource: dict) -> str | None:
    """Why a resource carrying a modifierExtension cannot be used: it may reverse the resource's meaning."""
    modifiers = resource.get("modifierExtension")
    if not modifiers:
        return None
    urls = sorted({str(_obj(m).get("url") or "?") for m in _items(modifiers)} or {"?"})
    return f"has a modifierExtension mtmrules does not understand ({', '.join(urls)[:200]}); not used"


def _medication(resource: dict, medications: dict[str, dict], issues: list[ImportIssue]) -> Medication | None:
    rtype, status = resource["resourceType"], _status_code(resource.get("status")) or "unknown"
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
    if resource.get("doNotPerform") is True:
        issues.append(ImportIssue(kind="medication", input=_shown(resource, name, codes),
                                  reason="doNotPerform: an order NOT to give this drug; not screened as taken"))
        return None
    code = next((c for c in codes if c.system == "rxnorm"), codes[0]) if codes else None
    raw_dosage = resource.get("dosageInstruction") or resource.get("dosage") or []
    dosages = _items(raw_dosage)   # MedicationAdministration.dosage is a single object
    if raw_dosage and not dosages:
        issues.append(ImportIssue(kind="medication", input=_shown(resource, name, codes), reason=f"dosage "
                                  f"{raw_dosage!r:.40} is not a FHIR Dosage (an object); dose and frequency not read"))
    try:
        fields = dosage_fields(dosages[0] if dosages else None)
    except MalformedResource as exc:
        # a bad dose must not hide the drug from interaction, allergy and disease rules
        text = _obj(dosages[0]).get("text")
        fields = {"sig": text} if isinstance(text, str) and text.strip() else {}
        issues.append(ImportIssue(kind="medication", input=_shown(resource, name, codes),
                                  reason=f"dosage not read ({exc}); the drug is "
                                  + ("screened with its dosage text only" if fields else
                                     "screened, its dose is not evaluated")))
    active = status in ACTIVE_STATUS.get(rtype, ())
    if active and rtype == "MedicationRequest":
        intent = _status_code(resource.get("intent"))
        if intent in NOT_ORDERS:
            active = False
            issues.append(ImportIssue(kind="medication", input=_shown(resource, name, codes),
                                      reason=f"intent {intent}: suggested, not ordered; not screened as taken"))
    period = _obj(resource.get("effectivePeriod"))
    start = _date(resource.get("authoredOn"), period.get("start"), resource.get("effectiveDateTime"),
                  resource.get("dateAsserted"))
    end = _date(_at(resource.get("dispenseRequest"), "validityPeriod", "end"), period.get("end"))
    who = resource.get("requester") or resource.get("informationSource")
    prescriber = _str(who.get("display")) if isinstance(who, dict) else None
    try:
        return Medication(name=name, code=code, status="active" if active else "stopped", start_date=start,
                          end_date=end, prescriber=prescriber, source={"type": rtype, "id": _id(resource)}, **fields)
    except ValidationError as exc:
        issues.append(ImportIssue(kind="medication", input=_shown(resource, name, codes), reason=exc.errors()[0]["msg"]))
        return None


def _shown(resource: dict, name: str | None, codes: list[Code]) -> str:
    """A medication resource as its import issues name it: 'MedicationRequest/7 (warfarin)'."""
    return f"{_label(resource)} ({name or codes[0].code})"


def _dispenses(resources: list[dict], medications: dict[str, dict], meds: list[Medication],
               issues: list[ImportIssue]) -> None:
    """Completed dispenses become fill history on the matching medication (by code or name)."""
    for resource in resources:
        try:
            _dispense(resource, medications, meds, issues)
        except (MalformedResource, ValidationError, AttributeError, TypeError, ValueError, KeyError, IndexError) as exc:
            issues.append(ImportIssue(kind="dispense", input=_label(resource), reason=_malformed(exc)))


def _dispense(resource: dict, medications: dict[str, dict], meds: list[Medication], issues: list[ImportIssue]) -> None:
    if _status_code(resource.get("status")) not in ("completed", None):
        issues.append(ImportIssue(kind="dispense", input=_label(resource),
                                  reason=f"status {_status_code(resource.get('status'))}; not a completed dispense"))
        return
    concept = _medication_concept(resource, medications)
    codes, name = _codes(concept), _text(concept)
    when = _date(resource.get("whenHandedOver"), resource.get("whenPrepared"))
    days = _number(_obj(resource.get("daysSupply")).get("value"))
    if when is None or not days or days <= 0:
        issues.append(ImportIssue(kind="dispense", input=_label(resource),
                                  reason="no hand-over date or days' supply; not used for adherence"))
        return
    if not codes and not name:
        issues.append(ImportIssue(kind="dispense", input=_label(resource), reason="no medication code or text"))
        return
    fill = Fill(date=when, days_supply=int(days))
    target = next((m for m in meds if (m.code and any(c.code == m.code.code for c in codes)) or
                   (name and m.name and m.name.lower() == name.lower())), None)
    if target is None:
        code = next((c for c in codes if c.system == "rxnorm"), codes[0] if codes else None)
        target = Medication(name=name, code=code, status="active",
                            source=Source(type="MedicationDispense", id=_id(resource)),
                            **dosage_fields((_items(resource.get("dosageInstruction")) or [None])[0]))
        meds.append(target)
    target.fills.append(fill)


def _condition(resource: dict, issues: list[ImportIssue]) -> Condition | None:
    verification = _status_code(resource.get("verificationStatus"))
    if verification in ("refuted", "entered-in-error"):
        issues.append(ImportIssue(kind="condition", input=_label(resource), reason=f"verification status {verification}; ignored"))
        return None
    clinical = _status_code(resource.get("clinicalStatus"))
    active = clinical in (None, "active", "recurrence", "relapse") and not resource.get("abatementDateTime")
    concept = resource.get("code")
    codes = _codes(concept)
    code = next((c for c in codes if c.system in ("snomed", "icd10")), None) if codes else None
    name = _text(concept)
    if code is None and not name:
        issues.append(ImportIssue(kind="condition", input=_label(resource), reason="no code or text"))
        return None
    return Condition(name=name, code=code, status="active" if active else "resolved",
                     onset_date=_date(resource.get("onsetDateTime")), source={"type": "Condition", "id": _id(resource)})


def _allergy(resource: dict, issues: list[ImportIssue]) -> Allergy | bool | None:
    """An Allergy; ``True`` for a "no known drug allergy" statement; None when not usable."""
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
    snomed = {c.code for c in codes if c.system == "snomed"}
    if snomed & NO_KNOWN_DRUG_ALLERGY.keys():
        return True
    if snomed & NO_KNOWN_OTHER_ALLERGY.keys():
        what = NO_KNOWN_OTHER_ALLERGY[min(snomed & NO_KNOWN_OTHER_ALLERGY.keys())]
        issues.append(ImportIssue(kind="allergy", input=label,
                                  reason=f"a '{what}' statement: not an allergy, and says nothing about drug allergies"))
        return None
    code = next((c for c in codes if c.system == "rxnorm"), codes[0] if codes else None)
    reactions = [_obj(r) for r in _items(resource.get("reaction"))]
    manifestations = [_text(m) for r in reactions for m in _items(r.get("manifestation"))]
    severities = [r.get("severity") for r in reactions if r.get("severity") in ("mild", "moderate", "severe")]
    severity = "severe" if resource.get("criticality") == "high" or "severe" in severities else (
        "moderate" if "moderate" in severities else "mild" if severities else None)
    reaction = ", ".join(m for m in manifestations if m) or None
    if verification == "unconfirmed":
        reaction = f"{reaction or 'reaction not recorded'} (unconfirmed)"
    kind = resource.get("type") if resource.get("type") in ("allergy", "intolerance") else None
    if code is None and not _text(resource.get("code")):
        issues.append(ImportIssue(kind="allergy", input=label, reason="no substance code or text"))
        return None
    return Allergy(substance=_text(resource.get("code")), code=code, reaction=reaction, severity=severity,
                   type=kind, source={"type": "AllergyIntolerance", "id": _id(resource)})


#: "<", ">=" … as a lab result may carry them (valueQuantity.comparator, or a valueString such as ">60")
_BOUND_TEXT = re.compile(r"^\s*(<=|>=|<|>)\s*(\d+(?:\.\d+)?)\s*$")


def _value(quantity: Any, text: Any) -> tuple[float, str | None] | str | None:
    """(value, comparator) of a valueQuantity (or a bound written as a string); a reason string when the
    value is there but unusable; None when there is no value."""
    quantity = _obj(quantity)
    if quantity.get("value") is None:
        bound = _BOUND_TEXT.match(text) if isinstance(text, str) else None
        return (float(bound.group(2)), bound.group(1)) if bound else None
    value = _number(quantity["value"])
    if value is None:
        return f"value {quantity['value']!r:.30} is not a finite number"
    comparator = quantity.get("comparator")
    if comparator is not None and comparator not in ("<", "<=", ">=", ">"):
        return f"comparator {comparator!r:.20} is not one of < <= >= >"
    return value, comparator


def _labs(resource: dict, counter: dict[str, int], issues: list[ImportIssue]) -> list[Lab]:
    if _status_code(resource.get("status")) not in OBSERVATION_STATUS:
        counter["Observation not final"] = counter.get("Observation not final", 0) + 1
        return []
    when = _date(resource.get("effectiveDateTime"), _at(resource.get("effectivePeriod"), "start"), resource.get("issued"))
    parts = [(resource.get("code"), resource.get("valueQuantity"), resource.get("valueString"))]
    if resource.get("component"):
        parts += [(_obj(c).get("code"), _obj(c).get("valueQuantity"), _obj(c).get("valueString"))
                  for c in _items(resource["component"])]
    labs = []
    for concept, quantity, text in parts:
        value = _value(quantity, text)
        if value is None:
            continue
        codes = _codes(concept)
        loinc = next((c.code for c in codes if c.system == "loinc"), None) if codes else None
        name = _text(concept)
        if not (loinc or name):
            continue
        if isinstance(value, str):
            issues.append(ImportIssue(kind="observation", input=f"{_label(resource)} ({name or loinc})",
                                      reason=f"{value}; not used"))
            continue
        unit = (quantity.get("unit") or quantity.get("code")) if isinstance(quantity, dict) else None
        labs.append(Lab(name=name, loinc=loinc, value=value[0], comparator=value[1],
                        unit=unit if isinstance(unit, str) else None, date=when,
                        source={"type": "Observation", "id": _id(resource)}))
    if not labs and not any(i.input.startswith(_label(resource)) for i in issues):
        counter["Observation without a numeric value"] = counter.get("Observation without a numeric value", 0) + 1
    return labs


def _malformed(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return f"not usable: {'.'.join(map(str, first['loc']))}: {first['msg']}"
    if isinstance(exc, MalformedResource):
        return f"not usable: {exc}"
    return "not usable: a field does not have the shape FHIR R4 gives it"


def _build(group: _Patient, medications: dict[str, dict], ignored: dict[str, int]) -> Profile:
    issues: list[ImportIssue] = list(group.issues)
    patient = group.patient or {}
    meds, conditions, allergies, labs = [], [], [], []
    dispenses = []
    no_known_drug_allergy = False
    counter: dict[str, int] = {}
    for resource in group.resources:
        rtype = resource.get("resourceType")
        unusable = _unknown_modifiers(resource) if "modifierExtension" in resource else None
        if unusable:
            issues.append(ImportIssue(kind="resource", input=_label(resource), reason=unusable))
            continue
        try:
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
                if allergy is True:
                    no_known_drug_allergy = True
                elif allergy:
                    allergies.append(allergy)
            elif rtype == "Observation":
                labs.extend(_labs(resource, counter, issues))
        except (MalformedResource, ValidationError, AttributeError, TypeError, ValueError, KeyError, IndexError) as exc:
            issues.append(ImportIssue(kind="resource", input=_label(resource), reason=_malformed(exc)))
    _dispenses(dispenses, medications, meds, issues)
    for what, n in sorted(counter.items()):
        issues.append(ImportIssue(kind="observation", input=f"{what} ×{n}", reason="not used"))
    for rtype, n in sorted(ignored.items()):
        issues.append(ImportIssue(kind="resource", input=f"{rtype} ×{n}", reason="resource type not used by mtmrules"))
    modifiers = _unknown_modifiers(patient)
    if modifiers:
        issues.append(ImportIssue(kind="patient", input=f"Patient/{group.pid}", reason=modifiers.replace(
            "not used", "demographics not used")))
        patient = {}
    deceased = bool(patient.get("deceasedDateTime") or patient.get("deceasedBoolean") is True)
    if deceased:
        died = patient.get("deceasedDateTime")
        issues.append(ImportIssue(kind="patient", input=f"Patient/{group.pid}",
                                  reason=f"patient is deceased ({died[:10] if isinstance(died, str) else 'date unknown'}); "
                                         "not screened"))
    if not group.patient:
        issues.append(ImportIssue(kind="patient", input=f"Patient/{group.pid}",
                                  reason="no Patient resource: age and sex unknown"))
    birth = patient.get("birthDate")
    birth_date = _date(birth)
    if birth is not None and birth_date is None:
        issues.append(ImportIssue(kind="patient", input=f"Patient/{group.pid}",
                                  reason=f"birthDate {birth!r:.30} is not a full date (YYYY-MM-DD); age unknown"))
    gender = patient.get("gender")
    return Profile(id=group.pid, name=_person_name(patient.get("name")),
                   sex=gender if gender in ("female", "male", "other") else "unknown",
                   deceased=deceased, birth_date=birth_date, medications=meds, conditions=conditions,
                   allergies=allergies, no_known_allergies=no_known_drug_allergy and not allergies, labs=labs,
                   import_issues=issues)


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
    given = name.get("given") or []
    given = given if isinstance(given, list) else [given]   # a bare string is one given name, not letters
    return " ".join([*map(str, given), str(name.get("family") or "")]).strip() or None


def _subject(resource: dict) -> str | None:
    """The id of the patient a resource belongs to: its own id for a Patient, else the patient its
    ``subject``/``patient`` references (a Reference object, or a bare reference string)."""
    if resource.get("resourceType") == "Patient":
        rid = resource.get("id")
        return str(rid).strip() or None if isinstance(rid, (str, int)) and not isinstance(rid, bool) else None
    return _ref_id(resource.get("subject")) or _ref_id(resource.get("patient"))


def profiles_from_resources(resources: Iterable[Any], where: str = "<resources>",
                            aliases: dict[str, str] | None = None,
                            places: list[str] | None = None) -> list[Profile]:
    """Group FHIR resources by patient and build one profile per patient (Patient-file order first).
    ``aliases``: other ids resources are referenced by (a Bundle's ``urn:uuid`` fullUrls) → resource id;
    ``places``: where each resource is (``Bundle.entry[3]``), for reports. Anything that cannot be attached to a patient is listed in every profile's import issues."""
    aliases = aliases or {}
    groups: dict[str, _Patient] = {}
    medications: dict[str, dict] = {}
    ignored: dict[str, Counter] = defaultdict(Counter)
    unattached: dict[str, int] = {}   # a plain dict: a Counter costs more to make than most patients use
    for n, resource in enumerate(resources):
        rtype = resource.get("resourceType") if isinstance(resource, dict) else None
        if not isinstance(rtype, str):
            place = places[n] if places and n < len(places) else f"item {n}"
            what = f"{place}: not a FHIR resource (no resourceType)"
            unattached[what] = unattached.get(what, 0) + 1
            continue
        if rtype == "Medication":
            medications[_id(resource)] = resource
            continue
        pid = _subject(resource)
        if pid is None:
            what = f"{rtype} without a patient reference"
            unattached[what] = unattached.get(what, 0) + 1
            continue
        pid = aliases.get(pid, pid)
        group = groups.get(pid)
        if group is None:
            group = groups[pid] = _Patient(pid)
        if rtype == "Patient":
            group.set_patient(resource)
        elif rtype in USED_TYPES:
            group.resources.append(resource)
        else:
            ignored[pid][rtype] += 1
    for alias, rid in aliases.items():
        if rid in medications:
            medications.setdefault(alias, medications[rid])
    if not groups:
        found = "; ".join(f"{what} ×{n}" for what, n in sorted(unattached.items()))
        raise InputError("no patient found (no Patient resource and no resource with a subject)"
                         + (f": {found}" if found else ""), file=where)
    ordered = sorted(groups.values(), key=lambda g: (g.patient is None,))
    profiles = [_build(g, medications, ignored.get(g.pid, {})) for g in ordered]
    for profile in profiles if unattached else ():
        profile.import_issues.extend(ImportIssue(kind="resource", input=f"{what} ×{n}", reason="not used")
                                     for what, n in sorted(unattached.items()))
    return profiles


def profile_from_bundle(bundle: dict, where: str = "<bundle>") -> Profile:
    """The profile of the one patient in a FHIR Bundle (any type: transaction, collection, searchset, document)."""
    profiles = profiles_from_bundle(bundle, where)
    if len(profiles) != 1:
        raise InputError(f"bundle holds {len(profiles)} patients; use profiles_from_bundle", file=where)
    return profiles[0]


def bundle_resources(bundle: dict, where: str = "<bundle>",
                     prefix: str = "Bundle") -> tuple[list[Any], dict[str, str], list[str]]:
    """The resources of a Bundle (nested Bundles unpacked), the aliases their fullUrls give them, and
    where each is. An entry that holds no resource is passed on as is, to be reported, not to stop the import."""
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        raise InputError(f"{prefix}.entry: expected a list of entries", file=where)
    resources: list[Any] = []
    aliases: dict[str, str] = {}
    places: list[str] = []
    for i, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else entry
        if isinstance(resource, dict) and resource.get("resourceType") == "Bundle":
            nested, nested_aliases, nested_places = bundle_resources(resource, where, f"{prefix}.entry[{i}].resource")
            resources.extend(nested)
            aliases.update(nested_aliases)
            places.extend(nested_places)
            continue
        places.append(f"{prefix}.entry[{i}].resource")
        full = _ref_id(entry.get("fullUrl")) if isinstance(entry, dict) else None
        if full and isinstance(resource, dict) and isinstance(resource.get("resourceType"), str):
            rid = resource.get("id")
            if not isinstance(rid, (str, int)) or isinstance(rid, bool) or not str(rid).strip():
                resource = {**resource, "id": full}   # the fullUrl is its only id (transaction bundles)
            elif str(rid) != full:
                aliases[full] = str(rid)
        resources.append(resource)
    return resources, aliases, places


def profiles_from_bundle(bundle: dict, where: str = "<bundle>") -> list[Profile]:
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise InputError("expected a FHIR Bundle (resourceType: Bundle)", file=where)
    resources, aliases, places = bundle_resources(bundle, where)
    return profiles_from_resources(resources, where, aliases, places)


def load_fhir_json(data: Any, where: str) -> list[Profile]:
    """A parsed FHIR JSON document: a Bundle, a single resource, or a list of resources."""
    if isinstance(data, list):
        return profiles_from_resources(data, where)
    if isinstance(data, dict) and data.get("resourceType") == "Bundle":
        return profiles_from_bundle(data, where)
    if isinstance(data, dict) and "resourceType" in data:
        return profiles_from_resources([data], where)
    raise InputError("not a FHIR Bundle or resource list", file=where)
