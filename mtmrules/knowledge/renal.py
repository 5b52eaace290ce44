"""Kidney function from serum creatinine: Cockcroft-Gault CrCl and the race-free CKD-EPI 2021 eGFR.

Sources: Cockcroft DW, Gault MH. Nephron 1976;16:31-41 (``cockcroft-gault-1976``);
Inker LA et al. N Engl J Med 2021;385:1737-49 (``ckd-epi-2021``).
"""

from __future__ import annotations


def ckd_epi_2021(creatinine_mg_dl: float, age: int, sex: str) -> float | None:
    """eGFR in mL/min/1.73 m²; None when sex is not female/male or inputs are not positive."""
    if sex not in ("female", "male") or creatinine_mg_dl <= 0 or age < 18:
        return None
    female = sex == "female"
    kappa, alpha = (0.7, -0.241) if female else (0.9, -0.302)
    ratio = creatinine_mg_dl / kappa
    egfr = 142 * min(ratio, 1.0) ** alpha * max(ratio, 1.0) ** -1.200 * 0.9938 ** age
    return egfr * 1.012 if female else egfr


def cockcroft_gault(creatinine_mg_dl: float, age: int, sex: str, weight_kg: float) -> float | None:
    """Creatinine clearance in mL/min (actual body weight); None when an input is missing."""
    if sex not in ("female", "male") or creatinine_mg_dl <= 0 or weight_kg <= 0 or age < 18:
        return None
    crcl = (140 - age) * weight_kg / (72 * creatinine_mg_dl)
    return crcl * 0.85 if sex == "female" else crcl
