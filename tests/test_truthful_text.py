"""Explanations never claim an absence the profile contradicts (issue 18: "no heart failure or CKD" was
printed for a patient with both, because a nested none/all was flattened).

Every "no <condition>", "no <medication>" and "no <lab> in the last N days" that a rule's leaf can say
is checked against the patient's facts directly — not through the executor that produced the text.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mtmrules.engine import ir

from conftest import AS_OF

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _absence_checks(engine) -> dict[str, object]:
    """claim text → predicate(facts) that is True when the claim is true; from every rule leaf."""
    checks: dict[str, object] = {}
    for rule in engine.rules:
        for leaf in ir.rule_leaves(rule):
            if not leaf.text:
                continue
            if isinstance(leaf, ir.CondGroup):
                checks[f"no {leaf.text}"] = (lambda groups: lambda f: not any(groups & c.groups for c in f.conditions))(leaf.groups)
            elif isinstance(leaf, ir.Med) and leaf.match.routes is None and not leaf.match.exclude_routes \
                    and leaf.match.forms is None and not leaf.match.exclude_forms and leaf.match.prn is None \
                    and leaf.match.daily is None and leaf.match.per_day is None and leaf.match.days is None:
                checks[f"no {leaf.text}"] = (lambda ings: lambda f: not any(i.ingredient in ings for i in f.items))(leaf.match.ingredients)
            elif isinstance(leaf, ir.LabMissing):
                checks[leaf.text] = (lambda test, days: lambda f: not any(
                    v.date is not None and v.date >= f.as_of - timedelta(days=days)
                    for v in f.lab_history.get(test, ())))(leaf.test, leaf.within_days)
    return checks


CONDITIONS = ["heart failure with reduced ejection fraction", "chronic kidney disease stage 3", "type 2 diabetes mellitus",
              "prediabetes", "obesity", "hospice care", "hypertension", "atrial fibrillation", "asthma",
              "coronary artery disease", "osteoarthritis of knee", "dementia", "gastroesophageal reflux disease"]
MEDICATIONS = ["empagliflozin 10 mg daily", "metformin 500 mg twice daily", "glipizide 5 mg daily", "lisinopril 10 mg daily",
               "spironolactone 25 mg daily", "furosemide 40 mg daily", "ibuprofen 400 mg three times daily",
               "warfarin 5 mg daily", "atorvastatin 40 mg daily", "quetiapine 25 mg at bedtime", "sertraline 50 mg daily",
               "omeprazole 20 mg daily", "insulin glargine 20 units at bedtime", "aspirin 81 mg daily", "digoxin 0.125 mg daily"]
LABS = [("HbA1c", "%", 5.0, 10.0), ("eGFR", "mL/min/1.73m2", 15, 95), ("potassium", "mmol/L", 3.0, 6.0),
        ("urine albumin creatinine ratio", "mg/g", 5, 600), ("LDL cholesterol", "mg/dL", 50, 190), ("INR", "{INR}", 1.0, 4.5)]


@st.composite
def profiles(draw):
    labs = []
    for name, unit, low, high in draw(st.lists(st.sampled_from(LABS), unique=True, max_size=len(LABS))):
        days = draw(st.integers(1, 700))
        labs.append({"name": name, "unit": unit, "value": round(draw(st.floats(low, high)), 1),
                     "date": (AS_OF - timedelta(days=days)).isoformat()})
    return {"id": "prop", "age": draw(st.integers(30, 92)), "sex": draw(st.sampled_from(["female", "male"])),
            "medications": [{"name": m} for m in draw(st.lists(st.sampled_from(MEDICATIONS), unique=True, max_size=8))],
            "conditions": [{"name": c} for c in draw(st.lists(st.sampled_from(CONDITIONS), unique=True, max_size=6))],
            "labs": labs}


def _false_claims(engine, checks, profile) -> list[str]:
    facts = engine.facts_for(profile, AS_OF)
    report = engine.check(profile, as_of=AS_OF)
    wrong = []
    for problem in report.problems:
        texts = [problem.title, problem.explanation] + [r.title for r in problem.reasons]
        for claim, holds in checks.items():
            if any(claim in t for t in texts) and not holds(facts):
                wrong.append(f"{problem.rule}: {claim!r}")
    return wrong


def test_nested_none_all_is_not_flattened_into_false_absences(engine):
    profile = {"id": "hf-dm", "age": 70, "sex": "male", "medications": [{"name": "empagliflozin 10 mg daily"}],
               "conditions": [{"name": "heart failure with reduced ejection fraction"}, {"name": "type 2 diabetes mellitus"}]}
    report = engine.check(profile, as_of=AS_OF)
    hba1c = next(p for p in report.problems if p.rule == "core-care/hba1c-overdue")
    assert "no Heart failure" not in hba1c.explanation and "no heart failure" not in hba1c.explanation.lower()
    assert _false_claims(engine, _absence_checks(engine), profile) == []


def test_overdue_title_names_only_the_missing_test(engine):
    profile = {"id": "dm", "age": 60, "sex": "female", "conditions": [{"name": "type 2 diabetes mellitus"}],
               "labs": [{"name": "eGFR", "value": 70, "unit": "mL/min/1.73m2", "date": "2026-10-01"}]}
    problem = next(p for p in engine.check(profile, as_of=AS_OF).problems
                   if p.rule == "monitoring/diabetes-kidney-screening-overdue")
    assert "urine albumin" in problem.title.lower() and "glomerular" not in problem.title.lower()


@SETTINGS
@given(profile=profiles())
def test_every_claim_of_absence_is_true_of_the_profile(engine, profile):
    assert _false_claims(engine, _absence_checks(engine), profile) == []
