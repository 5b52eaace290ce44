"""Rule packs → IR: parse (YAML → pydantic), expand table-driven rules, resolve names, compile.

Every error names the pack file, the line and the rule id: ``interactions.yaml:42: ddi-x: unknown class 'nsiad'``.
"""

from __future__ import annotations

import math

import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mtmrules.engine import ir
from mtmrules.engine.pack import DEFAULT_CATEGORY, Condition, MedFilter, Pack, Range, Rule
from mtmrules.errors import InputError
from mtmrules.knowledge.base import KnowledgeBase, Source
from mtmrules.knowledge.dose import MASS_TO_MG
from mtmrules.yamlsource import Document, load_file

_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
_TABLE_FIELD = re.compile(r"\$\{([a-z_][a-z0-9_]*)\}")
#: Placeholders every message may use besides its bindings.
PATIENT_PLACEHOLDERS = ("age", "egfr", "crcl", "sex", "overdue")   # overdue: the lab-missing conditions that held


def _as_list(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def canonical_dose_unit(unit: str | None) -> tuple[str | None, float]:
    """Dose unit → (canonical unit, factor): mcg → (mg, 0.001)."""
    if unit is None:
        return None, 1.0
    key = unit.lower()
    if key in MASS_TO_MG:
        return "mg", MASS_TO_MG[key]
    if key in ("unit", "units", "iu"):
        return "unit", 1.0
    return key, 1.0


class _RuleCompiler:
    """Compiles one validated rule; errors carry the path inside the rule for file:line."""

    def __init__(self, kb: KnowledgeBase, doc: Document, rule_loc: tuple, rule_id: str) -> None:
        self.kb, self.doc, self.rule_loc, self.rule_id = kb, doc, rule_loc, rule_id
        self.bindings: dict[str, str] = {}
        self.scores_cache: dict[str, tuple[tuple[str, float], ...]] = {}

    def fail(self, loc: tuple, message: str) -> InputError:
        line = self.doc.line_of(self.rule_loc + loc)
        return InputError(message, file=self.doc.file, line=line, where=self.rule_id)

    # --- names --------------------------------------------------------------------------------

    def ingredients(self, spec_ing, spec_cls, loc: tuple) -> set[str]:
        out: set[str] = set()
        for ing in _as_list(spec_ing):
            ing = ing.lower()
            if ing not in self.kb.ingredients:
                raise self.fail(loc + ("ingredient",), f"unknown ingredient {ing!r}")
            out.add(ing)
        for cls in _as_list(spec_cls):
            if cls not in self.kb.classes:
                raise self.fail(loc + ("class",), f"unknown class {cls!r}")
            out |= self.kb.class_ingredients(cls)
        return out

    def describe_filter(self, spec: MedFilter) -> str:
        names = [self.kb.classes[c].label for c in _as_list(spec.class_)] + _as_list(spec.ingredient)
        text = " or ".join(names) if names else "any medication"
        if spec.route:
            text += f" ({', '.join(_as_list(spec.route))})"
        if spec.days_taken:
            text += f" taken for {self.bounds(spec.days_taken, ()).describe()} days"
        return text

    def bounds(self, spec: Range | Any, loc: tuple, dose: bool = False) -> ir.Bounds:
        unit, factor = canonical_dose_unit(spec.unit) if dose else (spec.unit, 1.0)
        if dose and spec.unit is None:
            raise self.fail(loc, "a dose bound needs a unit (mg, mcg, g, unit …)")
        scale = lambda v: None if v is None else v * factor
        return ir.Bounds(scale(spec.gt), scale(spec.gte), scale(spec.lt), scale(spec.lte), unit)

    def med_match(self, spec: MedFilter, loc: tuple) -> ir.MedMatch:
        if spec.ingredient is None and spec.class_ is None:
            ings = set(self.kb.ingredients)
        else:
            ings = self.ingredients(spec.ingredient, spec.class_, loc)
        ings -= self.ingredients(spec.exclude_ingredient, spec.exclude_class, loc)
        if not ings:
            raise self.fail(loc, "this medication filter matches no ingredient in the knowledge base")
        return ir.MedMatch(
            ingredients=frozenset(ings),
            routes=frozenset(_as_list(spec.route)) or None,
            exclude_routes=frozenset(_as_list(spec.exclude_route)),
            forms=frozenset(_as_list(spec.form)) or None,
            exclude_forms=frozenset(_as_list(spec.exclude_form)),
            prn=spec.prn,
            daily=self.bounds(spec.daily_dose, loc + ("daily_dose",), dose=True) if spec.daily_dose else None,
            per_day=self.bounds(spec.per_day, loc + ("per_day",)) if spec.per_day else None,
            days=self.bounds(spec.days_taken, loc + ("days_taken",)) if spec.days_taken else None,
            text=self.describe_filter(spec))

    def item_filter(self, spec: MedFilter, loc: tuple) -> ir.MedMatch:
        """A filter on which items count, for predicates that do not test each item's dose or duration."""
        for field in ("daily_dose", "per_day", "days_taken"):
            if getattr(spec, field) is not None:
                raise self.fail(loc + (field,), f"{field} is only allowed in a 'med' or 'count' filter; "
                                                "for a summed dose use 'total' with gt/gte/lt/lte")
        return self.med_match(spec, loc)

    # --- conditions ---------------------------------------------------------------------------

    def node(self, cond: Condition, loc: tuple) -> ir.Node:
        key = cond.key
        spec = getattr(cond, key)
        bind = cond.as_
        if bind:
            # The same name may be bound in several branches of an ``any``; the matches merge.
            self.bindings[bind] = key
        here = loc + (key,)
        if key in ("all", "any", "none"):
            if not spec:
                raise self.fail(here, f"'{key}' needs at least one condition")
            children = tuple(self.node(c, here + (i,)) for i, c in enumerate(spec))
            cls = {"all": ir.All, "any": ir.Any_, "none": ir.Not}[key]
            texts = [c.text for c in children if c.text]
            text = {"all": " and ".join(texts), "any": " or ".join(texts),
                    "none": "no " + " and no ".join(texts)}[key] if texts else ""
            return cls(children, bind=bind, text=text)
        if key == "med":
            match = self.med_match(spec, here)
            return ir.Med(match, bind=bind, text=match.text)
        if key == "count":
            match = self.med_match(spec.med, here + ("med",))
            text = (f"{spec.gte} or more entries of the same {match.text}" if spec.same_ingredient
                    else f"{spec.gte} or more {'different drugs' if spec.distinct == 'ingredient' else 'entries'}"
                         f" of {match.text}")
            return ir.Count(match, spec.distinct, spec.same_ingredient, spec.gte, bind=bind, text=text)
        if key == "total":
            match = self.item_filter(spec.med, here + ("med",))
            is_dose = spec.measure == "daily_dose"
            bounds = self.bounds(spec, here, dose=is_dose)
            weights, per_dose = ((), False) if is_dose else self.weights(spec.measure, here + ("measure",))
            label = "total daily dose" if is_dose else f"total {spec.measure.replace('_', ' ')}"
            return ir.Total(match, spec.measure, bounds, weights, per_dose, bind=bind,
                            text=f"{label} of {match.text} {bounds.describe()}")
        if key == "condition":
            groups: set[str] = set()
            for gid in _as_list(spec.group):
                if gid not in self.kb.conditions:
                    raise self.fail(here + ("group",), f"unknown condition group {gid!r}")
                groups |= self.kb.condition_descendants[gid]
            labels = " or ".join(self.kb.conditions[g].label for g in _as_list(spec.group))
            return ir.CondGroup(frozenset(groups), bind=bind, text=labels)
        if key == "allergy":
            ings = self.ingredients(spec.ingredient, spec.class_, here)
            names = _as_list(spec.class_) + _as_list(spec.ingredient)
            return ir.AllergyTo(frozenset(ings), _allergy_filter(spec), bind=bind,
                                text=f"an allergy to {' or '.join(names)}")
        if key == "allergy_conflict":
            match = self.item_filter(spec.med, here + ("med",))
            return ir.AllergyConflict(match, _allergy_filter(spec), bind=bind,
                                      text=f"{match.text} covered by a recorded allergy")
        if key == "patient":
            parts = []
            for attr in ("age", "weight_kg"):
                value = getattr(spec, attr)
                if value is not None:
                    bounds = self.bounds(value, here + (attr,))
                    parts.append(ir.PatientAttr(attr, bounds=bounds,
                                                text=f"{attr.replace('_kg', '')} {bounds.describe()}"))
            for attr in ("sex", "pregnant", "breastfeeding"):
                value = getattr(spec, attr)
                if value is not None:
                    parts.append(ir.PatientAttr(attr, equals=value, text=f"{attr} {value}"))
            if not parts:
                raise self.fail(here, "patient needs age, sex, pregnant or breastfeeding")
            return parts[0] if len(parts) == 1 else ir.All(tuple(parts), bind=bind)
        if key == "renal":
            measure = "egfr" if spec.egfr is not None else "crcl"
            bounds = self.bounds(getattr(spec, measure), here + (measure,))
            return ir.Renal(measure, bounds, bind=bind,
                            text=f"{'eGFR' if measure == 'egfr' else 'CrCl'} {bounds.describe()}")
        if key == "lab":
            if spec.test not in self.kb.labs:
                raise self.fail(here + ("test",), f"unknown lab {spec.test!r}")
            label = self.kb.labs[spec.test].label
            if spec.missing_within_days is not None:
                return ir.LabMissing(spec.test, spec.missing_within_days, bind=bind,
                                     text=f"no {label} in the last {spec.missing_within_days} days")
            bounds = self.bounds(spec.value, here + ("value",))
            return ir.LabValueTest(spec.test, bounds, spec.within_days, label, bind=bind,
                                   text=f"{label} {bounds.describe()}")
        if key == "adherence":
            match = self.item_filter(spec.med, here + ("med",))
            if spec.refill_gap_days is not None:
                bounds = self.bounds(spec.refill_gap_days, here + ("refill_gap_days",))
                return ir.Adherence(match, bounds, measure="refill_gap", per_drug=True, bind=bind,
                                    text=f"days without supply of {match.text} {bounds.describe()}")
            if spec.fills_in_last_year is not None:
                bounds = self.bounds(spec.fills_in_last_year, here + ("fills_in_last_year",))
                return ir.Adherence(match, bounds, measure="fill_count", bind=bind,
                                    text=f"fills of {match.text} in the last 365 days {bounds.describe()}")
            bounds = self.bounds(spec.pdc, here + ("pdc",))
            each = " (each drug)" if spec.per_drug else ""
            return ir.Adherence(match, bounds, per_drug=spec.per_drug, bind=bind,
                                text=f"adherence (PDC) to {match.text}{each} {bounds.describe()}%")
        raise self.fail(here, f"unsupported predicate {key!r}")  # pragma: no cover - closed set

    def weights(self, measure: str, loc: tuple) -> tuple[tuple[tuple[str, float], ...], bool]:
        """A measure table: ``ingredient,score`` (per ingredient) or ``ingredient,factor`` (× daily mg)."""
        try:
            self.kb.table_path(measure)
        except InputError as exc:
            raise self.fail(loc, f"measure: {exc.reason}") from None
        try:
            rows = self.kb.table(measure)
        except InputError:
            raise self.fail(loc, f"unknown measure {measure!r} (expected daily_dose or a table with "
                                 "ingredient and score or factor columns)") from None
        column = "factor" if rows and "factor" in rows[0][1] else "score"
        if not rows or column not in rows[0][1] or "ingredient" not in rows[0][1]:
            raise self.fail(loc, f"table {measure!r} needs columns ingredient and score (or factor)")
        values: dict[str, float] = {}
        for line, row in rows:
            try:
                value = float(row[column])
            except ValueError:
                value = math.nan
            if not math.isfinite(value) or value < 0:
                raise InputError(f"{column}: expected a number of 0 or more (got {row[column]!r})",
                                 file=str(self.kb.table_path(measure)), line=line)
            values[row["ingredient"]] = max(values.get(row["ingredient"], 0.0), value)
        return tuple(sorted(values.items())), column == "factor"


def _allergy_filter(spec) -> ir.AllergyFilter:
    return ir.AllergyFilter(tuple(r.lower() for r in _as_list(spec.reaction)),
                            frozenset(spec.severity) if spec.severity else None,
                            frozenset(spec.type) if spec.type else None)


def _substitute(value: Any, row: dict[str, str], lists: frozenset[str] = frozenset()) -> Any:
    """Replace ``${column}`` in every key and string; a string that is only a placeholder takes the cell's
    type, or becomes the list of the cell's ``;``-separated values for a column named in ``lists``."""
    if isinstance(value, dict):
        return {_substitute(k, row, lists): _substitute(v, row, lists) for k, v in value.items() if k != "table"}
    if isinstance(value, list):
        return [_substitute(v, row, lists) for v in value]
    if isinstance(value, str):
        whole = _TABLE_FIELD.fullmatch(value)
        if whole and whole.group(1) in lists:
            return [part for part in row.get(whole.group(1), "").split(";") if part]
        if whole:
            cell = row.get(whole.group(1), "")
            try:
                return int(cell) if re.fullmatch(r"-?\d+", cell) else float(cell)
            except ValueError:
                return cell
        return _TABLE_FIELD.sub(lambda m: row.get(m.group(1), ""), value)
    return value


def _tests_for_row(data: dict, row: dict[str, str]) -> dict:
    """Keep the template's tests whose ``if_row`` matches this row (boundary tests differ by bound type)."""
    tests = data.get("tests")
    if isinstance(tests, list):
        data["tests"] = [tests[i] for i in _test_indices_for_row(tests, row)]
    return data


def _test_indices_for_row(tests: list, row: dict[str, str]) -> list[int]:
    return [i for i, t in enumerate(tests) if not (isinstance(t, dict) and isinstance(t.get("if_row"), dict))
            or all(row.get(c, "") in _as_list(v) for c, v in t["if_row"].items())]


def _row_selected(row: dict[str, str], table: dict) -> bool:
    where = table.get("where") or {}
    where_not = table.get("where_not") or {}
    return (all(row.get(c, "") in _as_list(v) for c, v in where.items())
            and not any(row.get(c, "") in _as_list(v) for c, v in where_not.items()))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


class PackCompiler:
    """Loads and compiles packs against one knowledge base. ``sources`` is the bibliography the compiled
    rules cite: ``knowledge/sources.yaml`` plus what the compiled packs declared under ``sources:``."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.sources: dict[str, Source] = dict(kb.sources)

    def parse(self, path: str | Path) -> tuple[Pack, Document]:
        doc = load_file(path)
        if not isinstance(doc.data, dict):
            raise InputError("a rule pack is a mapping with pack, version and rules", file=doc.file, line=1)
        try:
            pack = Pack.model_validate(self._probe(doc.data))
        except ValidationError as exc:
            err = doc.validation_error(exc)
            rule_id = _rule_id_at(doc.data, exc)
            raise InputError(err.reason, file=err.file, line=err.line,
                             where=f"{rule_id}: {err.where}" if rule_id and err.where else (rule_id or err.where)) from None
        seen: dict[str, int] = {}
        for i, rule in enumerate(pack.rules):
            if rule.id in seen:
                raise doc.error(("rules", i, "id"), f"duplicate rule id {rule.id!r}")
            seen[rule.id] = i
        return pack, doc

    def _probe(self, data: dict) -> dict:
        """The pack with each table-driven template filled from its table's first row, for validation.

        Templates hold ``${column}`` where numbers belong; validating a filled-in copy checks the
        template's shape while errors still point at the template's own lines.
        """
        rules = data.get("rules")
        if not isinstance(rules, list):
            return data
        probed = []
        for raw in rules:
            table = raw.get("table") if isinstance(raw, dict) else None
            if isinstance(table, dict) and isinstance(table.get("name"), str):
                try:
                    rows = self.kb.table(table["name"])
                except InputError:
                    rows = []
                rows = [r for r in rows if _row_selected(r[1], table)]
                if rows:
                    lists = frozenset(table.get("lists") or ())
                    filled = _tests_for_row(_substitute(raw, rows[0][1], lists), rows[0][1])
                    filled["table"] = table
                    filled["references"] = [*(filled.get("references") or []), *rows[0][1]["source"].split(";")]
                    probed.append(filled)
                    continue
            probed.append(raw)
        return {**data, "rules": probed}

    def compile(self, path: str | Path) -> tuple[Pack, list[ir.CompiledRule]]:
        pack, doc = self.parse(path)
        self._add_sources(pack, doc)
        compiled: list[ir.CompiledRule] = []
        for i, rule in enumerate(pack.rules):
            if rule.status != "active":
                continue
            compiled.extend(self._compile_rule(pack, doc, i, rule))
        return pack, compiled

    def lint(self, path: str | Path) -> tuple[int, list[InputError]]:
        """Every error in one pack file, not only the first: each rule is validated and compiled on its
        own. Returns (rules compiled, errors)."""
        try:
            doc = load_file(path)
        except InputError as exc:
            return 0, [exc]
        if not isinstance(doc.data, dict):
            return 0, [InputError("a rule pack is a mapping with pack, version and rules", file=doc.file, line=1)]
        errors: list[InputError] = []
        raw_rules = doc.data.get("rules")
        try:
            header = Pack.model_validate({**doc.data, "rules": []})
        except ValidationError as exc:
            errors += [doc.validation_error(exc, error_index=i) for i in range(len(exc.errors()))]
            header = None
        if not isinstance(raw_rules, list):
            return 0, errors
        probed = self._probe({"rules": raw_rules})["rules"]
        valid: list[tuple[int, Rule]] = []
        seen: dict[str, int] = {}
        for i, raw in enumerate(probed):
            try:
                rule = Rule.model_validate(raw)
            except ValidationError as exc:
                rule_id = raw.get("id") if isinstance(raw, dict) else None
                for n in range(len(exc.errors())):
                    err = doc.validation_error(exc, ("rules", i), error_index=n)
                    errors.append(InputError(err.reason, file=err.file, line=err.line,
                                             where=f"{rule_id}: {err.where}" if rule_id and err.where else (rule_id or err.where)))
                continue
            if rule.id in seen:
                errors.append(doc.error(("rules", i, "id"), f"duplicate rule id {rule.id!r}"))
                continue
            seen[rule.id] = i
            valid.append((i, rule))
        if header is None:
            return 0, errors
        pack = header.model_copy(update={"rules": [r for _, r in valid]})
        try:
            self._add_sources(pack, doc)
        except InputError as exc:
            errors.append(exc)
        count = 0
        for i, rule in valid:
            if rule.status != "active":
                continue
            try:
                count += len(self._compile_rule(pack, doc, i, rule))
            except InputError as exc:
                errors.append(exc)
        return count, errors

    def _add_sources(self, pack: Pack, doc: Document) -> None:
        for key, entry in pack.sources.items():
            known = self.sources.get(key)
            mine = Source(key, entry.citation, entry.url, entry.licence, entry.kind)
            if known is not None and known != mine:
                raise doc.error(("sources", key), f"source {key!r} is already defined with another citation")
            self.sources[key] = mine

    def _compile_rule(self, pack: Pack, doc: Document, index: int, rule: Rule) -> list[ir.CompiledRule]:
        loc = ("rules", index)
        if rule.table is None:
            if any(t.if_row for t in rule.tests):
                raise doc.error(loc + ("tests",), "if_row is only for table-driven rules")
            test_lines = tuple(doc.line_of(loc + ("tests", i)) for i in range(len(rule.tests)))
            return [self._compile_one(pack, doc, loc, rule, f"{pack.pack}/{rule.id}", rule.id, test_lines)]
        raw = doc.data["rules"][index]
        out = []
        table_file = str(self.kb.table_path(rule.table.name))
        try:
            rows = self.kb.table(rule.table.name)
        except InputError as exc:
            raise InputError(exc.reason, file=doc.file, line=doc.line_of(loc + ("table",)), where=rule.id) from None
        raw_tests = raw.get("tests") if isinstance(raw.get("tests"), list) else []
        for line, row in rows:
            if not _row_selected(row, rule.table.model_dump()):
                continue
            test_lines = tuple(doc.line_of(loc + ("tests", i)) for i in _test_indices_for_row(raw_tests, row))
            row_id = _slug(_TABLE_FIELD.sub(lambda m: row.get(m.group(1), ""), rule.table.row_id))
            data = _tests_for_row(_substitute(raw, row, frozenset(rule.table.lists)), row)
            data["references"] = list(dict.fromkeys([*data.get("references", []), *row["source"].split(";")]))
            try:
                concrete = Rule.model_validate(data)
            except ValidationError as exc:
                first = exc.errors(include_url=False)[0]
                raise InputError(f"{'.'.join(map(str, first['loc']))}: {first['msg']}", file=table_file,
                                 line=line, where=f"{rule.id}/{row_id}") from None
            try:
                out.append(self._compile_one(pack, doc, loc, concrete, f"{pack.pack}/{rule.id}/{row_id}", rule.id,
                                             test_lines))
            except InputError as exc:
                raise InputError(exc.reason, file=table_file, line=line, where=f"{rule.id}/{row_id}") from None
        return out

    def _compile_one(self, pack: Pack, doc: Document, loc: tuple, rule: Rule, full_id: str,
                     template_id: str, test_lines: tuple[int | None, ...] = ()) -> ir.CompiledRule:
        rc = _RuleCompiler(self.kb, doc, loc, rule.id if full_id.count("/") == 1 else full_id.split("/", 1)[1])
        when = rc.node(rule.when, ("when",))
        if rule.kind == "no-indication":
            # "No indication on the problem list" can only be judged when there is a problem list:
            # without one the rule is not evaluated, rather than firing for every drug.
            when = ir.All((ir.PatientAttr("problem_list", equals=True, text="a recorded problem list"), when),
                          text=when.text)
        guarded = _stale_guards(when)
        if guarded:
            raise rc.fail(("when",), f"'none: [lab: {{test: {guarded}, missing_within_days}}]' next to a value test on "
                                     f"{guarded} hides a stale result; give the value test within_days instead, so an "
                                     "older result is reported as 'not evaluated' with its date")
        modifiers = []
        for i, mod in enumerate(rule.modifiers):
            modifiers.append(ir.CompiledModifier(rc.node(mod.when, ("modifiers", i, "when")), mod.severity,
                                                 mod.action_level, mod.note))
        for ref_i, ref in enumerate(rule.references):
            if ref not in self.sources:
                raise rc.fail(("references", ref_i),
                              f"reference {ref!r} is not in knowledge/sources.yaml nor in the pack's sources")
        allowed = set(rc.bindings) | set(PATIENT_PLACEHOLDERS)
        texts = [("message", rule.message), ("patient_text", rule.patient_text), ("title", rule.title)]
        texts += [(("interventions", i, "text"), iv.text) for i, iv in enumerate(rule.interventions)]
        for where, text in texts:
            for name in _PLACEHOLDER.findall(text):
                if name not in allowed:
                    raise rc.fail(where if isinstance(where, tuple) else (where,),
                                  f"placeholder {{{name}}} is not a binding (bindings: {', '.join(sorted(rc.bindings)) or 'none'})")
        for i, iv in enumerate(rule.interventions):
            if iv.target and _PLACEHOLDER.fullmatch(iv.target) is None and iv.target not in rc.bindings:
                raise rc.fail(("interventions", i, "target"), f"target {iv.target!r} is not a binding")
        return ir.CompiledRule(
            id=full_id, pack=pack.pack, pack_version=pack.version, kind=rule.kind,
            category=rule.category or DEFAULT_CATEGORY[rule.kind], severity=rule.severity, when=when,
            modifiers=tuple(modifiers), title=rule.title, message=rule.message, why=rule.why,
            interventions=tuple(iv.model_dump(exclude_none=True) for iv in rule.interventions),
            patient_text=rule.patient_text, references=tuple(rule.references),
            tests=tuple(rule.tests), source_file=doc.file, source_line=doc.line_of(loc),
            test_lines=test_lines, template_id=template_id, basis=rule.basis,
            mechanism=tuple(rule.mechanism))


def _stale_guards(when: ir.Node) -> str | None:
    """A lab that a rule both tests by value and requires to be recent through ``none: [missing]``: that
    pattern turns a stale value into a silent 'false' (DESIGN §7.2 wants 'not evaluated')."""
    valued = {leaf.test for leaf in ir.leaves(when) if isinstance(leaf, ir.LabValueTest)}

    def negated(node: ir.Node):
        if isinstance(node, ir.Not):
            yield from (leaf for c in node.children for leaf in ir.leaves(c) if isinstance(leaf, ir.LabMissing))
        elif isinstance(node, (ir.All, ir.Any_)):
            for child in node.children:
                yield from negated(child)
    return next((leaf.test for leaf in negated(when) if leaf.test in valued), None)


def _rule_id_at(data: dict, exc: ValidationError) -> str | None:
    loc = exc.errors(include_url=False)[0]["loc"]
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        try:
            return str(data["rules"][loc[1]].get("id"))
        except (IndexError, AttributeError, KeyError):
            return None
    return None
