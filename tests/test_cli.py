"""The command line, run as a user would: a subprocess with the installed entry point."""

import json
import subprocess
import sys

import pytest

from conftest import ROOT

EXAMPLE = ROOT / "examples" / "mrs-jones.yaml"


def run(*args, check_rc=None):
    proc = subprocess.run([sys.executable, "-m", "mtmrules.cli", *args], capture_output=True, text=True, cwd=ROOT)
    if check_rc is not None:
        assert proc.returncode == check_rc, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    return proc


def test_check_example_text():
    out = run("check", str(EXAMPLE), "--as-of", "2026-11-27", check_rc=0).stdout
    assert "Patient example-mrs-jones, 78 y, female" in out
    assert "Warfarin with ibuprofen" in out and "Severity" in out and "Top intervention" in out


def test_check_example_json_matches_contract():
    report = json.loads(run("check", str(EXAMPLE), "--format", "json", "--as-of", "2026-11-27", check_rc=0).stdout)
    assert report["as_of"] == "2026-11-27" and report["patient"]["age"] == 78
    assert len(report["medications"]) == 11 and report["problems"]
    top = report["problems"][0]
    assert top["rank"] == 1 and {"id", "score", "rule", "kind", "category", "severity", "title", "explanation",
                                 "medications", "interventions", "patient_text", "references"} <= set(top)


def test_several_profiles_give_a_list_in_input_order(tmp_path):
    second = tmp_path / "b.yaml"
    second.write_text("id: second\nmedications: ['warfarin 5 mg daily']\n")
    reports = json.loads(run("check", str(EXAMPLE), str(second), "--format", "json", "--as-of", "2026-11-27",
                             check_rc=0).stdout)
    assert [r["patient"]["id"] for r in reports] == ["example-mrs-jones", "second"]


def test_fail_on_and_bad_input_exit_codes(tmp_path):
    run("check", str(EXAMPLE), "--as-of", "2026-11-27", "--fail-on", "major", check_rc=1)
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\nmedications:\n  - {name: warfarin, dose: 5 mg, frequncy: daily}\n")
    proc = run("check", str(bad), check_rc=2)
    assert proc.stderr.strip().count("\n") == 0 and "bad.yaml:3" in proc.stderr and "frequncy" in proc.stderr
    proc = run("check", str(EXAMPLE), "--as-of", "27/11/2026", check_rc=2)
    assert "--as-of" in proc.stderr


def test_lint_test_schema_rules(tmp_path):
    assert "0 errors" in run("lint", check_rc=0).stderr
    bad = tmp_path / "pack.yaml"
    bad.write_text((ROOT / "mtmrules/rules/interactions.yaml").read_text().replace("class: vitamin-k-antagonist", "class: vka", 1))
    out = run("lint", str(bad), check_rc=2).stdout
    assert out.startswith(f"{bad}:") and "ddi-warfarin-nsaid: unknown class 'vka'" in out
    assert run("test", "mtmrules/rules/interactions.yaml", check_rc=0).stdout.strip().endswith("passed, 0 failed")
    schema = json.loads(run("schema", "pack", check_rc=0).stdout)
    assert schema["title"] == "mtmrules rule pack" and "Rule" in schema["$defs"]
    assert "properties" in json.loads(run("schema", "profile", check_rc=0).stdout)
    assert "problems" in json.loads(run("schema", "report", check_rc=0).stdout)["properties"]
    rules = json.loads(run("rules", "--format", "json", check_rc=0).stdout)
    row = next(r for r in rules if r["id"] == "interactions/ddi-warfarin-nsaid")
    assert row["kind"] == "drug-drug-interaction" and row["tests"] >= 2 and "hl7-pddi-cds" in row["references"]


def test_failing_embedded_test_is_reported(tmp_path):
    pack = tmp_path / "pack.yaml"
    pack.write_text((ROOT / "mtmrules/rules/interactions.yaml").read_text().replace(
        'silent: {age: 70, medications: ["warfarin 5 mg daily", "acetaminophen 500 mg twice daily"]}',
        'silent: {age: 70, medications: ["warfarin 5 mg daily", "naproxen 500 mg twice daily"]}'))
    proc = run("test", str(pack), check_rc=1)
    assert "FAIL interactions/ddi-warfarin-nsaid" in proc.stdout and "1 failed" in proc.stdout


@pytest.mark.parametrize("engine", ["naive", "durable"])
def test_engines_selectable(engine):
    if engine == "durable":
        pytest.importorskip("durable", reason="the durable executor is the 'durable' extra")
    fast = json.loads(run("check", str(EXAMPLE), "--format", "json", "--as-of", "2026-11-27", check_rc=0).stdout)
    other = json.loads(run("check", str(EXAMPLE), "--format", "json", "--as-of", "2026-11-27", "--engine", engine,
                           check_rc=0).stdout)
    fast.pop("engine"), other.pop("engine")
    assert fast == other


def test_generated_rule_docs_are_current(tmp_path):
    run("docs", "--out", str(tmp_path), check_rc=0)
    committed = ROOT / "docs" / "rules"
    generated = {p.name: p.read_text() for p in tmp_path.glob("*.md")}
    assert generated == {p.name: p.read_text() for p in committed.glob("*.md")}, "run `mtmrules docs` and commit"


@pytest.mark.parametrize("name, file", [("pack", "rulepack"), ("profile", "profile"), ("report", "report"),
                                        ("site", "site")])
def test_committed_json_schemas_are_current(name, file):
    """The packs point editors at docs/schema/rulepack.schema.json; it must match the models."""
    generated = json.loads(run("schema", name, check_rc=0).stdout)
    assert generated == json.loads((ROOT / "docs" / "schema" / f"{file}.schema.json").read_text())
