"""Medication Action Plan, Personal Medication List and a simplified daily schedule (CMS Standardized
Format in spirit: "What we talked about / What I need to do / What I did and when")."""

from __future__ import annotations

from dataclasses import dataclass, field

from mtmrules.engine.engine import Engine
from mtmrules.knowledge.facts import PatientFacts
from mtmrules.report.models import Report
from mtmrules.session.decisions import accepted
from mtmrules.session.review import MedicationReview

SLOTS = ("morning", "midday", "evening", "bedtime")
BY_FREQUENCY = {1: ("morning",), 2: ("morning", "evening"), 3: ("morning", "midday", "evening"),
                4: ("morning", "midday", "evening", "bedtime")}


@dataclass
class ActionItem:
    talked_about: str
    to_do: list[str]
    problem_id: str


@dataclass
class ListEntry:
    medication: str
    how: str
    why: str
    prescriber: str | None
    notes: list[str] = field(default_factory=list)


@dataclass
class Plan:
    patient: str
    as_of: str
    pharmacist: str | None
    actions: list[ActionItem]
    medications: list[ListEntry]
    schedule: dict[str, list[str]]          # slot → medications
    other_times: list[str]                  # weekly, as needed, unknown frequency

    def to_dict(self) -> dict:
        return {"patient": self.patient, "as_of": self.as_of, "pharmacist": self.pharmacist,
                "actions": [a.__dict__ for a in self.actions], "medications": [m.__dict__ for m in self.medications],
                "schedule": self.schedule, "other_times": self.other_times}


def build_plan(engine: Engine, facts: PatientFacts, report: Report, review: list[MedicationReview],
               pharmacist: str | None = None) -> Plan:
    actions = []
    for problem in accepted(report):
        todo = [iv.text for iv in problem.interventions if iv.to == "patient"]
        if not todo:
            drugs = ", ".join(problem.medications) or "this"
            todo = [f"Talk with your prescriber about {drugs}: your pharmacist has sent a recommendation."]
        actions.append(ActionItem(problem.patient_text, todo, problem.id))
    timing = {}
    if engine.kb.table_path("administration_timing").exists():
        for _, row in engine.kb.table("administration_timing"):
            timing.setdefault(row["ingredient"], row)
    medications, schedule, other = [], {slot: [] for slot in SLOTS}, []
    for row, entry in zip(review, [e for e in facts.entries if e.active]):
        notes = []
        purpose = row.education.get("purpose")
        why = row.indication if not row.indication.startswith("no indication") else (purpose or "ask your prescriber")
        if row.education.get("how_to_take"):
            notes.append(row.education["how_to_take"])
        if row.education.get("call_if"):
            notes.append("Call your doctor if: " + row.education["call_if"])
        medications.append(ListEntry(row.medication, row.how_taken, why, row.prescriber, notes))
        items = [i for i in facts.items if i.med == entry.index]
        per_day = items[0].per_day if items else None
        prn = bool(items and items[0].prn)
        slot_rule = next((timing[i] for i in entry.resolution.ingredients if i in timing), None)
        if prn:
            other.append(f"{row.medication}: only when needed ({row.how_taken})")
        elif per_day is None:
            other.append(f"{row.medication}: ask your pharmacist when to take it")
        elif per_day < 1:
            other.append(f"{row.medication}: {row.how_taken} — pick a day and mark it on your calendar")
        else:
            slots = BY_FREQUENCY.get(round(per_day), SLOTS)
            if slot_rule and len(slots) == 1 and slot_rule["slot"] in SLOTS:
                slots = (slot_rule["slot"],)
            label = row.medication
            if slot_rule and slot_rule.get("constraint") not in (None, "", "none"):
                label += f" ({slot_rule['constraint'].replace('-', ' ')})"
            for slot in slots:
                schedule[slot].append(label)
    return Plan(report.patient.id, report.as_of.isoformat(), pharmacist, actions, medications, schedule, other)


def render_markdown(plan: Plan) -> str:
    out = ["# My Medication Action Plan", "", f"Patient: {plan.patient} · Date: {plan.as_of}"
           + (f" · Pharmacist: {plan.pharmacist}" if plan.pharmacist else ""), ""]
    for i, action in enumerate(plan.actions, 1):
        out += [f"## {i}. What we talked about", "", action.talked_about, "", "**What I need to do**", ""]
        out += [f"- {step}" for step in action.to_do]
        out += ["", "**What I did and when:** ______________________", ""]
    out += ["# My Medication List", ""]
    for med in plan.medications:
        out += [f"## {med.medication}", "", f"- How I take it: {med.how}", f"- Why I take it: {med.why}"]
        if med.prescriber:
            out.append(f"- Prescriber: {med.prescriber}")
        out += [f"- {note}" for note in med.notes] + [""]
    out += ["# My daily schedule", "", "| Morning | Midday | Evening | Bedtime |", "|---|---|---|---|"]
    rows = max((len(v) for v in plan.schedule.values()), default=0)
    for r in range(rows):
        out.append("| " + " | ".join(plan.schedule[s][r] if r < len(plan.schedule[s]) else "" for s in SLOTS) + " |")
    if plan.other_times:
        out += ["", "Other times:", ""] + [f"- {line}" for line in plan.other_times]
    return "\n".join(out) + "\n"


def render_html(plan: Plan) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape
    env = Environment(loader=PackageLoader("mtmrules.session", "templates"), autoescape=select_autoescape(["html"]))
    return env.get_template("plan.html.j2").render(plan=plan, slots=SLOTS)
