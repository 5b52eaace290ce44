"""The rule IR: a small, closed set of typed nodes that every executor runs.

Classes, condition groups and units are resolved at compile time, so executors only compare
ingredient ids, group ids and numbers in canonical units (mg, unit, mL/min …).
"""

from __future__ import annotations

from dataclasses import dataclass, field


def _eps(bound: float) -> float:
    return 1e-9 * max(1.0, abs(bound))


@dataclass(frozen=True)
class Bounds:
    """Numeric bounds in canonical units; inclusion explicit."""

    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None
    unit: str | None = None

    def test(self, value: float) -> bool:
        # A tiny tolerance keeps 0.1 + 0.2 style float sums on the right side of a written bound.
        return ((self.gt is None or value > self.gt + _eps(self.gt)) and (self.gte is None or value >= self.gte - _eps(self.gte))
                and (self.lt is None or value < self.lt - _eps(self.lt)) and (self.lte is None or value <= self.lte + _eps(self.lte)))

    def describe(self) -> str:
        from mtmrules.knowledge.dose import format_number
        unit = f" {self.unit}" if self.unit else ""
        parts = [f"{op} {format_number(v)}{unit}" for op, v in
                 (("<", self.lt), ("≤", self.lte), (">", self.gt), ("≥", self.gte)) if v is not None]
        return " and ".join(parts)


@dataclass(frozen=True)
class MedMatch:
    """Filter on (medication, ingredient) items."""

    ingredients: frozenset[str]
    routes: frozenset[str] | None = None
    exclude_routes: frozenset[str] = frozenset()
    forms: frozenset[str] | None = None
    exclude_forms: frozenset[str] = frozenset()
    prn: bool | None = None
    daily: Bounds | None = None
    per_day: Bounds | None = None
    days: Bounds | None = None          # days taken so far (MedItem.days_taken)
    text: str = ""                      # human description, e.g. "an NSAID (oral)"


@dataclass(frozen=True)
class Node:
    bind: str | None = field(default=None, kw_only=True)
    text: str = field(default="", kw_only=True)


@dataclass(frozen=True)
class All(Node):
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Any_(Node):
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not(Node):
    """``none:`` — true when no child holds."""

    children: tuple[Node, ...]


@dataclass(frozen=True)
class Med(Node):
    match: MedMatch


@dataclass(frozen=True)
class Count(Node):
    match: MedMatch
    distinct: str          # ingredient | medication
    same_ingredient: bool
    gte: int


@dataclass(frozen=True)
class Total(Node):
    """Sum of a measure over matching items: the daily dose; a per-ingredient score (counted once per
    ingredient); or a per-ingredient factor × the daily dose in mg (e.g. morphine milligram equivalents)."""

    match: MedMatch
    measure: str           # daily_dose | name of a knowledge table
    bounds: Bounds
    weights: tuple[tuple[str, float], ...] = ()   # ingredient → score or factor
    per_dose: bool = False                         # True: weight × daily dose; False: weight per ingredient


@dataclass(frozen=True)
class CondGroup(Node):
    groups: frozenset[str]


@dataclass(frozen=True)
class AllergyFilter:
    reactions: tuple[str, ...] = ()          # lowercase fragments of the reaction text
    severities: frozenset[str] | None = None
    types: frozenset[str] | None = None

    def admits(self, allergy) -> bool:
        if self.reactions and not any(r in (allergy.reaction or "").lower() for r in self.reactions):
            return False
        if self.severities is not None and allergy.severity not in self.severities:
            return False
        return self.types is None or allergy.type in self.types


@dataclass(frozen=True)
class AllergyTo(Node):
    ingredients: frozenset[str]
    filter: AllergyFilter = AllergyFilter()


@dataclass(frozen=True)
class AllergyConflict(Node):
    match: MedMatch
    filter: AllergyFilter = AllergyFilter()


@dataclass(frozen=True)
class PatientAttr(Node):
    attr: str              # age | weight_kg | sex | pregnant | breastfeeding
    bounds: Bounds | None = None
    equals: object = None


@dataclass(frozen=True)
class Renal(Node):
    measure: str           # egfr | crcl
    bounds: Bounds


@dataclass(frozen=True)
class LabValueTest(Node):
    test: str
    bounds: Bounds
    within_days: int | None
    label: str = ""


@dataclass(frozen=True)
class LabMissing(Node):
    test: str
    within_days: int


@dataclass(frozen=True)
class Adherence(Node):
    """A fill-history measure over the matching items: PDC (percent; drugs of the set counted together,
    or each drug on its own with ``per_drug``) or the refill gap (days without supply, always per drug)."""

    match: MedMatch
    bounds: Bounds
    measure: str = "pdc"        # pdc | refill_gap | fill_count
    per_drug: bool = False


def leaves(node: Node):
    """Every leaf predicate under ``node`` (all/any/none unwrapped), depth first."""
    if isinstance(node, (All, Any_, Not)):
        for child in node.children:
            yield from leaves(child)
    else:
        yield node


def rule_leaves(rule: "CompiledRule"):
    """Every leaf predicate of a rule's condition and of its modifiers."""
    for root in (rule.when, *(m.when for m in rule.modifiers)):
        yield from leaves(root)


@dataclass(frozen=True)
class CompiledModifier:
    when: Node
    severity: str | None
    action_level: str | None
    note: str | None


@dataclass(frozen=True)
class CompiledRule:
    """One executable rule (a table-driven template yields one per row)."""

    id: str                 # "pack/rule" or "pack/rule/row"
    pack: str
    pack_version: str
    kind: str
    category: str
    severity: str
    when: Node
    modifiers: tuple[CompiledModifier, ...]
    title: str
    message: str
    why: str
    interventions: tuple[dict, ...]
    patient_text: str
    references: tuple[str, ...]
    tests: tuple = ()
    source_file: str = ""
    source_line: int | None = None
    test_lines: tuple[int | None, ...] = ()   # the line of each of ``tests`` in ``source_file``
    template_id: str = ""   # the rule id in the pack (differs from the last part of ``id`` for table rows)
