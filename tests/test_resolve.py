"""Drug, allergy, condition and lab resolution against the bundled knowledge."""

import pytest

from mtmrules.knowledge.resolve import Resolver


@pytest.fixture(scope="module")
def resolver(kb):
    return Resolver(kb)


@pytest.mark.parametrize("text, ingredients", [
    ("Zocor 20mg tab", ["simvastatin"]),
    ("HCTZ 25 mg", ["hydrochlorothiazide"]),
    ("metformin ER 500 mg", ["metformin"]),
    ("APAP 500 mg", ["acetaminophen"]),
    ("ASA 81 mg", ["aspirin"]),
    ("Lasix 40mg", ["furosemide"]),
    ("metoprolol succinate ER 50 mg", ["metoprolol"]),
    ("Norco 5/325", ["hydrocodone", "acetaminophen"]),
    ("Zestoretic 20-12.5", ["lisinopril", "hydrochlorothiazide"]),
    ("Augmentin 875 mg", ["amoxicillin", "clavulanate"]),
    ("Entresto 49/51 mg", ["sacubitril", "valsartan"]),
    ("Acetaminophen 325 MG / oxyCODONE Hydrochloride 5 MG Oral Tablet", ["acetaminophen", "oxycodone"]),
])
def test_names_brands_abbreviations_and_combinations(resolver, text, ingredients):
    result = resolver.drug(text)
    assert result.status == "resolved"
    assert sorted(result.ingredients) == sorted(ingredients)


def test_combination_strengths_follow_their_ingredients(resolver):
    result = resolver.drug("Norco 5/325")
    assert result.strengths["hydrocodone"].amount.value == 5
    assert result.strengths["acetaminophen"].amount.value == 325


def test_rxnorm_product_and_ingredient_codes(resolver):
    assert resolver.drug(None, "rxnorm", "314076").ingredients == ["lisinopril"]   # lisinopril 10 MG Oral Tablet
    assert resolver.drug(None, "rxnorm", "36567").ingredients == ["simvastatin"]   # ingredient code
    assert sorted(resolver.drug(None, "rxnorm", "1049221").ingredients) == ["acetaminophen", "oxycodone"]


def test_misspelling_is_approximate_and_says_so(resolver):
    result = resolver.drug("atorvastatn 40 mg")
    assert result.status == "approximate" and result.ingredients == ["atorvastatin"]
    assert "atorvastatn" in result.note


def test_unknown_drug_is_unresolved(resolver):
    result = resolver.drug("Foo 10 mg")
    assert result.status == "unresolved" and result.ingredients == []
    assert "no drug" in result.note


@pytest.mark.parametrize("text, route", [
    ("diclofenac 1% gel", "topical"), ("timolol eye drops", "ophthalmic"), ("fentanyl 25 mcg/hr patch", "transdermal"),
    ("albuterol 90 mcg inhaler", "inhalation"), ("metformin 500 mg tablet", "oral"),
])
def test_routes_from_text(resolver, text, route):
    assert resolver.drug(text).route == route


def test_allergy_terms_resolve_to_classes(resolver, kb):
    ingredients, cls, status = resolver.allergen("penicillin")
    assert cls == "penicillin" and "amoxicillin" in ingredients and status == "resolved"
    assert resolver.allergen("sulfa")[1] == "sulfonamide-antibiotic"
    assert resolver.allergen("NSAIDs")[1] == "nsaid"
    assert resolver.allergen("codeine")[0] == frozenset({"codeine"})
    assert resolver.allergen("cat dander")[2] == "unresolved"


def test_conditions_by_code_and_name(resolver):
    assert "heart-failure" in resolver.condition(None, "snomed", "88805009")
    assert {"diabetes", "type-2-diabetes"} <= resolver.condition("type 2 diabetes mellitus")
    assert "heart-failure" in resolver.condition(None, "icd10", "I50.22")
    assert resolver.condition("Laceration of thigh") == frozenset() or "injury" in resolver.condition("Laceration of thigh")


def test_labs_by_name_and_loinc(resolver):
    assert resolver.lab("eGFR", None) == "egfr"
    assert resolver.lab(None, "38483-4") == "creatinine"
    assert resolver.lab("something else", None) is None
