"""Sig reading on hostile input (CLI, FHIR Dosage, product strings) and properties of the rule classes the
held-out corpus added (Spanish labels, mixed numbers, "all other days", backward ranges, zero guards)."""

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from conftest import AS_OF
from mtmrules.adapters import fhir
from mtmrules.cli import app
from mtmrules.knowledge.dose import parse_strengths
from mtmrules.knowledge.sig import READ, UNREADABLE, daily_dose, read_regimen
from mtmrules.knowledge.sig.grammar import MAX_PER_DAY, read
from mtmrules.knowledge.sig.lexicon import WEEK
from tests.sig_corpus import resolver

METFORMIN = "metformin 500 mg tablet"


def _daily(sig: str, product: str = METFORMIN):
    res = resolver().drug(product)
    return daily_dose(read(sig), res.ingredients, res.strengths, res.form)


def _mg(sig: str, product: str = METFORMIN) -> tuple[float, float] | None:
    dose = _daily(sig, product)
    if not dose.amounts:
        return None
    (lo, hi), = dose.amounts.values()
    return round(lo.value, 6), round(hi.value, 6)


# --- hostile sig text --------------------------------------------------------------------------------------

@pytest.mark.parametrize("sig, reason", [
    ("1 tab q0h", "not a frequency"), ("1 tab every 0 hours", "not a frequency"),
    ("1 tab every 0 days", "not a frequency"), ("1 tab every 0 weeks", "not a frequency"),
    ("1 tab 5x/0day", "not a frequency"), ("1 tab 3 times per 0 days", "not a frequency"),
    ("1 tab 0 times a day", "no administration"), ("1 tab 0x daily", "no administration"),
    ("1 tab bid max 0 tabs/day", "maximum of 0"), ("1 tab q4h prn max 6 per 0 days", "not a frequency"),
    ("tome 1 tableta cada 0 horas", "not a frequency"), ("q.0h 1 tab", "not a frequency"),
    ("1 tab q0.0001h", "minutes"), ("take 1 tab 1000000 times daily", "not plausible"),
    ("1 tab bid " * 20, "not plausible"), ("1 tab bid " * 200, "characters"), ("1" * 10_000, "characters"),
    ("2-1 tabs q6h", "backwards"), ("1 tab q6-4h", "backwards"), ("1 tab other days", "no days named"),
    ("99999999999999999999 mg daily", "not a plausible amount"),
])
def test_hostile_sig_text_is_unreadable_with_its_reason(sig, reason):
    reading = read(sig)
    assert reading.status == UNREADABLE and reason in reading.reason, reading.describe()
    assert not _daily(sig).amounts


def test_a_range_from_zero_reads_as_up_to_never_zero_mg():
    assert _mg("0-2 tabs q6h prn") == (2000, 4000)
    assert _mg("0-10 units qhs", "insulin glargine 100 units/mL pen") == (10, 10)


def test_long_number_is_refused_in_a_short_reason():
    reading = read("1" * 400 + " mg daily")
    assert reading.status == UNREADABLE and len(reading.reason) < 120


@pytest.mark.parametrize("dose, frequency, reason", [
    ("5 mg", "q0h", "not a frequency"), ("", "bid", "no dose given"), ("5 mg", "x" * 5000, "characters"),
    ("-5 mg", "daily", "negative"), ("1e3 mg", "daily", "exponent"), (float("nan"), "bid", "no unit"),
])
def test_structured_fields_keep_the_specific_reason(dose, frequency, reason):
    reading = read_regimen(dose, frequency, None)
    assert reading.status == UNREADABLE and reason in reading.reason


@pytest.mark.parametrize("product", ["metformin -500 mg tablet", "metformin 1e3 mg tablet", "metformin 0 mg tablet"])
def test_product_strength_in_a_form_that_must_not_be_guessed_gives_no_mass(product):
    assert parse_strengths(product) == []
    assert not _daily("1 tab bid", product).amounts


def test_cli_sig_on_hostile_input_is_short_and_never_a_traceback():
    runner = CliRunner()
    for args in (["sig", ""], ["sig", "1 tab q0h"], ["sig", "1 tab bid " * 1500], ["sig", "💊 \u200b"],
                 ["sig", "1 tab bid", "--product", "x" * 10_000], ["sig", "1 tab bid", "--product", ""]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0 and result.exception is None, result.output
        assert all(len(line) < 400 for line in result.output.splitlines())
    data = json.loads(runner.invoke(app, ["sig", "1 tab every 0 days", "--format", "json"]).output)
    assert data["status"] == "unreadable" and "not a frequency" in data["reason"]
    result = runner.invoke(app, ["sig", "1 tab bid", "--format", "xml"])
    assert result.exit_code == 2 and "Traceback" not in result.output


# --- hostile FHIR Dosage -----------------------------------------------------------------------------------

PATIENT = {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1948-03-02"}


def _request(dosage) -> dict:
    return {"resourceType": "MedicationRequest", "id": "mr1", "status": "active",
            "subject": {"reference": "Patient/p1"}, "medicationCodeableConcept": {"text": METFORMIN},
            "dosageInstruction": dosage}


def _imported(dosage):
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": PATIENT}, {"resource": _request(dosage)}]}
    return fhir.profile_from_bundle(bundle)


def _timed(repeat: dict, dose=None) -> list:
    return [{"doseAndRate": [{"doseQuantity": dose or {"value": 1}}], "timing": {"repeat": repeat}}]


@pytest.mark.parametrize("dosage, field", [
    (_timed({"frequency": 0, "period": 1, "periodUnit": "d"}), "frequency"),
    (_timed({"frequency": math.inf, "period": 1, "periodUnit": "d"}), "frequency"),
    (_timed({"frequency": True, "period": 1, "periodUnit": "d"}), "frequency"),
    (_timed({"frequency": "2x", "period": 1, "periodUnit": "d"}), "frequency"),
    (_timed({"frequency": 2, "period": 0, "periodUnit": "d"}), "period"),
    (_timed({"frequency": 2, "period": -1, "periodUnit": "d"}), "period"),
    (_timed({"frequency": 1, "period": 4, "periodMax": 0, "periodUnit": "h"}), "periodMax"),
    (_timed({"frequency": 3, "frequencyMax": 2, "period": 1, "periodUnit": "d"}), "maximum"),
    (_timed({"frequency": 2, "period": 1, "periodUnit": "fortnight"}), "periodUnit"),
    (_timed({"frequency": 2, "period": 1, "periodUnit": 5}), "periodUnit"),
    (_timed({"dayOfWeek": ["mon", "funday"]}), "dayOfWeek"),
    (_timed({"when": ["HS", "XX"]}), "when"),
    ([{"doseAndRate": [{"doseRange": {"low": {"value": 5}, "high": {"value": 1}}}],
       "timing": {"code": {"coding": [{"code": "BID"}]}}}], "doseRange"),
    ([{"text": "1 tab q4h prn", "maxDosePerPeriod": [{"numerator": {"value": 0},
                                                       "denominator": {"value": 1, "code": "d"}}]}], "numerator"),
    ([{"text": "1 tab q4h prn", "maxDosePerPeriod": [{"numerator": {"value": 6},
                                                       "denominator": {"value": -1, "code": "d"}}]}], "denominator"),
    ([{"text": "1 tab q4h prn", "maxDosePerPeriod": [{"numerator": {"value": 6},
                                                       "denominator": {"value": 1, "code": "zz"}}]}], "denominator"),
])
def test_fhir_timing_numbers_that_are_no_timing_are_reported_never_defaulted(engine, dosage, field):
    profile = _imported(dosage)
    # the drug stays on the list (interactions, allergies, diseases); its structured dose is never defaulted
    [med] = profile.medications
    assert med.dose is None and med.frequency is None
    assert med.sig == (dosage[0].get("text") or None)
    reasons = [issue.reason for issue in profile.import_issues]
    assert any(field in r and "dosage not read" in r for r in reasons), reasons


def test_a_drug_with_an_unreadable_dosage_still_meets_the_interaction_rules(engine):
    warfarin = {"resourceType": "MedicationRequest", "id": "w1", "status": "active",
                "subject": {"reference": "Patient/p1"}, "medicationCodeableConcept": {"text": "warfarin 5 mg tablet"},
                "dosageInstruction": _timed({"frequency": 0, "period": 1, "periodUnit": "d"})}
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": PATIENT}, {"resource": warfarin},
        {"resource": {**_request([{"text": "1 tab tid"}]), "medicationCodeableConcept": {"text": "ibuprofen 400 mg tablet"}}}]}
    report = engine.check(bundle, as_of=AS_OF)
    assert any({"warfarin", "ibuprofen"} <= set(p.medications) for p in report.problems)
    warfarin_out = next(m for m in report.medications if m.input.startswith("warfarin"))
    assert warfarin_out.daily_dose is None
    assert any("dosage not read" in u.reason for u in report.unresolved)


@pytest.mark.parametrize("dosage, reason", [
    ([{"text": "x" * 10_000}], "characters"),
    (_timed({}), "no frequency"),
    ([{"doseAndRate": [{"doseQuantity": {"value": 1}}], "timing": {"code": {"coding": [{"code": "Q0H"}]}}}],
     "not a frequency"),
    ([{"doseAndRate": [{"doseQuantity": {"value": -1}}], "timing": {"code": {"coding": [{"code": "BID"}]}}}],
     "negative"),
])
def test_fhir_dosage_that_cannot_be_read_says_why(engine, dosage, reason):
    report = engine.check(_imported(dosage), as_of=None)
    med, = report.medications
    assert med.daily_dose is None and reason in med.dose_note


def test_fhir_numeric_strings_are_numbers(engine):
    profile = _imported(_timed({"frequency": "2", "period": "1", "periodUnit": "d"}, {"value": "1"}))
    med, = engine.check(profile, as_of=None).medications
    assert med.daily_dose.value == 1000


# --- properties of the rule classes added for the held-out corpus ------------------------------------------

_ES_FREQ = {"una vez al dia": 1, "dos veces al dia": 2, "tres veces al dia": 3, "cada 8 horas": 3,
            "cada 12 horas": 2, "cada 6 horas": 4, "diario": 1, "cada noche": 1, "por la mañana": 1}
_ES_FORM = {"tableta": "tablet", "tabletas": "tablets", "pastilla": "tablet", "capsula": "capsule",
            "cápsulas": "capsules"}


@settings(max_examples=120, deadline=None)
@given(st.integers(1, 4), st.sampled_from(sorted(_ES_FORM)), st.sampled_from(sorted(_ES_FREQ)),
       st.sampled_from(["tome", "Tomar", "TOME", "tome por boca"]), st.booleans())
def test_a_spanish_sig_reads_as_pharmacy_arithmetic_says(count, form, frequency, verb, needed):
    sig = f"{verb} {count} {form} {frequency}" + (" si es necesario" if needed else "")
    reading = read(sig)
    assert reading.status == READ and reading.prn == needed, reading.describe()
    assert _mg(sig) == (500 * count * _ES_FREQ[frequency],) * 2


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 3), st.sampled_from(["{n} and 1/2", "{n} & 1/2", "{n}-1/2", "{n} and a half", "{n} 1/2"]),
       st.sampled_from(["bid", "daily", "tid", "qhs"]))
def test_a_mixed_number_is_its_whole_part_plus_the_fraction(whole, written, frequency):
    mixed = _mg(f"take {written.format(n=whole)} tabs {frequency}")
    decimal = _mg(f"take {whole + 0.5} tabs {frequency}")
    assert mixed is not None and mixed == decimal


@settings(max_examples=100, deadline=None)
@given(st.sets(st.sampled_from(WEEK), min_size=1, max_size=6), st.sampled_from([2.5, 5, 7.5]),
       st.sampled_from([2.5, 5, 10]), st.sampled_from(["all other days", "the rest of the week",
                                                        "on other days", "remaining days"]))
def test_other_days_are_the_days_the_other_doses_do_not_name(days, first, second, other):
    named = [d for d in WEEK if d in days]
    sig = f"take {first} mg on {' and '.join(named)} and {second} mg {other}"
    expected = round((first * len(named) + second * (7 - len(named))) / 7, 6)
    assert _mg(sig, "warfarin 5 mg tablet") == (expected, expected)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 6), st.integers(1, 6), st.sampled_from(["tabs q6h", "tabs daily", "puffs bid"]))
def test_a_range_written_backwards_is_never_read_as_one_end(a, b, rest):
    reading = read(f"{a}-{b} {rest}")
    if a > b:
        assert reading.status == UNREADABLE and "backwards" in reading.reason
    else:
        clause = reading.phases[0].clauses[0]
        assert (clause.amount.lo, clause.amount.hi) == (a, b)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["1 tab", "2 tabs", "0-2 tabs", "5 mL", "10 mg"]),
       st.sampled_from(["q{n}h", "every {n} hours", "every {n} days", "{n} times a day", "{n}x/day", "q{n}-6h",
                        "every {n} weeks", "max {n} tabs/day", "x {n} days", "{n} times per 1 day"]),
       st.sampled_from(["0", "0.0001", "0.5", "1", "4", "24", "1000", "1/2", "1000000"]))
def test_any_number_in_a_timing_gives_a_plausible_reading_or_a_reason(amount, timing, number):
    sig = f"{amount} {timing.format(n=number)} bid" if timing.startswith(("max", "x ")) \
        else f"{amount} {timing.format(n=number)}"
    reading = read(sig)
    if reading.status != READ:
        assert reading.reason
        return
    assert reading.per_day is None or 0 < reading.per_day[0] <= reading.per_day[1] <= MAX_PER_DAY
    dose = _daily(sig, "amoxicillin 400 mg/5 mL suspension" if "mL" in amount else METFORMIN)
    assert all(0 < lo.value <= hi.value and math.isfinite(hi.value) for lo, hi in dose.amounts.values())


@settings(max_examples=100, deadline=None)
@given(st.sampled_from([0.2, 0.4, 0.6]), st.integers(1, 24),
       st.sampled_from(["apply 1 patch daily, remove after {h} hours", "apply 1 patch every morning, leave on for {h} hours",
                        "1 patch daily {h} hours on, {off} hours off", "apply 1 patch for {h} hours"]))
def test_a_patch_worn_part_of_the_day_delivers_its_rate_for_those_hours(rate, hours, sig):
    if hours == 24 and "for {h}" in sig:
        hours = 23     # "for 24 hours" is a day's course, not a wear time
    text = sig.format(h=hours, off=24 - hours)
    assert _mg(text, f"nitroglycerin {rate} mg/hr patch") == (round(rate * hours, 6),) * 2


@settings(max_examples=100, deadline=None)
@given(st.sampled_from([("bid", 2, ["morning", "at night"]), ("twice a day", 2, ["in the morning", "at bedtime"]),
                        ("4 times daily", 4, ["before meals", "at bedtime"]), ("tid", 3, ["with meals"])]),
       st.sampled_from([", ", ",  "]))
def test_times_after_a_comma_name_the_administrations_of_the_frequency(case, comma):
    frequency, per_day, anchors = case
    reading = read(f"take 1 tablet {frequency}{comma}{' and '.join(anchors)}")
    assert reading.status == READ and reading.per_day == (per_day, per_day), reading.describe()


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["1 tab daily", "2 tabs bid", "1 tab qhs"]), st.sampled_from(["1 tab qod", "1/2 tab daily"]),
       st.sampled_from(["Patient taking differently:", "(Patient taking differently:", "pt taking differently -"]))
def test_two_regimens_in_one_sig_are_never_summed(prescribed, taken, marker):
    reading = read(f"{prescribed} {marker} {taken}")
    assert reading.status == UNREADABLE and "two regimens" in reading.reason


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 3), st.integers(1, 2), st.integers(1, 12), st.sampled_from(["hour", "hours", "hrs"]))
def test_a_dose_hours_after_the_first_is_the_same_day(first, second, hours, word):
    sig = f"take {first} tabs now, then {second} tab {hours} {word} later"
    assert _mg(sig, "colchicine 0.6 mg tablet") == (round(0.6 * (first + second), 6),) * 2


_FREQ_WORDS = {"daily": 1, "bid": 2, "tid": 3, "qid": 4}


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(sorted(_FREQ_WORDS)), st.sampled_from(sorted(_FREQ_WORDS)), st.sampled_from(["-", " to ", " or "]))
def test_a_range_of_frequency_words_reads_from_the_least_to_the_most_frequent(low, high, joiner):
    if _FREQ_WORDS[low] >= _FREQ_WORDS[high]:
        return
    reading = read(f"1 tab {low}{joiner}{high}")
    assert reading.per_day == (_FREQ_WORDS[low], _FREQ_WORDS[high]), reading.describe()


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(1, 12), min_size=2, max_size=4, unique=True), st.sampled_from(["am", "pm", "AM", "PM"]),
       st.sampled_from([" and ", ", ", " & "]))
def test_a_list_of_clock_times_counts_one_administration_per_time(hours, half, joiner):
    times = [f"{h} {half}" for h in hours]
    text = ", ".join(times[:-1]) + joiner + times[-1] if joiner != ", " else ", ".join(times)
    reading = read(f"take 1 tab at {text}")
    assert reading.per_day == (len(hours), len(hours)), reading.describe()
    assert all(":" in anchor for anchor in reading.anchors)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=2, max_size=4), st.sampled_from(["Week", "week", "Wk"]),
       st.sampled_from([". ", "; "]))
def test_week_labels_are_consecutive_phases_never_summed(counts, word, separator):
    parts = [f"{word} {k + 1}: {n} tabs daily" for k, n in enumerate(counts[:-1])]
    parts.append(f"{word} {len(counts)} and after: {counts[-1]} tabs daily")
    reading = read(separator.join(parts))
    assert len(reading.phases) == len(counts), reading.describe()
    assert _mg(separator.join(parts), "topiramate 25 mg tablet") == (25 * counts[0], 25 * max(counts))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([("i", 1), ("ii", 2), ("iii", 3)]), st.sampled_from(["po", "tab po", "tabs"]),
       st.sampled_from(["qd", "bid", "tid"]), st.booleans())
def test_apothecary_numerals_and_glued_transcriptions_read_as_written_out(numeral, route, frequency, glued):
    roman, count = numeral
    if roman == "i" and route == "tabs":
        route = "tab"
    written = _mg(f"{roman} {route} {frequency}")
    plain = _mg(f"{count} tab po {frequency}")
    assert written is not None and written == plain
    if glued:
        assert _mg(f"{count}tpo{frequency}") == plain
