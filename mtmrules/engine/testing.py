"""Runs the tests embedded in rule packs (``fires`` / ``silent`` / ``not_evaluated`` / ``todo_*``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from mtmrules.engine.engine import Engine
from mtmrules.errors import InputError

DEFAULT_TEST_AS_OF = date(2026, 11, 27)


@dataclass(frozen=True)
class TestResult:
    rule: str
    index: int
    expectation: str
    passed: bool
    detail: str = ""
    location: str = ""           # file:line of the test itself (the rule's line when unknown)
    found: tuple[str, ...] = ()  # on failure: what the engine found for the test profile instead


def run_rule_tests(engine: Engine, executor: str | None = None, keyword: str | None = None,
                   todo_only: bool = False) -> list[TestResult]:
    """Run the embedded tests of every rule (only rules whose id contains ``keyword``, only todo tests
    with ``todo_only``)."""
    results = []
    for rule in engine.rules:
        if keyword and keyword not in rule.id:
            continue
        for index, test in enumerate(rule.tests):
            if todo_only and not test.expectation.startswith("todo_"):
                continue
            line = rule.test_lines[index] if index < len(rule.test_lines) else None
            location = f"{rule.source_file}:{line or rule.source_line}" if (line or rule.source_line) else rule.source_file
            data = {"id": f"test-{rule.id}-{index}", **test.profile}
            try:
                facts = engine.facts_for(data, test.as_of or DEFAULT_TEST_AS_OF)
            except InputError as exc:
                results.append(TestResult(rule.id, index, test.expectation, False, f"bad test profile: {exc}", location))
                continue
            matches = {m.rule: m for m in engine.match(facts, executor)}
            match = matches.get(rule.id)
            state = "silent" if match is None else ("fires" if match.state == "fired" else "not_evaluated")
            want = test.expectation.removeprefix("todo_")
            ok = state == want
            detail = "" if ok else f"expected {want}, got {state}" + (
                f" ({'; '.join(match.missing)})" if match is not None and match.missing else "")
            if ok and want == "fires" and test.expect:
                report = engine.reporter.build(facts, tuple(matches.values()), executor or engine.executor)
                problem = next((p for p in report.problems if p.rule == rule.id or rule.id in p.also_found_by), None)
                got = problem.model_dump(mode="json") if problem else {}
                if problem is not None and problem.rule != rule.id:
                    # joined into another problem (one drug, one action): judge the rule's own finding
                    own = next((r for r in problem.reasons if r.rule == rule.id), None)
                    got.update(own.model_dump(mode="json") if own else {})
                    # the rule's own severity: a report may defer a joined finding to the lead's rule
                    got["severity"] = rule.severity_with(match.modifier)
                for key, value in test.expect.items():
                    have = got.get(key)
                    if isinstance(value, list) and isinstance(have, list):
                        good = all(v in have for v in value)
                    else:
                        good = have == value
                    if not good:
                        ok, detail = False, f"expected {key}={value!r}, got {have!r}"
                        break
            if test.expectation.startswith("todo_"):
                # A todo documents a known gap: it passes while the gap remains and reports when fixed.
                ok, detail = (not ok), ("todo now passes: promote it to a real test" if ok else "")
            results.append(TestResult(rule.id, index, test.expectation, ok, detail, location,
                                      () if ok else _found(engine, matches)))
    return results


def _found(engine: Engine, matches: dict) -> tuple[str, ...]:
    """What fired or could not be evaluated for a test profile: rule, state, severity and evidence."""
    out = []
    for rule_id, match in sorted(matches.items()):
        if match.state == "fired":
            rule = engine.rules_by_id[rule_id]
            out.append(f"{rule_id} fired ({rule.severity_with(match.modifier)}): "
                       f"{'; '.join(match.evidence) or 'no evidence recorded'}")
        else:
            out.append(f"{rule_id} not evaluated: {'; '.join(match.missing)}")
    return tuple(out) or ("no rule fired or was left unevaluated",)
