"""Intake gaps: what is missing or stale before a safe review, phrased as questions to ask or look up."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from mtmrules.knowledge.facts import PatientFacts
from mtmrules.report.models import Report
from mtmrules.session.schedule import course_days

RENAL_STALE_DAYS = 365
#: ingredients usually bought over the counter; if none is listed, the list probably omits them
OTC_HINT_CLASSES = ("nsaid", "h1-antihistamine", "ppi", "h2-blocker", "laxative")
OTC_HINT_INGREDIENTS = ("acetaminophen", "calcium carbonate", "cholecalciferol", "ergocalciferol", "cyanocobalamin",
                        "ferrous sulfate", "melatonin", "docusate", "sennosides", "polyethylene glycol 3350",
                        "dextromethorphan", "guaifenesin", "pseudoephedrine", "st john's wort", "loperamide")
_NO_RESULT = re.compile(r"no (.+?) result(?: in the last (\d+) days)?")


def _real(prescriber: str | None) -> bool:
    from mtmrules.session.prescribers import real_prescriber
    return real_prescriber(prescriber) is not None


@dataclass(frozen=True)
class Question:
    topic: str          # allergies | conditions | kidney function | dosing | medication list | labs | fills | indication | otc
    question: str       # what to ask the patient or look up
    why: str

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def intake_questions(kb, profile, facts: PatientFacts, report: Report) -> list[Question]:
    """Questions to ask or look up before the review, most important first."""
    questions: list[Question] = []
    renal_drugs = {row["ingredient"] for _, row in kb.table("renal_dosing")}
    if not facts.allergy_status_recorded:
        questions.append(Question("allergies", "Does the patient have any drug allergies or intolerances? Record "
                                  "'no known allergies' if none.", "No allergy status is recorded, so allergy "
                                  "screening could not be done."))
    if facts.problem_list is None:
        questions.append(Question("conditions", "Which medical conditions does the patient have (the problem list)?",
                                  "No conditions are recorded, so indications and drug-disease problems "
                                  "cannot be checked."))
    on_renal = sorted({i.ingredient for i in facts.items} & renal_drugs)
    if on_renal:
        latest = [v.date for lab in ("egfr", "creatinine", "creatinine-clearance")
                  for v in facts.lab_history.get(lab, ()) if v.date is not None]
        if not latest:
            questions.append(Question("kidney function", "Obtain a recent serum creatinine or eGFR (and the patient's "
                                      "weight for creatinine clearance).",
                                      f"{', '.join(on_renal)} need dose checks against kidney function, and none is on record."))
        elif max(latest) < facts.as_of - timedelta(days=RENAL_STALE_DAYS):
            questions.append(Question("kidney function", "Obtain an up-to-date serum creatinine or eGFR.",
                                      f"The latest kidney function is from {max(latest).isoformat()}; "
                                      f"{', '.join(on_renal)} are dosed by kidney function."))
        if "crcl" not in facts.renal and facts.weight_kg is None and "creatinine" in facts.labs:
            questions.append(Question("kidney function", "Record the patient's weight.",
                                      "Creatinine clearance (Cockcroft-Gault), which most labels dose by, needs weight."))
    for entry in facts.entries:
        if not entry.active:
            continue
        if entry.resolution.status == "unresolved":
            questions.append(Question("medication list", f"What exactly is '{entry.label}' (name, strength, form)?",
                                      "It is not in the knowledge base, so it could not be screened."))
        elif entry.resolution.status == "approximate":
            questions.append(Question("medication list", f"Confirm that '{entry.label}' is "
                                      f"{', '.join(entry.resolution.ingredients)}.",
                                      f"It was matched approximately ({entry.resolution.note})."))
        elif entry.dose_note and entry.dose_note not in ("no dose given", "no frequency given") \
                and "strength" not in entry.dose_note and "combination" not in entry.dose_note:
            questions.append(Question("dosing", f"How does the patient actually take {entry.label}? The directions "
                                      f"could not be read ({entry.dose_note}).",
                                      "Unreadable directions leave the dose checks and the schedule undone."))
        elif entry.dose_note in ("no dose given", "no frequency given") or not entry.daily:
            med = profile.medications[entry.index]
            if not (med.dose or med.sig) or not (med.frequency or med.sig) or entry.dose_note == "no frequency given":
                questions.append(Question("dosing", f"How does the patient actually take {entry.label} (dose and how often)?",
                                          "Without dose and frequency, daily-dose checks cannot be done."))
    for problem in report.problems:
        if problem.kind == "monitoring-gap":
            labs = sorted({iv.lab for iv in problem.interventions if iv.lab})
            names = ", ".join(kb.labs[lab].label if lab in kb.labs else lab for lab in labs) or "the test"
            questions.append(Question("labs", f"Look up or obtain a current {names} result ({problem.title}).",
                                      problem.explanation))
    unfilled = [e.label for e in facts.entries if e.active and not profile.medications[e.index].fills
                and not any(i.prn for i in facts.items if i.med == e.index)
                and not course_days(profile.medications[e.index].sig)        # a 7-day course has no adherence rate
                and _real(profile.medications[e.index].prescriber)]
    if unfilled:
        questions.append(Question("fills", "Get the pharmacy fill history (or ask how often the patient refills) for: "
                                  + ", ".join(unfilled) + ".",
                                  "Without fills, adherence (proportion of days covered) cannot be measured."))
    for problem in report.problems:
        if problem.kind == "no-indication":
            for med in problem.medications:
                questions.append(Question("indication", f"What is {med} for? Is it still needed?",
                                          f"No indication for {med} is on the problem list."))
    classes = set().union(*(kb.ingredient_classes.get(i.ingredient, frozenset()) for i in facts.items)) \
        if facts.items else set()
    otc_listed = any(i.ingredient in OTC_HINT_INGREDIENTS for i in facts.items) or bool(classes & set(OTC_HINT_CLASSES)) \
        or any((profile.medications[e.index].prescriber or "").lower() in ("otc", "self", "self (otc)") for e in facts.entries)
    if not otc_listed:
        questions.append(Question("otc", "Which over-the-counter medicines, vitamins, supplements and herbal products "
                                  "does the patient take, and how often?",
                                  "None are on the list; they often cause interactions and duplications."))
    seen = set()
    for item in report.not_evaluated:
        for reason in item.reason.split("; "):
            found = _NO_RESULT.search(reason)
            if found and found.group(1) not in seen:
                seen.add(found.group(1))
                window = f" (within the last {found.group(2)} days)" if found.group(2) else ""
                questions.append(Question("labs", f"Obtain or look up a {found.group(1)} result{window}.",
                                          f"Needed by {item.rule}."))
    return questions
