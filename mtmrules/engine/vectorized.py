"""The ``vectorized`` executor: rule states for a whole chunk of patients at once, over integer-coded
numpy/pandas tables, one vectorised pass per IR node.

Each node yields a state per patient (0 = false, 1 = unknown, 2 = true); Kleene's logic is then
``all`` = minimum, ``any`` = maximum, ``none`` = 2 − maximum. Only the (patient, rule) pairs that
come out true or unknown — a few per patient — are then expanded into match rows (bindings,
evidence, modifiers) by the fast executor's compiled rules, so the match table is identical to the
other executors' (tests/test_differential.py checks the states and the tables).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mtmrules.engine import ir
from mtmrules.engine.fast import FastExecutor
from mtmrules.engine.matches import Match
from mtmrules.engine.naive import adherence_groups, adherence_outcome, measure_passes
from mtmrules.knowledge.facts import PatientFacts

F, U, T = 0, 1, 2


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


class _Tables:
    """One chunk of patients as flat arrays (rows of items, conditions, allergies, labs)."""

    def __init__(self, chunk: list[PatientFacts], vocabulary: dict[str, int]) -> None:
        self.n = len(chunk)
        self.facts = chunk
        rows = [(p, pos, it.ingredient, it.route or "", it.form or "", it.prn,
                 it.daily.value if it.daily else np.nan, it.daily.unit if it.daily else "",
                 it.per_day if it.per_day is not None else np.nan, it.med,
                 it.days_taken if it.days_taken is not None else np.nan)
                for p, f in enumerate(chunk) for pos, it in enumerate(f.items)]
        items = pd.DataFrame(rows, columns=["p", "pos", "ing", "route", "form", "prn", "daily", "unit", "per_day", "med",
                                            "days"])
        self.items = items
        self.i_p = items["p"].to_numpy(dtype=np.int64)
        self.i_ing = items["ing"].to_numpy(dtype=object)
        # integer-coded ingredients: a filter becomes one vectorised lookup into a boolean table
        self.i_code = np.fromiter((vocabulary.get(i, len(vocabulary)) for i in self.i_ing), dtype=np.int64,
                                  count=len(self.i_ing))
        self.i_route = items["route"].to_numpy(dtype=object)
        self.i_form = items["form"].to_numpy(dtype=object)
        self.i_prn = items["prn"].to_numpy(dtype=bool)
        self.i_daily = items["daily"].to_numpy(dtype=float)
        self.i_unit = items["unit"].to_numpy(dtype=object)
        self.i_per_day = items["per_day"].to_numpy(dtype=float)
        self.i_med = items["med"].to_numpy(dtype=np.int64)
        self.i_days = items["days"].to_numpy(dtype=float)
        routes = sorted(set(self.i_route) | set(self.i_form))
        self.text_codes = {r: i for i, r in enumerate(routes)}
        self.i_route_code = np.fromiter((self.text_codes[r] for r in self.i_route), dtype=np.int64, count=len(self.i_route))
        self.i_form_code = np.fromiter((self.text_codes[r] for r in self.i_form), dtype=np.int64, count=len(self.i_form))
        conds = [(p, g) for p, f in enumerate(chunk) for c in f.conditions for g in c.groups]
        self.c_p = np.array([c[0] for c in conds], dtype=np.int64)
        self.c_g = np.array([c[1] for c in conds], dtype=object)
        self.group_codes = {g: i for i, g in enumerate(sorted(set(self.c_g)))}
        self.c_code = np.fromiter((self.group_codes[g] for g in self.c_g), dtype=np.int64, count=len(self.c_g))

        allergies = [(p, a.index, ing, (a.reaction or "").lower(), a.severity, a.type)
                     for p, f in enumerate(chunk) for a in f.allergies for ing in a.ingredients]
        self.allergies = pd.DataFrame(allergies, columns=["p", "idx", "ing", "reaction", "severity", "type"])
        self.as_of = np.array([f.as_of.toordinal() for f in chunk], dtype=np.int64)

        self._columns: dict[tuple, tuple[np.ndarray, ...]] = {}

    def _column(self, key: tuple, build) -> tuple[np.ndarray, ...]:
        """A per-patient column computed once per chunk and shared by every rule that tests it."""
        found = self._columns.get(key)
        if found is None:
            found = self._columns[key] = build()
        return found

    def attribute(self, attr: str) -> tuple[np.ndarray, np.ndarray]:
        """(values as objects, unknown mask) of a patient attribute."""
        def build():
            values = np.empty(self.n, dtype=object)   # one object per patient, whatever the values are
            values[:] = [getattr(f, attr) for f in self.facts]
            unknown = np.array([v is None or (attr == "sex" and v not in ("female", "male")) for v in values], dtype=bool)
            return values, unknown
        return self._column(("attr", attr), build)  # type: ignore[return-value]

    def number(self, attr: str) -> np.ndarray:
        """A numeric patient attribute as floats (NaN when unknown)."""
        return self._column(("number", attr), lambda: (np.array(
            [np.nan if v is None else float(v) for v in self.attribute(attr)[0]], dtype=float),))[0]

    def renal(self, measure: str) -> np.ndarray:
        return self._column(("renal", measure), lambda: (np.array(
            [f.renal[measure].value if measure in f.renal else np.nan for f in self.facts], dtype=float),))[0]

    def lab(self, test: str, within_days: int | None) -> np.ndarray:
        """Latest value of ``test`` per patient (NaN if none, or older than ``within_days``)."""
        def build():
            values = np.full(self.n, np.nan)
            for i, f in enumerate(self.facts):
                lab = f.labs.get(test)
                if lab is not None and (within_days is None or (
                        lab.date is not None and (f.as_of - lab.date).days <= within_days)):
                    values[i] = lab.value
            return (values,)
        return self._column(("lab", test, within_days), build)[0]

    def bounded(self, kind: str, key: str, within_days: int | None = None) -> list[tuple[int, object]]:
        """(patient row, value) for the few values reported as a bound (">60"), which a plain
        comparison would misread as exact."""
        def build():
            out = []
            for i, f in enumerate(self.facts):
                value = (f.renal if kind == "renal" else f.labs).get(key)
                if value is not None and value.comparator and (within_days is None or (
                        value.date is not None and (f.as_of - value.date).days <= within_days)):
                    out.append((i, value))
            return (out,)
        return self._column(("bounded", kind, key, within_days), build)[0]

    def newest_dated(self, test: str) -> np.ndarray:
        """Ordinal of the newest dated result of ``test`` per patient (a far-past ordinal if none)."""
        def build():
            newest = np.full(self.n, -10**9, dtype=np.int64)   # far past; no overflow in as_of − newest
            for i, f in enumerate(self.facts):
                dated = [v.date.toordinal() for v in f.lab_history.get(test, ()) if v.date is not None]
                if dated:
                    newest[i] = max(dated)
            return (newest,)
        return self._column(("newest", test), build)[0]

    def text_table(self, allowed) -> np.ndarray:
        """Boolean table over this chunk's route/form codes."""
        table = np.zeros(len(self.text_codes) + 1, dtype=bool)
        table[[self.text_codes[r] for r in allowed if r in self.text_codes]] = True
        return table

    def per_patient_max(self, patients: np.ndarray, states: np.ndarray) -> np.ndarray:
        out = np.zeros(self.n, dtype=np.int8)
        if len(patients):
            np.maximum.at(out, patients, states.astype(np.int8))
        return out


class VectorizedExecutor:
    """States in bulk, match rows through the shared outcome code."""

    name = "vectorized"

    def __init__(self, rules: list[ir.CompiledRule]) -> None:
        self.rules = rules
        names: set[str] = set()
        for rule in rules:
            for leaf in ir.rule_leaves(rule):
                if isinstance(leaf, (ir.Med, ir.Count, ir.Total, ir.AllergyConflict, ir.Adherence)):
                    names |= leaf.match.ingredients
        self.vocabulary = {name: code for code, name in enumerate(sorted(names))}
        self._rows = FastExecutor(rules)   # expands the few true/unknown (patient, rule) pairs into rows
        self._lookups: dict[frozenset, np.ndarray] = {}

    def _lookup(self, ingredients: frozenset[str]) -> np.ndarray:
        """Boolean table over ingredient codes (the last slot: ingredients no rule names)."""
        table = self._lookups.get(ingredients)
        if table is None:
            table = np.zeros(len(self.vocabulary) + 1, dtype=bool)
            table[[self.vocabulary[i] for i in ingredients if i in self.vocabulary]] = True
            self._lookups[ingredients] = table
        return table

    # --- states --------------------------------------------------------------------------------

    def states(self, chunk: list[PatientFacts]) -> np.ndarray:
        """A (patients × rules) int8 array of rule states: 0 false, 1 not evaluable, 2 true."""
        tables = _Tables(chunk, self.vocabulary)
        cache: dict[int, np.ndarray] = {}
        out = np.zeros((len(chunk), len(self.rules)), dtype=np.int8)
        for r, rule in enumerate(self.rules):
            out[:, r] = self._node(rule.when, tables, cache)
        return out

    def _node(self, node: ir.Node, t: _Tables, cache: dict) -> np.ndarray:
        key = id(node)
        if key not in cache:
            cache[key] = self._compute(node, t, cache)
        return cache[key]

    def _item_filter(self, match: ir.MedMatch, t: _Tables) -> np.ndarray:
        mask = self._lookup(match.ingredients)[t.i_code]
        if not mask.any():
            return mask
        if match.routes is not None:   # an unknown route ("") matches a route list
            mask &= t.text_table(set(match.routes) | {""})[t.i_route_code]
        if match.exclude_routes:
            mask &= ~t.text_table(match.exclude_routes)[t.i_route_code]
        if match.forms is not None:
            mask &= t.text_table(match.forms)[t.i_form_code]
        if match.exclude_forms:
            mask &= ~t.text_table(match.exclude_forms)[t.i_form_code]
        if match.prn is not None:
            mask &= t.i_prn == match.prn
        return mask

    def _dose_states(self, match: ir.MedMatch, t: _Tables, rows: np.ndarray) -> np.ndarray:
        """Per item (restricted to ``rows``): T/U/F for the dose and duration parts, as naive.dose_state."""
        state = np.full(rows.sum(), T, dtype=np.int8)
        if match.daily is not None:
            daily, unit = t.i_daily[rows], t.i_unit[rows]
            known = ~np.isnan(daily) & (unit == match.daily.unit)
            state = np.where(~known, U, np.where(_bound_mask(daily, match.daily), T, F)).astype(np.int8)
        if match.per_day is not None:
            per_day = t.i_per_day[rows]
            pd_state = np.where(np.isnan(per_day), U, np.where(_bound_mask(per_day, match.per_day), T, F))
            state = np.where(state == T, pd_state, state).astype(np.int8)
        if match.days is not None:
            days = t.i_days[rows]
            days_state = np.where(np.isnan(days), U, np.where(_bound_mask(days, match.days), T, F))
            state = np.where(state == T, days_state, state).astype(np.int8)
        return state

    def _compute(self, node: ir.Node, t: _Tables, cache: dict) -> np.ndarray:
        n = t.n
        if isinstance(node, (ir.All, ir.Any_, ir.Not)):
            children = np.stack([self._node(c, t, cache) for c in node.children])
            if isinstance(node, ir.All):
                return children.min(axis=0)
            top = children.max(axis=0)
            return top if isinstance(node, ir.Any_) else (T - top).astype(np.int8)
        if isinstance(node, ir.Med):
            rows = self._item_filter(node.match, t)
            return t.per_patient_max(t.i_p[rows], self._dose_states(node.match, t, rows))
        if isinstance(node, ir.Count):
            rows = self._item_filter(node.match, t)
            ok = np.zeros(len(rows), dtype=bool)
            ok[rows] = self._dose_states(node.match, t, rows) == T
            hit = t.items[ok]
            if node.same_ingredient:
                sizes = hit.groupby(["p", "ing"])["med"].nunique()
                patients = sizes[sizes >= node.gte].index.get_level_values("p").unique().to_numpy()
            else:
                col = "ing" if node.distinct == "ingredient" else "med"
                sizes = hit.groupby("p")[col].nunique()
                patients = sizes[sizes >= node.gte].index.to_numpy()
            out = np.zeros(n, dtype=np.int8)
            out[patients.astype(np.int64)] = T
            return out
        if isinstance(node, ir.Total):
            rows = self._item_filter(node.match, t)
            weights = dict(node.weights)
            p = t.i_p[rows]
            if node.measure == "daily_dose" or node.per_dose:
                unit = node.bounds.unit if node.measure == "daily_dose" else "mg"
                counted = np.ones(rows.sum(), dtype=bool) if node.measure == "daily_dose" else \
                    np.fromiter((i in weights for i in t.i_ing[rows]), dtype=bool, count=rows.sum())
                daily = t.i_daily[rows]
                known = counted & ~np.isnan(daily) & (t.i_unit[rows] == unit)
                factor = np.fromiter((weights.get(i, 1.0) for i in t.i_ing[rows]), dtype=float, count=rows.sum())
                total = np.zeros(n)
                np.add.at(total, p[known], (daily * factor)[known])
                unknown = np.zeros(n, dtype=bool)
                unknown[p[counted & ~known]] = True
            else:
                frame = pd.DataFrame({"p": p, "ing": t.i_ing[rows]}).drop_duplicates()
                frame = frame[frame["ing"].isin(weights)]
                total = np.zeros(n)
                np.add.at(total, frame["p"].to_numpy(dtype=np.int64), frame["ing"].map(weights).to_numpy(dtype=float))
                unknown = np.zeros(n, dtype=bool)
            return np.where(_bound_mask(total, node.bounds), T, np.where(unknown, U, F)).astype(np.int8)
        if isinstance(node, ir.CondGroup):
            table = np.zeros(len(t.group_codes) + 1, dtype=bool)
            table[[t.group_codes[g] for g in node.groups if g in t.group_codes]] = True
            mask = table[t.c_code]
            out = np.zeros(n, dtype=np.int8)
            out[t.c_p[mask]] = T
            return out
        if isinstance(node, (ir.AllergyTo, ir.AllergyConflict)):
            a = t.allergies
            wanted = node.ingredients if isinstance(node, ir.AllergyTo) else node.match.ingredients
            mask = np.array(a["ing"].isin(wanted), dtype=bool)   # a copy: pandas arrays may be read-only
            flt = node.filter
            if flt.reactions:
                mask &= np.fromiter((any(r in text for r in flt.reactions) for text in a["reaction"]), dtype=bool, count=len(a))
            if flt.severities is not None:
                mask &= np.array(a["severity"].isin(flt.severities), dtype=bool)
            if flt.types is not None:
                mask &= np.array(a["type"].isin(flt.types), dtype=bool)
            keep = a.loc[mask]
            if isinstance(node, ir.AllergyConflict):
                rows = self._item_filter(node.match, t)
                items = pd.DataFrame({"p": t.i_p[rows], "ing": t.i_ing[rows]})
                keep = items.merge(keep, on=["p", "ing"])
            out = np.zeros(n, dtype=np.int8)
            out[keep["p"].to_numpy(dtype=np.int64)] = T
            return out
        if isinstance(node, ir.PatientAttr):
            values, unknown = t.attribute(node.attr)
            if node.bounds is not None:
                passed = _bound_mask(t.number(node.attr), node.bounds)
            else:
                passed = values == node.equals
            return np.where(unknown, U, np.where(passed, T, F)).astype(np.int8)
        if isinstance(node, ir.Renal):
            values = t.renal(node.measure)
            out = np.where(np.isnan(values), U, np.where(_bound_mask(values, node.bounds), T, F)).astype(np.int8)
            return _with_bounded(out, t.bounded("renal", node.measure), node.bounds)
        if isinstance(node, ir.LabValueTest):
            values = t.lab(node.test, node.within_days)
            out = np.where(np.isnan(values), U, np.where(_bound_mask(values, node.bounds), T, F)).astype(np.int8)
            return _with_bounded(out, t.bounded("lab", node.test, node.within_days), node.bounds)
        if isinstance(node, ir.LabMissing):
            # a dated result within the window (future dates count as recent, as in the other executors)
            recent = t.as_of - t.newest_dated(node.test) <= node.within_days
            return np.where(recent, F, T).astype(np.int8)
        if isinstance(node, ir.Adherence):
            rows = self._item_filter(node.match, t)
            out = np.zeros(n, dtype=np.int8)
            for patient in np.unique(t.i_p[rows]):
                items = [t.facts[patient].items[pos] for pos in t.items["pos"].to_numpy()[rows & (t.i_p == patient)]]
                groups = adherence_groups(node, items, t.facts[patient].as_of)
                state = adherence_outcome(node, groups, measure_passes(node, groups))[0].state
                out[patient] = {"T": T, "U": U}.get(state, F)
            return out
        raise TypeError(f"unknown IR node {type(node).__name__}")  # pragma: no cover

    # --- match rows ----------------------------------------------------------------------------

    def run_many(self, chunk: list[PatientFacts]) -> list[list[Match]]:
        states = self.states(chunk)
        out = []
        for i, facts in enumerate(chunk):
            ctx = self._rows.context(facts)
            matches = (self._rows.evaluate(int(r), ctx) for r in np.flatnonzero(states[i]))
            out.append([m for m in matches if m is not None])
        return out

    def run(self, facts: PatientFacts) -> list[Match]:
        return self.run_many([facts])[0]


def _with_bounded(states: np.ndarray, bounded: list[tuple[int, object]], bounds: ir.Bounds) -> np.ndarray:
    """States of results reported as a bound (">60"), decided as the other executors do."""
    codes = {"T": T, "F": F, "U": U}
    for row, value in bounded:
        states[row] = codes[bounds.state_of(value.value, value.comparator)]
    return states
