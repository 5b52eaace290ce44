"""Dose, frequency, sig and strength parsing."""

import pytest

from mtmrules.knowledge.dose import Amount, parse_amount, parse_frequency, parse_regimen, parse_strengths


@pytest.mark.parametrize("text, value, unit", [
    ("1000 mg", 1000, "mg"), ("0.5mg", 0.5, "mg"), ("1 g", 1000, "mg"), ("250 mcg", 0.25, "mg"),
    ("125 µg", 0.125, "mg"), ("10 units", 10, "unit"), ("5 mL", 5, "mL"), ("2 tabs", 2, "tablet"),
    ("1 tablet", 1, "tablet"), ("2 puffs", 2, "actuation"), ("one capsule", 1, "capsule"), ("20 mEq", 20, "meq"),
])
def test_amounts(text, value, unit):
    assert parse_amount(text) == Amount(value, unit)


@pytest.mark.parametrize("text", ["", "as directed", "some", None, 500])
def test_amount_absent(text):
    assert parse_amount(text) is None


@pytest.mark.parametrize("text, per_day", [
    ("daily", 1), ("once daily", 1), ("qd", 1), ("twice daily", 2), ("bid", 2), ("BID", 2), ("b.i.d.", 2),
    ("three times daily", 3), ("tid", 3), ("qid", 4), ("four times a day", 4), ("q8h", 3), ("every 6 hours", 4),
    ("q4-6h", 6), ("at bedtime", 1), ("qhs", 1), ("weekly", 1 / 7), ("once a week", 1 / 7),
    ("every other day", 0.5), ("3 times a day", 3), ("every 12 hours", 2), ("monthly", 1 / 30),
])
def test_frequencies(text, per_day):
    freq = parse_frequency(text)
    assert freq is not None and freq.per_day == pytest.approx(per_day)


def test_prn_frequency():
    freq = parse_frequency("every 6 hours as needed for pain")
    assert freq.prn and freq.per_day == 4
    only_prn = parse_frequency("prn")
    assert only_prn.prn and only_prn.per_day is None


def test_unknown_frequency_is_none():
    assert parse_frequency("with meals sometimes") is None


def test_sig_parsing():
    reg = parse_regimen(None, None, "take 2 tablets by mouth twice daily as needed")
    assert reg.amount == Amount(2, "tablet") and reg.frequency.per_day == 2 and reg.prn


def test_structured_dose_wins_over_sig():
    reg = parse_regimen("500 mg", "bid", "1 tab daily")
    assert reg.amount == Amount(500, "mg") and reg.frequency.per_day == 2


def test_unreadable_dose_is_reported():
    assert parse_regimen("lots", "daily", None).problem == "dose 'lots' has no unit we can read"
    assert "frequency" in parse_regimen("5 mg", "whenever", None).problem


def test_strengths():
    strengths = parse_strengths("Acetaminophen 325 MG / oxyCODONE Hydrochloride 5 MG Oral Tablet")
    assert [s.amount for s in strengths] == [Amount(325, "mg"), Amount(5, "mg")]
    solution = parse_strengths("amoxicillin 250 mg/5 mL suspension")[0]
    assert solution.amount == Amount(250, "mg") and solution.per_volume_ml == 5
    assert [s.amount.value for s in parse_strengths("hydrocodone/APAP 5/325 mg")] == [5, 325]
    patch = parse_strengths("fentanyl 25 mcg/hr patch")[0]
    assert patch.per == "hour" and patch.amount == Amount(0.025, "mg")
