"""Patient context that ranks problems by harm in *this* patient (DESIGN §7.4, docs/ranking.md).

Three signals, each read from a cited knowledge table or the profile, never from the rule id:
- a lab already showing the consequence of a drug in the problem (``knowledge/harm_signals.csv``:
  INR on warfarin, potassium on potassium-raising drugs, sodium on thiazides and SSRIs, glucose on
  sulfonylureas and insulin, heart rate on rate-slowing drugs, a ≥ 25% eGFR fall on NSAIDs …):
  +6 beyond the first threshold, +10 beyond the second;
- a drug in the problem started in the last 90 days: +4;
- an ISMP high-alert drug in the problem (``knowledge/high_alert.csv``): +3.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from mtmrules.knowledge.facts import PatientFacts
from mtmrules.knowledge.base import KnowledgeBase
from mtmrules.knowledge.dose import format_number

LAB_MILD, LAB_MARKED, RECENT_START, HIGH_ALERT = 6.0, 10.0, 4.0, 3.0
RECENT_DAYS = 90


@dataclass(frozen=True)
class _Signal:
    ingredients: frozenset[str]
    lab: str
    direction: str          # above | below | drop_percent
    mild: float
    marked: float | None
    within_days: int
    consequence: str


class HarmContext:
    """Loads the two tables once; ``of(facts).factors`` scores one problem's medications for one patient."""

    def __init__(self, kb: KnowledgeBase) -> None:
        def members(drug: str) -> frozenset[str]:
            return kb.class_ingredients(drug) if drug in kb.classes else frozenset({drug})

        self.signals = [_Signal(members(row["drug"]), row["lab"], row["direction"], float(row["mild"]),
                                float(row["marked"]) if row["marked"] else None, int(row["within_days"]),
                                row["consequence"])
                        for _, row in kb.table("harm_signals")]
        self.high_alert: frozenset[str] = frozenset().union(
            *(members(row["drug"]) for _, row in kb.table("high_alert")))
        self._by_ingredient: dict[str, list[int]] = {}
        for index, signal in enumerate(self.signals):
            for ingredient in signal.ingredients:
                self._by_ingredient.setdefault(ingredient, []).append(index)
        #: ingredients a lab signal or the high-alert list names (a problem on none of them and no
        #: recent start has no context: most problems)
        self.notable: frozenset[str] = frozenset(self._by_ingredient) | self.high_alert

    def of(self, facts: PatientFacts) -> "PatientHarm":
        """This patient's context, to score each of their problems with."""
        return PatientHarm(self, facts)

    def _reading(self, facts: PatientFacts, signal: _Signal) -> tuple[float, str] | None:
        latest = facts.labs.get(signal.lab)
        if latest is None or latest.date is None or (facts.as_of - latest.date).days > signal.within_days:
            return None
        if signal.direction == "drop_percent":
            earlier = [v for v in facts.lab_history.get(signal.lab, ())
                       if v.date is not None and v.date < latest.date and v.value > 0]
            if not earlier:
                return None
            before = earlier[-1]
            fall = 100.0 * (before.value - latest.value) / before.value
            if fall < signal.mild:
                return None
            return LAB_MILD, (f"{signal.consequence}: {_shown(latest)}, down {format_number(round(fall))}% from "
                              f"{format_number(before.value)} on {before.date.isoformat()}")
        def beyond(limit: float) -> bool:
            return latest.value > limit if signal.direction == "above" else latest.value < limit
        if not beyond(signal.mild):
            return None
        points = LAB_MARKED if signal.marked is not None and beyond(signal.marked) else LAB_MILD
        return points, f"{signal.consequence} already present: {_shown(latest)}"


class PatientHarm:
    """One patient's harm context: ``factors`` scores each problem; what depends on the patient alone
    (the recently started items, each lab signal's reading) is worked out once, not once per problem."""

    __slots__ = ("context", "facts", "recent", "readings")

    def __init__(self, context: HarmContext, facts: PatientFacts) -> None:
        self.context, self.facts = context, facts
        #: (entry, ingredient) of each item started in the last RECENT_DAYS days
        self.recent = [(item.med, item.ingredient) for item in facts.items
                       if item.days_taken is not None and 0 <= item.days_taken <= RECENT_DAYS]
        self.readings: dict[int, tuple[float, str] | None] = {}   # signal index → its reading here

    def factors(self, ingredients: Collection[str], entries: Collection[int]) -> list[tuple[float, str]]:
        """(points, reason) for each context signal present, strongest lab first; deterministic."""
        out: list[tuple[float, str]] = []
        if not self.recent and self.context.notable.isdisjoint(ingredients):
            return out
        by_ingredient = self.context._by_ingredient
        signals = {i for ing in ingredients for i in by_ingredient.get(ing, ())}
        lab = self._lab(signals) if signals else None
        if lab:
            out.append(lab)
        if self.recent:
            recent = sorted({ingredient for med, ingredient in self.recent if med in entries})
            if recent:
                out.append((RECENT_START, f"{', '.join(recent)} started in the last {RECENT_DAYS} days"))
        alert = self.context.high_alert.intersection(ingredients)
        if alert:
            out.append((HIGH_ALERT, f"high-alert medication (ISMP): {', '.join(sorted(alert))}"))
        return out

    def _lab(self, signals: set[int]) -> tuple[float, str] | None:
        """The strongest reading among ``signals`` (indexes into the signal table); the first on a tie."""
        best: tuple[float, str] | None = None
        for index in sorted(signals):
            if index in self.readings:
                found = self.readings[index]
            else:
                found = self.readings[index] = self.context._reading(self.facts, self.context.signals[index])
            if found and (best is None or found[0] > best[0]):
                best = found
        return best


def _shown(reading) -> str:
    """A lab reading as the reason states it (formatted only once it counts)."""
    return f"{reading.label} {format_number(reading.value)} {reading.unit} on {reading.date.isoformat()}"
