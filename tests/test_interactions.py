"""Interactions by mechanism: the severity matrix, the joined tables, class-wide coverage, precedence of
label-specific rules, near misses, and the HL7 PDDI-CDS use cases as FHIR input."""

import json
import shutil

import pytest

from mtmrules.adapters import fhir
from mtmrules.errors import InputError
from mtmrules.knowledge.base import KnowledgeBase
from mtmrules.knowledge.interactions import PD_CUTOFFS, PK_CUTOFFS, pk_points, severity_for

from conftest import AS_OF, ROOT

MECHANISM = "interactions-mechanism/"
DATA = ROOT / "tests" / "data"


def ddi_problems(engine, medications, age=50, **extra):
    report = engine.check({"id": "t", "age": age, "medications": medications, **extra}, as_of=AS_OF)
    return [p for p in report.problems if p.kind == "drug-drug-interaction"]


def lead_for(engine, a, b, age=50):
    """The interaction problem naming both drugs (None when silent)."""
    return next((p for p in ddi_problems(engine, [a, b], age) if {a, b} <= set(p.medications)), None)


# --- the matrix ---------------------------------------------------------------------------------

@pytest.mark.parametrize("strength, sensitivity, narrow, serious, expected", [
    ("strong", "sensitive", False, True, "major"),        # clarithromycin + simvastatin
    ("listed", "sensitive", True, True, "major"),         # cyclosporine + digoxin (P-gp)
    ("moderate", "moderate", True, True, "moderate"),     # diltiazem + irinotecan
    ("strong", "sensitive", False, False, "moderate"),    # a strong inhibitor, a limited consequence
    ("weak", "moderate", True, True, "minor"),            # cimetidine + theophylline
    ("weak", "sensitive", False, False, None),            # weak × sensitive × limited: quiet
    ("weak", "moderate", False, True, None),              # weak × weakly sensitive: quiet
    ("moderate", "moderate", False, False, None),
])
def test_pk_matrix(strength, sensitivity, narrow, serious, expected):
    assert severity_for(pk_points(strength, sensitivity, narrow, serious), PK_CUTOFFS) == expected


def test_pd_matrix_cutoffs():
    assert [severity_for(w, PD_CUTOFFS) for w in (6, 5, 4, 3, 2)] == ["major", "major", "moderate", "minor", None]


def test_matrix_never_says_contraindicated(kb):
    rows = kb.table("pk_interactions") + kb.table("pd_interactions")
    assert rows and all(r["severity"] in ("major", "moderate", "minor") for _, r in rows)


def test_joined_rows_never_pair_a_drug_with_itself(kb):
    for _, row in kb.table("pk_interactions"):
        assert row["victim"] not in row["perpetrators"].split(";"), row
    for _, row in kb.table("pd_interactions"):
        a, b = row["example_a"], row["example_b"]
        assert a != b and a in row["drugs_a"].split(";") and b in row["drugs_b"].split(";")


# --- whole classes, not a list ------------------------------------------------------------------

def _pairs(kb, pathway, effect, strengths, harm="serious"):
    perps = {r["ingredient"] for _, r in kb.table("pk_perpetrators")
             if r["pathway"] == pathway and r["effect"] == effect and r["strength"] in strengths}
    victims = {r["ingredient"] for _, r in kb.table("pk_victims")
               if r["pathway"] == pathway and r["effect"] == effect and r["sensitivity"] == "sensitive"
               and r["harm"] == harm and not r["from_strength"]}
    return sorted((v, p) for v in victims for p in perps if v != p)


@pytest.mark.parametrize("pathway, effect, strengths", [
    ("cyp3a4", "inhibit", {"strong"}), ("cyp3a4", "induce", {"strong"}), ("cyp2d6", "inhibit", {"strong"}),
    ("cyp1a2", "inhibit", {"strong"}), ("cyp2c8", "inhibit", {"strong"}), ("p-gp", "inhibit", {"listed"}),
    ("oatp1b", "inhibit", {"listed"}), ("lithium-renal", "inhibit", {"listed"}),
])
def test_every_strong_perpetrator_with_every_sensitive_victim_is_caught(engine, kb, pathway, effect, strengths):
    """FDA's strong (or listed) perpetrators × the sensitive victims with a serious consequence: each pair
    gives a problem of at least moderate severity — by the specific rule when one exists, else the template."""
    pairs = _pairs(kb, pathway, effect, strengths)
    assert len(pairs) >= 2
    missed = [(v, p) for v, p in pairs
              if (lead := lead_for(engine, v, p)) is None or lead.severity == "minor"]
    assert not missed


@pytest.mark.parametrize("a, b, at_least", [
    ("digoxin", "cyclosporine", "major"), ("apixaban", "ibuprofen", "major"), ("dabigatran", "naproxen", "major"),
    ("clopidogrel", "ibuprofen", "moderate"), ("prednisone", "naproxen", "moderate"),
    ("warfarin", "ciprofloxacin", "major"), ("warfarin", "clarithromycin", "major"),
    ("phenytoin", "sulfamethoxazole", "moderate"), ("theophylline", "cimetidine", "major"),
    ("lithium", "furosemide", "major"), ("lithium", "bumetanide", "major"),
    ("apixaban", "enzalutamide", "moderate"), ("rivaroxaban", "apalutamide", "moderate"),
    ("irinotecan", "diltiazem", "moderate"), ("irinotecan", "verapamil", "moderate"),
    ("tizanidine", "zileuton", "major"), ("quetiapine", "mitotane", "major"), ("simvastatin", "idelalisib", "major"),
])
def test_issue_examples_and_their_classmates(engine, a, b, at_least):
    order = ["contraindicated", "major", "moderate", "minor"]
    lead = lead_for(engine, a, b)
    assert lead is not None, f"{a} + {b} is silent"
    assert order.index(lead.severity) <= order.index(at_least), (a, b, lead.severity, lead.rule)


# --- precedence ---------------------------------------------------------------------------------

def test_specific_rule_leads_and_lists_the_mechanism(engine):
    problems = ddi_problems(engine, ["warfarin 5 mg daily", "ibuprofen 400 mg three times daily"])
    assert len(problems) == 1
    assert problems[0].rule == "interactions/ddi-warfarin-nsaid"
    assert any(r.startswith(MECHANISM + "pd-bleeding/") for r in problems[0].also_found_by)


def test_specific_rule_leads_even_when_less_severe(engine):
    """ddi-methotrexate-nsaid (moderate) leads over the renal-clearance template on the same drugs."""
    problems = ddi_problems(engine, ["methotrexate 15 mg weekly", "naproxen 500 mg twice daily"])
    lead = next(p for p in problems if "methotrexate" in p.medications)
    assert not lead.rule.startswith(MECHANISM)
    assert any(r.startswith(MECHANISM + "pk-inhibition/methotrexate") for r in lead.also_found_by)


def test_pair_inside_a_larger_specific_rule_is_one_problem(engine):
    problems = ddi_problems(engine, ["digoxin 0.125 mg daily", "amiodarone 200 mg daily", "carvedilol 12.5 mg twice daily"])
    digoxin = [p for p in problems if "digoxin" in p.medications]
    assert len(digoxin) == 1 and digoxin[0].rule == "interactions-extended/ddi-digoxin-amiodarone-dronedarone"


def test_a_rule_about_one_mechanism_does_not_absorb_another(engine):
    """Fluconazole + tacrolimus: the QT rule takes the QT finding; the CYP3A4 finding (trough levels) stays."""
    problems = ddi_problems(engine, ["tacrolimus 3 mg twice daily", "fluconazole 200 mg daily"])
    rules = {p.rule: p for p in problems}
    assert "interactions-extended/ddi-qt-prolonging-combination" in rules
    qt = rules["interactions-extended/ddi-qt-prolonging-combination"]
    assert all("pk-inhibition" not in r for r in qt.also_found_by)
    assert rules[MECHANISM + "pk-inhibition/tacrolimus-cyp3a4-moderate"].severity == "major"


# --- near misses and quiet pairs ----------------------------------------------------------------

def test_near_misses_stay_silent(engine):
    assert ddi_problems(engine, ["apixaban 5 mg twice daily", {"name": "diclofenac 1% gel", "route": "topical"}]) == []
    assert ddi_problems(engine, ["apixaban 5 mg twice daily", {"name": "rifampin 600 mg daily", "status": "stopped"}]) == []
    assert ddi_problems(engine, ["apixaban 5 mg twice daily", "diltiazem 120 mg daily"]) == []   # label: no change
    assert ddi_problems(engine, ["aspirin 81 mg daily", "clopidogrel 75 mg daily"]) == []        # intended DAPT
    assert ddi_problems(engine, ["aspirin 81 mg daily", "sertraline 50 mg daily"]) == []          # weights 1 + 1


def test_weak_inhibitor_with_weakly_sensitive_victim_is_quiet(engine):
    """Sertraline (weak CYP2D6) + metoprolol (moderately sensitive, limited consequence): no mechanism finding."""
    problems = ddi_problems(engine, ["metoprolol 50 mg twice daily", "sertraline 50 mg daily"])
    assert not any(r.startswith(MECHANISM) for p in problems for r in (p.rule, *p.also_found_by))


def interaction_severity(engine, a, b, age):
    """The severity of the interaction finding on a and b, leading its problem or joined under another
    (at 78 the pair joins the Beers problem that stops the NSAID: stopping it answers the pair)."""
    report = engine.check({"id": "t", "age": age, "medications": [a, b]}, as_of=AS_OF)
    for problem in report.problems:
        if problem.kind == "drug-drug-interaction" and {a, b} <= set(problem.medications):
            return problem.severity
        for reason in problem.reasons:
            if reason.kind == "drug-drug-interaction" and {a, b} <= set(reason.medications):
                return reason.severity
    return None


def test_modifiers_move_one_step(engine):
    base = interaction_severity(engine, "clopidogrel", "naproxen", age=50)
    older = interaction_severity(engine, "clopidogrel", "naproxen", age=78)
    assert (base, older) == ("moderate", "major")
    ppi = ddi_problems(engine, ["clopidogrel 75 mg daily", "naproxen 500 mg twice daily", "pantoprazole 40 mg daily"])
    assert [p.severity for p in ppi if "naproxen" in p.medications] == ["minor"]
    hyponat = ddi_problems(engine, ["hydrochlorothiazide 25 mg daily", "citalopram 20 mg daily"],
                           labs=[{"name": "sodium", "value": 131, "unit": "mmol/L", "date": "2026-11-20"}])
    assert [p.severity for p in hyponat if "citalopram" in p.medications and "hydrochlorothiazide" in p.medications] == ["moderate"]


# --- the HL7 PDDI-CDS use cases as FHIR Bundles -------------------------------------------------

@pytest.mark.parametrize("name, rule, severity, action_level", [
    ("pddi-warfarin-nsaid-base", "interactions/ddi-warfarin-nsaid", "major", None),
    ("pddi-warfarin-nsaid-ppi", "interactions/ddi-warfarin-nsaid", "moderate", "assess-risk"),
    ("pddi-warfarin-nsaid-risk", "interactions/ddi-warfarin-nsaid", "major", "use-only-if-benefit-outweighs-risk"),
    ("pddi-digoxin-cyclosporine", MECHANISM + "pk-inhibition/digoxin-p-gp-listed", "major", None),
])
def test_pddi_cds_use_cases_as_fhir(engine, name, rule, severity, action_level):
    profile = fhir.profile_from_bundle(json.loads((DATA / f"{name}.json").read_text()), name)
    problems = [p for p in engine.check(profile, as_of=AS_OF).problems if p.kind == "drug-drug-interaction"]
    assert len(problems) == 1, [p.rule for p in problems]
    assert (problems[0].rule, problems[0].severity, problems[0].action_level) == (rule, severity, action_level)


def test_pddi_cds_topical_nsaid_is_silent(engine):
    profile = fhir.profile_from_bundle(json.loads((DATA / "pddi-warfarin-nsaid-topical.json").read_text()))
    assert not [p for p in engine.check(profile, as_of=AS_OF).problems if p.kind == "drug-drug-interaction"]


# --- bad tables ---------------------------------------------------------------------------------

@pytest.mark.parametrize("table, find, replace, message", [
    ("pk_perpetrators", ",cyp3a4,inhibit,strong,", ",cyp3a4,inhibit,very strong,", "strength 'very strong'"),
    ("pk_victims", "digoxin,p-gp,inhibit,sensitive,", "digoxin,p-gp,inhibit,huge,", "sensitivity 'huge'"),
    ("pd_effects", ",qt-prolonging,qt,2,", ",qt-prolongers,qt,2,", "unknown class 'qt-prolongers'"),
    ("pd_effects", ",ssri,bleeding,1,", ",ssri,bleeding,4,", "weight '4'"),
])
def test_bad_interaction_rows_name_file_and_line(tmp_path, table, find, replace, message):
    knowledge = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge", knowledge)
    path = knowledge / f"{table}.csv"
    text = path.read_text()
    assert find in text
    path.write_text(text.replace(find, replace, 1))
    kb = KnowledgeBase(knowledge)
    derived = "pd_interactions" if table == "pd_effects" else "pk_interactions"
    with pytest.raises(InputError) as err:
        kb.table(derived)
    assert message in str(err.value) and f"{table}.csv" in str(err.value) and err.value.line


# --- ingredients the tables need ----------------------------------------------------------------

@pytest.mark.parametrize("text, ingredients", [
    ("insulin 70/30 20 units twice daily", ["insulin isophane", "insulin regular"]),
    ("K-Dur 20 mEq daily", ["potassium chloride"]),
    ("Diclegis 2 tablets at bedtime", ["doxylamine", "pyridoxine"]),
    ("vitamin E 400 units daily", ["vitamin e"]),
    ("dorzolamide 2% eye drops three times daily", ["dorzolamide"]),
    ("pyridostigmine 60 mg three times daily", ["pyridostigmine"]),
    ("conivaptan 20 mg IV daily", ["conivaptan"]),
    ("idelalisib 150 mg twice daily", ["idelalisib"]),
    ("mitotane 2 g three times daily", ["mitotane"]),
])
def test_ingredients_the_tables_need_resolve(engine, text, ingredients):
    report = engine.check({"id": "r", "medications": [text]}, as_of=AS_OF)
    assert [(m.status, m.ingredients) for m in report.medications] == [("resolved", ingredients)]
