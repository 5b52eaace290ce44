"""One place that turns a profile (and optional session decisions) into facts + report for every artefact."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from mtmrules.engine.engine import Engine
from mtmrules.knowledge.facts import PatientFacts
from mtmrules.profile.models import Profile
from mtmrules.report.models import Report
from mtmrules.session.decisions import Session, apply_decisions
from mtmrules.session.review import MedicationReview, Reviewer


@dataclass
class Prepared:
    profile: Profile
    facts: PatientFacts
    report: Report
    session: Session | None

    def review(self, engine: Engine) -> list[MedicationReview]:
        return Reviewer(engine).review(self.profile, self.report, self.facts)


def prepare(engine: Engine, profile: Profile, as_of: date, session: Session | None = None) -> Prepared:
    facts = engine.facts.build(profile, as_of)
    report = engine.reporter.build(facts, engine.match(facts), engine.executor)
    return Prepared(profile, facts, apply_decisions(report, session), session)
