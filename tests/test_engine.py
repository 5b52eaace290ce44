"""Engine behaviour end to end: three-valued results, merging, ranking, determinism, report contract."""

import json

from mtmrules.engine.testing import run_rule_tests

from conftest import AS_OF, problems_by_rule


def check(engine, **profile):
    return engine.check({"id": "t", **profile}, as_of=AS_OF)


def test_every_builtin_rule_has_fires_and_silent_tests(engine):
    missing = [r.id for r in engine.rules
               if not any(t.expectation == "fires" for t in r.tests) or not any(t.expectation == "silent" for t in r.tests)]
    assert missing == []


def test_builtin_rule_tests_pass_on_every_executor(engine):
    for executor in ("fast", "naive"):
        failures = [(r.rule, r.index, r.detail) for r in run_rule_tests(engine, executor) if not r.passed]
        assert failures == [], executor


def test_missing_data_is_not_evaluated_not_safe(engine):
    report = check(engine, age=70, sex="female", medications=["metformin 1000 mg twice daily"])
    reasons = {n.rule: n.reason for n in report.not_evaluated}
    assert "renal/renal-avoid/metformin-egfr-lt-30" in reasons
    assert "eGFR" in reasons["renal/renal-avoid/metformin-egfr-lt-30"]
    assert "renal/renal-avoid/metformin-egfr-lt-30" not in problems_by_rule(report)


def test_absent_drug_is_silent_not_unevaluated(engine):
    report = check(engine, age=70, sex="female", medications=["amlodipine 5 mg daily"])
    assert not any(n.rule.startswith("renal/renal-avoid/metformin") for n in report.not_evaluated)


def test_computed_renal_function_drives_the_finding(engine):
    report = check(engine, age=80, sex="female", weight_kg=55, medications=["metformin 500 mg twice daily"],
                   labs=[{"name": "creatinine", "value": 2.5, "unit": "mg/dL", "date": "2026-11-01"}])
    problem = problems_by_rule(report)["renal/renal-avoid/metformin-egfr-lt-30"]
    assert problem.severity == "contraindicated"
    assert "CKD-EPI 2021 from creatinine 2.5 mg/dL" in problem.explanation
    assert report.patient.egfr is not None and report.patient.egfr < 30


def test_creatinine_in_umol_per_litre_is_converted(engine):
    report = check(engine, age=80, sex="female", medications=["metformin 500 mg twice daily"],
                   labs=[{"name": "creatinine", "value": 221, "unit": "umol/L", "date": "2026-11-01"}])
    assert report.patient.egfr is not None and report.patient.egfr < 30


def test_class_and_ingredient_rules_on_the_same_drugs_merge(engine):
    report = check(engine, medications=["simvastatin 40 mg daily", "amlodipine 10 mg daily", "clarithromycin 500 mg bid"])
    pairs = [tuple(p.medications) for p in report.problems if p.kind == "drug-drug-interaction"]
    assert len(pairs) == len(set(pairs))


def test_ranking_is_deterministic_and_total(engine):
    profile = {"age": 78, "sex": "female", "medications": ["warfarin 5 mg daily", "ibuprofen 400 mg tid",
                                                            "diphenhydramine 25 mg at bedtime", "omeprazole 20 mg daily"]}
    first, second = check(engine, **profile), check(engine, **profile)
    assert first.to_json() == second.to_json()
    scores = [p.score for p in first.problems]
    assert scores == sorted(scores, reverse=True)
    assert [p.rank for p in first.problems] == list(range(1, len(first.problems) + 1))


def test_report_contract(engine):
    report = check(engine, age=78, sex="female", medications=["warfarin 5 mg daily", "ibuprofen 400 mg three times daily",
                                                              "Foo 10 mg"])
    data = json.loads(report.to_json())
    assert data["as_of"] == "2026-11-27" and data["patient"] == {**data["patient"], "id": "t", "age": 78}
    assert [m["input"] for m in data["medications"]] == ["warfarin 5 mg daily", "ibuprofen 400 mg three times daily",
                                                          "Foo 10 mg"]
    assert data["medications"][1]["daily_dose"] == {"value": 1200.0, "unit": "mg"}
    assert data["unresolved"] == [{"input": "Foo 10 mg", "kind": "medication",
                                   "reason": "no drug in the knowledge base matches this name"}]
    problem = next(p for p in data["problems"] if p["rule"] == "interactions/ddi-warfarin-nsaid")
    assert problem["kind"] == "drug-drug-interaction" and problem["category"] == "adverse-drug-reaction"
    assert problem["medications"] == ["ibuprofen", "warfarin"] and problem["severity"] == "major"
    assert problem["interventions"][0]["target"] == "ibuprofen"
    assert problem["references"][0]["citation"] and len(problem["id"]) == 16


def test_problem_ids_are_stable_across_unrelated_changes(engine):
    base = check(engine, age=70, medications=["warfarin 5 mg daily", "ibuprofen 400 mg tid"])
    more = check(engine, age=70, medications=["amlodipine 5 mg daily", "warfarin 5 mg daily", "ibuprofen 400 mg tid"])
    ids = lambda r: {p.rule: p.id for p in r.problems}
    assert ids(base)["interactions/ddi-warfarin-nsaid"] == ids(more)["interactions/ddi-warfarin-nsaid"]


def test_stopped_medications_are_listed_but_not_screened(engine):
    report = check(engine, medications=[{"name": "warfarin 5 mg", "status": "stopped"}, "ibuprofen 400 mg tid"])
    assert report.medications[0].active is False
    assert "interactions/ddi-warfarin-nsaid" not in problems_by_rule(report)


def test_dose_of_combination_product_in_tablets(engine):
    report = check(engine, medications=["Norco 5/325, 2 tabs every 4 hours", "Tylenol 500 mg, 2 tabs three times daily"])
    norco = report.medications[0]
    assert norco.daily_doses["acetaminophen"].value == 3900 and norco.daily_doses["hydrocodone"].value == 60
    assert "dosing/max-daily-dose/acetaminophen-oral" in problems_by_rule(report)


def test_unknown_labs_and_allergies_are_reported(engine):
    report = check(engine, allergies=["kryptonite"], labs=[{"name": "mystery index", "value": 3}])
    kinds = {(u.kind, u.input) for u in report.unresolved}
    assert ("allergy", "kryptonite") in kinds and ("lab", "mystery index") in kinds


def test_duration_unknown_is_not_evaluated_with_the_reason(engine):
    report = check(engine, age=72, sex="female", conditions=["GERD"], medications=["omeprazole 20 mg daily"])
    reasons = {n.rule: n.reason for n in report.not_evaluated}
    assert "start date of omeprazole 20 mg daily not recorded" in reasons["geriatric/beers-ppi-beyond-8-weeks"]


def test_duration_counts_from_the_first_fill_when_no_start_date(engine):
    med = {"name": "omeprazole", "dose": "20 mg", "frequency": "daily",
           "fills": [{"date": "2026-10-20", "days_supply": 30}, {"date": "2026-08-01", "days_supply": 30}]}
    report = check(engine, age=72, sex="female", conditions=["GERD"], medications=[med])
    problem = problems_by_rule(report)["geriatric/beers-ppi-beyond-8-weeks"]
    assert "taken for 118 days" in problem.explanation


def test_dose_and_duration_bounds_are_rejected_where_they_would_be_ignored(tmp_path):
    import pytest

    from mtmrules.engine.compiler import PackCompiler
    from mtmrules.errors import InputError
    from mtmrules.knowledge.base import KnowledgeBase
    pack = tmp_path / "p.yaml"
    pack.write_text("""pack: p
version: "1"
title: t
rules:
  - id: r
    title: t
    kind: dose-too-high
    severity: minor
    when:
      total: {med: {class: ppi, days_taken: {gt: 56}}, gt: 40, unit: mg}
    message: m
    why: w
    interventions: [{action: assess, to: prescriber, text: x}]
    patient_text: p
    references: [ags-beers-2023]
    tests:
      - fires: {medications: ["omeprazole 40 mg twice daily"]}
      - silent: {medications: []}
""")
    with pytest.raises(InputError, match="days_taken is only allowed"):
        PackCompiler(KnowledgeBase()).compile(pack)


def test_labelled_salt_and_first_day_regimens_do_not_alarm(engine):
    """Audit findings: labelled salt regimens (naproxen sodium 1,650 mg = naproxen 1,500 mg; Aplenzin
    522 mg = bupropion HCl 450 mg) are converted before the dose check, and the paroxetine CR
    panic-disorder dose is within the maximum; above them still fires."""
    def rules(med):
        return set(problems_by_rule(check(engine, age=50, sex="female", medications=[med])))
    assert "dosing/max-daily-dose/naproxen-oral" not in rules("naproxen sodium 550 mg three times daily")
    assert "dosing/max-daily-dose/naproxen-oral" in rules("naproxen sodium 550 mg four times daily")
    assert "dosing/max-daily-dose/naproxen-oral" in rules("naproxen 500 mg four times daily")
    assert "dosing/max-daily-dose/bupropion-oral" not in rules("Aplenzin 522 mg daily")     # = 450 mg HCl
    assert "dosing/max-daily-dose/bupropion-oral" in rules("Aplenzin 348 mg twice daily")
    report = check(engine, age=50, sex="female", medications=["naproxen sodium 550 mg twice daily"])
    assert report.medications[0].daily_doses["naproxen"].value == 1000
    assert "converted from naproxen sodium" in report.medications[0].note
    assert "dosing/max-daily-dose/paroxetine-oral" not in rules("paroxetine ER 75 mg daily")
    assert "dosing/max-daily-dose/paroxetine-oral" in rules("paroxetine 50 mg twice daily")


def test_family_history_and_ruled_out_conditions_are_not_the_patients(engine):
    report = check(engine, age=60, sex="female", medications=["glipizide 5 mg daily"],
                   conditions=["family history of diabetes mellitus", "FHx: coronary artery disease", "rule out DVT",
                               "denies depression", "history of DVT", "FH"])
    assert [c.input for c in report.conditions] == ["history of DVT", "FH"]   # FH: familial hypercholesterolaemia
    skipped = {u.input for u in report.unresolved if u.kind == "condition"}
    assert skipped == {"family history of diabetes mellitus", "FHx: coronary artery disease", "rule out DVT",
                       "denies depression"}
    # glipizide with only a family history of diabetes: no indication on the problem list
    assert "indication/glucose-lowering-without-diabetes" in problems_by_rule(report)
