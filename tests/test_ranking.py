"""Ranking by harm in this patient and one problem per action on a drug (DESIGN §7.4, docs/ranking.md)."""

from __future__ import annotations

from conftest import AS_OF

MAJORS = [
    {"name": "warfarin 5 mg tablet", "sig": "1 tab po daily", "start_date": "2020-01-01"},
    {"name": "Bactrim DS", "sig": "1 tab po bid x 7 days", "start_date": "2026-11-22"},
    {"name": "simvastatin 40 mg tablet", "sig": "1 tab po daily", "start_date": "2015-01-01"},
    {"name": "amlodipine 10 mg tablet", "sig": "1 tab po daily", "start_date": "2015-01-01"},
    {"name": "tramadol 50 mg tablet", "sig": "1 tab po q6h", "start_date": "2020-01-01"},
]


def _patient(labs: list[dict]) -> dict:
    return {"id": "rank", "age": 70, "sex": "female", "weight_kg": 70, "medications": MAJORS,
            "conditions": [{"name": "atrial fibrillation"}, {"name": "epilepsy"}, {"name": "cystitis"}], "labs": labs}


def test_a_lab_showing_the_consequence_puts_the_problem_first(engine):
    quiet = engine.check(_patient([]), as_of=AS_OF)
    warfarin_quiet = next(p for p in quiet.problems if p.rule.endswith("ddi-warfarin-tmp-smx"))
    inr = engine.check(_patient([{"name": "INR", "value": 3.3, "unit": "{INR}", "date": "2026-11-25"}]), as_of=AS_OF)
    warfarin = next(p for p in inr.problems if p.rule.endswith("ddi-warfarin-tmp-smx"))
    assert warfarin.rank == 1
    assert warfarin.score > warfarin_quiet.score
    assert any("INR 3.3" in f for f in warfarin.rank_factors)
    majors = [p for p in inr.problems if p.severity == "major"]
    assert len(majors) >= 3, [p.title for p in inr.problems]


def test_a_stale_lab_does_not_count(engine):
    report = engine.check(_patient([{"name": "INR", "value": 3.3, "unit": "{INR}", "date": "2026-06-01"}]), as_of=AS_OF)
    warfarin = next(p for p in report.problems if p.rule.endswith("ddi-warfarin-tmp-smx"))
    assert not any("INR" in f for f in warfarin.rank_factors)


def test_three_reasons_to_stop_ibuprofen_are_one_problem(engine):
    profile = {"id": "ibu", "age": 78, "sex": "female", "weight_kg": 62,
               "medications": [{"name": "ibuprofen 400 mg", "sig": "1 tab po tid"},
                               {"name": "lisinopril 10 mg", "sig": "1 tab po daily"},
                               {"name": "warfarin 5 mg", "sig": "1 tab po daily"}],
               "conditions": [{"name": "atrial fibrillation"}, {"name": "hypertension"}],
               "labs": [{"name": "creatinine", "value": 1.6, "unit": "mg/dL", "date": "2026-10-01"},
                        {"name": "INR", "value": 2.4, "unit": "{INR}", "date": "2026-11-01"}]}
    report = engine.check(profile, as_of=AS_OF)
    about_ibuprofen = [p for p in report.problems if "ibuprofen" in p.medications]
    assert len(about_ibuprofen) == 1, [p.title for p in about_ibuprofen]
    problem = about_ibuprofen[0]
    joined = {problem.rule, *problem.also_found_by}
    assert {"interactions/ddi-warfarin-nsaid", "interactions-extended/ddi-ras-nsaid"} <= joined
    assert any(r.startswith("renal/") for r in joined)
    assert {"warfarin", "lisinopril", "ibuprofen"} <= set(problem.medications)
    assert {r.rule for r in problem.reasons} == set(problem.also_found_by)
    assert all(r.explanation and r.rule in problem.explanation or r.title in problem.explanation for r in problem.reasons)
    assert problem.interventions[0].action in ("stop", "switch") and problem.interventions[0].target == "ibuprofen"


def test_one_product_is_one_target(engine):
    """Sulfamethoxazole and trimethoprim come in one tablet: replacing it answers both interactions."""
    profile = {"id": "bactrim", "age": 74, "sex": "female",
               "medications": [{"name": "warfarin 5 mg", "sig": "1 tab po daily"},
                               {"name": "lisinopril 20 mg", "sig": "1 tab po daily"},
                               {"name": "Bactrim DS", "sig": "1 tab po bid"}],
               "labs": [{"name": "INR", "value": 3.6, "unit": "{INR}", "date": "2026-11-25"},
                        {"name": "potassium", "value": 5.1, "unit": "mmol/L", "date": "2026-11-25"}]}
    report = engine.check(profile, as_of=AS_OF)
    bactrim = [p for p in report.problems if "sulfamethoxazole" in p.medications or "trimethoprim" in p.medications]
    assert len(bactrim) == 1
    assert bactrim[0].rule.endswith("ddi-warfarin-tmp-smx")   # the INR and the high-alert drug lead
    joined = bactrim[0].also_found_by
    assert "interactions-extended/ddi-trimethoprim-potassium-raising" in joined
    # the rest are mechanism findings about the same drugs, joined under the label rules (issue 15)
    assert all(r.startswith("interactions-mechanism/") for r in joined
               if r != "interactions-extended/ddi-trimethoprim-potassium-raising")


def test_different_actions_on_one_drug_stay_apart(engine):
    """Naloxone and a laxative with an opioid are two starts, not one problem."""
    profile = {"id": "opioid", "age": 78, "sex": "male",
               "medications": [{"name": "oxycodone ER 30 mg tablet", "sig": "1 tab po q12h"}],
               "conditions": [{"name": "chronic low back pain"}]}
    report = engine.check(profile, as_of=AS_OF)
    titles = " | ".join(p.title.lower() for p in report.problems)
    assert "naloxone" in titles and "laxative" in titles


def test_references_cite_the_labels_of_the_drugs_involved(engine):
    profile = {"id": "ras", "age": 60, "sex": "male",
               "medications": [{"name": "lisinopril 10 mg daily"}, {"name": "naproxen 500 mg twice daily"}]}
    problem = next(p for p in engine.check(profile, as_of=AS_OF).problems if p.rule.endswith("ddi-ras-nsaid"))
    keys = [r.key for r in problem.references]
    assert "label-lisinopril" in keys and "label-losartan" not in keys


def test_a_dose_limit_joined_under_an_interaction_keeps_its_dose_step(engine):
    """Gabapentin above the renal maximum joins the opioid-gabapentinoid problem; the plan still says to
    reduce the gabapentin dose (and says it once)."""
    profile = {"id": "joined-dose", "age": 58, "sex": "male", "weight_kg": 78,
               "medications": ["oxycodone ER 30 mg every 12 hours", "gabapentin 600 mg three times daily"],
               "labs": [{"name": "creatinine", "value": 1.6, "unit": "mg/dL", "date": "2026-10-01"}]}
    report = engine.check(profile, as_of=AS_OF)
    problem = next(p for p in report.problems if "gabapentin" in p.medications and "oxycodone" in p.medications)
    assert any(r.endswith("gabapentin-crcl-lt-60") for r in problem.also_found_by)
    doses = [iv for iv in problem.interventions if iv.action == "reduce-dose"]
    assert [iv.target for iv in doses] == ["gabapentin"]
    assert "1400 mg" in doses[0].text
    # near miss: normal kidney function - no renal finding joined, no dose step
    fine = dict(profile, labs=[{"name": "creatinine", "value": 0.9, "unit": "mg/dL", "date": "2026-10-01"}])
    problem = next(p for p in engine.check(fine, as_of=AS_OF).problems if "gabapentin" in p.medications)
    assert not [iv for iv in problem.interventions if iv.action == "reduce-dose"]


def test_one_low_sodium_is_one_problem(engine):
    """The sodium read by the lab-state rule, the older SSRI rule and the SSRI-carbamazepine mechanism
    finding is one problem naming both drugs; a different state on another drug stays apart."""
    profile = {"id": "one-sodium", "age": 82, "sex": "female",
               "medications": ["escitalopram 10 mg daily", "carbamazepine ER 200 mg twice daily",
                               "furosemide 40 mg daily"],
               "labs": [{"name": "sodium", "value": 127, "unit": "mmol/L", "date": "2026-11-01"},
                        {"name": "potassium", "value": 3.2, "unit": "mmol/L", "date": "2026-11-01"}]}
    report = engine.check(profile, as_of=AS_OF)
    sodium = [p for p in report.problems if "sodium" in (p.title + " ".join(r.title for r in p.reasons)).lower()]
    assert len(sodium) == 1, [p.title for p in report.problems]
    joined = {sodium[0].rule, *sodium[0].also_found_by}
    assert {"lab-states/hyponatraemia-drug-cause", "drug-disease/ssri-hyponatremia"} <= joined
    assert any(r.startswith("interactions-mechanism/pd-hyponatraemia") for r in joined)
    assert set(sodium[0].medications) == {"carbamazepine", "escitalopram"}
    potassium = [p for p in report.problems if p.rule == "lab-states/hypokalaemia-on-potassium-wasting-diuretic"]
    assert len(potassium) == 1 and potassium[0].medications == ["furosemide"]


def test_adherence_findings_on_one_drug_are_one_conversation(engine):
    """The critical refill gap for clopidogrel and the general refill gap naming it are one problem; a
    PDC finding on a drug with no gap of its own shared with them stays apart."""
    def med(name, fills):
        return {"name": name, "dose": name.split()[-2] + " mg", "frequency": "daily", "start_date": "2026-04-10",
                "fills": [{"date": d, "days_supply": n} for d, n in fills]}
    profile = {"id": "one-talk", "age": 64, "sex": "male",
               "conditions": [{"name": "NSTEMI", "code": {"system": "icd10", "code": "I21.4"}}],
               "medications": [med("clopidogrel 75 mg", [("2026-08-20", 30), ("2026-09-22", 30)]),
                               med("rosuvastatin 20 mg", [("2026-05-01", 30), ("2026-08-01", 30), ("2026-11-01", 30)])]}
    report = engine.check(profile, as_of=AS_OF)
    adherence = [p for p in report.problems if p.kind == "nonadherence"]
    clopidogrel = [p for p in adherence if "clopidogrel" in p.medications]
    assert len(clopidogrel) == 1
    assert clopidogrel[0].rule == "adherence/refill-gap-critical-medication"
    assert "adherence/refill-gap-chronic-medication" in clopidogrel[0].also_found_by
    statin = [p for p in adherence if p.rule == "adherence/pdc-statins"]
    assert statin and statin[0].medications == ["rosuvastatin"]
