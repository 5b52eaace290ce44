"""The Python entry point to the MTM session: one patient prepared once (facts, report with the
pharmacist's decisions applied), then every artefact from it.

    from mtmrules import Engine
    from mtmrules.session import prepare

    session = prepare(Engine.default(), "examples/mrs-jones.yaml", "2026-11-27")
    session.intake()          # questions to ask before the review
    session.review()          # per-medication review rows
    plan = session.plan()     # Medication Action Plan, medication list, schedule (render_html / render_pdf)
    session.letters()         # one SBAR letter per prescriber
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from mtmrules.engine.engine import Engine, ProfileInput, as_of_date
from mtmrules.knowledge.facts import PatientFacts
from mtmrules.profile.models import Profile
from mtmrules.report.models import Report
from mtmrules.session.decisions import Session, apply_decisions
from mtmrules.session.review import MedicationReview, Reviewer


@dataclass
class Prepared:
    """One patient ready for the session: profile, facts and the report with decisions applied."""

    profile: Profile
    facts: PatientFacts
    report: Report
    session: Session | None
    engine: Engine | None = None

    def review(self, engine: Engine | None = None) -> list[MedicationReview]:
        """The per-medication review: indication, effectiveness, safety, adherence."""
        return Reviewer(engine or self.engine).review(self.profile, self.report, self.facts)

    def intake(self) -> list:
        """Before the session: what is missing or stale, as questions (:class:`~mtmrules.session.intake.Question`)."""
        from mtmrules.session.intake import intake_questions
        return intake_questions(self.engine.kb, self.profile, self.facts, self.report)

    def plan(self, contact=None, only: set[str] | None = None, pcp: str | None = None):
        """The take-home documents (:class:`~mtmrules.session.plan.Plan`): cover letter, action plan,
        medication list and schedule. ``only`` keeps problems whose id or rule starts with one of the
        strings; ``contact``: a :class:`~mtmrules.session.plan.Contact`."""
        from mtmrules.session.plan import PlanBuilder
        return PlanBuilder(self.engine).build(self.profile, self.facts, self.report, contact, only, pcp)

    def letters(self, pcp: str | None = None) -> list:
        """One :class:`~mtmrules.session.letter.Letter` per real prescriber, with what they can act on."""
        from mtmrules.session.letter import letters
        return letters(self.profile, self.facts, self.report, pcp)


def prepare(engine: Engine, profile: ProfileInput, as_of: date | str, session: Session | None = None) -> Prepared:
    """Prepare one patient (any input :meth:`Engine.check` takes) as of a date, with the pharmacist's
    decisions from ``session`` (see :func:`mtmrules.session.decisions.read_session`) applied."""
    patient = engine.profile(profile)
    facts = engine.facts.build(patient, as_of_date(as_of))
    report = engine.reporter.build(facts, engine.match(facts), engine.executor)
    return Prepared(patient, facts, apply_decisions(report, session), session, engine)
