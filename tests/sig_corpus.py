"""The annotated sig corpora (tests/data/sigs.yaml, development; tests/data/sigs_heldout.yaml, held out) and how
a reading is compared with an annotation.

Shared by tests/test_sig_corpus.py and benchmarks/sigs.py."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import yaml

from mtmrules.knowledge.base import KnowledgeBase, default_knowledge_dir
from mtmrules.knowledge.resolve import Resolver
from mtmrules.knowledge.sig import READ, DoseReading, daily_dose, read_sig
from mtmrules.knowledge.sig.grammar import read

CORPUS = Path(__file__).parent / "data" / "sigs.yaml"
HELDOUT = Path(__file__).parent / "data" / "sigs_heldout.yaml"
_TO_MG = {"mg": 1.0, "g": 1000.0, "mcg": 0.001}


def load(path: Path = CORPUS) -> list[dict]:
    """The entries of one annotated corpus."""
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))["sigs"]


@functools.cache
def resolver() -> Resolver:
    return Resolver(KnowledgeBase(default_knowledge_dir()))


def _number(text: str) -> float:
    if "/" in text:
        top, bottom = text.split("/")
        return float(Fraction(top) / Fraction(bottom))
    return float(text)


def expected_amount(text: str) -> tuple[float, float, str]:
    """'20-60 mg' → (20, 60, 'mg'); '15/7 mg' → (2.14…, 2.14…, 'mg'); '0.64 mg'; '45 mg/kg'; '4 drop'."""
    value, unit = str(text).split(" ", 1)
    lo, _, hi = value.partition("-") if not value.startswith("-") else (value, "", "")
    low, high = _number(lo), _number(hi or lo)
    base, _, per = unit.partition("/")
    if base in _TO_MG:
        low, high, base = low * _TO_MG[base], high * _TO_MG[base], "mg"
    return low, high, base + (f"/{per}" if per else "")


def expected_cap(text) -> tuple[float, str | None] | None:
    if text is None:
        return None
    parts = str(text).split()
    value = float(parts[0])
    if len(parts) == 1:
        return value, None
    unit = parts[1]
    if unit in _TO_MG:
        return value * _TO_MG[unit], "mg"
    return value, unit


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)


@dataclass
class Outcome:
    daily_ok: bool
    problems: list[str]
    reading: DoseReading
    actual: dict


def check(entry: dict, cached: bool = True) -> Outcome:
    """Read one corpus entry and compare it with its annotation."""
    reading = read_sig(entry["sig"]) if cached else read(entry["sig"])
    res = resolver().drug(entry["product"])
    dose = daily_dose(reading, res.ingredients, res.strengths, res.form)
    actual: dict[str, tuple[float, float, str]] = {
        ing: (lo.value, hi.value, lo.unit) for ing, (lo, hi) in dose.amounts.items()}
    if not actual and dose.product_units:
        lo, hi, unit = dose.product_units
        actual["product"] = (lo, hi, unit.replace(" of product", ""))
    status = dose.status if reading.status == READ else reading.status
    problems = []
    want_status = entry.get("status", "read")
    if status != want_status and not (want_status == "read" and status == "read"):
        problems.append(f"status {status} ({dose.note}), expected {want_status}")
    want = {ing: expected_amount(text) for ing, text in (entry.get("daily") or {}).items()}
    if want_status in ("read", "weight-based"):
        if set(want) != set(actual):
            problems.append(f"daily {actual}, expected {want}")
        else:
            for ing, (lo, hi, unit) in want.items():
                got = actual[ing]
                if unit != got[2] or not (_close(lo, got[0]) and _close(hi, got[1])):
                    problems.append(f"{ing} {got}, expected {(lo, hi, unit)}")
    elif actual:
        problems.append(f"daily {actual}, expected none ({want_status})")
    daily_ok = not problems
    if bool(entry.get("prn", False)) != reading.prn:
        problems.append(f"prn {reading.prn}, expected {entry.get('prn', False)}")
    cap = (reading.cap.value, reading.cap.unit) if reading.cap else None
    want_cap = expected_cap(entry.get("cap"))
    if (cap is None) != (want_cap is None) or (cap and want_cap and (
            not _close(cap[0], want_cap[0]) or cap[1] != want_cap[1])):
        problems.append(f"cap {cap}, expected {want_cap}")
    if list(reading.anchors) != [str(a) for a in entry.get("anchors", [])]:
        problems.append(f"anchors {list(reading.anchors)}, expected {entry.get('anchors', [])}")
    if list(reading.days_of_week) != list(entry.get("days", [])):
        problems.append(f"days {list(reading.days_of_week)}, expected {entry.get('days', [])}")
    return Outcome(daily_ok, problems, reading, actual)


def params(entries: list[dict]) -> list:
    """One pytest param per corpus entry, named by category and text; a ``known`` gap is a strict xfail."""
    import pytest
    return [pytest.param(e, id=f"{e['c']}:{e['sig'][:50]}|{e['product'][:30]}",
                         marks=[pytest.mark.xfail(reason=e["known"], strict=True)] if e.get("known") else [])
            for e in entries]
