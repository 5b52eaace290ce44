"""The ``columnar`` executor: which rules can hold, for a whole chunk of patients at once, as boolean
column operations over integer-coded tables; match rows only for the (patient, rule) pairs left.

Each IR node is compiled to a *possibly-not-false* mask over the chunk's patients — a sound
over-approximation of Kleene's non-false (true or not evaluated): a leaf is masked out only where
the data prove it false (no item of the ingredients, no condition of the groups, a known eGFR, age
or lab value outside the bounds); ``all`` is the AND of its children, ``any`` the OR, and a node the
columns cannot decide (``none``, a missing-lab test, a value reported as a bound) stays possible.
A rule is then evaluated, by the ``fast`` executor's own compiled closures, only for patients the
fast executor would try (its anchor index) *and* whose mask is set. Because a masked-out pair is
false by construction and every other pair is evaluated by ``fast`` itself, the match table is
identical to ``fast``'s for every rule shape: shapes the columns cannot decide cost time, never
correctness (tests/test_columnar.py checks this on random populations).
"""

from __future__ import annotations

import numpy as np

from mtmrules.engine import ir
from mtmrules.engine.fast import FastExecutor, _anchor_tokens
from mtmrules.engine.matches import Match
from mtmrules.engine.vectorized import _bound_mask as _bounds_mask   # ir.Bounds.test over an array
from mtmrules.knowledge.facts import PatientFacts

_ITEM_LEAVES = (ir.Med, ir.Count, ir.Total, ir.AllergyConflict, ir.Adherence)


def _key(node: ir.Node) -> object:
    """What a node's mask depends on: table rows of one template repeat the same sets and bounds in
    distinct node objects, and share one mask."""
    if isinstance(node, (ir.Med, ir.Adherence)):
        return "items", node.match.ingredients
    if isinstance(node, ir.AllergyConflict):
        return "conflict", node.match.ingredients
    if isinstance(node, ir.Total):
        return "total", node.match.ingredients, node.bounds.test(0.0)
    if isinstance(node, ir.Count):
        return "count", node.match.ingredients, node.distinct == "ingredient" and not node.same_ingredient, node.gte
    if isinstance(node, ir.CondGroup):
        return "groups", node.groups
    if isinstance(node, ir.AllergyTo):
        return "allergy", node.ingredients
    if isinstance(node, (ir.PatientAttr, ir.Renal, ir.LabValueTest)):
        return node.__class__, *(getattr(node, f) for f in ("attr", "measure", "test", "within_days", "bounds", "equals")
                                 if hasattr(node, f))
    return id(node)


class _Chunk:
    """One chunk of patients as flat integer-coded columns: items (patient, ingredient), conditions
    (patient, group), allergies (patient, ingredient); patient scalars built on first use."""

    def __init__(self, facts: list[PatientFacts], ingredients: dict[str, int], groups: dict[str, int]) -> None:
        self.facts, self.n = facts, len(facts)
        other_ing, other_grp = len(ingredients), len(groups)
        item_p, item_code, cond_p, cond_code, allergy_p, allergy_code = [], [], [], [], [], []
        for p, f in enumerate(facts):
            for item in f.items:
                item_p.append(p)
                item_code.append(ingredients.get(item.ingredient, other_ing))
            for condition in f.conditions:
                for group in condition.groups:
                    cond_p.append(p)
                    cond_code.append(groups.get(group, other_grp))
            for allergy in f.allergies:
                for ing in allergy.ingredients:
                    allergy_p.append(p)
                    allergy_code.append(ingredients.get(ing, other_ing))
        self.item_p, self.item_code = np.array(item_p, dtype=np.int64), np.array(item_code, dtype=np.int64)
        self.cond_p, self.cond_code = np.array(cond_p, dtype=np.int64), np.array(cond_code, dtype=np.int64)
        self.allergy_p = np.array(allergy_p, dtype=np.int64)
        self.allergy_code = np.array(allergy_code, dtype=np.int64)
        self._scalars: dict[tuple, tuple[np.ndarray, ...]] = {}

    def present(self, rows_p: np.ndarray, hit: np.ndarray) -> np.ndarray:
        out = np.zeros(self.n, dtype=bool)
        out[rows_p[hit]] = True
        return out

    def scalar(self, key: tuple, build) -> tuple[np.ndarray, ...]:
        found = self._scalars.get(key)
        if found is None:
            found = self._scalars[key] = build()
        return found

    def number(self, attr: str) -> np.ndarray:
        """A numeric patient attribute (age, weight_kg) as floats, NaN when unknown."""
        return self.scalar(("attr", attr), lambda: (np.array(
            [np.nan if (v := getattr(f, attr)) is None else float(v) for f in self.facts], dtype=float),))[0]

    def measured(self, kind: str, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(value or NaN, reported as a bound, date ordinal or NaN) of a kidney-function measure or of
        the latest result of a lab, per patient."""
        def build():
            value, bound, when = np.full(self.n, np.nan), np.zeros(self.n, dtype=bool), np.full(self.n, np.nan)
            for p, f in enumerate(self.facts):
                found = (f.renal if kind == "renal" else f.labs).get(name)
                if found is not None:
                    value[p], bound[p] = found.value, found.comparator is not None
                    if kind == "lab" and found.date is not None:
                        when[p] = (f.as_of - found.date).days
            return value, bound, when
        return self.scalar((kind, name), build)  # type: ignore[return-value]


class ColumnarExecutor:
    """Possible (patient, rule) pairs as column operations; match rows from the fast executor."""

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
        # the fast executor's candidates: a rule is tried when one of its anchor tokens is present
        self._anchors = [_anchor_tokens(rule.when) for rule in rules]

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

    # --- masks -----------------------------------------------------------------------------------

    def possible(self, chunk: list[PatientFacts]) -> np.ndarray:
        """A (patients × rules) boolean array: True where the fast executor would try the rule and the
        columns do not prove it false. Every pair left out is false for the rule."""
        t = _Chunk(chunk, self.ingredients, self.groups)
        cache: dict = {}
        anchors: dict[frozenset, np.ndarray] = {}
        out = np.zeros((len(self.rules), t.n), dtype=bool)
        for r, rule in enumerate(self.rules):
            tokens = self._anchors[r]
            if tokens is None:
                row = self._node(rule.when, t, cache)
            else:
                anchor = anchors.get(tokens)
                if anchor is None:
                    anchor = anchors[tokens] = self._anchor_mask(tokens, t)
                row = anchor if not anchor.any() else anchor & self._node(rule.when, t, cache)
            out[r] = row
        return out.T.copy()   # patient rows, contiguous

    def _anchor_mask(self, tokens: frozenset[str], t: _Chunk) -> np.ndarray:
        ings = frozenset(tok[4:] for tok in tokens if tok.startswith("ing:"))
        grps = frozenset(tok[4:] for tok in tokens if tok.startswith("grp:"))
        mask = t.present(t.item_p, self._table("ing", ings)[t.item_code]) if ings else np.zeros(t.n, dtype=bool)
        if grps:
            mask |= t.present(t.cond_p, self._table("grp", grps)[t.cond_code])
        return mask

    def _node(self, node: ir.Node, t: _Chunk, cache: dict) -> np.ndarray:
        key = _key(node)
        found = cache.get(key)
        if found is None:
            found = cache[key] = self._compute(node, t, cache)
        return found

    def _items_of(self, ingredients: frozenset[str], t: _Chunk) -> np.ndarray:
        """Items whose ingredient is one of ``ingredients`` (route, form and dose not looked at)."""
        return self._table("ing", ingredients)[t.item_code]

    def _compute(self, node: ir.Node, t: _Chunk, cache: dict) -> np.ndarray:
        n = t.n
        if isinstance(node, ir.All):
            out = np.ones(n, dtype=bool)
            for child in node.children:
                out &= self._node(child, t, cache)
                if not out.any():
                    break
            return out
        if isinstance(node, ir.Any_):
            out = np.zeros(n, dtype=bool)
            for child in node.children:
                out |= self._node(child, t, cache)
            return out
        if isinstance(node, ir.Count):
            hit = self._items_of(node.match.ingredients, t)
            if node.distinct == "ingredient" and not node.same_ingredient:
                pairs = np.unique(t.item_p[hit] * (len(self.ingredients) + 1) + t.item_code[hit])
                counts = np.bincount(pairs // (len(self.ingredients) + 1), minlength=n)
            else:   # entries: at least as many items as entries of the set (or of one ingredient)
                counts = np.bincount(t.item_p[hit], minlength=n)
            return counts >= node.gte
        if isinstance(node, ir.Total):
            if node.bounds.test(0.0):   # a total of nothing may pass: no item needed
                return np.ones(n, dtype=bool)
            return t.present(t.item_p, self._items_of(node.match.ingredients, t))
        if isinstance(node, (ir.Med, ir.Adherence)):
            return t.present(t.item_p, self._items_of(node.match.ingredients, t))
        if isinstance(node, ir.AllergyConflict):
            return (t.present(t.item_p, self._items_of(node.match.ingredients, t))
                    & t.present(t.allergy_p, self._table("ing", node.match.ingredients)[t.allergy_code]))
        if isinstance(node, ir.AllergyTo):
            return t.present(t.allergy_p, self._table("ing", node.ingredients)[t.allergy_code])
        if isinstance(node, ir.CondGroup):
            return t.present(t.cond_p, self._table("grp", node.groups)[t.cond_code])
        if isinstance(node, ir.PatientAttr) and node.bounds is not None and node.attr in ("age", "weight_kg"):
            values = t.number(node.attr)
            return np.isnan(values) | _bounds_mask(values, node.bounds)
        if isinstance(node, ir.Renal):
            value, bound, _ = t.measured("renal", node.measure)
            return np.isnan(value) | bound | _bounds_mask(value, node.bounds)
        if isinstance(node, ir.LabValueTest):
            value, bound, age = t.measured("lab", node.test)
            unknown = np.isnan(value)
            if node.within_days is not None:
                with np.errstate(invalid="ignore"):
                    unknown = unknown | np.isnan(age) | (age > node.within_days)
            return unknown | bound | _bounds_mask(value, node.bounds)
        # none-of, missing-lab tests and the other patient attributes: not decided here
        return np.ones(n, dtype=bool)

    # --- match rows ------------------------------------------------------------------------------

    def run_many(self, chunk: list[PatientFacts]) -> list[list[Match]]:
        if not chunk:
            return []
        possible = self.possible(chunk)
        out = []
        for facts, row in zip(chunk, possible):
            ctx = self.fast.context(facts)
            matches = (self.fast.evaluate(int(r), ctx) for r in np.flatnonzero(row))
            out.append([m for m in matches if m is not None])
        return out

    def run(self, facts: PatientFacts) -> list[Match]:
        """One patient: column work would cost more than it saves, and the result is fast's anyway."""
        return self.fast.run(facts)
