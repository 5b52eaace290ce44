"""The ``columnar`` executor: rule states for a whole chunk of patients at once, as column operations
over integer-coded tables; match rows only for the (patient, rule) pairs the columns leave.

Each IR node is compiled to a state per patient in Kleene's three-valued logic — false, unknown
(not evaluated), true — or *open* where the columns do not decide it (an allergy filter on reaction
text, an adherence measure over a fill history). ``all`` is false where a child is false, else open
where a child is open, else the least of its children; ``any`` is true where a child is true, else
open where a child is open, else the greatest; ``none`` is the complement of ``any``. A rule is
tried only for patients the fast executor would try (its anchor index) and then evaluated by the
``fast`` executor's own compiled closures wherever its state is not false, so the match table is
identical to ``fast``'s for every rule shape: shapes the columns leave open cost time, never
correctness (tests/test_columnar.py checks the states and the tables on random populations).
Screening shows fired rules and only *counts* the rules not evaluated, so it builds no not-evaluated
row and reads most fired rows (bindings, modifier) from the columns (:meth:`ColumnarExecutor.screen_many`).
"""

from __future__ import annotations

from dataclasses import fields
from functools import cached_property, reduce
from math import nan

import numpy as np

from mtmrules.engine import ir
from mtmrules.engine.fast import FastExecutor, _anchor_tokens, _compile_leaf, filter_id
from mtmrules.engine.matches import Match, canonical_bindings
from mtmrules.knowledge.facts import PatientFacts

F, U, T, OPEN = 0, 1, 2, 3     # false, unknown, true; open: the columns do not decide, the closures will
_STATE = {"F": F, "U": U, "T": T}
_NO_ROWS = np.zeros(0, dtype=np.int64)
_ITEM_LEAVES = (ir.Med, ir.Count, ir.Total, ir.AllergyConflict, ir.Adherence)


def _bound_mask(values: np.ndarray, bounds: ir.Bounds) -> np.ndarray:
    """Vectorised ir.Bounds.test (same tolerance); NaN compares false."""
    out = np.ones(values.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        if bounds.gt is not None:
            out &= values > bounds.gt + ir._eps(bounds.gt)
        if bounds.gte is not None:
            out &= values >= bounds.gte - ir._eps(bounds.gte)
        if bounds.lt is not None:
            out &= values < bounds.lt - ir._eps(bounds.lt)
        if bounds.lte is not None:
            out &= values <= bounds.lte + ir._eps(bounds.lte)
    return out


def _semantic_key(node: ir.Node, keys: dict[int, object]) -> object:
    """What a node's states depend on (its wording and binding name aside): rows of one table-driven
    template repeat the same sets and bounds in distinct node objects, and share one column."""
    if isinstance(node, (ir.All, ir.Any_, ir.Not)):
        return type(node), tuple(keys[id(c)] for c in node.children)
    return (type(node), *(getattr(node, f.name) for f in fields(node) if f.name not in ("bind", "text", "label")))


def _anchor_parts(node: ir.Node) -> tuple[frozenset[str], frozenset[str]] | None:
    """The fast executor's anchors of a rule (one must be present for it to be tried), split into
    ingredients and condition groups; None for a rule tried for every patient."""
    tokens = _anchor_tokens(node)
    if tokens is None:
        return None
    return (frozenset(tok[4:] for tok in tokens if tok.startswith("ing:")),
            frozenset(tok[4:] for tok in tokens if tok.startswith("grp:")))


def _binding_plan(node: ir.Node) -> tuple | None:
    """Where a rule's named parts (``as:``) are, for reading its bindings from the columns: ("leaf",
    name, node) for a named leaf, ("all", plans) and ("any", ((child, plan), …)) for the children that
    hold named parts, () when nothing is named. ``none`` drops its children's bindings, as the closures
    do. None when a named ``all``/``any``/``none`` needs the closures."""
    if isinstance(node, (ir.All, ir.Any_, ir.Not)):
        if node.bind is not None:
            return None
        if isinstance(node, ir.Not):
            return ()
        plans = [(child, _binding_plan(child)) for child in node.children]
        if any(plan is None for _, plan in plans):
            return None
        named = tuple((child, plan) for child, plan in plans if plan)
        if not named:
            return ()
        return ("all", tuple(plan for _, plan in named)) if isinstance(node, ir.All) else ("any", named)
    return ("leaf", node.bind, node) if node.bind is not None else ()


class _Chunk:
    """One chunk of patients as flat integer-coded columns: items (one row per patient and active
    ingredient, with route, form, prn, daily amount, administrations a day, days taken and whether it
    has fills), conditions (patient, group) and allergies (patient, allergy, ingredient); patient
    number columns built on first use."""

    def __init__(self, facts: list[PatientFacts], ingredients: dict[str, int], groups: dict[str, int]) -> None:
        self.facts, self.n = facts, len(facts)
        other_ing, other_grp = len(ingredients), len(groups)
        self.texts: dict[str, int] = {"": 0}    # routes, forms and units of this chunk → small ints
        text = self.texts.setdefault
        items = [(p, ingredients.get(i.ingredient, other_ing), text(i.route or "", len(self.texts)),
                  text(i.form or "", len(self.texts)), i.prn,
                  nan if i.daily is None else i.daily.value, 0 if i.daily is None else text(i.daily.unit, len(self.texts)),
                  nan if i.per_day is None else i.per_day, i.med, nan if i.days_taken is None else i.days_taken,
                  bool(i.fills))
                 for p, f in enumerate(facts) for i in f.items]
        columns = list(zip(*items)) if items else [()] * 11
        (self.item_p, self.item_code, self.item_route, self.item_form) = (
            np.array(c, dtype=np.int64) for c in columns[:4])
        self.item_prn = np.array(columns[4], dtype=bool)
        self.item_daily, self.item_unit = np.array(columns[5], dtype=float), np.array(columns[6], dtype=np.int64)
        self.item_per_day, self.item_med = np.array(columns[7], dtype=float), np.array(columns[8], dtype=np.int64)
        self.item_days, self.item_fills = np.array(columns[9], dtype=float), np.array(columns[10], dtype=bool)
        self.item_key = self.item_p * (other_ing + 1) + self.item_code     # (patient, ingredient) as one int
        # ingredient code → its item rows, in item order: a filter gathers the rows of the few codes present
        order = np.argsort(self.item_code, kind="stable")
        codes, starts = np.unique(self.item_code[order], return_index=True)
        ends = [*starts[1:], len(order)]
        self.rows_of = {int(c): order[a:b] for c, a, b in zip(codes, starts, ends)}
        self.codes = frozenset(self.rows_of)
        cond_p, cond_code, allergy_p, allergy_code = [], [], [], []
        for p, f in enumerate(facts):
            for condition in f.conditions:
                for group in condition.groups:
                    cond_p.append(p)
                    cond_code.append(groups.get(group, other_grp))
            for allergy in f.allergies:
                for ing in allergy.ingredients:
                    allergy_p.append(p)
                    allergy_code.append(ingredients.get(ing, other_ing))
        self.cond_p, self.cond_code = np.array(cond_p, dtype=np.int64), np.array(cond_code, dtype=np.int64)
        self.allergy_p, self.allergy_code = np.array(allergy_p, dtype=np.int64), np.array(allergy_code, dtype=np.int64)
        self.allergy_key = self.allergy_p * (other_ing + 1) + self.allergy_code
        self._scalars: dict[tuple, tuple[np.ndarray, ...]] = {}
        self.states: dict[object, np.ndarray] = {}   # node key → its states; filter key → its item rows
        self.opened: set[object] = set()             # keys of the nodes some patient's state is open for

    def present(self, rows_p: np.ndarray, hit: np.ndarray) -> np.ndarray:
        """Per patient: does any of its rows hit?"""
        out = np.zeros(self.n, dtype=bool)
        out[rows_p[hit]] = True
        return out

    def highest(self, rows_p: np.ndarray, states: np.ndarray | int) -> np.ndarray:
        """Per patient: the greatest state of its rows (false when it has none)."""
        out = np.zeros(self.n, dtype=np.int8)
        if isinstance(states, int):
            out[rows_p] = states
            return out
        for state in (U, T, OPEN):   # ascending: a greater state overwrites a lesser one
            out[rows_p[states == state]] = state
        return out

    def text_table(self, allowed) -> np.ndarray:
        """Boolean table over this chunk's route/form/unit codes."""
        table = np.zeros(len(self.texts), dtype=bool)
        table[[self.texts[t] for t in allowed if t in self.texts]] = True
        return table

    def scalar(self, key: tuple, build) -> tuple[np.ndarray, ...]:
        found = self._scalars.get(key)
        if found is None:
            found = self._scalars[key] = build()
        return found

    def number(self, attr: str) -> np.ndarray:
        """A numeric patient attribute (age, weight_kg) as floats, NaN when unknown."""
        return self.scalar(("attr", attr), lambda: (np.array(
            [nan if (v := getattr(f, attr)) is None else float(v) for f in self.facts], dtype=float),))[0]

    @cached_property
    def _measurements(self) -> dict[tuple[str, str], list[tuple]]:
        """Every kidney-function measure, latest lab result and newest dated result of the chunk, in one
        pass: (kind, name) → [(patient, value, reported as a bound, age in days or NaN)]; for the kind
        "newest" the value is the age in days of the newest dated result."""
        rows: dict[tuple[str, str], list[tuple]] = {}
        for p, f in enumerate(self.facts):
            for name, v in f.renal.items():
                rows.setdefault(("renal", name), []).append((p, v.value, v.comparator is not None, nan))
            for name, v in f.labs.items():
                age = nan if v.date is None else (f.as_of - v.date).days
                rows.setdefault(("lab", name), []).append((p, v.value, v.comparator is not None, age))
            for name, history in f.lab_history.items():
                # date-sorted with undated results first: the last one is the newest dated, if any is
                if history and history[-1].date is not None:
                    rows.setdefault(("newest", name), []).append((p, (f.as_of - history[-1].date).days))
        return rows

    def measured(self, kind: str, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(value or NaN, reported as a bound, age in days or NaN when undated) of a kidney-function
        measure or of the latest result of a lab, per patient."""
        def build():
            value, bound, age = np.full(self.n, nan), np.zeros(self.n, dtype=bool), np.full(self.n, nan)
            rows = self._measurements.get((kind, name))
            if rows:
                p, values, bounds, ages = (np.array(c) for c in zip(*rows))
                value[p], bound[p], age[p] = values, bounds, ages
            return value, bound, age
        return self.scalar((kind, name), build)  # type: ignore[return-value]

    def recent(self, test: str, within_days: int) -> np.ndarray:
        """Per patient: is the newest dated result of ``test`` within ``within_days`` of the as-of date
        (future dates count as recent, as in the other executors)?"""
        def build():
            out = np.zeros(self.n, dtype=bool)
            rows = self._measurements.get(("newest", test))
            if rows:
                p, age = (np.array(c) for c in zip(*rows))
                out[p] = age <= within_days
            return (out,)
        return self.scalar(("recent", test, within_days), build)[0]


def _at_least(owners: np.ndarray, gte: int, n: int) -> np.ndarray:
    """Patients (of ``n``) owning at least ``gte`` of the distinct things listed by owner."""
    return np.flatnonzero(np.bincount(owners, minlength=n) >= gte)


class ColumnarExecutor:
    """Rule states as column operations; match rows from the fast executor."""

    name = "columnar"

    def __init__(self, rules: list[ir.CompiledRule], fast: FastExecutor | None = None) -> None:
        """``fast``: the fast executor of the same rules, when the engine has one already."""
        self.rules = rules
        self.fast = fast if fast is not None else FastExecutor(rules)
        ingredients: set[str] = set()
        groups: set[str] = set()
        for rule in rules:
            for leaf in ir.rule_leaves(rule):
                if isinstance(leaf, _ITEM_LEAVES):
                    ingredients |= leaf.match.ingredients
                elif isinstance(leaf, ir.AllergyTo):
                    ingredients |= leaf.ingredients
                elif isinstance(leaf, ir.CondGroup):
                    groups |= leaf.groups
        self.ingredients = {name: code for code, name in enumerate(sorted(ingredients))}
        self.groups = {name: code for code, name in enumerate(sorted(groups))}
        self._tables: dict[tuple[str, frozenset], np.ndarray] = {}
        self._weight_tables: dict[tuple[tuple[str, float], ...], np.ndarray] = {}
        self._ingredient_codes: dict[frozenset[str], frozenset[int]] = {}
        # the fast executor's candidates: a rule is tried when one of its anchor tokens is present
        self._anchors = [_anchor_parts(rule.when) for rule in rules]
        self._compute = {ir.All: self._logic, ir.Any_: self._logic, ir.Not: self._logic, ir.Med: self._med,
                         ir.Count: self._count, ir.Total: self._total, ir.CondGroup: self._condition,
                         ir.AllergyTo: self._allergy, ir.AllergyConflict: self._allergy, ir.PatientAttr: self._attribute,
                         ir.Renal: self._renal, ir.LabValueTest: self._lab_value, ir.LabMissing: self._lab_missing,
                         ir.Adherence: self._adherence}
        # one small int per distinct node meaning, children first
        self._keys: dict[int, object] = {}
        interned: dict[object, int] = {}
        for rule in rules:
            for root in (rule.when, *(m.when for m in rule.modifiers)):
                self._intern(root, interned)
        self._plans = [_binding_plan(rule.when) for rule in rules]
        # the fast executor's own closure of each named leaf, which finds the items or conditions it binds
        self._leaf_closures = {id(leaf): _compile_leaf(leaf) for rule in rules for leaf in ir.leaves(rule.when)
                               if leaf.bind is not None}

    def _intern(self, node: ir.Node, interned: dict[object, int]) -> None:
        for child in getattr(node, "children", ()):
            self._intern(child, interned)
        if id(node) not in self._keys:
            self._keys[id(node)] = interned.setdefault(_semantic_key(node, self._keys), len(interned))

    # --- lookups ---------------------------------------------------------------------------------

    def _table(self, kind: str, names: frozenset[str]) -> np.ndarray:
        """Boolean table over ingredient (or group) codes; the last slot stands for names no rule uses."""
        key = (kind, names)
        table = self._tables.get(key)
        if table is None:
            vocabulary = self.ingredients if kind == "ing" else self.groups
            table = np.zeros(len(vocabulary) + 1, dtype=bool)
            table[[vocabulary[n] for n in names if n in vocabulary]] = True
            self._tables[key] = table
        return table

    def _weights(self, weights: tuple[tuple[str, float], ...]) -> np.ndarray:
        """Weight per ingredient code (1.0 where none is given)."""
        table = self._weight_tables.get(weights)
        if table is None:
            table = self._weight_tables[weights] = np.ones(len(self.ingredients) + 1)
            for ing, weight in weights:
                table[self.ingredients[ing]] = weight
        return table

    # --- states ----------------------------------------------------------------------------------

    def states(self, chunk: list[PatientFacts]) -> np.ndarray:
        """A (patients × rules) int8 array: F (0) where the rule is false or the fast executor would not
        try it, U (1) not evaluated, T (2) true, OPEN (3) not decided by the columns."""
        return self._states(_Chunk(chunk, self.ingredients, self.groups))

    def _states(self, t: _Chunk) -> np.ndarray:
        masks: dict[tuple, np.ndarray] = {}
        out = np.zeros((len(self.rules), t.n), dtype=np.int8)
        for r, rule in enumerate(self.rules):
            anchors = self._anchors[r]
            if anchors is None:
                out[r] = self._node(rule.when, t)
                continue
            anchor = masks.get(anchors)
            if anchor is None:
                anchor = masks[anchors] = self._anchor_mask(anchors, t)
            if anchor.any():
                out[r] = np.where(anchor, self._node(rule.when, t), F)
        return out.T.copy()   # patient rows, contiguous

    def _anchor_mask(self, anchors: tuple[frozenset[str], frozenset[str]], t: _Chunk) -> np.ndarray:
        ings, grps = anchors
        mask = np.zeros(t.n, dtype=bool)
        mask[t.item_p[self._rows(ings, t)]] = True
        if grps:
            mask |= t.present(t.cond_p, self._table("grp", grps)[t.cond_code])
        return mask

    def _node(self, node: ir.Node, t: _Chunk) -> np.ndarray:
        key = self._keys[id(node)]
        found = t.states.get(key)
        if found is None:
            found = t.states[key] = self._compute[type(node)](node, t)
            if found.max(initial=F) == OPEN:
                t.opened.add(key)
        return found

    def _items(self, match: ir.MedMatch, t: _Chunk) -> np.ndarray:
        """Indexes of the items that pass the filter's ingredient, route, form and prn parts, in item
        order (as ``fast``'s ``items_for``: an unknown route passes a route list)."""
        key = ("items", filter_id(match))
        found = t.states.get(key)
        if found is None:
            found = t.states[key] = self._filtered(match, t, self._rows(match.ingredients, t))
        return found

    def _rows(self, ingredients: frozenset[str], t: _Chunk) -> np.ndarray:
        """Item rows of any of ``ingredients``, in item order."""
        codes = t.codes & self._codes_of(ingredients)
        if len(codes) < 2:
            return t.rows_of[next(iter(codes))] if codes else _NO_ROWS
        return np.sort(np.concatenate([t.rows_of[c] for c in codes]))

    def _codes_of(self, ingredients: frozenset[str]) -> frozenset[int]:
        found = self._ingredient_codes.get(ingredients)
        if found is None:
            found = self._ingredient_codes[ingredients] = frozenset(
                self.ingredients[i] for i in ingredients if i in self.ingredients)
        return found

    @staticmethod
    def _filtered(match: ir.MedMatch, t: _Chunk, rows: np.ndarray) -> np.ndarray:
        if not len(rows):
            return rows
        keep = np.ones(len(rows), dtype=bool)
        if match.routes is not None:
            keep &= t.text_table(match.routes | {""})[t.item_route[rows]]
        if match.exclude_routes:
            keep &= ~t.text_table(match.exclude_routes)[t.item_route[rows]]
        if match.forms is not None:
            keep &= t.text_table(match.forms)[t.item_form[rows]] & (t.item_form[rows] != 0)
        if match.exclude_forms:
            keep &= ~t.text_table(match.exclude_forms)[t.item_form[rows]]
        if match.prn is not None:
            keep &= t.item_prn[rows] == match.prn
        return rows if keep.all() else rows[keep]

    @staticmethod
    def _dose_states(match: ir.MedMatch, t: _Chunk, rows: np.ndarray) -> np.ndarray | None:
        """Per item of ``rows``: the state of the filter's daily-dose, administrations-a-day and
        days-taken parts, tested in that order (as ``naive.dose_state``)."""
        if match.daily is None and match.per_day is None and match.days is None:
            return None   # no dose part: every item is true
        state = np.full(len(rows), T, dtype=np.int8)
        for bounds, values, known in (
                (match.daily, t.item_daily, lambda v: ~np.isnan(v) & (
                    t.item_unit[rows] == t.texts.get(match.daily.unit, -1))),  # type: ignore[union-attr]
                (match.per_day, t.item_per_day, lambda v: ~np.isnan(v)),
                (match.days, t.item_days, lambda v: ~np.isnan(v))):
            if bounds is None:
                continue
            v = values[rows]
            part = np.where(known(v), np.where(_bound_mask(v, bounds), T, F), U)
            state = np.where(state == T, part, state).astype(np.int8)
        return state

    def _logic(self, node: ir.All | ir.Any_ | ir.Not, t: _Chunk) -> np.ndarray:
        states = [self._node(c, t) for c in node.children]
        if t.opened.isdisjoint(self._keys[id(c)] for c in node.children):
            # every state decided: Kleene's logic is the least / the greatest / its complement
            if isinstance(node, ir.All):
                return reduce(np.minimum, states)
            top = reduce(np.maximum, states)
            return top if isinstance(node, ir.Any_) else (T - top).astype(np.int8)
        children = np.stack(states)
        opened = (children == OPEN).any(axis=0)
        if isinstance(node, ir.All):
            least = children.min(axis=0)
            return np.where(least == F, F, np.where(opened, OPEN, least)).astype(np.int8)
        decided = np.where(children == OPEN, F, children).max(axis=0)
        inner = np.where(decided == T, T, np.where(opened, OPEN, decided))
        return (inner if isinstance(node, ir.Any_) else np.where(inner == OPEN, OPEN, T - inner)).astype(np.int8)

    def _med(self, node: ir.Med, t: _Chunk) -> np.ndarray:
        rows = self._items(node.match, t)
        states = self._dose_states(node.match, t, rows)
        return t.highest(t.item_p[rows], T if states is None else states)

    def _count(self, node: ir.Count, t: _Chunk) -> np.ndarray:
        rows = self._items(node.match, t)
        states = self._dose_states(node.match, t, rows)
        if states is not None:
            rows = rows[states == T]
        entries = int(t.item_med.max()) + 1 if len(rows) else 1     # (key, entry) pairs as one int
        ingredients = len(self.ingredients) + 1
        if node.same_ingredient:      # one ingredient in at least ``gte`` entries
            keys, counts = np.unique(np.unique(t.item_key[rows] * entries + t.item_med[rows]) // entries,
                                     return_counts=True)
            hit = keys[counts >= node.gte] // ingredients
        elif node.distinct == "ingredient":
            hit = _at_least(np.unique(t.item_key[rows]) // ingredients, node.gte, t.n)
        else:
            hit = _at_least(np.unique(t.item_p[rows] * entries + t.item_med[rows]) // entries, node.gte, t.n)
        out = np.zeros(t.n, dtype=np.int8)
        out[hit] = T
        return out

    def _condition(self, node: ir.CondGroup, t: _Chunk) -> np.ndarray:
        return np.where(t.present(t.cond_p, self._table("grp", node.groups)[t.cond_code]), T, F).astype(np.int8)

    def _allergy(self, node: ir.AllergyTo | ir.AllergyConflict, t: _Chunk) -> np.ndarray:
        if isinstance(node, ir.AllergyTo):
            hit = self._table("ing", node.ingredients)[t.allergy_code]
        else:   # an allergy to an ingredient of a matching item of the same patient
            hit = np.isin(t.allergy_key, t.item_key[self._items(node.match, t)])
        flt = node.filter
        decided = not flt.reactions and flt.severities is None and flt.types is None
        return np.where(t.present(t.allergy_p, hit), T if decided else OPEN, F).astype(np.int8)

    def _renal(self, node: ir.Renal, t: _Chunk) -> np.ndarray:
        value, bound, _ = t.measured("renal", node.measure)
        return self._with_bounds(t, value, bound, ~np.isnan(value), node.bounds, lambda f: f.renal[node.measure])

    def _lab_value(self, node: ir.LabValueTest, t: _Chunk) -> np.ndarray:
        value, bound, age = t.measured("lab", node.test)
        known = ~np.isnan(value)
        if node.within_days is not None:
            with np.errstate(invalid="ignore"):
                known &= ~np.isnan(age) & (age <= node.within_days)
        return self._with_bounds(t, value, bound, known, node.bounds, lambda f: f.labs[node.test])

    def _lab_missing(self, node: ir.LabMissing, t: _Chunk) -> np.ndarray:
        return np.where(t.recent(node.test, node.within_days), F, T).astype(np.int8)

    def _adherence(self, node: ir.Adherence, t: _Chunk) -> np.ndarray:
        # with no fill at all, PDC and the refill gap cannot be measured (not evaluated) and a fill count
        # is 0; a fill history is measured by the closures
        rows = self._items(node.match, t)
        without = U if node.measure != "fill_count" else T if node.bounds.test(0) else F
        return t.highest(t.item_p[rows], np.where(t.item_fills[rows], OPEN, without).astype(np.int8))

    def _total(self, node: ir.Total, t: _Chunk) -> np.ndarray:
        """As ``fast``: a daily-dose total (× the ingredient's factor), unknown where a counted item's dose
        is; or a score counted once per ingredient."""
        rows = self._items(node.match, t)
        counted = self._table("ing", frozenset(ing for ing, _ in node.weights))[t.item_code[rows]]
        total = np.zeros(t.n)
        unknown = np.zeros(t.n, dtype=bool)
        if node.measure == "daily_dose" or node.per_dose:
            if not node.per_dose:
                counted = np.ones(len(rows), dtype=bool)
            unit = node.bounds.unit if node.measure == "daily_dose" else "mg"
            daily = t.item_daily[rows]
            known = counted & ~np.isnan(daily) & (t.item_unit[rows] == t.texts.get(unit, -1))
            np.add.at(total, t.item_p[rows][known], (daily * self._weights(node.weights)[t.item_code[rows]])[known])
            unknown[t.item_p[rows][counted & ~known]] = True
        else:
            keys = np.unique(t.item_key[rows][counted])
            codes = keys % (len(self.ingredients) + 1)
            np.add.at(total, keys // (len(self.ingredients) + 1), self._weights(node.weights)[codes])
        return np.where(_bound_mask(total, node.bounds), T, np.where(unknown, U, F)).astype(np.int8)

    @staticmethod
    def _attribute(node: ir.PatientAttr, t: _Chunk) -> np.ndarray:
        if node.bounds is not None and node.attr in ("age", "weight_kg"):
            values = t.number(node.attr)
            return np.where(np.isnan(values), U, np.where(_bound_mask(values, node.bounds), T, F)).astype(np.int8)
        out = np.empty(t.n, dtype=np.int8)
        for p, f in enumerate(t.facts):
            value = getattr(f, node.attr)
            if value is None or (node.attr == "sex" and value not in ("female", "male")):
                out[p] = U
            else:
                out[p] = T if (node.bounds.test(value) if node.bounds is not None else value == node.equals) else F
        return out

    @staticmethod
    def _with_bounds(t: _Chunk, value: np.ndarray, bound: np.ndarray, known: np.ndarray, bounds: ir.Bounds,
                     measurement) -> np.ndarray:
        """Unknown, except for ``known`` values: the bound test, or for a value reported as a bound
        (">60") ``Bounds.state_of`` with its comparator, as the other executors decide it."""
        out = np.full(t.n, U, dtype=np.int8)
        out[known] = np.where(_bound_mask(value[known], bounds), T, F)
        for p in np.flatnonzero(known & bound):
            found = measurement(t.facts[p])
            out[p] = _STATE[bounds.state_of(found.value, found.comparator)]
        return out

    # --- match rows ------------------------------------------------------------------------------

    def run_many(self, chunk: list[PatientFacts]) -> list[list[Match]]:
        """Match tables (fired and not-evaluated rows) for a chunk: the closures run wherever the
        columns leave a rule not false."""
        out: list[list[Match]] = [[] for _ in chunk]
        if not chunk:
            return out
        for p, r, ctx in self._pairs(chunk, self.states(chunk) > F):
            match = self.fast.evaluate(r, ctx)
            if match is not None:
                out[p].append(match)
        return out

    def screen_many(self, chunk: list[PatientFacts]) -> list[tuple[list[Match], int]]:
        """What screening shows of each patient: the fired rows, and how many rules were not evaluated.
        Not-evaluated rows are counted, not built; a fired row is read from the columns where the rule's
        shape allows (its bindings and modifier: no evidence, which screening never shows) and built by
        the closures elsewhere, as are the rows of open states."""
        if not chunk:
            return []
        t = _Chunk(chunk, self.ingredients, self.groups)
        states = self._states(t)
        fired: list[list[Match]] = [[] for _ in chunk]
        not_evaluated = np.count_nonzero(states == U, axis=1).tolist()
        for p, r, ctx in self._pairs(chunk, states >= T):
            match = self._fired_row(r, p, t, ctx) if states[p, r] == T else None
            if match is None:
                match = self.fast.evaluate(r, ctx)
            if match is None:
                continue
            if match.state == "fired":
                fired[p].append(match)
            else:
                not_evaluated[p] += 1
        return list(zip(fired, not_evaluated))

    def _pairs(self, chunk: list[PatientFacts], wanted: np.ndarray):
        """(patient, rule, the patient's fast context) for each wanted pair, patient by patient in rule
        order; one context per patient."""
        current, ctx = -1, None
        patients, rules = np.nonzero(wanted)
        for p, r in zip(patients.tolist(), rules.tolist()):
            if p != current:
                current, ctx = p, self.fast.context(chunk[p])
            yield p, r, ctx

    def _fired_row(self, r: int, p: int, t: _Chunk, ctx) -> Match | None:
        """The screening row of rule ``r``, true for patient ``p``, without running the closures of its
        whole condition: its bindings (``_binding_plan``: the named leaves' own closures, for the parts
        the column states show true) and its modifier (the first whose column state is true). None
        when a named composite part or an open state needs the closures."""
        plan = self._plans[r]
        if plan is None:
            return None
        rule = self.rules[r]
        modifier = None
        for i, m in enumerate(rule.modifiers):
            state = self._node(m.when, t)[p]
            if state == OPEN:
                return None
            if state == T:
                modifier = i
                break
        bindings: list[tuple[str, tuple]] = []
        if plan and not self._bind(plan, p, t, ctx, bindings):
            return None
        return Match(rule.id, "fired", canonical_bindings(bindings), modifier=modifier)

    def _bind(self, plan: tuple, p: int, t: _Chunk, ctx, out: list) -> bool:
        """Add the bindings of a part true for patient ``p`` to ``out``; False where a state is open."""
        kind, parts = plan[0], plan[1:]
        if kind == "leaf":
            name, leaf = parts
            out.append((name, self._leaf_closures[id(leaf)](ctx)[1]))
            return True
        if kind == "all":   # every child of a true ``all`` is true
            return all(self._bind(child, p, t, ctx, out) for child in parts[0])
        for child, child_plan in parts[0]:   # ``any``: the bindings of its true children
            state = self._node(child, t)[p]
            if state == OPEN or (state == T and not self._bind(child_plan, p, t, ctx, out)):
                return False
        return True

    def run(self, facts: PatientFacts) -> list[Match]:
        """One patient's match table, through the columns all the same (``fast`` alone is quicker for
        one patient; this keeps per-patient checks of the columns possible)."""
        return self.run_many([facts])[0]

