"""Refill gaps and per-drug adherence from every source of fill history: native fills, FHIR
MedicationDispense and claims tables feed the same rules, and every executor agrees."""

import pytest

from mtmrules.adapters import fhir
from mtmrules.adapters.claims import read_claims

from conftest import AS_OF

CRITICAL = "adherence/refill-gap-critical-medication"
GENERAL = "adherence/refill-gap-chronic-medication"


def rules(report):
    return {p.rule: p for p in report.problems}


def resource_bundle(dispensed_on, days):
    patient = {"resourceType": "Patient", "id": "p1", "gender": "male", "birthDate": "1950-02-01"}
    request = {"resourceType": "MedicationRequest", "id": "rx1", "status": "active", "intent": "order",
               "subject": {"reference": "Patient/p1"}, "authoredOn": "2026-06-01",
               "medicationCodeableConcept": {"text": "apixaban 5 MG Oral Tablet"},
               "dosageInstruction": [{"timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
                                      "doseQuantity": {"value": 1, "unit": "tablet"}}]}
    dispense = {"resourceType": "MedicationDispense", "id": "d1", "status": "completed",
                "subject": {"reference": "Patient/p1"}, "medicationCodeableConcept": {"text": "apixaban 5 MG Oral Tablet"},
                "whenHandedOver": dispensed_on, "daysSupply": {"value": days}}
    return [patient, request, dispense]


def test_fhir_dispense_feeds_the_critical_refill_gap(engine):
    profile = fhir.profiles_from_resources(resource_bundle("2026-09-01", 30))[0]
    problem = rules(engine.check(profile, AS_OF))[CRITICAL]
    assert problem.severity == "major" and problem.medications == ["apixaban"]
    assert "58 days without supply" in " ".join(problem.evidence)
    assert any("today" in i.text for i in problem.interventions)


def test_fhir_dispense_still_covering_is_silent(engine):
    profile = fhir.profiles_from_resources(resource_bundle("2026-11-10", 30))[0]
    assert CRITICAL not in rules(engine.check(profile, AS_OF))


def test_claims_fills_feed_the_same_rules(engine, tmp_path):
    fills = tmp_path / "fills.csv"
    fills.write_text("patient_id,drug,fill_date,days_supply\n"
                     "A1,apixaban 5 mg tablet,2026-09-20,30\nA1,apixaban 5 mg tablet,2026-10-15,30\n"
                     "A1,amlodipine 5 mg tablet,2026-10-10,30\n"
                     "B2,apixaban 5 mg tablet,2026-11-01,30\n")
    reports = {p.id: engine.check(p, AS_OF) for p in read_claims(fills, AS_OF)}
    a1 = rules(reports["A1"])
    assert a1[CRITICAL].medications == ["apixaban"]            # supplied until 2026-11-18: 9 days
    assert a1[GENERAL].medications == ["amlodipine"]           # supplied until 2026-11-08: 19 days
    assert a1[GENERAL].severity == "minor"
    assert CRITICAL not in rules(reports["B2"])                  # still supplied


@pytest.mark.parametrize("executor", ["naive", "columnar", "durable"])
def test_executors_agree_on_refill_gaps(engine, executor):
    if executor == "durable":
        pytest.importorskip("durable")
    profile = {"id": "gap", "conditions": ["epilepsy", "hypertension"], "medications": [
        {"name": "levetiracetam 500 mg", "dose": "500 mg", "frequency": "twice daily",
         "fills": [{"date": "2026-10-01", "days_supply": 30}]},
        {"name": "amlodipine 5 mg", "dose": "5 mg", "frequency": "daily", "fills": [{"date": "2026-03-01", "days_supply": 90}]},
        {"name": "losartan 50 mg", "dose": "50 mg", "frequency": "daily"},
        {"name": "levothyroxine 50 mcg", "dose": "50 mcg", "frequency": "daily",
         "fills": [{"date": "2026-05-01", "days_supply": 30}, {"date": "2026-08-01", "days_supply": 30},
                   {"date": "2026-11-01", "days_supply": 30}]}]}
    facts = engine.facts_for(profile, AS_OF)
    table = engine.match(facts, "fast")
    assert engine.match(facts, executor) == table
    fired = {m.rule for m in table if m.state == "fired"}
    assert {CRITICAL, GENERAL, "adherence/pdc-chronic-medication"} <= fired


def test_no_fill_history_is_not_evaluated_not_silent(engine):
    report = engine.check({"id": "nofills", "medications": ["apixaban 5 mg twice daily", "amlodipine 5 mg daily"]}, AS_OF)
    reasons = {n.rule: n.reason for n in report.not_evaluated}
    assert "no fills on record" in reasons[CRITICAL]
    assert "amlodipine" in reasons[GENERAL]
