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


CASES = sorted((ROOT / "examples" / "review" / "cases").glob("c*.yaml"))
#: expected findings the engine does not produce yet (no rule covers them), by case: each is a known gap
#: recorded in the issue-18 note, so a new miss anywhere else fails the test.
KNOWN_MISSES = {"c05-dementia-anticholinergics-bradycardia": 1, "c27-levothyroxine-calcium-iron": 1,
                "c33-prasugrel-older-light": 2, "c34-rivaroxaban-naproxen-fluoxetine": 1}


def _scorer():
    import importlib.util
    spec = importlib.util.spec_from_file_location("review_score", ROOT / "benchmarks" / "review_score.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", CASES, ids=lambda p: Path(p).stem)
def test_review_case_traps_findings_and_first_problem(engine, path):
    result = _scorer().score_case(engine, path)
    assert result["violated"] == 0, result["lines"]
    assert result["expected"] - result["found"] <= KNOWN_MISSES.get(path.stem, 0), result["lines"]
    if path.stem not in KNOWN_MISSES:
        assert result["top3"], result["lines"]


def test_there_are_review_cases():
    assert len(CASES) >= 30
