"""Child-Pugh score (knowledge/hepatic.py), how facts use it, and the new clinical areas end to end."""

from mtmrules.coverage import area_counts
from mtmrules.knowledge.hepatic import child_pugh

from conftest import AS_OF, problems_by_rule

LABS_CLASS_C = [{"name": "bilirubin", "value": 3.5, "unit": "mg/dL", "date": "2026-11-01"},
                {"name": "albumin", "value": 2.5, "unit": "g/dL", "date": "2026-11-01"},
                {"name": "INR", "value": 2.5, "date": "2026-11-01"}]
LABS_CLASS_A = [{"name": "bilirubin", "value": 1.0, "unit": "mg/dL", "date": "2026-11-01"},
                {"name": "albumin", "value": 4.0, "unit": "g/dL", "date": "2026-11-01"},
                {"name": "INR", "value": 1.1, "date": "2026-11-01"}]


def check(engine, **profile):
    return engine.check({"id": "t", **profile}, as_of=AS_OF)


def facts(engine, **profile):
    from mtmrules.profile.models import Profile
    return engine.facts.build(Profile.model_validate({"id": "t", **profile}), AS_OF)


def test_child_pugh_points_at_the_boundaries():
    # bilirubin 2 and 3 mg/dL, albumin 3.5 and 2.8 g/dL, INR 1.7 and 2.3 all score 2 (the middle band)
    assert child_pugh(2.0, 3.5, 1.7, False, False).score == 2 + 2 + 2 + 1 + 1
    assert child_pugh(3.0, 2.8, 2.3, False, False).score == 2 + 2 + 2 + 1 + 1
    assert child_pugh(1.9, 3.6, 1.6, False, False).score == 5
    assert child_pugh(3.1, 2.7, 2.4, True, True).score == 3 + 3 + 3 + 2 + 2
    assert [child_pugh(1.0, 4.0, 1.0, False, False).child_class, child_pugh(2.5, 3.0, 1.5, False, False).child_class,
            child_pugh(3.5, 2.5, 2.5, False, False).child_class] == ["A", "B", "C"]


def test_child_pugh_says_which_parts_are_missing():
    score = child_pugh(2.5, None, 1.4, True, False, inr_unusable="on warfarin")
    assert score.score is None
    assert score.missing == ("albumin", "INR (on warfarin)")


def test_facts_compute_child_pugh_only_in_cirrhosis(engine):
    cirrhotic = facts(engine, conditions=["cirrhosis", "ascites"], labs=LABS_CLASS_A)
    assert cirrhotic.labs["child-pugh"].value == 1 + 1 + 1 + 2 + 1
    assert "ascites recorded" in cirrhotic.labs["child-pugh"].describe()
    fatty = facts(engine, conditions=["nonalcoholic fatty liver disease"], labs=LABS_CLASS_C)
    assert "child-pugh" not in fatty.labs
    assert not any("Child-Pugh" in u[1] for u in fatty.unresolved)


def test_missing_parts_are_reported_and_rules_not_evaluated(engine):
    f = facts(engine, conditions=["cirrhosis"], labs=LABS_CLASS_C[:1])
    assert "child-pugh" not in f.labs
    reason = next(u[2] for u in f.unresolved if u[1] == "Child-Pugh score")
    assert "albumin" in reason and "INR" in reason
    report = check(engine, conditions=["cirrhosis"], medications=["rivaroxaban 20 mg daily"], labs=LABS_CLASS_C[:1])
    assert any(n.rule.startswith("hepatic/hepatic-avoid/rivaroxaban") for n in report.not_evaluated)


def test_inr_on_warfarin_is_not_a_liver_measure(engine):
    f = facts(engine, conditions=["cirrhosis"], medications=["warfarin 5 mg daily"], labs=LABS_CLASS_C)
    assert "child-pugh" not in f.labs
    assert any("warfarin" in u[2] for u in f.unresolved if u[1] == "Child-Pugh score")


def test_reported_score_wins_over_older_parts(engine):
    labs = LABS_CLASS_A + [{"name": "Child-Pugh score", "value": 11, "date": "2026-11-20"}]
    assert facts(engine, conditions=["cirrhosis"], labs=labs).labs["child-pugh"].value == 11


def _start_statin(report) -> list[str]:
    return [p.rule for p in report.problems
            if any(i.action in ("start", "increase-dose", "change-dose") and "statin" in (i.text or "").lower()
                   for i in p.interventions)]


def test_no_statin_is_suggested_in_decompensated_cirrhosis(engine):
    for conditions in (["type 2 diabetes mellitus", "alcoholic cirrhosis with ascites"],
                       ["coronary artery disease", "cirrhosis", "history of variceal bleeding"],
                       ["coronary artery disease", "type 2 diabetes", "decompensated cirrhosis"]):
        report = check(engine, age=60, conditions=conditions, medications=["insulin glargine 20 units at bedtime"])
        assert _start_statin(report) == [], conditions
    on_statin = check(engine, age=60, conditions=["coronary artery disease", "decompensated cirrhosis"],
                      medications=["atorvastatin 10 mg daily"], labs=[{"name": "LDL", "value": 120, "date": "2026-11-01"}])
    assert _start_statin(on_statin) == []
    assert "hepatic/statin-decompensated-cirrhosis" in problems_by_rule(on_statin)
    # compensated cirrhosis keeps the gap
    compensated = check(engine, age=60, conditions=["coronary artery disease", "cirrhosis"], labs=LABS_CLASS_A,
                        medications=["aspirin 81 mg daily"])
    assert "core-care/ascvd-without-statin" in problems_by_rule(compensated)


def test_coverage_lists_the_three_areas(engine):
    areas = area_counts(engine)
    assert set(areas) == {"liver disease", "pregnancy and lactation", "criteria-based doses"}
    assert areas["liver disease"]["rows"] == len(engine.kb.table("hepatic_dosing"))
    assert all(a["rules"] >= a["templates"] > 0 for a in areas.values())
