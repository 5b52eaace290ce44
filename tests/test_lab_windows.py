"""DESIGN §7.2: a lab is a dated fact; a rule that reads it states its window, and an older value makes
the rule 'not evaluated' with that value's date — in every executor, in the condition and in modifiers."""

from datetime import date

import pytest

from mtmrules.engine.compiler import PackCompiler
from mtmrules.errors import InputError

AS_OF = date(2026, 11, 27)
EXECUTORS = ["fast", "naive", "columnar", "durable"]


def _check(engine, executor, profile):
    if executor == "durable":
        pytest.importorskip("durable")
    return engine.check(profile, AS_OF, executor=executor)


@pytest.mark.parametrize("executor", EXECUTORS)
def test_stale_potassium_is_not_evaluated_with_its_date(engine, executor):
    report = _check(engine, executor, {"id": "k", "medications": ["spironolactone 25 mg daily"],
                                       "labs": [{"name": "potassium", "value": 5.9, "unit": "mmol/L", "date": "2026-08-01"}]})
    reasons = {n.rule: n.reason for n in report.not_evaluated}
    assert "Potassium older than 90 days: last potassium 5.9 mmol/L on 2026-08-01" in \
        reasons["drug-disease/potassium-sparing-diuretic-hyperkalemia"]
    assert not any(p.rule == "drug-disease/potassium-sparing-diuretic-hyperkalemia" for p in report.problems)


@pytest.mark.parametrize("executor", EXECUTORS)
def test_fresh_potassium_fires(engine, executor):
    report = _check(engine, executor, {"id": "k", "medications": ["spironolactone 25 mg daily"],
                                       "labs": [{"name": "potassium", "value": 5.9, "unit": "mmol/L",
                                                 "date": "2026-09-01"}]})
    assert any(p.rule == "drug-disease/potassium-sparing-diuretic-hyperkalemia" and p.severity == "contraindicated"
               for p in report.problems)


@pytest.mark.parametrize("executor", EXECUTORS)
def test_modifier_with_a_stale_lab_is_reported_on_the_problem(engine, executor):
    profile = {"id": "qt", "medications": ["methadone 60 mg daily", "levofloxacin 750 mg daily"],
               "labs": [{"name": "potassium", "value": 3.1, "unit": "mmol/L", "date": "2026-01-10"}]}
    report = _check(engine, executor, profile)
    qt = next(p for p in report.problems if p.rule == "interactions-extended/ddi-qt-prolonging-combination")
    assert qt.severity == "major"            # the contraindicated modifier could not be checked ...
    assert any("2026-01-10" in text for text in qt.not_checked)   # ... and says so, with the date
    assert "Could not check" in qt.explanation


def test_executors_agree_on_unchecked_modifiers(engine):
    profile = {"id": "qt", "medications": ["methadone 60 mg daily", "levofloxacin 750 mg daily"],
               "labs": [{"name": "potassium", "value": 3.1, "unit": "mmol/L", "date": "2026-01-10"},
                        {"name": "QTc", "value": 480, "unit": "ms"}]}
    facts = engine.facts_for(profile, AS_OF)
    tables = {name: engine.match(facts, name) for name in ("fast", "naive", "columnar")}
    assert tables["fast"] == tables["naive"] == tables["columnar"]
    row = next(m for m in tables["fast"] if m.rule == "interactions-extended/ddi-qt-prolonging-combination")
    assert any("has no date" in m for m in row.missing)


RULE = """
pack: windows
version: 1.0.0
rules:
  - id: low-sodium
    title: low sodium
    kind: drug-disease
    severity: major
    when:
      all:
        - med: {class: ssri}
          as: drug
        %s
    message: m
    why: w
    interventions: [{action: assess, to: prescriber, text: t}]
    patient_text: p
    references: [ags-beers-2023]
"""


@pytest.mark.parametrize("condition, error", [
    ("- lab: {test: sodium, value: {lt: 130}}", "needs within_days"),
    ("- none: [{lab: {test: sodium, missing_within_days: 30}}]\n        - lab: {test: sodium, value: {lt: 130}, within_days: 30}",
     "hides a stale result"),
])
def test_lint_rejects_windowless_or_guarded_lab_tests(engine, tmp_path, condition, error):
    path = tmp_path / "pack.yaml"
    path.write_text(RULE % condition)
    with pytest.raises(InputError, match=error):
        PackCompiler(engine.kb).compile(path)
