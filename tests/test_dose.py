"""Product strengths: per unit, per volume, per actuation, per hour (patches), combinations in product order."""

import pytest

from mtmrules.knowledge.dose import Amount, parse_strengths


def test_strengths():
    strengths = parse_strengths("Acetaminophen 325 MG / oxyCODONE Hydrochloride 5 MG Oral Tablet")
    assert [s.amount for s in strengths] == [Amount(325, "mg"), Amount(5, "mg")]
    solution = parse_strengths("amoxicillin 250 mg/5 mL suspension")[0]
    assert solution.amount == Amount(250, "mg") and solution.per_volume_ml == 5
    assert [s.amount.value for s in parse_strengths("hydrocodone/APAP 5/325 mg")] == [5, 325]
    patch = parse_strengths("fentanyl 25 mcg/hr patch")[0]
    assert patch.per == "hour" and patch.amount == Amount(0.025, "mg") and patch.hours == 1


@pytest.mark.parametrize("text, values, unit, per", [
    ("sitagliptin-metformin 50-1000 mg tablet", [50, 1000], "mg", None),
    ("budesonide-formoterol 160-4.5 mcg/actuation inhaler", [0.16, 0.0045], "mg", "actuation"),
    ("fluticasone-salmeterol 500-50 mcg/dose inhalation powder", [0.5, 0.05], "mg", "actuation"),
    ("ipratropium-albuterol 0.5-2.5 mg/3 mL", [0.5, 2.5], "mg", "mL"),
    ("butalbital-acetaminophen-caffeine 50-325-40 mg tablet", [50, 325, 40], "mg", None),
])
def test_combination_strengths_in_product_order(text, values, unit, per):
    found = parse_strengths(text)
    assert [s.amount.value for s in found] == pytest.approx(values)
    assert {s.amount.unit for s in found} == {unit} and {s.per for s in found} == {per}


def test_patch_rate_written_per_24_hours_is_a_rate_not_a_flat_amount():
    nicotine = parse_strengths("nicotine 21 mg/24 hr patch")
    assert len(nicotine) == 1 and nicotine[0].per == "hour" and nicotine[0].hours == 24
    assert nicotine[0].amount.value * 24 == pytest.approx(21)
    sixteen = parse_strengths("nicotine 15 mg/16 hr patch")[0]
    assert sixteen.hours == 16 and sixteen.amount.value * 16 == pytest.approx(15)
