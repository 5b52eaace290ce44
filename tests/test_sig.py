"""Sig reading beyond the corpus: properties (hypothesis), structured fields, FHIR Dosage, the report,
the schedule, and the ``mtmrules sig`` command."""

import json
import re
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from mtmrules.adapters import fhir
from mtmrules.cli import app
from mtmrules.knowledge.sig import READ, UNREADABLE, daily_dose, read_regimen, read_sig
from mtmrules.knowledge.sig.grammar import read
from mtmrules.profile.models import Profile
from tests.sig_corpus import check, load, resolver

AS_OF = date(2026, 11, 27)
READABLE = [e for e in load() if e.get("status", "read") in ("read", "weight-based") and not e.get("known")]
SIGS = st.sampled_from(READABLE)


def _daily(sig: str, product: str):
    res = resolver().drug(product)
    return daily_dose(read(sig), res.ingredients, res.strengths, res.form)


def _same(a, b) -> bool:
    return a.status == b.status and {k: (round(lo.value, 6), round(hi.value, 6), lo.unit) for k, (lo, hi) in a.amounts.items()} \
        == {k: (round(lo.value, 6), round(hi.value, 6), lo.unit) for k, (lo, hi) in b.amounts.items()}


@settings(max_examples=150, deadline=None)
@given(SIGS, st.lists(st.sampled_from([" ", "  ", "\t"]), min_size=1, max_size=3))
def test_respacing_does_not_change_the_reading(entry, spaces):
    respaced = spaces[0] + re.sub(r" ", lambda _: spaces[len(_.string) % len(spaces)], entry["sig"]) + spaces[-1]
    assert _same(_daily(respaced, entry["product"]), _daily(entry["sig"], entry["product"]))


@settings(max_examples=150, deadline=None)
@given(SIGS, st.sampled_from([str.upper, str.lower, str.title]))
def test_case_does_not_change_the_reading(entry, case):
    assert _same(_daily(case(entry["sig"]), entry["product"]), _daily(entry["sig"], entry["product"]))


DOTTED = {"bid": "b.i.d.", "tid": "t.i.d.", "qid": "q.i.d.", "qd": "q.d.", "qhs": "q.h.s.", "prn": "p.r.n.",
          "po": "p.o.", "qod": "q.o.d.", "hs": "h.s.", "qam": "q.a.m.", "qpm": "q.p.m."}


@settings(max_examples=150, deadline=None)
@given(st.sampled_from([e for e in READABLE if any(re.search(rf"\b{a}\b", e["sig"], re.I) for a in DOTTED)]))
def test_dotted_abbreviations_do_not_change_the_reading(entry):
    dotted = re.sub(r"\b(" + "|".join(DOTTED) + r")\b", lambda m: DOTTED[m.group(1).lower()], entry["sig"],
                    flags=re.I)
    assert _same(_daily(dotted, entry["product"]), _daily(entry["sig"], entry["product"]))


@settings(max_examples=200, deadline=None)
@given(SIGS)
def test_a_range_maximum_is_never_below_its_minimum(entry):
    reading = read_sig(entry["sig"])
    for phase in reading.phases:
        for clause in phase.clauses:
            assert clause.amount is None or clause.amount.hi >= clause.amount.lo
            assert clause.per_day is None or clause.per_day[1] >= clause.per_day[0]
    for low, high in _daily(entry["sig"], entry["product"]).amounts.values():
        assert high.value >= low.value and low.unit == high.unit


@settings(max_examples=200, deadline=None)
@given(SIGS, st.sampled_from([" prn", " prn pain", " as needed", " PRN"]))
def test_appending_prn_never_increases_the_dose(entry, prn):
    plain = _daily(entry["sig"], entry["product"])
    as_needed = _daily(entry["sig"] + prn, entry["product"])
    for ing, (_, high) in as_needed.amounts.items():
        assert ing in plain.amounts and high.value <= plain.amounts[ing][1].value + 1e-9
    assert read_sig(entry["sig"] + prn).prn


@given(st.text(max_size=60))
@settings(max_examples=300, deadline=None)
def test_any_text_is_read_or_refused_with_a_reason_never_zero(text):
    reading = read(text)
    assert reading.status != UNREADABLE or reading.reason
    dose = _daily(text, "metformin 500 mg tablet")
    assert all(hi.value > 0 for _, hi in dose.amounts.values()) or not dose.amounts


@pytest.mark.parametrize("sig, reason", [
    ("-5000 mg daily", "negative"), ("1e3 mg daily", "exponent"), ("as directed", "as directed"),
    ("apply to affected area bid", "amount"), ("1 tab", "frequency"), ("1 tab prn", "as needed"),
    ("18 units/kg/hr", "infusion"), ("1 tab sl q5min prn chest pain", "minutes"),
])
def test_unreadable_text_says_why(sig, reason):
    reading = read_sig(sig)
    assert reading.status == UNREADABLE and reason in reading.reason


def test_patch_rate_is_a_daily_amount_never_a_flat_dose_times_24():
    assert _daily("apply 1 patch daily", "nicotine 21 mg/24 hr patch").amounts["nicotine"][1].value == 21
    assert _daily("apply 1 patch q72h", "fentanyl 25 mcg/hr patch").amounts["fentanyl"][1].value == pytest.approx(0.6)


def test_structured_fields_win_over_the_sig_and_the_sig_fills_gaps():
    both = read_regimen("500 mg", "bid", "1 tab daily")
    assert both.phases[0].clauses[0].amount.hi == 500 and both.per_day == (2, 2)
    dose_only = read_regimen("500 mg", None, "1 tab twice daily as needed")
    assert dose_only.phases[0].clauses[0].amount.unit == "mg" and dose_only.per_day == (2, 2) and dose_only.prn
    assert read_regimen("lots", "daily", None).reason == "dose 'lots' has no unit we can read"
    assert "frequency 'whenever'" in read_regimen("5 mg", "whenever", None).reason
    assert read_regimen(500, "daily", None).status == UNREADABLE
    assert read_regimen(None, None, None).reason == "no dose given"


def _fhir_daily(engine, dosage, name):
    resources = [{"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1950-01-01"},
                 {"resourceType": "MedicationRequest", "id": "m1", "status": "active",
                  "subject": {"reference": "Patient/p1"}, "medicationCodeableConcept": {"text": name},
                  "dosageInstruction": [dosage]}]
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}
    return engine.check(fhir.profile_from_bundle(bundle), as_of=AS_OF).medications[0]


@pytest.mark.parametrize("dosage, name, low, high, timing", [
    ({"timing": {"repeat": {"frequency": 1, "period": 4, "periodMax": 6, "periodUnit": "h"}},
      "doseAndRate": [{"doseRange": {"low": {"value": 1, "code": "{tbl}"}, "high": {"value": 2, "code": "{tbl}"}}}],
      "maxDosePerPeriod": {"numerator": {"value": 6, "code": "{tbl}"}, "denominator": {"value": 1, "code": "d"}},
      "asNeededBoolean": True}, "tramadol 50 mg tablet", 200, 300, []),
    ({"timing": {"repeat": {"when": ["MORN", "HS"]}}, "doseAndRate": [{"doseQuantity": {"value": 1, "code": "{tbl}"}}]},
     "metoprolol tartrate 25 mg tablet", 50, 50, ["morning", "bedtime"]),
    ({"timing": {"repeat": {"timeOfDay": ["08:00:00", "14:00:00"]}}, "doseQuantity": {"value": 10, "code": "mg"}},
     "methylphenidate 10 mg tablet", 20, 20, ["08:00", "14:00"]),
    ({"timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
      "doseAndRate": [{"doseQuantity": {"value": 2, "code": "{puff}"}}]}, "Symbicort 160/4.5", 0.64, 0.64, []),
    ({"timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "wk", "dayOfWeek": ["mon"]}},
      "doseQuantity": {"value": 15, "unit": "mg"}}, "methotrexate 2.5 mg tablet", 15 / 7, 15 / 7, []),
    ({"timing": {"code": {"coding": [{"code": "QD"}]}}, "doseQuantity": {"value": 20, "code": "[iU]"}},
     "insulin glargine 100 units/mL pen", 20, 20, []),
    ({"timing": {"repeat": {"frequency": 3, "period": 1, "periodUnit": "d", "when": ["C"]}},
      "doseQuantity": {"value": 1000, "code": "ug"}}, "cyanocobalamin 1000 mcg tablet", 3, 3, ["meals"]),
])
def test_fhir_dosage_is_read_by_the_same_grammar(engine, dosage, name, low, high, timing):
    med = _fhir_daily(engine, dosage, name)
    dose = next(iter(med.daily_doses.values()))
    assert dose.value == pytest.approx(high, rel=1e-4) and (dose.min or dose.value) == pytest.approx(low, rel=1e-4)
    assert med.timing == timing


def test_fhir_text_is_the_fallback(engine):
    med = _fhir_daily(engine, {"text": "1 tab po q4-6h prn pain"}, "oxycodone 5 mg tablet")
    assert med.daily_dose.value == 30 and med.daily_dose.min == 20 and med.daily_dose.max == 30
    assert med.dose_note.startswith("read as")


def _report(engine, *meds, weight=None):
    profile = Profile.model_validate({"id": "p", "age": 70, "sex": "female", "weight_kg": weight,
                                      "medications": list(meds)})
    return engine.check(profile, as_of=AS_OF)


def test_report_carries_min_max_note_and_timing(engine):
    report = _report(engine, {"name": "tramadol 50 mg tablet", "sig": "1-2 po q4-6h prn pain mdd 6"},
                     {"name": "lisinopril 10 mg tablet", "sig": "1 tab qam"},
                     {"name": "insulin lispro 100 units/mL pen", "sig": "inject per sliding scale tid ac"})
    tramadol, lisinopril, insulin = report.medications
    out = tramadol.model_dump(mode="json")["daily_dose"]
    assert out == {"value": 300, "unit": "mg", "min": 200, "max": 300}
    assert "max 6 per day" in tramadol.dose_note
    assert lisinopril.model_dump(mode="json")["daily_dose"] == {"value": 10, "unit": "mg"}   # no min/max when equal
    assert lisinopril.timing == ["morning"]
    assert insulin.daily_dose is None and "sliding scale" in insulin.dose_note


def test_weight_based_dose_uses_the_recorded_weight_or_stays_unknown(engine):
    med = {"name": "vancomycin 1 g injection", "sig": "15 mg/kg q12h"}
    with_weight = _report(engine, med, weight=80).medications[0]
    assert with_weight.daily_dose.value == 2400
    without = _report(engine, med).medications[0]
    assert without.daily_dose is None and "weight-based" in without.dose_note


def test_taper_uses_the_first_highest_phase_in_dose_rules(engine):
    facts = engine.facts.build(Profile.model_validate({"id": "p", "age": 50, "sex": "male", "medications": [
        {"name": "prednisone 10 mg tablet", "sig": "4 tabs daily x 2 days then 3 tabs daily x 2 days then 1 tab daily"}]}),
        AS_OF)
    assert facts.items[0].daily.value == 40


def test_cli_sig_prints_reading_and_trace():
    runner = CliRunner()
    result = runner.invoke(app, ["sig", "1-2 po q4-6h prn pain mdd 6", "--product", "tramadol 50 mg tablet"])
    assert result.exit_code == 0
    assert "tramadol 200-300 mg" in result.output and "trace:" in result.output and "as needed" in result.output
    data = json.loads(runner.invoke(app, ["sig", "1 tab qam and 2 tabs qhs", "--format", "json"]).output)
    assert data["anchors"] == ["morning", "bedtime"] and data["per_day"] == {"min": 2, "max": 2}
    assert data["trace"] and "daily" not in data


def test_corpus_check_is_strict():
    entry = {"c": "x", "sig": "1 tab bid", "product": "metformin 500 mg tablet", "daily": {"metformin": "500 mg"}}
    assert check(entry).problems
