"""The ``durable`` executor: the IR's leaf tests compiled into one durable_rules (Rete) ruleset.

An independent second oracle for the differential tests. Every comparison a leaf makes — route,
form, as-needed, dose and frequency bounds, ages, kidney function, lab values and recency, allergy
reaction/severity/type — is evaluated by durable_rules' Rete network. Table lookups (class
membership, condition groups, allergen coverage) are pushed into fact normalisation, as DESIGN §2
requires, so each fact carries only a few precomputed attributes. The three-valued combination of
leaves and the wording of evidence are shared with the ``naive`` executor.

durable_rules 2.0.28 has sharp edges; this adapter respects each of them:
- one ruleset per process (two live rulesets used alternately end in a double free): a second
  executor with different rules is refused, the same rules share the one ruleset;
- never from threads (crashes): calls from any thread but the creating one are refused;
- one ``sid`` per patient, facts via ``assert_fact`` with unique ids, never ``post``; a fact that
  matches no rule raises ``MessageNotHandledException``, which here simply means "false";
  ``delete_state`` only after the (synchronous) actions have run;
- no ``none()`` negation (order-dependent): negation stays in the Python combinator;
- action functions take exactly one parameter (two would make them async);
- C limits: a leaf's id is two tests, a bucket ``b`` then a slot ``g`` inside it. More than 512
  distinct tests under one Rete node hangs ruleset creation (measured here: it is the count of
  equality tests under the root, whatever the attributes), and more than 256 rules sharing a first
  pattern is error 108; so buckets hold 100 leaves (at most 200 rules each) and the root sees one
  test per bucket. Each fact is aimed at one leaf (> 64 matching tests is error 303), and more than
  4,096 rules is refused at compile time with a clear error (error 106).
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

from mtmrules.engine import ir
from mtmrules.engine.naive import NaiveExecutor, adherence_groups
from mtmrules.errors import MtmRulesError
from mtmrules.knowledge.facts import PatientFacts

MAX_RULES = 4096
LEAVES_PER_BUCKET = 100
RULESET = "mtmrules"
_PROCESS_LOCK = threading.Lock()
_ACTIVE: dict[str, Any] = {}      # the one ruleset of this process: fingerprint → (host, leaves)


class DurableUnavailable(MtmRulesError):
    """durable-rules is not installed, or cannot hold these rules."""


def _leaf_key(node: ir.Node) -> ir.Node:
    return dataclasses.replace(node, bind=None, text="")


def _num(value: float) -> float | int:
    return int(value) if float(value).is_integer() else float(value)


def _bounds(attr: str, bounds: ir.Bounds) -> list[dict]:
    tests = []
    for op, value in (("$gt", bounds.gt), ("$gte", bounds.gte), ("$lt", bounds.lt), ("$lte", bounds.lte)):
        if value is not None:
            # The same tolerance as ir.Bounds.test, so float sums land on the same side of a bound.
            eps = 1e-9 * max(1.0, abs(value))
            shifted = {"$gt": value + eps, "$gte": value - eps, "$lt": value - eps, "$lte": value + eps}[op]
            tests.append({op: {attr: shifted}})
    return tests


def _any_of(attr: str, values) -> dict:
    options = [{attr: v} for v in sorted(values)]
    return options[0] if len(options) == 1 else {"$or": options}


def _all_of(tests: list[dict]) -> dict:
    return tests[0] if len(tests) == 1 else {"$and": tests}


class DurableExecutor(NaiveExecutor):
    """Leaf tests in Rete, combination in Python (shared with ``naive``)."""

    name = "durable"

    def __init__(self, rules: list[ir.CompiledRule]) -> None:
        super().__init__(rules)
        try:
            from durable.engine import Host, MessageNotHandledException
        except ImportError:  # pragma: no cover - depends on the install
            raise DurableUnavailable("the durable executor needs the optional extra: pip install -e '.[durable]' (from a checkout)") from None
        self._not_handled = MessageNotHandledException
        self._thread = threading.get_ident()
        self._leaves: dict[ir.Node, int] = {}
        for rule in rules:
            for leaf in ir.rule_leaves(rule):
                self._leaves.setdefault(_leaf_key(leaf), len(self._leaves))
        definition = self._definition()
        fingerprint = repr(sorted((repr(k), v) for k, v in self._leaves.items()))
        with _PROCESS_LOCK:
            if _ACTIVE and fingerprint not in _ACTIVE:
                raise DurableUnavailable("durable_rules holds one ruleset per process, and another rule set is "
                                         "already loaded here; run the durable executor in its own process")
            if fingerprint not in _ACTIVE:
                host = Host()
                host.register_rulesets({RULESET: definition})
                _ACTIVE[fingerprint] = host
        self._host = _ACTIVE[fingerprint]
        self._hits: set[tuple[int, str, str]] = set()
        self._sequence = 0

    # --- compile -------------------------------------------------------------------------------

    @staticmethod
    def _id_fields(leaf: int) -> dict:
        return {"b": leaf // LEAVES_PER_BUCKET, "g": leaf % LEAVES_PER_BUCKET}

    @staticmethod
    def _filter_tests(match: ir.MedMatch) -> list[dict]:
        tests = []
        if match.routes is not None:
            tests.append(_any_of("route", set(match.routes) | {"(none)"}))
        for route in sorted(match.exclude_routes):
            tests.append({"$neq": {"route": route}})
        if match.forms is not None:
            tests.append(_any_of("form", match.forms))
        for form in sorted(match.exclude_forms):
            tests.append({"$neq": {"form": form}})
        if match.prn is not None:
            tests.append({"prn": int(match.prn)})
        return tests

    @staticmethod
    def _dose_pass(match: ir.MedMatch) -> list[dict]:
        tests = []
        if match.daily is not None:
            tests += [{"dk": 1}, *_bounds("daily", match.daily)]
        if match.per_day is not None:
            tests += [{"pk": 1}, *_bounds("per_day", match.per_day)]
        if match.days is not None:
            tests += [{"tk": 1}, *_bounds("taken", match.days)]
        return tests

    @staticmethod
    def _dose_unknown(match: ir.MedMatch) -> dict | None:
        """UNKNOWN as naive.dose_state decides it: the first of daily, per_day, days that is unknown
        after the earlier ones passed."""
        options, passed = [], []
        for key, name, bounds in (("dk", "daily", match.daily), ("pk", "per_day", match.per_day),
                                  ("tk", "taken", match.days)):
            if bounds is not None:
                options.append(_all_of([*passed, {key: 0}]))
                passed += [{key: 1}, *_bounds(name, bounds)]
        if not options:
            return None
        return options[0] if len(options) == 1 else {"$or": options}

    def _definition(self) -> dict:
        rules: dict[str, dict] = {}

        def add(leaf: int, outcome: str, tests: list[dict]) -> None:
            ids = self._id_fields(leaf)
            rules[f"l{leaf}{outcome}"] = {"all": [{"m": _all_of([{"b": ids["b"]}, {"g": ids["g"]}, *tests])}],
                                          "run": self._action(leaf, outcome)}

        for node, leaf in self._leaves.items():
            if isinstance(node, (ir.Med, ir.Count)):
                base = self._filter_tests(node.match)
                add(leaf, "T", base + self._dose_pass(node.match))
                unknown = self._dose_unknown(node.match)
                if isinstance(node, ir.Med) and unknown is not None:
                    add(leaf, "U", base + [unknown])
            elif isinstance(node, ir.Total):
                add(leaf, "T", self._filter_tests(node.match))
            elif isinstance(node, ir.Adherence):
                # items pass the filter in Rete (outcome "I"); the group's PDC is then compared in Rete
                add(leaf, "I", [{"pdc": 0}, *self._filter_tests(node.match)])
                add(leaf, "T", [{"pdc": 1}, {"known": 1}, *_bounds("v", node.bounds)])
                add(leaf, "U", [{"pdc": 1}, {"known": 0}])
            elif isinstance(node, ir.AllergyConflict):
                add(leaf, "T", self._filter_tests(node.match) + self._allergy_tests(node.filter))
            elif isinstance(node, ir.AllergyTo):
                add(leaf, "T", self._allergy_tests(node.filter))
            elif isinstance(node, ir.CondGroup):
                add(leaf, "T", [])
            elif isinstance(node, (ir.PatientAttr, ir.Renal, ir.LabValueTest)):
                if isinstance(node, ir.PatientAttr) and node.bounds is None:
                    value_tests = [{"v": int(node.equals) if isinstance(node.equals, bool) else node.equals}]
                else:
                    value_tests = _bounds("v", node.bounds)
                recency = []
                if isinstance(node, ir.LabValueTest) and node.within_days is not None:
                    recency = [{"dated": 1}, {"$lte": {"age": node.within_days}}]
                add(leaf, "T", [{"known": 1}, *recency, *value_tests])
                unknown = [{"known": 0}]
                if recency:
                    unknown = [{"$or": [{"known": 0}, {"dated": 0}, {"$gt": {"age": node.within_days}}]}]
                add(leaf, "U", unknown)
            elif isinstance(node, ir.LabMissing):
                add(leaf, "T", [{"dated": 1}, {"$lte": {"age": node.within_days}}])
            else:  # pragma: no cover - the IR is closed
                raise DurableUnavailable(f"durable executor cannot compile {type(node).__name__}")
        if len(rules) > MAX_RULES:
            raise DurableUnavailable(f"these packs need {len(rules)} durable_rules rules; durable_rules holds at "
                                     f"most {MAX_RULES} (error 106). Use the fast or naive executor.")
        return rules

    def _action(self, leaf: int, outcome: str):
        def action(c):  # exactly one parameter: with two, durable_rules makes the action async
            self._hits.add((leaf, outcome, c.m["ref"]))
        return action

    @staticmethod
    def _allergy_tests(flt: ir.AllergyFilter) -> list[dict]:
        tests: list[dict] = []
        if flt.reactions:
            options = [{"$mt": {"reaction": f".*{_regex_escape(r)}.*"}} for r in flt.reactions]
            tests.append(options[0] if len(options) == 1 else {"$or": options})
        if flt.severities is not None:
            tests.append(_any_of("severity", flt.severities))
        if flt.types is not None:
            tests.append(_any_of("type", flt.types))
        return tests

    # --- run -----------------------------------------------------------------------------------

    def _facts_for(self, facts: PatientFacts) -> list[dict]:
        """One fact per (leaf, candidate): membership pushed here, comparisons left to Rete."""
        out: list[dict] = []

        def fact(leaf: int, ref: str, **fields: Any) -> None:
            out.append({**self._id_fields(leaf), "ref": ref, **fields})

        for node, leaf in self._leaves.items():
            if isinstance(node, ir.Adherence):
                candidates = [(pos, item) for pos, item in enumerate(facts.items) if item.ingredient in node.match.ingredients]
                for pos, item in candidates:
                    fact(leaf, str(pos), pdc=0, route=item.route or "(none)", form=item.form or "(none)", prn=int(item.prn))
                continue
            if isinstance(node, (ir.Med, ir.Count, ir.Total, ir.AllergyConflict)):
                match = node.match
                unit = match.daily.unit if match.daily is not None else None
                for pos, item in enumerate(facts.items):
                    if item.ingredient not in match.ingredients:
                        continue
                    base = {"route": item.route or "(none)", "form": item.form or "(none)", "prn": int(item.prn)}
                    dose = {"dk": 0, "pk": 0, "tk": 0}
                    if item.daily is not None and item.daily.unit == unit:
                        dose.update(dk=1, daily=item.daily.value)
                    if item.per_day is not None:
                        dose.update(pk=1, per_day=item.per_day)
                    if item.days_taken is not None:
                        dose.update(tk=1, taken=item.days_taken)
                    if isinstance(node, ir.AllergyConflict):
                        for allergy in facts.allergies:
                            if item.ingredient in allergy.ingredients:
                                fact(leaf, f"{pos}:{allergy.index}", **base, **_allergy_fields(allergy))
                    else:
                        fact(leaf, str(pos), **base, **dose)
            elif isinstance(node, ir.AllergyTo):
                for allergy in facts.allergies:
                    if allergy.ingredients & node.ingredients:
                        fact(leaf, str(allergy.index), **_allergy_fields(allergy))
            elif isinstance(node, ir.CondGroup):
                for pos, cond in enumerate(facts.conditions):
                    if cond.groups & node.groups:
                        fact(leaf, str(pos))
            elif isinstance(node, ir.PatientAttr):
                value = getattr(facts, node.attr)
                known = value is not None and not (node.attr == "sex" and value not in ("female", "male"))
                shown = int(value) if isinstance(value, bool) else value
                fact(leaf, "p", known=int(known), **({"v": shown} if known else {}))
            elif isinstance(node, ir.Renal):
                renal = facts.renal.get(node.measure)
                v = _witness(renal, node.bounds)
                fact(leaf, "r", known=int(v is not None), **({"v": v} if v is not None else {}))
            elif isinstance(node, ir.LabValueTest):
                lab = facts.labs.get(node.test)
                v = _witness(lab, node.bounds)
                fields: dict[str, Any] = {"known": int(v is not None), "dated": int(bool(lab and lab.date))}
                if v is not None:
                    fields["v"] = v
                    if lab.date is not None:
                        fields["age"] = (facts.as_of - lab.date).days
                fact(leaf, "l", **fields)
            elif isinstance(node, ir.LabMissing):
                for pos, value in enumerate(facts.lab_history.get(node.test, ())):
                    fact(leaf, str(pos), dated=int(value.date is not None),
                         **({"age": (facts.as_of - value.date).days} if value.date else {}))
        return out

    def adherence_state(self, node: ir.Adherence, facts: PatientFacts):
        """Items pass the filter in Rete; each group's measure (PDC or refill gap) is asserted as a second
        fact and compared in Rete."""
        groups = adherence_groups(node, self._items(node, "I", facts), facts.as_of)
        leaf = self._leaves[_leaf_key(node)]
        for n, group in enumerate(groups):
            self._assert({**self._id_fields(leaf), "ref": f"m{n}", "pdc": 1, "known": int(group.value is not None),
                          **({"v": group.value} if group.value is not None else {})})
        true, unknown = set(self._refs(node, "T")), set(self._refs(node, "U"))
        return groups, [True if f"m{n}" in true else None if f"m{n}" in unknown else False for n in range(len(groups))]

    def _assert(self, fact: dict) -> None:
        self._sequence_fact += 1
        self._asserted = True
        try:
            self._host.assert_fact(RULESET, {"id": f"x{self._sequence_fact}", **fact, "sid": self._sid})
        except self._not_handled:
            pass  # no rule matched: the leaf test is false for this candidate

    def run(self, facts: PatientFacts):
        if threading.get_ident() != self._thread:
            raise DurableUnavailable("durable_rules crashes when called from more than one thread; "
                                     "use the durable executor only from the thread that created it")
        self._sequence += 1
        self._sid = sid = f"p{self._sequence}"
        self._sequence_fact = 0
        self._hits = set()
        self._asserted = False
        for n, item in enumerate(self._facts_for(facts)):
            self._assert({**item, "id": f"f{n}"})
        try:
            return super().run(facts)
        finally:
            if self._asserted:
                try:
                    self._host.delete_state(RULESET, sid)
                except Exception as exc:  # noqa: BLE001 - durable_rules raises a bare C-level error
                    if "309" not in str(exc):  # 309: no state, because no asserted fact matched a rule
                        raise

    # --- matching answered from the Rete hits --------------------------------------------------

    def _refs(self, node: ir.Node, outcome: str) -> list[str]:
        leaf = self._leaves[_leaf_key(node)]
        return [ref for (l, o, ref) in self._hits if l == leaf and o == outcome]

    def _items(self, node: ir.Node, outcome: str, facts: PatientFacts) -> list:
        return [facts.items[p] for p in sorted(int(r) for r in self._refs(node, outcome))]

    def eval(self, node: ir.Node, facts: PatientFacts):
        self._node = node
        return super().eval(node, facts)

    def med_states(self, match: ir.MedMatch, facts: PatientFacts):
        node = self._node
        return self._items(node, "T", facts), self._items(node, "U", facts)

    def filtered_items(self, match: ir.MedMatch, facts: PatientFacts):
        return self._items(self._node, "T", facts)

    def condition_hits(self, node: ir.CondGroup, facts: PatientFacts):
        return [facts.conditions[p] for p in sorted(int(r) for r in self._refs(node, "T"))]

    def allergy_hits(self, node: ir.AllergyTo, facts: PatientFacts):
        return [facts.allergies[i] for i in sorted(int(r) for r in self._refs(node, "T"))]

    def conflict_pairs(self, node: ir.AllergyConflict, facts: PatientFacts):
        pairs = sorted(tuple(int(x) for x in r.split(":")) for r in self._refs(node, "T"))
        return [(facts.items[p], facts.allergies[a]) for p, a in pairs]

    def _state(self, node: ir.Node) -> str:
        if self._refs(node, "T"):
            return "T"
        return "U" if self._refs(node, "U") else "F"

    def patient_state(self, node, facts):
        return self._state(node)

    def renal_state(self, node, facts):
        return self._state(node)

    def lab_state(self, node, facts):
        return self._state(node)

    def lab_recent(self, node, facts):
        return bool(self._refs(node, "T"))


def _witness(value, bounds: ir.Bounds) -> float | None:
    """The number durable compares for a result: the value itself, or for a result reported as a
    bound (">60") a value the bound allows when the bound decides the test (None when it does not)."""
    if value is None:
        return None
    if not value.comparator:
        return value.value
    if bounds.state_of(value.value, value.comparator) == "U":
        return None
    return value.value + {">": 1.0, ">=": 0.0, "<": -1.0, "<=": 0.0}[value.comparator]


def _allergy_fields(allergy) -> dict:
    return {"reaction": (allergy.reaction or "").lower(), "severity": allergy.severity or "(none)",
            "type": allergy.type or "(none)"}


def _regex_escape(text: str) -> str:
    return "".join(f"\\{ch}" if ch in ".^$*+?()[]{}|\\" else ch for ch in text)
