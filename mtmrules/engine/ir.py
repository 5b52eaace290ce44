"""The rule IR: a small, closed set of typed nodes that every executor runs.

Classes, condition groups and units are resolved at compile time, so executors only compare
ingredient ids, group ids and numbers in canonical units (mg, unit, mL/min …).
"""

from __future__ import annotations

import math

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

    def state_of(self, value: float, comparator: str | None = None) -> str:
        """"T", "F" or "U" for a measurement that may be a bound (``comparator`` ">" and value 60: a
        result reported as ">60"): true or false only when every value the bound allows agrees."""
        if comparator is None:
            return "T" if self.test(value) else "F"
        inf = math.inf
        low, low_open, high, high_open = {
            ">": (value, True, inf, True), ">=": (value, False, inf, True),
            "<": (-inf, True, value, True), "<=": (-inf, True, value, False)}[comparator]
        lower = max([(-inf, True)] + [(v, True) for v in (self.gt,) if v is not None]
                    + [(v, False) for v in (self.gte,) if v is not None], key=lambda b: (b[0], b[1]))
        upper = min([(inf, True)] + [(v, True) for v in (self.lt,) if v is not None]
                    + [(v, False) for v in (self.lte,) if v is not None], key=lambda b: (b[0], not b[1]))
        above = low > lower[0] or (low == lower[0] and (low_open or not lower[1]))
        below = high < upper[0] or (high == upper[0] and (high_open or not upper[1]))
        if above and below:
            return "T"
        if high < lower[0] or (high == lower[0] and (high_open or lower[1])) \
                or low > upper[0] or (low == upper[0] and (low_open or upper[1])):
            return "F"
        return "U"

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
    basis: str = "specific"  # "mechanism": a specific rule about the same drugs wins over it in the report
    mechanism: tuple[str, ...] = ()  # pathways or effects the rule is about (empty: unstated)

    def severity_with(self, modifier: int | None) -> str:
        """The severity the rule fires at when ``modifier`` (an index into ``modifiers``) applied."""
        return (self.modifiers[modifier].severity if modifier is not None else None) or self.severity


def absence_text(node: Node) -> str:
    """What is true of the patient when ``node`` is false, in words — the evidence of a ``none``.

    Only a leaf's absence is stated as "no …": a false ``any`` is the absence of each child, but a false
    ``all`` only means one of its parts is missing, and a false ``none`` that one of its items is present.
    """
    if isinstance(node, Any_):
        return "; ".join(t for t in (absence_text(c) for c in node.children) if t)
    if isinstance(node, All):
        text = statement(node)
        return f"not all of ({text})" if text else ""
    if isinstance(node, Not):
        present = " or ".join(t for t in map(statement, node.children) if t)
        return f"at least one of: {present}" if present else ""
    if not node.text:
        return ""
    if isinstance(node, LabMissing):
        return f"{node.text[3:]} on file" if node.text.startswith("no ") else f"not: {node.text}"
    if isinstance(node, (Med, CondGroup, AllergyTo, AllergyConflict)):
        return f"no {node.text}"
    return f"not: {node.text}"


def statement(node: Node) -> str:
    """The node's condition in words, with nested ``none`` written "none of (…)" so that no part of it
    reads as a claim that something is absent."""
    if isinstance(node, (All, Any_)):
        joiner = " and " if isinstance(node, All) else " or "
        return joiner.join(t for t in map(statement, node.children) if t)
    if isinstance(node, Not):
        inner = " or ".join(t for t in map(statement, node.children) if t)
        return f"none of ({inner})" if inner else ""
    return node.text
