"""The per-medication review (the CMR table): indication, effectiveness, safety, adherence for every drug."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from mtmrules.engine.engine import Engine
from mtmrules.knowledge.facts import MedEntry, PatientFacts
from mtmrules.knowledge.adherence import pdc
from mtmrules.knowledge.dose import format_number
from mtmrules.report.models import Report

GOAL_WINDOW_DAYS = 183


@dataclass
class MedicationReview:
    medication: str
    ingredients: list[str]
    how_taken: str
    indication: str                      # matched condition(s), or "no indication on record"
    effectiveness: str                   # goal and latest value, or why it cannot be judged
    safety: list[str] = field(default_factory=list)   # problem titles involving the drug
    adherence: str = "ask the patient"
    prescriber: str | None = None
    status: str = "resolved"
    education: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


class Reviewer:
    """Builds the CMR table from one engine (knowledge + rules)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        kb = engine.kb
        self.indications: dict[str, set[str]] = {}
        if kb.table_path("indications").exists():
            for _, row in kb.table("indications"):
                self.indications.setdefault(row["ingredient"], set()).add(row["condition"])
        self.goals = [row for _, row in kb.table("therapy_goals")] if kb.table_path("therapy_goals").exists() else []
        self.education = ({row["ingredient"]: row for _, row in kb.table("patient_education")}
                          if kb.table_path("patient_education").exists() else {})

    def review(self, profile, report: Report, facts: PatientFacts) -> list[MedicationReview]:
        rows = []
        for entry in facts.entries:
            if not entry.active:
                continue
            med = profile.medications[entry.index]
            ingredients = entry.resolution.ingredients
            rows.append(MedicationReview(
                medication=entry.label, ingredients=list(ingredients), how_taken=self._how(med, entry),
                indication=self._indication(med, ingredients, facts),
                effectiveness=self._effectiveness(ingredients, facts),
                safety=[f"{p.severity}: {p.title}" for p in report.problems if set(ingredients) & set(p.medications)],
                adherence=self._adherence(med, facts), prescriber=med.prescriber, status=entry.resolution.status,
                education={k: v for k, v in self.education.get(ingredients[0], {}).items()
                           if k in ("purpose", "how_to_take", "side_effects", "call_if", "source")} if ingredients else {}))
        return rows

    @staticmethod
    def _how(med, entry: MedEntry) -> str:
        text = med.sig or " ".join(str(x) for x in (med.dose, med.frequency) if x) or "how it is taken is not recorded"
        if entry.daily:
            text += " (" + ", ".join(f"{ing} {format_number(a.value)} {a.unit}/day" for ing, a in sorted(entry.daily.items())) + ")"
        return text

    def _indication(self, med, ingredients: list[str], facts: PatientFacts) -> str:
        if med.indication:
            return f"{med.indication} (as recorded on the medication)"
        wanted = set().union(*(self.indications.get(i, set()) for i in ingredients)) if ingredients else set()
        if not wanted:
            return "no indication on record (no indication knowledge for this drug)" if ingredients else "unknown drug"
        expanded = set()
        for group in wanted:
            expanded |= self.engine.kb.condition_descendants.get(group, frozenset({group}))
        matched = [c.label for c in facts.conditions if c.groups & expanded]
        return "; ".join(dict.fromkeys(matched)) if matched else "no indication on record"

    def _effectiveness(self, ingredients: list[str], facts: PatientFacts) -> str:
        kb = self.engine.kb
        classes = set().union(*(kb.ingredient_classes.get(i, frozenset()) for i in ingredients)) if ingredients else set()
        groups = facts.condition_groups
        notes = []
        for goal in self.goals:
            if goal["applies_to_class"] and goal["applies_to_class"] not in classes:
                continue
            if goal["applies_to_condition"] and goal["applies_to_condition"] not in groups:
                continue
            if not goal["applies_to_class"] and not (set(ingredients) and classes & _antihypertensive(kb)):
                continue
            label = kb.labs[goal["lab"]].label
            unit = f" {goal['unit'].replace('[', '').replace(']', '')}" if goal["unit"] else ""
            bound = (f"{goal['low']}–{goal['high']}" if goal["low"] and goal["high"]
                     else f"below {goal['high']}" if goal["high"] else f"at least {goal['low']}")
            lab = facts.labs.get(goal["lab"])
            if lab is None or lab.date is None or lab.date < facts.as_of - timedelta(days=GOAL_WINDOW_DAYS):
                notes.append(f"{label} goal {bound}{unit}: no recent value")
                continue
            low = float(goal["low"]) if goal["low"] else None
            high = float(goal["high"]) if goal["high"] else None
            if low is not None and high is not None:
                at_goal = low <= lab.value <= high
            else:
                at_goal = (high is None or lab.value < high) and (low is None or lab.value >= low)
            notes.append(f"{label} goal {bound}{unit}: {format_number(lab.value)} on {lab.date.isoformat()} — "
                         f"{'at goal' if at_goal else 'not at goal'}")
        return "; ".join(notes) if notes else "no measurable goal defined for this drug"

    @staticmethod
    def _adherence(med, facts: PatientFacts) -> str:
        if not med.fills:
            return "no fill history: ask the patient"
        value, how = pdc({"drug": [(f.date, f.days_supply) for f in med.fills]}, facts.as_of)
        if value is None:
            return how
        verdict = "adherent" if value >= 80 else "below the 80% threshold"
        return f"PDC {format_number(value)}% ({how}) — {verdict}"


def _antihypertensive(kb) -> set[str]:
    return {"ace-inhibitor", "arb", "calcium-channel-blocker", "thiazide-diuretic", "thiazide-like-diuretic",
            "beta-blocker", "mineralocorticoid-receptor-antagonist", "arni", "loop-diuretic", "alpha1-blocker",
            "central-alpha2-agonist"} & set(kb.classes)
