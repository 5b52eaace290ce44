"""The ``fast`` executor (default): rules compiled to closures, run over per-patient inverted indexes.

Each rule knows its *anchors* — ingredients or condition groups of which the patient must have at
least one for the rule to be true — so a patient is only checked against rules that could fire.
Immutable after construction: one executor can serve many threads.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from mtmrules.engine import ir
from mtmrules.engine.matches import (FALSE_OUTCOME, TRUE, UNKNOWN, Match, Outcome, bind, combine_all,
                                     combine_any, combine_none)
from mtmrules.engine.naive import (ATTR_NAMES, MISSING_RENAL, adherence_groups, adherence_outcome, allergy_text,
                                   bound_not_enough, dose_state, item_evidence, lab_unknown_reason, measure_passes,
                                   total_evidence, unknown_dose_reason)
from mtmrules.knowledge.facts import MedItem, PatientFacts
from mtmrules.knowledge.dose import format_number

Eval = Callable[["_Context"], tuple[Outcome, tuple]]


class _Context:
    """Per-patient indexes, built once per check."""

    __slots__ = ("facts", "ingredients", "allergy_by_ing", "_items")

    def __init__(self, facts: PatientFacts) -> None:
        self.facts = facts
        self._items: dict[int, list[MedItem]] = {}   # filter_id → items_for(match); many rules share a filter
        self.ingredients = frozenset(item.ingredient for item in facts.items)
        self.allergy_by_ing: dict[str, list] = {}
        for allergy in facts.allergies:
            for ing in allergy.ingredients:
                self.allergy_by_ing.setdefault(ing, []).append(allergy)

    def items_for(self, match: ir.MedMatch, key: int) -> list[MedItem]:
        """Items whose ingredient, route, form and prn pass the filter, in profile order (do not mutate).
        ``key`` is the filter's ``filter_id``."""
        found = self._items.get(key)
        if found is None:
            found = self._items[key] = self._filter(match)
        return found

    def _filter(self, match: ir.MedMatch) -> list[MedItem]:
        wanted = match.ingredients
        if self.ingredients.isdisjoint(wanted):
            return []
        items = [item for item in self.facts.items if item.ingredient in wanted]
        if (match.routes is None and not match.exclude_routes and match.forms is None and not match.exclude_forms
                and match.prn is None):
            return items
        return [item for item in items
                if (match.routes is None or item.route is None or item.route in match.routes)
                and item.route not in match.exclude_routes
                and (match.forms is None or item.form in match.forms)
                and item.form not in match.exclude_forms
                and (match.prn is None or item.prn == match.prn)]


_FILTER_IDS: dict[tuple, int] = {}


def filter_id(match: ir.MedMatch) -> int:
    """A small int naming the item filter of ``match`` (dose bounds aside), equal across rules."""
    key = (match.ingredients, match.routes, match.exclude_routes, match.forms, match.exclude_forms, match.prn)
    return _FILTER_IDS.setdefault(key, len(_FILTER_IDS))


def _refs(items: list[MedItem]) -> tuple:
    return tuple(("med", i.med, i.ingredient) for i in items)


def compile_node(node: ir.Node) -> Callable[[_Context], Outcome]:
    """IR node → closure returning the node's Outcome (bindings applied)."""
    if isinstance(node, (ir.All, ir.Any_, ir.Not)):
        children = [compile_node(c) for c in node.children]
        absences = [ir.absence_text(c) for c in node.children]
        name = node.bind
        if isinstance(node, ir.All):
            def run(ctx: _Context) -> Outcome:
                outs = []
                for child in children:  # short-circuit on FALSE: Kleene AND is FALSE whatever follows
                    out = child(ctx)
                    if out.state == "F":
                        return FALSE_OUTCOME
                    outs.append(out)
                return combine_all(outs)
        elif isinstance(node, ir.Any_):
            def run(ctx: _Context) -> Outcome:
                return combine_any([child(ctx) for child in children])
        else:
            def run(ctx: _Context) -> Outcome:
                return combine_none([child(ctx) for child in children], absences)
        if name is None:
            return run
        return lambda ctx: bind(out := run(ctx), name, out.refs)

    leaf = _compile_leaf(node)
    name = node.bind

    def run_leaf(ctx: _Context) -> Outcome:
        out, refs = leaf(ctx)
        return bind(out, name, refs)
    return run_leaf


def _compile_leaf(node: ir.Node) -> Eval:
    if isinstance(node, ir.Med):
        match = node.match
        key = filter_id(match)

        def med(ctx: _Context):
            true, unknown = [], []
            for item in ctx.items_for(match, key):
                state = dose_state(match, item)
                (true if state == TRUE else unknown if state == UNKNOWN else []).append(item)
            if true:
                return Outcome(TRUE, evidence=tuple(item_evidence(ctx.facts, match, i) for i in true)), _refs(true)
            if unknown:
                return Outcome(UNKNOWN, missing=tuple(unknown_dose_reason(ctx.facts, i, match) for i in unknown)), ()
            return FALSE_OUTCOME, ()
        return med

    if isinstance(node, ir.Count):
        count_key = filter_id(node.match)

        def count(ctx: _Context):
            items = [i for i in ctx.items_for(node.match, count_key) if dose_state(node.match, i) == TRUE]
            if node.same_ingredient:
                per_ing: dict[str, set[int]] = {}
                for i in items:
                    per_ing.setdefault(i.ingredient, set()).add(i.med)
                hit = sorted(k for k, v in per_ing.items() if len(v) >= node.gte)
                if not hit:
                    return FALSE_OUTCOME, ()
                entries = ctx.facts.entries
                evidence = tuple(f"{ing} in {len(per_ing[ing])} entries: "
                                 + ", ".join(entries[m].label for m in sorted(per_ing[ing])) for ing in hit)
                return Outcome(TRUE, evidence=evidence), _refs([i for i in items if i.ingredient in hit])
            distinct = {i.ingredient if node.distinct == "ingredient" else i.med for i in items}
            if len(distinct) < node.gte:
                return FALSE_OUTCOME, ()
            noun = "different drugs" if node.distinct == "ingredient" else "entries"
            evidence = (f"{len(distinct)} {noun}: " + ", ".join(sorted({i.ingredient for i in items})),)
            return Outcome(TRUE, evidence=evidence), _refs(items)
        return count

    if isinstance(node, ir.Total):
        weights = dict(node.weights)
        by_dose = node.measure == "daily_dose" or node.per_dose
        dose_unit = node.bounds.unit if node.measure == "daily_dose" else "mg"
        total_key = filter_id(node.match)

        def total(ctx: _Context):
            items = ctx.items_for(node.match, total_key)
            if by_dose:
                if node.per_dose:
                    items = [i for i in items if i.ingredient in weights]
                known = [i for i in items if i.daily is not None and i.daily.unit == dose_unit]
                unknown = [i for i in items if i.daily is None or i.daily.unit != dose_unit]
                value = sum(i.daily.value * weights.get(i.ingredient, 1.0) for i in known)  # type: ignore[union-attr]
            else:
                known = [i for i in items if i.ingredient in weights]
                unknown = []
                value = sum(weights[ing] for ing in {i.ingredient for i in known})
            if node.bounds.test(value):
                return Outcome(TRUE, evidence=(total_evidence(ctx.facts, node, known, value),)), _refs(known)
            if unknown:
                return Outcome(UNKNOWN, missing=tuple(unknown_dose_reason(ctx.facts, i) for i in unknown)), ()
            return FALSE_OUTCOME, ()
        return total

    if isinstance(node, ir.CondGroup):
        groups = node.groups

        def condition(ctx: _Context):
            hits = [c for c in ctx.facts.conditions if not c.groups.isdisjoint(groups)]
            if not hits:
                return FALSE_OUTCOME, ()
            return (Outcome(TRUE, evidence=tuple(f"condition: {c.label}" for c in hits)),
                    tuple(("condition", c.index) for c in hits))
        return condition

    if isinstance(node, ir.AllergyTo):
        def allergy(ctx: _Context):
            seen: dict[int, object] = {}
            for ing in ctx.allergy_by_ing.keys() & node.ingredients:
                for a in ctx.allergy_by_ing[ing]:
                    if node.filter.admits(a):
                        seen[a.index] = a
            if not seen:
                return FALSE_OUTCOME, ()
            hits = [seen[k] for k in sorted(seen)]
            return (Outcome(TRUE, evidence=tuple(allergy_text(a) for a in hits)),
                    tuple(("allergy", a.index) for a in hits))
        return allergy

    if isinstance(node, ir.AllergyConflict):
        conflict_key = filter_id(node.match)

        def conflict(ctx: _Context):
            refs, evidence = [], []
            for item in ctx.items_for(node.match, conflict_key):
                for a in sorted(ctx.allergy_by_ing.get(item.ingredient, ()), key=lambda a: a.index):
                    if not node.filter.admits(a):
                        continue
                    refs += [("med", item.med, item.ingredient), ("allergy", a.index)]
                    evidence.append(f"{ctx.facts.entries[item.med].label} contains {item.ingredient}; {allergy_text(a)}")
            if not refs:
                return FALSE_OUTCOME, ()
            return Outcome(TRUE, evidence=tuple(evidence)), tuple(dict.fromkeys(refs))
        return conflict

    if isinstance(node, ir.PatientAttr):
        attr = node.attr

        def patient(ctx: _Context):
            value = getattr(ctx.facts, attr)
            if value is None or (attr == "sex" and value not in ("female", "male")):
                return Outcome(UNKNOWN, missing=(f"{ATTR_NAMES[attr]} not recorded",)), ()
            if not (node.bounds.test(value) if node.bounds is not None else value == node.equals):
                return FALSE_OUTCOME, ()
            text = (f"{ATTR_NAMES[attr]} {format_number(value)}" if node.bounds is not None
                    else attr if value is True else f"{attr} {value}")
            return Outcome(TRUE, evidence=(text,)), ()
        return patient

    if isinstance(node, ir.Renal):
        def renal(ctx: _Context):
            value = ctx.facts.renal.get(node.measure)
            if value is None:
                return Outcome(UNKNOWN, missing=(MISSING_RENAL[node.measure],)), ()
            state = node.bounds.state_of(value.value, value.comparator)
            if state == UNKNOWN:
                return Outcome(UNKNOWN, missing=(bound_not_enough(value, node.bounds),)), ()
            if state != TRUE:
                return FALSE_OUTCOME, ()
            return Outcome(TRUE, evidence=(f"{value.describe()}; {node.text}",)), ()
        return renal

    if isinstance(node, ir.LabValueTest):
        def lab_value(ctx: _Context):
            lab = ctx.facts.labs.get(node.test)
            if lab is None or node.within_days is not None and (
                    lab.date is None or (ctx.facts.as_of - lab.date).days > node.within_days):
                return Outcome(UNKNOWN, missing=(lab_unknown_reason(node, lab),)), ()
            state = node.bounds.state_of(lab.value, lab.comparator)
            if state == UNKNOWN:
                return Outcome(UNKNOWN, missing=(bound_not_enough(lab, node.bounds),)), ()
            if state != TRUE:
                return FALSE_OUTCOME, ()
            return Outcome(TRUE, evidence=(lab.describe(),)), (("lab", node.test),)
        return lab_value

    if isinstance(node, ir.Adherence):
        adherence_key = filter_id(node.match)

        def adherence(ctx: _Context):
            items = ctx.items_for(node.match, adherence_key)
            if not items:
                return FALSE_OUTCOME, ()
            groups = adherence_groups(node, items, ctx.facts.as_of)
            return adherence_outcome(node, groups, measure_passes(node, groups))
        return adherence

    if isinstance(node, ir.LabMissing):
        def lab_missing(ctx: _Context):
            history = ctx.facts.lab_history.get(node.test, ())
            cutoff = ctx.facts.as_of - timedelta(days=node.within_days)
            if history and history[-1].date is not None and history[-1].date >= cutoff:
                return FALSE_OUTCOME, ()
            # History is date-sorted with undated results first, so the last dated one is the newest.
            last = ctx.facts.labs.get(node.test)
            tail = f" (last: {last.describe()})" if last else " (none on record)"
            return Outcome(TRUE, evidence=(node.text + tail,)), ()
        return lab_missing

    raise TypeError(f"unknown IR node {type(node).__name__}")  # pragma: no cover


def _anchor_tokens(node: ir.Node) -> frozenset[str] | None:
    """Tokens ("ing:x", "grp:y") of which one must be present for the node to be true."""
    if isinstance(node, (ir.Med, ir.Count, ir.AllergyConflict, ir.Adherence)):
        return frozenset(f"ing:{i}" for i in node.match.ingredients)
    if isinstance(node, ir.Total):
        b = node.bounds
        if (b.gt is not None and b.gt >= 0) or (b.gte is not None and b.gte > 0):
            return frozenset(f"ing:{i}" for i in node.match.ingredients)
        return None
    if isinstance(node, ir.CondGroup):
        return frozenset(f"grp:{g}" for g in node.groups)
    if isinstance(node, ir.All):
        found = [a for a in map(_anchor_tokens, node.children) if a is not None]
        return min(found, key=len) if found else None
    if isinstance(node, ir.Any_):
        found = [_anchor_tokens(c) for c in node.children]
        if found and all(a is not None for a in found):
            return frozenset().union(*found)  # type: ignore[arg-type]
    return None


class FastExecutor:
    """Closure-compiled rules behind an anchor index."""

    name = "fast"

    def __init__(self, rules: list[ir.CompiledRule]) -> None:
        self.rules = rules
        self._compiled = [(rule, compile_node(rule.when),
                           [(compile_node(m.when)) for m in rule.modifiers]) for rule in rules]
        self._unanchored: list[int] = []
        self._by_token: dict[str, list[int]] = {}
        for position, rule in enumerate(rules):
            tokens = _anchor_tokens(rule.when)
            if tokens is None:
                self._unanchored.append(position)
            else:
                for token in tokens:
                    self._by_token.setdefault(token, []).append(position)

    def run(self, facts: PatientFacts) -> list[Match]:
        ctx = _Context(facts)
        matches = (self.evaluate(position, ctx) for position in self.candidates(ctx))
        return [m for m in matches if m is not None]

    def candidates(self, ctx: _Context) -> list[int]:
        """Positions of the rules the anchor index tries for this patient, in rule order."""
        found = set(self._unanchored)
        for token in {f"ing:{i}" for i in ctx.ingredients} | {f"grp:{g}" for c in ctx.facts.conditions for g in c.groups}:
            found.update(self._by_token.get(token, ()))
        return sorted(found)

    @staticmethod
    def context(facts: PatientFacts) -> _Context:
        return _Context(facts)

    def evaluate(self, position: int, ctx: _Context) -> Match | None:
        """The match row of rule ``position`` for the patient of ``ctx`` (None when it is false)."""
        rule, when, modifiers = self._compiled[position]
        outcome = when(ctx)
        if outcome.state == "F":
            return None
        modifier, unchecked = None, []
        if outcome.state == TRUE:
            for i, m in enumerate(modifiers):
                mod_outcome = m(ctx)
                if mod_outcome.state == TRUE:
                    modifier = i
                    break
                if mod_outcome.state == UNKNOWN:
                    unchecked.extend(mod_outcome.missing)
        return Match.from_outcome(rule.id, outcome, modifier, unchecked)
