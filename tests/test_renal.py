"""Kidney-function equations against hand-computed reference values."""

import pytest

from mtmrules.knowledge.renal import ckd_epi_2021, cockcroft_gault


def test_ckd_epi_2021_reference_values():
    # Inker 2021: 142 × min(Scr/κ,1)^α × max(Scr/κ,1)^-1.200 × 0.9938^age × 1.012 [female]
    assert ckd_epi_2021(1.0, 60, "female") == pytest.approx(64.5, abs=0.3)
    assert ckd_epi_2021(1.2, 50, "male") == pytest.approx(73.7, abs=0.3)
    assert ckd_epi_2021(0.6, 40, "female") == pytest.approx(116.3, abs=0.3)


def test_ckd_epi_needs_sex_and_adult_age():
    assert ckd_epi_2021(1.0, 60, "unknown") is None
    assert ckd_epi_2021(1.0, 10, "male") is None


def test_cockcroft_gault():
    assert cockcroft_gault(1.0, 70, "male", 80) == pytest.approx(77.78, abs=0.01)
    assert cockcroft_gault(1.0, 70, "female", 80) == pytest.approx(66.11, abs=0.01)
    assert cockcroft_gault(1.0, 70, "male", 0) is None
