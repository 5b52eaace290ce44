"""`mtmrules explain`: the evaluated condition tree agrees with what the engine reports."""

import pytest

from mtmrules.engine.explain import explain
from mtmrules.errors import InputError

from conftest import AS_OF, ROOT
from test_cli import run

PATIENT = {"id": "demo", "age": 74, "sex": "female", "conditions": ["GERD"],
           "medications": ["omeprazole 20 mg daily", "naproxen 500 mg twice daily"]}


def test_tree_shows_each_node_with_its_evidence_or_missing_data(engine):
    facts = engine.facts_for(PATIENT, AS_OF)
    text = explain(engine.rules, facts, "geriatric/beers-ppi-beyond-8-weeks")
    assert text.startswith("geriatric/beers-ppi-beyond-8-weeks stays silent for patient demo as of 2026-11-27")
    assert "✔ age ≥ 65 — age 74" in text
    assert "? Proton pump inhibitors taken for > 56 days — start date of omeprazole 20 mg daily not recorded" in text
    assert "✔ Nonselective NSAIDs" in text and "naproxen 500 mg twice daily" in text   # why it stays silent


def test_template_id_explains_the_rows_about_the_patients_drugs(engine):
    text = explain(engine.rules, engine.facts_for(PATIENT, AS_OF), "renal/renal-avoid")
    headers = [line for line in text.splitlines() if line.startswith("renal/")]
    assert headers == ["renal/renal-avoid/naproxen-egfr-lt-30 is not evaluated (data missing) for patient demo "
                       "as of 2026-11-27 (renal-dose, major)"]
    with pytest.raises(InputError, match="no loaded rule"):
        explain(engine.rules, engine.facts_for(PATIENT, AS_OF), "renal/no-such-rule")


@pytest.mark.parametrize("example", sorted((ROOT / "examples" / "review").glob("*.yaml"))[:10], ids=lambda p: p.stem)
def test_verdict_agrees_with_the_report(engine, example):
    from mtmrules.adapters.inputs import read_any
    profile = next(read_any(example))
    report = engine.check(profile, as_of=AS_OF)
    facts = engine.facts_for(profile, AS_OF)
    for problem in report.problems:
        assert " fires for patient" in explain(engine.rules, facts, problem.rule).splitlines()[0]
    for item in report.not_evaluated:
        assert " is not evaluated" in explain(engine.rules, facts, item.rule).splitlines()[0]


def test_cli_explain(tmp_path):
    profile = tmp_path / "p.yaml"
    profile.write_text("id: demo\nage: 74\nsex: female\nconditions: [GERD]\n"
                       "medications: [omeprazole 20 mg daily, naproxen 500 mg twice daily]\n")
    out = run("explain", str(profile), "geriatric/beers-nsaid-chronic-no-gastroprotection", "--as-of", "2026-11-27",
              check_rc=0).stdout
    assert "stays silent" in out and "modifier 1 (severity major): false" in out
    assert "no loaded rule" in run("explain", str(profile), "nope/x", check_rc=2).stderr
