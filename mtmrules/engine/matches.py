"""The canonical match table every executor produces, and the three-valued logic they share.

A predicate is TRUE, FALSE or UNKNOWN (data missing). ``all``/``any``/``none`` follow Kleene's
logic, so a rule is *not evaluated* only when missing data could change its answer — a patient
without metformin is not "not evaluated" for a metformin/eGFR rule just because no eGFR is on file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

TRUE, FALSE, UNKNOWN = "T", "F", "U"

#: A reference to an input item: ("med", entry index, ingredient) | ("condition", i) | ("allergy", i) | ("lab", id)
Ref = tuple


class Outcome(NamedTuple):
    """A predicate's result with what made it so. A NamedTuple, not a dataclass: executors create
    several per rule evaluation, and tuple construction is several times cheaper."""

    state: str
    bindings: tuple[tuple[str, tuple[Ref, ...]], ...] = ()
    evidence: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    refs: tuple[Ref, ...] = ()      # every input item that made this true, bound or not


FALSE_OUTCOME = Outcome(FALSE)


def bind(outcome: Outcome, name: str | None, refs: tuple[Ref, ...]) -> Outcome:
    """Attach the matched items as ``refs`` and, when the condition has ``as: name``, as a binding."""
    if outcome.state != TRUE:
        return outcome
    bindings = outcome.bindings + ((name, refs),) if name is not None else outcome.bindings
    return Outcome(outcome.state, bindings, outcome.evidence, outcome.missing, _unique(outcome.refs + refs))


def combine_all(outcomes: list[Outcome]) -> Outcome:
    if any(o.state == FALSE for o in outcomes):
        return FALSE_OUTCOME
    if any(o.state == UNKNOWN for o in outcomes):
        return Outcome(UNKNOWN, missing=_unique(m for o in outcomes for m in o.missing))
    return Outcome(TRUE, tuple(b for o in outcomes for b in o.bindings),
                   _unique(e for o in outcomes for e in o.evidence), refs=_unique(r for o in outcomes for r in o.refs))


def combine_any(outcomes: list[Outcome]) -> Outcome:
    true = [o for o in outcomes if o.state == TRUE]
    if true:
        return Outcome(TRUE, tuple(b for o in true for b in o.bindings), _unique(e for o in true for e in o.evidence),
                       refs=_unique(r for o in true for r in o.refs))
    if any(o.state == UNKNOWN for o in outcomes):
        return Outcome(UNKNOWN, missing=_unique(m for o in outcomes for m in o.missing))
    return FALSE_OUTCOME


def combine_none(outcomes: list[Outcome], absences: list[str]) -> Outcome:
    """``none``: true when every child is false; ``absences`` say what each false child means
    (``ir.absence_text``), so the evidence never claims more than the verdict established."""
    inner = combine_any(outcomes)
    if inner.state == TRUE:
        return FALSE_OUTCOME
    if inner.state == UNKNOWN:
        return inner
    return Outcome(TRUE, evidence=tuple(t for t in absences if t))


def _unique(items) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


@dataclass(frozen=True)
class Match:
    """One row of the canonical match table: a rule that fired or could not be evaluated."""

    rule: str
    state: str                                   # fired | not_evaluated
    bindings: tuple[tuple[str, tuple[Ref, ...]], ...] = ()
    evidence: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()                # not evaluated: why; fired: the modifiers that could not be checked
    modifier: int | None = None

    @staticmethod
    def from_outcome(rule: str, outcome: Outcome, modifier: int | None, unchecked=()) -> "Match | None":
        if outcome.state == FALSE:
            return None
        if outcome.state == UNKNOWN:
            return Match(rule, "not_evaluated", missing=outcome.missing)
        return Match(rule, "fired", canonical_bindings(outcome.bindings), outcome.evidence, _unique(unchecked),
                     modifier)


def canonical_bindings(bindings) -> tuple[tuple[str, tuple[Ref, ...]], ...]:
    """(name, refs) pairs merged by name, in one canonical order: names sorted, each name's refs unique
    and sorted."""
    merged: dict[str, set] = {}
    for name, refs in bindings:
        merged.setdefault(name, set()).update(refs)
    return tuple(sorted((k, tuple(sorted(v, key=repr))) for k, v in merged.items()))


def canonical(matches: list[Match]) -> tuple[Match, ...]:
    """The match table in its one canonical order."""
    return tuple(sorted(matches, key=lambda m: (m.rule, m.state)))
