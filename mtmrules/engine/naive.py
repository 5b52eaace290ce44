"""The ``naive`` executor: the executable specification of the IR.

It checks every rule against every patient by scanning every fact, with no index and no shortcut.
Slow by design and easy to read; the ``fast`` and ``durable`` executors must agree with it exactly
(tests/test_differential.py).
"""

from __future__ import annotations

from datetime import timedelta
from typing import NamedTuple

from mtmrules.engine import ir
from mtmrules.engine.matches import (FALSE_OUTCOME, TRUE, UNKNOWN, Match, Outcome, bind, combine_all,
                                     combine_any, combine_none)
from mtmrules.knowledge.adherence import fills_in_last_year, pdc, refill_gap
from mtmrules.knowledge.facts import MedItem, PatientFacts
from mtmrules.knowledge.dose import format_number


def item_passes(match: ir.MedMatch, item: MedItem) -> bool:
    """Does the item satisfy the filter's non-dose parts (ingredient, route, form, prn)?"""
    if item.ingredient not in match.ingredients:
        return False
    if match.routes is not None and item.route is not None and item.route not in match.routes:
        return False
    if item.route in match.exclude_routes:
        return False
    if match.forms is not None and item.form not in match.forms:
        return False
    if item.form in match.exclude_forms:
        return False
    if match.prn is not None and item.prn != match.prn:
        return False
    return True


def entry_label(facts: PatientFacts, item: MedItem) -> str:
    return facts.entries[item.med].label


def dose_state(match: ir.MedMatch, item: MedItem) -> str:
    """TRUE/FALSE/UNKNOWN for the dose and duration parts of a filter (tested in that order)."""
    if match.daily is not None:
        if item.daily is None or item.daily.unit != match.daily.unit:
            return UNKNOWN
        if not match.daily.test(item.daily.value):
            return "F"
    if match.per_day is not None:
        if item.per_day is None:
            return UNKNOWN
        if not match.per_day.test(item.per_day):
            return "F"
    if match.days is not None:
        if item.days_taken is None:
            return UNKNOWN
        if not match.days.test(item.days_taken):
            return "F"
    return TRUE


def item_evidence(facts: PatientFacts, match: ir.MedMatch, item: MedItem) -> str:
    text = entry_label(facts, item)
    if match.daily is not None and item.daily is not None:
        most = "up to " if item.prn else ""
        text += f" ({item.ingredient} {most}{format_number(item.daily.value)} {item.daily.unit}/day, {match.daily.describe()})"
    if match.per_day is not None and item.per_day is not None:
        text += f" ({format_number(item.per_day)} doses/day)"
    if match.days is not None and item.days_taken is not None:
        text += f" (taken for {item.days_taken} days)"
    return text


def total_evidence(facts: PatientFacts, node: ir.Total, known: list[MedItem], total: float) -> str:
    """'total daily dose 5300 mg (> 4000 mg): Norco 5/325 up to 1300 mg as needed + Tylenol 4000 mg'."""
    unit = f" {node.bounds.unit}" if node.bounds.unit else ""
    what = "total daily dose" if node.measure == "daily_dose" else f"total {node.measure.replace('_', ' ')}"
    parts = []
    for item in known:
        if item.daily is not None and (node.measure == "daily_dose" or node.per_dose):
            amount = f"{format_number(item.daily.value)} {item.daily.unit}"
            parts.append(f"{entry_label(facts, item)}: {item.ingredient} "
                         + (f"up to {amount} as needed" if item.prn else amount))
        else:
            parts.append(f"{entry_label(facts, item)} ({item.ingredient})")
    return f"{what} {format_number(total)}{unit} ({node.bounds.describe()}) from " + " + ".join(dict.fromkeys(parts))


def unknown_dose_reason(facts: PatientFacts, item: MedItem, match: ir.MedMatch | None = None) -> str:
    """Why ``dose_state`` (or a summed dose) is UNKNOWN for this item: its dose, or for a duration
    test whose dose parts are known, its start date."""
    if match is not None and match.days is not None and item.days_taken is None and (
            match.daily is None or (item.daily is not None and item.daily.unit == match.daily.unit)) and (
            match.per_day is None or item.per_day is not None):
        return f"start date of {entry_label(facts, item)} not recorded"
    return f"daily dose of {entry_label(facts, item)} unknown ({item.dose_note or 'not given'})"


class NaiveExecutor:
    """Evaluates compiled rules by brute force."""

    name = "naive"

    def __init__(self, rules: list[ir.CompiledRule]) -> None:
        self.rules = rules

    def run(self, facts: PatientFacts) -> list[Match]:
        matches = []
        for rule in self.rules:
            outcome = self.eval(rule.when, facts)
            modifier, unchecked = None, []
            if outcome.state == TRUE:
                for i, mod in enumerate(rule.modifiers):
                    mod_outcome = self.eval(mod.when, facts)
                    if mod_outcome.state == TRUE:
                        modifier = i
                        break
                    if mod_outcome.state == UNKNOWN:
                        unchecked.extend(mod_outcome.missing)
            match = Match.from_outcome(rule.id, outcome, modifier, unchecked)
            if match:
                matches.append(match)
        return matches

    def eval(self, node: ir.Node, facts: PatientFacts) -> Outcome:
        if isinstance(node, ir.All):
            out = combine_all([self.eval(c, facts) for c in node.children])
        elif isinstance(node, ir.Any_):
            out = combine_any([self.eval(c, facts) for c in node.children])
        elif isinstance(node, ir.Not):
            out = combine_none([self.eval(c, facts) for c in node.children], [ir.absence_text(c) for c in node.children])
        else:
            out, refs = self.leaf(node, facts)
            return bind(out, node.bind, refs)
        return out if node.bind is None else bind(out, node.bind, out.refs)

    # --- matching: the only part an executor may implement differently (see durable.py) ---------

    def med_states(self, match: ir.MedMatch, facts: PatientFacts) -> tuple[list[MedItem], list[MedItem]]:
        """Items passing the whole filter (dose included), and items whose dose is unknown."""
        true, unknown = [], []
        for item in facts.items:
            if item_passes(match, item):
                state = dose_state(match, item)
                if state == TRUE:
                    true.append(item)
                elif state == UNKNOWN:
                    unknown.append(item)
        return true, unknown

    def filtered_items(self, match: ir.MedMatch, facts: PatientFacts) -> list[MedItem]:
        """Items passing the filter's ingredient, route, form and prn parts (dose ignored)."""
        return [i for i in facts.items if item_passes(match, i)]

    def condition_hits(self, node: ir.CondGroup, facts: PatientFacts) -> list:
        return [c for c in facts.conditions if c.groups & node.groups]

    def allergy_hits(self, node: ir.AllergyTo, facts: PatientFacts) -> list:
        return [a for a in facts.allergies if a.ingredients & node.ingredients and node.filter.admits(a)]

    def conflict_pairs(self, node: ir.AllergyConflict, facts: PatientFacts) -> list:
        return [(item, allergy) for item in self.filtered_items(node.match, facts) for allergy in facts.allergies
                if item.ingredient in allergy.ingredients and node.filter.admits(allergy)]

    def patient_state(self, node: ir.PatientAttr, facts: PatientFacts) -> str:
        value = getattr(facts, node.attr)
        if value is None or (node.attr == "sex" and value not in ("female", "male")):
            return UNKNOWN
        return TRUE if (node.bounds.test(value) if node.bounds is not None else value == node.equals) else "F"

    def renal_state(self, node: ir.Renal, facts: PatientFacts) -> str:
        renal = facts.renal.get(node.measure)
        if renal is None:
            return UNKNOWN
        return node.bounds.state_of(renal.value, renal.comparator)

    def lab_state(self, node: ir.LabValueTest, facts: PatientFacts) -> str:
        lab = facts.labs.get(node.test)
        if lab is None or (node.within_days is not None and (
                lab.date is None or lab.date < facts.as_of - timedelta(days=node.within_days))):
            return UNKNOWN
        return node.bounds.state_of(lab.value, lab.comparator)

    def lab_recent(self, node: ir.LabMissing, facts: PatientFacts) -> bool:
        cutoff = facts.as_of - timedelta(days=node.within_days)
        return any(v.date is not None and v.date >= cutoff for v in facts.lab_history.get(node.test, ()))

    def adherence_state(self, node: ir.Adherence, facts: PatientFacts) -> tuple[list["AdherenceGroup"], list]:
        """The measured groups of matching items and, per group, whether its value passes the bounds
        (None when it could not be measured)."""
        groups = adherence_groups(node, self.filtered_items(node.match, facts), facts.as_of)
        return groups, measure_passes(node, groups)

    # --- outcomes: shared by every executor that subclasses this one ---------------------------

    def leaf(self, node: ir.Node, facts: PatientFacts) -> tuple[Outcome, tuple]:
        if isinstance(node, ir.Med):
            true, unknown = self.med_states(node.match, facts)
            if true:
                return (Outcome(TRUE, evidence=tuple(item_evidence(facts, node.match, i) for i in true)),
                        tuple(("med", i.med, i.ingredient) for i in true))
            if unknown:
                return Outcome(UNKNOWN, missing=tuple(unknown_dose_reason(facts, i, node.match) for i in unknown)), ()
            return FALSE_OUTCOME, ()

        if isinstance(node, ir.Count):
            items = self.med_states(node.match, facts)[0]
            if node.same_ingredient:
                groups: dict[str, set[int]] = {}
                for i in items:
                    groups.setdefault(i.ingredient, set()).add(i.med)
                hit = sorted(ing for ing, meds in groups.items() if len(meds) >= node.gte)
                chosen = [i for i in items if i.ingredient in hit]
                if not hit:
                    return FALSE_OUTCOME, ()
                evidence = tuple(f"{ing} in {len(groups[ing])} entries: "
                                 + ", ".join(facts.entries[m].label for m in sorted(groups[ing])) for ing in hit)
            else:
                keys = {i.ingredient for i in items} if node.distinct == "ingredient" else {i.med for i in items}
                if len(keys) < node.gte:
                    return FALSE_OUTCOME, ()
                chosen = items
                evidence = (f"{len(keys)} {'different drugs' if node.distinct == 'ingredient' else 'entries'}: "
                            + ", ".join(sorted({i.ingredient for i in items})),)
            return Outcome(TRUE, evidence=evidence), tuple(("med", i.med, i.ingredient) for i in chosen)

        if isinstance(node, ir.Total):
            items = self.filtered_items(node.match, facts)
            weights = dict(node.weights)
            if node.measure == "daily_dose" or node.per_dose:
                unit = node.bounds.unit if node.measure == "daily_dose" else "mg"
                counted = [i for i in items if node.measure == "daily_dose" or i.ingredient in weights]
                known = [i for i in counted if i.daily is not None and i.daily.unit == unit]
                unknown = [i for i in counted if i not in known]
                total = sum(i.daily.value * weights.get(i.ingredient, 1.0) for i in known)  # type: ignore[union-attr]
            else:
                known = [i for i in items if i.ingredient in weights]
                unknown = []
                total = sum(weights[ing] for ing in {i.ingredient for i in known})
            refs = tuple(("med", i.med, i.ingredient) for i in known)
            if node.bounds.test(total):
                return Outcome(TRUE, evidence=(total_evidence(facts, node, known, total),)), refs
            if unknown:
                return Outcome(UNKNOWN, missing=tuple(unknown_dose_reason(facts, i) for i in unknown)), ()
            return FALSE_OUTCOME, ()

        if isinstance(node, ir.CondGroup):
            hits = self.condition_hits(node, facts)
            if not hits:
                return FALSE_OUTCOME, ()
            return (Outcome(TRUE, evidence=tuple(f"condition: {c.label}" for c in hits)),
                    tuple(("condition", c.index) for c in hits))

        if isinstance(node, ir.AllergyTo):
            hits = self.allergy_hits(node, facts)
            if not hits:
                return FALSE_OUTCOME, ()
            return (Outcome(TRUE, evidence=tuple(allergy_text(a) for a in hits)),
                    tuple(("allergy", a.index) for a in hits))

        if isinstance(node, ir.AllergyConflict):
            pairs = self.conflict_pairs(node, facts)
            if not pairs:
                return FALSE_OUTCOME, ()
            refs = [r for item, allergy in pairs for r in (("med", item.med, item.ingredient), ("allergy", allergy.index))]
            evidence = tuple(f"{entry_label(facts, item)} contains {item.ingredient}; {allergy_text(allergy)}"
                             for item, allergy in pairs)
            return Outcome(TRUE, evidence=evidence), tuple(dict.fromkeys(refs))

        if isinstance(node, ir.PatientAttr):
            state = self.patient_state(node, facts)
            if state == UNKNOWN:
                return Outcome(UNKNOWN, missing=(f"{ATTR_NAMES[node.attr]} not recorded",)), ()
            if state != TRUE:
                return FALSE_OUTCOME, ()
            value = getattr(facts, node.attr)
            text = (f"{ATTR_NAMES[node.attr]} {format_number(value)}" if node.bounds is not None
                    else node.attr if value is True else f"{node.attr} {value}")
            return Outcome(TRUE, evidence=(text,)), ()

        if isinstance(node, ir.Renal):
            state = self.renal_state(node, facts)
            if state == UNKNOWN:
                renal = facts.renal.get(node.measure)
                return Outcome(UNKNOWN, missing=(MISSING_RENAL[node.measure] if renal is None
                                                 else bound_not_enough(renal, node.bounds),)), ()
            if state != TRUE:
                return FALSE_OUTCOME, ()
            return Outcome(TRUE, evidence=(f"{facts.renal[node.measure].describe()}; {node.text}",)), ()

        if isinstance(node, ir.LabValueTest):
            state = self.lab_state(node, facts)
            if state == UNKNOWN:
                lab = facts.labs.get(node.test)
                if lab is not None and not _stale(node, lab, facts):   # present and recent: only a bound is unknown
                    return Outcome(UNKNOWN, missing=(bound_not_enough(lab, node.bounds),)), ()
                return Outcome(UNKNOWN, missing=(lab_unknown_reason(node, lab),)), ()
            if state != TRUE:
                return FALSE_OUTCOME, ()
            return Outcome(TRUE, evidence=(facts.labs[node.test].describe(),)), (("lab", node.test),)

        if isinstance(node, ir.Adherence):
            return adherence_outcome(node, *self.adherence_state(node, facts))

        if isinstance(node, ir.LabMissing):
            if self.lab_recent(node, facts):
                return FALSE_OUTCOME, ()
            last = facts.labs.get(node.test)
            tail = f" (last: {last.describe()})" if last else " (none on record)"
            return Outcome(TRUE, evidence=(node.text + tail,)), ()

        raise TypeError(f"unknown IR node {type(node).__name__}")  # pragma: no cover


def lab_unknown_reason(node: ir.LabValueTest, lab) -> str:
    """Why a lab test is unknown: no result at all, an undated one, or the stale value with its date."""
    if lab is None:
        return f"no {node.label} result on record"
    if node.within_days is not None and lab.date is None:
        return f"{node.label} result has no date ({lab.describe()}); this rule needs one from the last {node.within_days} days"
    return f"{node.label} older than {node.within_days} days: last {lab.describe()}"


def group_pdc(items: list[MedItem], as_of) -> tuple[float | None, str]:
    fills: dict[str, set] = {}
    for item in items:
        fills.setdefault(item.ingredient, set()).update(item.fills)
    return pdc(fills, as_of)


class AdherenceGroup(NamedTuple):
    """Items measured together (all matching items, or one drug's) and the measure's value."""

    items: tuple[MedItem, ...]
    value: float | None
    how: str


def adherence_groups(node: ir.Adherence, items: list[MedItem], as_of) -> list[AdherenceGroup]:
    """PDC over all items together, or per ingredient (per-drug PDC, refill gap)."""
    if not items:
        return []
    if node.measure == "fill_count":
        count, how = fills_in_last_year({f for item in items for f in item.fills}, as_of)
        return [AdherenceGroup(tuple(items), count, how)]
    if not node.per_drug:
        value, how = group_pdc(items, as_of)
        return [AdherenceGroup(tuple(items), value, how)]
    by_drug: dict[str, list[MedItem]] = {}
    for item in items:
        by_drug.setdefault(item.ingredient, []).append(item)
    groups = []
    for ingredient in sorted(by_drug):
        fills = {f for item in by_drug[ingredient] for f in item.fills}
        value, how = refill_gap(fills, as_of) if node.measure == "refill_gap" else pdc({ingredient: fills}, as_of)
        groups.append(AdherenceGroup(tuple(by_drug[ingredient]), value, how))
    return groups


def measure_passes(node: ir.Adherence, groups: list[AdherenceGroup]) -> list:
    return [None if g.value is None else node.bounds.test(g.value) for g in groups]


def adherence_outcome(node: ir.Adherence, groups: list[AdherenceGroup], passes: list) -> tuple[Outcome, tuple]:
    """True for the groups that pass (bound); unknown when a group could not be measured — per drug, only
    when no drug could be, since a drug without fill history may simply be dispensed elsewhere."""
    true = [g for g, ok in zip(groups, passes) if ok]
    if true:
        return (Outcome(TRUE, evidence=tuple(_adherence_text(node, g) for g in true)),
                tuple(("med", i.med, i.ingredient) for g in true for i in g.items))
    unknown = [g for g, ok in zip(groups, passes) if ok is None]
    if not unknown or (node.per_drug and len(unknown) < len(groups)):
        return FALSE_OUTCOME, ()
    if node.per_drug:
        names = ", ".join(sorted({i.ingredient for g in unknown for i in g.items}))
        return Outcome(UNKNOWN, missing=(f"adherence to {names}: " + "; ".join(sorted({g.how for g in unknown})),)), ()
    return Outcome(UNKNOWN, missing=tuple(f"adherence to {_names(g)}: {g.how}" for g in unknown)), ()


def _names(group: AdherenceGroup) -> str:
    return ", ".join(sorted({i.ingredient for i in group.items}))


def _adherence_text(node: ir.Adherence, group: AdherenceGroup) -> str:
    if node.measure == "refill_gap":
        return f"{_names(group)}: {format_number(group.value)} days without supply ({group.how})"
    if node.measure == "fill_count":
        return f"{_names(group)}: {format_number(group.value)} fills in the last 365 days ({group.how})"
    return f"proportion of days covered for {_names(group)}: {format_number(group.value)}% ({group.how})"


ATTR_NAMES = {"age": "age", "weight_kg": "weight", "sex": "sex", "pregnant": "pregnancy status",
              "breastfeeding": "breastfeeding status", "problem_list": "problem list (conditions)"}


def allergy_text(allergy) -> str:
    return f"recorded allergy: {allergy.label}" + (f" ({allergy.reaction})" if allergy.reaction else "")


def bound_not_enough(value, bounds: ir.Bounds) -> str:
    """Why a result reported as a bound (">60") cannot answer a threshold ("< 90")."""
    return f"{value.describe()} is a bound, not a value: cannot tell whether it is {bounds.describe()}"


def _stale(node: ir.LabValueTest, lab, facts: PatientFacts) -> bool:
    return node.within_days is not None and (
        lab.date is None or lab.date < facts.as_of - timedelta(days=node.within_days))


MISSING_RENAL = {
    "egfr": "no eGFR or serum creatinine (with age and sex) in the last 12 months",
    "crcl": "no creatinine clearance: needs a serum creatinine from the last 12 months, age, sex and weight",
}
