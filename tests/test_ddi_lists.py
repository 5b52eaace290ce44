"""Published-criteria interaction lists as regression tests (tests/data/ddi_high_priority.csv, ddi_low_priority.csv).

High priority (ONC/Phansalkar 2012 class pairs, FDA index inhibitors and inducers with sensitive
substrates, boxed-warning and label-contraindicated combinations, Beers 2023 interaction rows): each
pair, screened on an adult and an older patient, gives an interaction problem at or above the row's
min_severity. Low priority (common co-prescribed pairs a pharmacist would not want interrupting):
no interaction problem above the row's max_severity. The screening is the benchmark's
(benchmarks/interaction_coverage.py), so the test and the printed figures cannot drift apart.
"""

from __future__ import annotations

import importlib.util

import pytest

from conftest import ROOT


def _coverage():
    spec = importlib.util.spec_from_file_location("interaction_coverage", ROOT / "benchmarks" / "interaction_coverage.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


COVERAGE = _coverage()


def _cases(path):
    rows = COVERAGE.read_list(path)
    return [pytest.param(row, patient, id=f"{patient}:{row['drug_a'].split()[0]}+{row['drug_b'].split()[0]}")
            for row in rows for patient in (row.get("patients") or " ".join(COVERAGE.PATIENTS)).split()]


@pytest.mark.parametrize(("row", "patient"), _cases(COVERAGE.HIGH_PRIORITY))
def test_high_priority_pair_caught_at_its_severity(engine, row, patient):
    severity, rule = COVERAGE.screen_listed_pair(engine, row["drug_a"], row["drug_b"], patient)
    assert severity != "unresolved", row
    assert COVERAGE.RANK[severity] >= COVERAGE.RANK[row["min_severity"]], (severity, rule, row["reason"])


@pytest.mark.parametrize(("row", "patient"), _cases(COVERAGE.LOW_PRIORITY))
def test_low_priority_pair_stays_quiet(engine, row, patient):
    severity, rule = COVERAGE.screen_listed_pair(engine, row["drug_a"], row["drug_b"], patient)
    assert severity != "unresolved", row
    assert COVERAGE.RANK[severity] <= COVERAGE.RANK[row["max_severity"]], (severity, rule, row["reason"])


def test_lists_cite_known_sources_and_valid_severities(kb):
    import yaml
    sources = set(yaml.safe_load((ROOT / "knowledge" / "sources.yaml").read_text(encoding="utf-8")))
    for path, column in ((COVERAGE.HIGH_PRIORITY, "min_severity"), (COVERAGE.LOW_PRIORITY, "max_severity")):
        rows = COVERAGE.read_list(path)
        assert len(rows) >= 40, path
        for row in rows:
            assert row[column] in COVERAGE.RANK and row[column] != "none", row
            assert row["reason"], row
            assert set(row["source"].split(";")) <= sources, row
            assert set((row.get("patients") or "adult").split()) <= set(COVERAGE.PATIENTS), row
