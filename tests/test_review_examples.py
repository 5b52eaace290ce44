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
