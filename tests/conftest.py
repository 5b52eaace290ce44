"""Shared fixtures: one engine over the bundled knowledge and built-in packs per test session."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from mtmrules import Engine
from mtmrules.knowledge.base import KnowledgeBase

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
AS_OF = date(2026, 11, 27)


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return KnowledgeBase()


@pytest.fixture(scope="session")
def engine(kb) -> Engine:
    return Engine(knowledge=kb)


@pytest.fixture(scope="session")
def factory(engine, kb):
    """Seeded synthetic profiles drawn from the knowledge base and the loaded rules."""
    from mtmrules.synthetic import ProfileFactory
    return ProfileFactory(kb, engine.rules)


def problems_by_rule(report) -> dict:
    """rule id (and merged rule ids) → problem."""
    out = {}
    for problem in report.problems:
        for rule in (problem.rule, *problem.also_found_by):
            out[rule] = problem
    return out
