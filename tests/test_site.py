"""Site policy: local rule switches and severities on top of the published packs, always visible."""

import os
import subprocess
import sys

import pytest

from mtmrules.engine.engine import Engine
from mtmrules.errors import InputError

from conftest import AS_OF, problems_by_rule
from test_cli import run

POLICY = """site: Acme Pharmacy
min_severity: moderate
overrides:
  - rule: monitoring/*
    enabled: false
    reason: Labs are ordered by the clinic's own protocol
  - rule: geriatric/beers-nsaid-chronic-no-gastroprotection
    severity: major
    reason: P&T escalated it after two GI bleeds
"""
PATIENT = {"id": "p", "age": 78, "sex": "female", "conditions": ["atrial fibrillation", "hypertension"],
           "medications": ["warfarin 5 mg daily", "naproxen 500 mg twice daily"]}


@pytest.fixture(scope="module")
def site_engine(tmp_path_factory):
    path = tmp_path_factory.mktemp("site") / "site.yaml"
    path.write_text(POLICY)
    return Engine.default(site=path)


def test_site_policy_retiers_switches_off_and_hides_below_minimum(engine, site_engine):
    published = engine.check(PATIENT, as_of=AS_OF)
    local = site_engine.check(PATIENT, as_of=AS_OF)
    before, after = problems_by_rule(published), problems_by_rule(local)

    nsaid = "geriatric/beers-nsaid-chronic-no-gastroprotection"
    assert before[nsaid].severity == "major" and before[nsaid].site_note is None   # age ≥ 75 modifier
    assert after[nsaid].site_note.startswith("Acme Pharmacy: severity major instead of the published moderate")

    warfarin = "geriatric/beers-warfarin-first-line"
    assert before[warfarin].severity == "minor" and warfarin not in after
    hidden = {s.rule: s for s in local.suppressed}
    assert "minimum severity (moderate)" in hidden[warfarin].reason and hidden[warfarin].until is None

    assert not any(r.id.startswith("monitoring/") for r in site_engine.rules)
    assert any(r.id.startswith("monitoring/") for r in engine.rules)
    assert [p.rank for p in local.problems] == list(range(1, len(local.problems) + 1))
    assert local.site.name == "Acme Pharmacy" and local.site.disabled[0].rule == "monitoring/*"
    assert published.site is None


def test_site_policy_retiering_the_base_severity(tmp_path):
    path = tmp_path / "site.yaml"
    path.write_text("site: S\noverrides:\n  - rule: geriatric/beers-warfarin-first-line\n"
                    "    severity: moderate\n    reason: local anticoagulation clinic policy\n")
    problem = problems_by_rule(Engine.default(site=path).check(PATIENT, as_of=AS_OF))["geriatric/beers-warfarin-first-line"]
    assert problem.severity == "moderate" and "local anticoagulation clinic policy" in problem.site_note


@pytest.mark.parametrize("text, line, message", [
    ("site: S\noverrides:\n  - rule: monitoring/no-such-rule\n    enabled: false\n    reason: typo\n", 3, "no loaded rule"),
    ("site: S\noverrides:\n  - rule: monitoring/*\n    enabled: false\n", 3, "reason: required field is missing"),
    ("site: S\nmin_severity: severe\n", 2, "expected"),
    ("site: S\noverides: []\n", 2, "unknown field"),
])
def test_bad_site_policy_is_one_line_with_file_and_line(tmp_path, text, line, message):
    path = tmp_path / "site.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        Engine.default(site=path)
    assert f"site.yaml:{line}" in str(info.value) and message in str(info.value)


def test_cli_site_option_and_environment_variable(tmp_path):
    policy, profile = tmp_path / "site.yaml", tmp_path / "p.yaml"
    policy.write_text(POLICY)
    profile.write_text("id: p\nage: 78\nsex: female\nconditions: [atrial fibrillation]\n"
                       "medications: [warfarin 5 mg daily, naproxen 500 mg twice daily]\n")
    out = run("--site", str(policy), "check", str(profile), "--as-of", "2026-11-27", check_rc=0).stdout
    assert "Site policy: Acme Pharmacy" in out and "Not shown (1)" in out
    assert "Site policy" not in run("check", str(profile), "--as-of", "2026-11-27", check_rc=0).stdout
    bad = run("--site", str(tmp_path / "missing.yaml"), "check", str(profile), check_rc=2)
    assert "missing.yaml" in bad.stderr and "Traceback" not in bad.stderr
    env = {**os.environ, "MTMRULES_SITE": str(policy)}
    by_env = subprocess.run([sys.executable, "-m", "mtmrules.cli", "check", str(profile), "--as-of", "2026-11-27"],
                            capture_output=True, text=True, env=env)
    assert "Site policy: Acme Pharmacy" in by_env.stdout


def test_engine_screen_uses_the_engines_own_packs_and_policy(tmp_path, site_engine):
    folder = tmp_path / "profiles"
    folder.mkdir()
    (folder / "p.yaml").write_text("id: p\nage: 78\nsex: female\nconditions: [atrial fibrillation]\n"
                                   "medications: [warfarin 5 mg daily, naproxen 500 mg twice daily]\n")
    rules = set(site_engine.screen(folder, as_of=AS_OF).problems["rule"])
    assert "geriatric/beers-warfarin-first-line" not in rules       # below the site's minimum
    assert "geriatric/beers-warfarin-first-line" in set(Engine.default().screen(folder, as_of=AS_OF).problems["rule"])
