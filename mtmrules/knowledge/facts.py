"""Facts: a profile interpreted against the knowledge base, ready for rule evaluation.

This is the only place that turns what was *written* (names, sigs, lab units) into what rules
*test* (ingredients, classes, daily doses in canonical units, condition groups, latest lab values,
kidney function). Executors never look at the raw profile.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
import functools
from functools import cached_property
from typing import NamedTuple

from mtmrules.errors import InputError
from mtmrules.knowledge.base import KnowledgeBase
from mtmrules.knowledge.dose import Amount, format_number
from mtmrules.knowledge.hepatic import child_pugh
from mtmrules.knowledge.renal import ckd_epi_2021, cockcroft_gault
from mtmrules.knowledge.resolve import DrugResolution, Resolver
from mtmrules.knowledge.sig import WEIGHT_BASED, DailyDose, DoseReading, daily_dose, read_regimen
from mtmrules.knowledge.text import tokens
from mtmrules.profile.models import Profile
from mtmrules.wording import plural


@dataclass(frozen=True)
class MedItem:
    """One ingredient of one active medication entry."""

    med: int                      # index of the entry in profile.medications
    ingredient: str
    route: str | None
    form: str | None
    prn: bool
    daily: Amount | None          # daily amount of this ingredient, canonical unit (the maximum as written)
    per_day: float | None         # administrations per day (the maximum as written)
    dose_note: str | None = None  # why ``daily`` is unknown
    fills: tuple[tuple[date, int], ...] = ()   # dispensing history: (date, days' supply)
    days_taken: int | None = None              # days since start date (else first fill); None if neither
    daily_min: Amount | None = None            # the least daily amount as written ("1-2 tabs": the 1)
    anchors: tuple[str, ...] = ()              # timing anchors read from the sig: morning, bedtime, 08:00 …

    # Facts build a MedItem per ingredient and a MedEntry per medication of every patient; the generated
    # frozen __init__ (one object.__setattr__ per field) was a tenth of the facts stage. These take the
    # fields, in order, with their defaults, and set them in one step.
    def __init__(self, med, ingredient, route, form, prn, daily, per_day, dose_note=None, fills=(),
                 days_taken=None, daily_min=None, anchors=()):
        object.__setattr__(self, "__dict__", {
            "med": med, "ingredient": ingredient, "route": route, "form": form, "prn": prn, "daily": daily,
            "per_day": per_day, "dose_note": dose_note, "fills": fills, "days_taken": days_taken,
            "daily_min": daily_min, "anchors": anchors})


_NEW_DICT = object()   # a dict field not given: a new empty dict, as field(default_factory=dict) gives


@dataclass(frozen=True)
class MedEntry:
    """How one input medication was understood (all entries, active or not)."""

    index: int
    label: str
    active: bool
    resolution: DrugResolution
    daily: dict[str, Amount]
    reason: str | None                # why the dose could not be read (when there is no reading of it)
    source: str | None
    daily_min: dict[str, Amount] = field(default_factory=dict)
    reading: DoseReading | None = None
    dose: DailyDose | None = None

    def __init__(self, index, label, active, resolution, daily, reason, source, daily_min=_NEW_DICT, reading=None,
                 dose=None):   # see MedItem.__init__
        object.__setattr__(self, "__dict__", {
            "index": index, "label": label, "active": active, "resolution": resolution, "daily": daily,
            "reason": reason, "source": source, "daily_min": {} if daily_min is _NEW_DICT else daily_min,
            "reading": reading, "dose": dose})

    @property
    def dose_note(self) -> str | None:
        """How the dose was read, or why it could not be (written on demand: reports need it, screening not)."""
        return self.dose.note if self.dose is not None else self.reason


@dataclass(frozen=True)
class ConditionFact:
    index: int
    label: str
    groups: frozenset[str]
    source: str | None

    def __init__(self, index, label, groups, source):   # see MedItem.__init__
        object.__setattr__(self, "__dict__", {"index": index, "label": label, "groups": groups, "source": source})


@dataclass(frozen=True)
class AllergyFact:
    index: int
    label: str
    ingredients: frozenset[str]
    recorded_class: str | None
    status: str
    reaction: str | None
    severity: str | None
    type: str | None
    source: str | None


@dataclass(frozen=True)
class LabValue:
    lab: str
    value: float
    unit: str
    date: date | None
    label: str
    source: str | None = None
    comparator: str | None = None   # "<", "<=", ">=", ">": the value is a bound (a lab reported as ">60")

    def __init__(self, lab, value, unit, date, label, source=None, comparator=None):   # see MedItem.__init__
        object.__setattr__(self, "__dict__", {"lab": lab, "value": value, "unit": unit, "date": date, "label": label,
                                              "source": source, "comparator": comparator})

    def describe(self) -> str:
        when = f" on {self.date.isoformat()}" if self.date else " (undated)"
        unit = self.unit.replace("{", "").replace("}", "")
        unit = "" if unit.lower() == self.lab.lower() else f" {unit}"
        return f"{self.label} {self.comparator or ''}{format_number(self.value)}{unit}{when}"


@dataclass(frozen=True)
class RenalValue:
    measure: str                 # egfr | crcl
    value: float
    how: str                     # "reported 2026-10-01" / "Cockcroft-Gault from creatinine …"
    comparator: str | None = None   # a reported bound (">60"), as on LabValue

    def describe(self) -> str:
        name = "eGFR" if self.measure == "egfr" else "CrCl"
        unit = "mL/min/1.73m2" if self.measure == "egfr" else "mL/min"
        return f"{name} {self.comparator or ''}{format_number(round(self.value, 1))} {unit} ({self.how})"


@dataclass(frozen=True)
class PatientFacts:
    """Everything rules may test about one patient, at one ``as_of`` date."""

    patient_id: str
    as_of: date
    age: int | None
    sex: str
    pregnant: bool | None
    breastfeeding: bool | None
    weight_kg: float | None
    entries: tuple[MedEntry, ...]
    items: tuple[MedItem, ...]
    conditions: tuple[ConditionFact, ...]
    allergies: tuple[AllergyFact, ...]
    allergy_status_recorded: bool
    labs: dict[str, LabValue]
    lab_history: dict[str, tuple[LabValue, ...]]
    renal: dict[str, RenalValue] = field(default_factory=dict)
    unresolved: tuple[tuple[str, str, str], ...] = ()   # (kind, input, reason)
    problem_list: bool | None = None   # True when any condition is recorded; None: unknown (not "none")
    deceased: bool = False

    def __init__(self, patient_id, as_of, age, sex, pregnant, breastfeeding, weight_kg, entries, items, conditions,
                 allergies, allergy_status_recorded, labs, lab_history, renal=_NEW_DICT, unresolved=(),
                 problem_list=None, deceased=False):   # see MedItem.__init__
        object.__setattr__(self, "__dict__", {
            "patient_id": patient_id, "as_of": as_of, "age": age, "sex": sex, "pregnant": pregnant,
            "breastfeeding": breastfeeding, "weight_kg": weight_kg, "entries": entries, "items": items,
            "conditions": conditions, "allergies": allergies, "allergy_status_recorded": allergy_status_recorded,
            "labs": labs, "lab_history": lab_history, "renal": {} if renal is _NEW_DICT else renal,
            "unresolved": unresolved, "problem_list": problem_list, "deceased": deceased})

    @property
    def ingredients(self) -> frozenset[str]:
        return frozenset(item.ingredient for item in self.items)

    @property
    def condition_groups(self) -> frozenset[str]:
        return frozenset().union(*(c.groups for c in self.conditions)) if self.conditions else frozenset()


class _Dosing(NamedTuple):
    """What ``FactBuilder._dosing`` caches for one medication entry as written."""

    resolution: DrugResolution
    dose: DailyDose | None
    daily: dict[str, Amount]          # ingredient → the most per day, canonical unit
    daily_min: dict[str, Amount]      # ingredient → the least per day
    dose_note: str | None             # the items' note for ingredients without a daily amount


def _source_text(src) -> str | None:
    return f"{src.type}/{src.id}" if src else None


#: problem-list text that names a condition the patient does not have
NOT_THE_PATIENTS = re.compile(r"\s*(family history|family hx|fam hx|fhx\b|fh:|fh of\b|rule out|r/o\b|ruled out|"
                              r"no history of|no hx of|no known|denies|negative for|screening for)", re.IGNORECASE)


class FactBuilder:
    """Builds PatientFacts from profiles. Holds only immutable knowledge: safe to share across threads."""

    def __init__(self, kb: KnowledgeBase, resolver: Resolver | None = None) -> None:
        self.kb = kb
        self.resolver = resolver or Resolver(kb)

    def build(self, profile: Profile, as_of: date) -> PatientFacts:
        unresolved: list[tuple[str, str, str]] = [(i.kind, i.input, i.reason) for i in profile.import_issues]
        entries, items = [], []
        for index, med in enumerate(profile.medications):
            entry, med_items = self._medication(index, med, as_of, profile.weight_kg)
            entries.append(entry)
            items.extend(med_items)
            if entry.resolution.status == "unresolved":
                unresolved.append(("medication", entry.label, entry.resolution.note or "not recognised"))
            if med.status == "active" and not entry.active:
                unresolved.append(("medication", entry.label, f"ended {med.end_date.isoformat()} (before the as-of "
                                                              "date); not screened as taken"))

        conditions = []
        for index, cond in enumerate(profile.conditions):
            if cond.status != "active":
                continue
            text = cond.name or (cond.code.display if cond.code else None)
            if text and NOT_THE_PATIENTS.match(text):
                unresolved.append(("condition", cond.label, "a family history, ruled-out or denied condition; "
                                                            "not counted as the patient's own"))
                continue
            groups = self.resolver.condition(text, cond.code.system if cond.code else None,
                                             cond.code.code if cond.code else None)
            conditions.append(ConditionFact(index, cond.label, groups, _source_text(cond.source)))

        allergies = []
        for index, allergy in enumerate(profile.allergies):
            ings, cls, status = self.resolver.allergen(
                allergy.substance or (allergy.code.display if allergy.code else None),
                allergy.code.system if allergy.code else None, allergy.code.code if allergy.code else None)
            if status == "unresolved" and not ings:
                unresolved.append(("allergy", allergy.label,
                                   "substance not in the knowledge base; cannot screen drugs against it"))
            allergies.append(AllergyFact(index, allergy.label, ings, cls, status, allergy.reaction,
                                         allergy.severity, allergy.type, _source_text(allergy.source)))

        history: dict[str, list[LabValue]] = {}
        unknown_labs: dict[str, None] = {}
        future: dict[str, int] = {}
        for lab in profile.labs:
            lab_id = self.resolver.lab(lab.name, lab.loinc)
            label = lab.name or f"LOINC {lab.loinc}"
            if lab_id is None:
                unknown_labs[label] = None
                continue
            if lab.date and lab.date > as_of:
                future[label] = future.get(label, 0) + 1   # not yet known at as_of
                continue
            value = self._convert(lab_id, lab.value, lab.unit)
            if value is None:
                unresolved.append(("lab", label, f"unit {lab.unit!r} cannot be converted to "
                                                 f"{self.kb.labs[lab_id].unit}"))
                continue
            unit = self.kb.labs[lab_id].unit
            low, high = PLAUSIBLE_LABS.get(lab_id, (0.0, float("inf")))
            if not low <= value <= high:
                unresolved.append(("lab", label, f"value {format_number(value)} {unit} is not plausible "
                                                 f"(expected {format_number(low)} to {format_number(high)}); not used"))
                continue
            history.setdefault(lab_id, []).append(
                LabValue(lab_id, value, unit, lab.date, label, _source_text(lab.source), lab.comparator))
        for label, count in future.items():
            unresolved.append(("lab", label, f"{count} result(s) dated after the as-of date {as_of.isoformat()}; "
                                             "not used"))
        if unknown_labs:
            names = list(unknown_labs)
            shown = "; ".join(names[:5]) + (f"; and {len(names) - 5} more" if len(names) > 5 else "")
            unresolved.append(("lab", shown, f"{plural(len(names), 'kind')} of result not in the knowledge base; "
                                             "no rule uses them"))
        hepatic = self._child_pugh(history, conditions, items, as_of)
        if isinstance(hepatic, LabValue):
            history.setdefault("child-pugh", []).append(hepatic)
        elif hepatic:
            unresolved.append(("lab", "Child-Pugh score", hepatic))
        lab_history = {k: tuple(sorted(v, key=lambda x: (x.date or date.min, x.value)))
                       for k, v in sorted(history.items())}
        latest = {k: v[-1] for k, v in lab_history.items()}

        age = profile.age_at(as_of)
        if profile.age is None and profile.birth_date is not None and not 0 <= (age or 0) <= MAX_AGE:
            when = "after the as-of date" if profile.birth_date > as_of else f"{age} years before the as-of date"
            unresolved.append(("patient", f"birth date {profile.birth_date.isoformat()}",
                               f"{when} {as_of.isoformat()} is not plausible; age unknown, age rules not evaluated"))
            age = None
        pregnant = profile.pregnant
        if pregnant is None and profile.sex == "male":
            pregnant = False
        if pregnant is None and any("pregnancy" in c.groups for c in conditions):
            pregnant = True
        breastfeeding = False if profile.breastfeeding is None and profile.sex == "male" else profile.breastfeeding
        weight = profile.weight_kg or (latest["weight"].value if "weight" in latest else None)
        renal = self._renal({k: v for k, v in latest.items() if k not in RENAL_LABS or _recent(v, as_of)},
                            age, profile.sex, weight)
        scr = latest.get("creatinine")
        if scr is not None and scr.comparator:
            unresolved.append(("lab", scr.label, f"reported as {scr.comparator}{format_number(scr.value)} mg/dL, a bound: "
                                                 "kidney function is not calculated from it"))
        return PatientFacts(
            patient_id=profile.id, as_of=as_of, age=age, sex=profile.sex, pregnant=pregnant,
            breastfeeding=breastfeeding, weight_kg=weight, entries=tuple(entries),
            items=tuple(items), conditions=tuple(conditions), allergies=tuple(allergies),
            allergy_status_recorded=bool(profile.allergies) or profile.no_known_allergies,
            labs=latest, lab_history=lab_history, renal=renal, unresolved=tuple(dict.fromkeys(unresolved)),
            problem_list=True if profile.conditions else None, deceased=profile.deceased)

    def _medication(self, index: int, med, as_of: date,
                    weight_kg: float | None = None) -> tuple[MedEntry, list[MedItem]]:
        code = med.code
        reading = read_regimen(med.dose, med.frequency, med.sig)
        dosing = self._dosing(med.name or (code.display if code else None), code.system if code else None,
                              code.code if code else None, med.route or med.form or None, med.form or None,
                              med.dose, med.frequency, med.sig, weight_kg if reading.status == WEIGHT_BASED else None)
        res = dosing.resolution.copy()   # entries own their resolution; the cached one is shared
        active = med.status == "active" and not (med.end_date and med.end_date < as_of)
        entry = MedEntry(index, med.label, active, res, dict(dosing.daily), reading.reason or "no dose given",
                         _source_text(med.source), dict(dosing.daily_min), reading, dosing.dose)
        if not active or not res.ingredients:
            return entry, []
        prn = bool(med.prn or reading.prn)
        per_day = reading.per_day[1] if reading.per_day else None
        fills = tuple(sorted((f.date, f.days_supply) for f in med.fills)) if med.fills else ()
        started = med.start_date or (fills[0][0] if fills else None)
        days_taken = max(0, (as_of - started).days) if started else None
        daily, daily_min, anchors = dosing.daily, dosing.daily_min, reading.anchors
        return entry, [MedItem(index, ing, res.route, res.form, prn, daily.get(ing), per_day,
                               None if ing in daily else dosing.dose_note, fills, days_taken, daily_min.get(ing),
                               anchors)
                       for ing in res.ingredients]

    @functools.lru_cache(maxsize=65536)   # per distinct product and dosing: populations repeat both
    def _dosing(self, text, code_system, code, route, form, dose, frequency, sig, weight_kg) -> _Dosing:
        """One medication entry as written, understood: resolution (with the entry's form and any salt
        conversion noted), daily dose and daily amounts (read-only: shared between entries with the same key)."""
        res = self.resolver.drug_shared(text, code_system, code, route)   # copied below before any change
        if form and not res.form:
            res = res.copy()
            res.form = form
        if not res.ingredients:
            return _Dosing(res, None, {}, {}, None)
        dose_read = daily_dose(read_regimen(dose, frequency, sig), res.ingredients, res.strengths, res.form,
                               weight_kg)
        salts = self._salts_named(text) if text and dose_read.amounts else {}
        daily: dict[str, Amount] = {}
        daily_min: dict[str, Amount] = {}
        conversions = []
        for ingredient, (low, high) in dose_read.amounts.items():
            if high.unit.endswith("/kg"):
                continue   # weight-based with no weight on record: not a flat dose
            if ingredient not in salts:
                daily[ingredient], daily_min[ingredient] = high, low
                continue
            salt, factor = salts[ingredient]
            daily[ingredient] = Amount(high.value * factor, high.unit)
            daily_min[ingredient] = Amount(low.value * factor, low.unit)
            conversions.append(f"dose converted from {salt} to {ingredient} (× {factor:.4g})")
        if conversions:
            res = res.copy()
            res.note = "; ".join(([res.note] if res.note else []) + conversions)
        missing = any(ing not in daily for ing in res.ingredients)
        return _Dosing(res, dose_read, daily, daily_min, dose_read.note if missing else None)

    @functools.lru_cache(maxsize=65536)   # per distinct medication text: this runs for every entry
    def _salts_named(self, text: str) -> dict[str, tuple[str, float]]:
        """ingredient → (salt or brand name, factor) for the salts ``text`` names whose strength is not
        stated in the units of the dose tables (``knowledge/salt_equivalents.csv``): naproxen sodium,
        bupropion HBr. Names are tried longest first."""
        words = tokens(text)
        found: dict[str, tuple[str, float]] = {}
        for name, (target, factor) in self._salts.items():
            size = len(name)
            if target not in found and (not name or name[0] in words) \
                    and any(tuple(words[i:i + size]) == name for i in range(len(words) - size + 1)):
                found[target] = (" ".join(name), factor)
        return found

    @cached_property
    def _salts(self) -> dict[tuple[str, ...], tuple[str, float]]:
        out = {}
        for line, row in self.kb.table("salt_equivalents"):
            # "500/550" (mg of ingredient per mg of salt) keeps the conversion exact at the label's round numbers
            try:
                top, _, bottom = row["factor"].partition("/")
                factor = float(top) / float(bottom or 1)
            except (ValueError, ZeroDivisionError):
                factor = 0.0
            if not 0 < factor <= 2:
                raise InputError("factor: expected a ratio such as 500/550, between 0 and 2",
                                 file=str(self.kb.table_path("salt_equivalents")), line=line)
            out[tuple(tokens(row["name"]))] = (row["ingredient"], factor)
        return dict(sorted(out.items(), key=lambda kv: -len(kv[0])))   # longest name first: "anaprox ds" before "anaprox"

    def _convert(self, lab_id: str, value: float, unit: str | None) -> float | None:
        lab = self.kb.labs[lab_id]
        if not unit or not lab.unit:
            return value
        key = unit.strip().lower()
        if key == lab.unit.lower() or _same_unit(key, lab.unit.lower()):
            return value
        factor = lab.conversions.get(key)
        return value * factor if factor is not None else None

    def _child_pugh(self, history: dict[str, list[LabValue]], conditions: list[ConditionFact],
                    items: list[MedItem], as_of: date) -> LabValue | str | None:
        """A computed Child-Pugh score for a patient with cirrhosis on the problem list, when no reported
        score is newer than its parts; else why it could not be computed; None when no cirrhosis is
        recorded (the score grades cirrhosis: it means nothing in fatty liver or hepatitis alone)."""
        groups = frozenset().union(*(c.groups for c in conditions)) if conditions else frozenset()
        if "cirrhosis" not in groups:
            return None
        recent = {}
        for lab in ("bilirubin-total", "albumin", "inr"):
            values = [v for v in history.get(lab, ()) if v.date is not None
                      and 0 <= (as_of - v.date).days <= HEPATIC_LAB_MAX_AGE_DAYS]
            recent[lab] = max(values, key=lambda v: v.date) if values else None
        on_vka = next((i.ingredient for i in items if i.ingredient in self._vitamin_k_antagonists), None)
        score = child_pugh(*(recent[k].value if recent[k] else None for k in ("bilirubin-total", "albumin", "inr")),
                           ascites="ascites" in groups, encephalopathy="hepatic-encephalopathy" in groups,
                           inr_unusable=f"on {on_vka}: the INR measures the drug, not the liver" if on_vka else None)
        dates = [v.date for v in recent.values() if v is not None]
        reported = [v for v in history.get("child-pugh", ()) if v.date is None or not dates or v.date >= max(dates)]
        if reported:
            return None
        if score.score is None:
            return (f"not computed: no {', no '.join(score.missing)} within {HEPATIC_LAB_MAX_AGE_DAYS} days "
                    f"(rules that need liver function report 'not evaluated')")
        # dated by the oldest part, so a rule's recency window covers every part of the score
        return LabValue("child-pugh", float(score.score), "points", min(dates), score.describe())

    @cached_property
    def _vitamin_k_antagonists(self) -> frozenset[str]:
        return self.kb.class_ingredients("vitamin-k-antagonist") if "vitamin-k-antagonist" in self.kb.classes else frozenset()

    @staticmethod
    def _renal(latest: dict[str, LabValue], age: int | None, sex: str,
               weight: float | None) -> dict[str, RenalValue]:
        renal: dict[str, RenalValue] = {}
        scr = latest.get("creatinine")
        reported = latest.get("egfr")
        scr_newer = scr is not None and (reported is None or (scr.date or date.min) > (reported.date or date.min))
        if scr is not None and scr.comparator:
            scr = None   # "<0.5 mg/dL" bounds kidney function on one side only: no formula takes it
            scr_newer = False
        if reported is not None and not scr_newer:
            renal["egfr"] = RenalValue("egfr", reported.value, f"reported{_on(reported)}", reported.comparator)
        elif scr is not None and age is not None:
            value = ckd_epi_2021(scr.value, age, sex)
            if value is not None:
                renal["egfr"] = RenalValue("egfr", value, f"CKD-EPI 2021 from creatinine "
                                                          f"{format_number(scr.value)} mg/dL{_on(scr)}")
            elif reported is not None:
                renal["egfr"] = RenalValue("egfr", reported.value, f"reported{_on(reported)}", reported.comparator)
        reported_crcl = latest.get("creatinine-clearance")
        if reported_crcl is not None:
            renal["crcl"] = RenalValue("crcl", reported_crcl.value, f"reported{_on(reported_crcl)}",
                                       reported_crcl.comparator)
        elif scr is not None and age is not None and weight is not None:
            value = cockcroft_gault(scr.value, age, sex, weight)
            if value is not None:
                renal["crcl"] = RenalValue("crcl", value, f"Cockcroft-Gault from creatinine "
                                                          f"{format_number(scr.value)} mg/dL{_on(scr)}, "
                                                          f"{format_number(weight)} kg")
        return renal


#: Oldest plausible age in years; a birth date further back (or after as_of) is a data error.
MAX_AGE = 130
#: Data-quality limits, in each lab's canonical unit: a value outside is a typing or unit error, not a
#: measurement, and is reported and not used. Not clinical thresholds; every other lab must be >= 0.
PLAUSIBLE_LABS: dict[str, tuple[float, float]] = {
    "egfr": (0.0, 300.0), "creatinine": (0.05, 40.0), "creatinine-clearance": (0.0, 400.0),
    "potassium": (0.5, 15.0), "sodium": (80.0, 220.0), "hba1c": (2.0, 25.0), "inr": (0.3, 30.0),
    "weight": (0.2, 700.0), "height": (20.0, 300.0), "qtc": (150.0, 1000.0), "systolic-bp": (20.0, 350.0),
    "diastolic-bp": (5.0, 250.0), "heart-rate": (5.0, 350.0), "body-temperature": (20.0, 46.0),
}

#: Kidney function older than this is not used: it says little about today's dosing.
RENAL_MAX_AGE_DAYS = 365
RENAL_LABS = ("egfr", "creatinine", "creatinine-clearance")
#: Bilirubin, albumin and INR older than this are not combined into a Child-Pugh score.
HEPATIC_LAB_MAX_AGE_DAYS = 180


def _recent(lab: LabValue, as_of: date) -> bool:
    return lab.date is None or (as_of - lab.date).days <= RENAL_MAX_AGE_DAYS


def _on(lab: LabValue) -> str:
    return f" on {lab.date.isoformat()}" if lab.date else ""


def _same_unit(a: str, b: str) -> bool:
    simplify = lambda u: u.replace("{", "").replace("}", "").replace("_", "").replace(" ", "").replace(".", "")
    return simplify(a) == simplify(b)
