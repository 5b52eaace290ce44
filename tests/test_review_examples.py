"""Regression guard against false alarms: realistic, well-managed patients reviewed by a pharmacist.

Each profile in examples/review/ was judged by a clinical pharmacist; none should raise a major or
contraindicated problem, and none more than two problems in all.
"""

from pathlib import Path

import pytest

from mtmrules.adapters.inputs import read_any

from conftest import AS_OF, ROOT

EXAMPLES = sorted((ROOT / "examples" / "review").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: Path(p).stem)
def test_well_managed_patients_stay_quiet(engine, path):
    report = engine.check(next(read_any(path)), as_of=AS_OF)
    assert len(report.problems) <= 2, [p.title for p in report.problems]
    assert not [p.title for p in report.problems if p.severity in ("major", "contraindicated")]
    assert not report.unresolved or all(u.kind != "medication" for u in report.unresolved)


def test_there_are_review_examples():
    assert len(EXAMPLES) >= 20


CASES = sorted((ROOT / "examples" / "review" / "cases").glob("c*.yaml")) + sorted(
    (ROOT / "examples" / "review" / "validation").glob("c*.yaml"))


def _scorer():
    import importlib.util
    spec = importlib.util.spec_from_file_location("review_score", ROOT / "benchmarks" / "review_score.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", CASES, ids=lambda p: Path(p).stem)
def test_review_case_findings_traps_and_first_problem(engine, path):
    """Each pharmacist review case: every expected finding raised, no trap raised, and the problem to
    work first among the top three (benchmarks/review_score.py prints the details)."""
    result = _scorer().score_case(engine, path)
    assert result["found"] == result["expected"], result["lines"]
    assert result["violated"] == 0, result["lines"]
    assert result["top3"], result["lines"]


def test_other_alerts_are_judged_and_mostly_worth_reading(engine):
    """Every alert outside a case's lists has a pharmacist's judgement, and fewer than 20% are noise."""
    import yaml
    scorer = _scorer()
    verdicts = []
    for folder in {p.parent for p in CASES}:
        judged = yaml.safe_load((folder / "judgements.yaml").read_text(encoding="utf-8")) or {}
        for path in (p for p in CASES if p.parent == folder):
            for problem in scorer.score_case(engine, path)["others"]:
                key = scorer.judgement_key(path.stem, problem)
                assert key in judged, f"judge this alert in {folder.name}/judgements.yaml: {key}"
                verdicts.append(str(judged[key]["verdict"]).upper())
    noise = sum(v in ("NOISE", "FALSE") for v in verdicts)
    assert noise < 0.2 * len(verdicts), f"{noise} of {len(verdicts)} other alerts are noise"


def test_there_are_review_cases():
    assert len(CASES) >= 30
