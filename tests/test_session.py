"""The MTM session end to end on the bundled example patient: intake, review, decisions, plan, letter, follow-up."""

import json
from datetime import date

import pytest

from mtmrules.adapters.inputs import read_any
from mtmrules.session.decisions import Session, read_session
from mtmrules.session.followup import compare
from mtmrules.session.intake import intake_questions
from mtmrules.session.letter import care_plan_bundle, letters, render
from mtmrules.session.plan import Contact, PlanBuilder, render_markdown
from mtmrules.session.runner import prepare
from mtmrules.errors import InputError

from conftest import AS_OF, ROOT

EXAMPLE = ROOT / "examples" / "mrs-jones.yaml"


@pytest.fixture(scope="module")
def profile():
    return next(read_any(EXAMPLE))


@pytest.fixture(scope="module")
def prepared(engine, profile):
    return prepare(engine, profile, AS_OF)


def test_intake_asks_for_what_is_missing(engine):
    bare = {"id": "new", "age": 81, "sex": "male",
            "medications": ["metformin 500 mg tablet", "Foo 10 mg", {"name": "warfarin 5 mg", "dose": "5 mg"}]}
    prep = prepare(engine, engine.profile(bare), AS_OF)
    topics = [q.topic for q in intake_questions(engine.kb, prep.profile, prep.facts, prep.report)]
    assert "allergies" in topics and "kidney function" in topics and "otc" in topics
    assert topics.count("medication list") == 1 and "dosing" in topics


def test_intake_quiet_for_a_complete_profile(engine, prepared):
    questions = intake_questions(engine.kb, prepared.profile, prepared.facts, prepared.report)
    assert not [q for q in questions if q.topic in ("allergies", "kidney function", "otc", "medication list")]


def test_review_row_per_active_medication(engine, prepared):
    rows = prepared.review(engine)
    assert [r.medication for r in rows] == [m.label for m in prepared.profile.medications if m.status == "active"]
    warfarin = rows[0]
    assert warfarin.ingredients == ["warfarin"]
    assert "INR goal 2–3: 3.4 on 2026-07-15 — not at goal" in warfarin.effectiveness
    assert any("Warfarin with ibuprofen" in s for s in warfarin.safety)
    assert warfarin.adherence == "no fill history: ask the patient"
    amlodipine = next(r for r in rows if r.medication.startswith("amlodipine"))
    assert "not at goal" in amlodipine.effectiveness and "148" in amlodipine.effectiveness


def test_adherence_in_review_uses_fills(engine):
    data = {"id": "a", "medications": [{"name": "atorvastatin 40 mg", "dose": "40 mg", "frequency": "daily",
                                        "fills": [{"date": "2026-05-01", "days_supply": 30}, {"date": "2026-08-01", "days_supply": 30}]}]}
    prep = prepare(engine, engine.profile(data), AS_OF)
    row = prep.review(engine)[0]
    assert row.adherence.startswith("PDC 28.4%") and "below the 80% threshold" in row.adherence
    assert any(p.kind == "nonadherence" for p in prep.report.problems)


def test_decisions_shape_every_artefact(engine, profile, tmp_path):
    base = prepare(engine, profile, AS_OF)
    first, second = base.report.problems[0], base.report.problems[1]
    session_file = tmp_path / "session.yaml"
    session_file.write_text(f"""
pharmacist: "J. Smith, PharmD"
date: 2026-11-27
decisions:
  {first.id}: {{status: accepted}}
  {second.id}: {{status: rejected, reason: "patient stopped it last week"}}
added_problems:
  - title: "Difficulty opening bottles"
    kind: nonadherence
    severity: minor
    explanation: "Arthritis in both hands."
    patient_text: "Ask the pharmacy for easy-open caps."
    interventions: [{{action: educate, to: patient, text: "Request non-child-proof caps."}}]
""")
    session = read_session(session_file)
    prep = prepare(engine, profile, AS_OF, session)
    ids = [p.id for p in prep.report.problems]
    assert second.id not in ids and first.id in ids
    assert prep.report.problems[ids.index(first.id)].decision == "accepted"
    assert prep.report.problems[-1].rule == "pharmacist/added-1"
    plan = PlanBuilder(engine).build(prep.profile, prep.facts, prep.report, Contact(pharmacist=session.pharmacist))
    assert [pid for a in plan.actions for pid in a.problem_ids] == [first.id, prep.report.problems[-1].id]
    assert any("easy-open caps" in step for a in plan.actions for step in a.to_do)
    letter = render(prep.profile, prep.facts, prep.report)
    assert first.title in letter and second.title not in letter
    assert "Difficulty opening bottles" not in letter          # a patient-only action needs no prescriber


def test_plan_content(engine, prepared):
    plan = PlanBuilder(engine).build(prepared.profile, prepared.facts, prepared.report)
    shown = [pid for a in plan.actions for pid in a.problem_ids]
    assert sorted(shown) == sorted(p.id for p in prepared.report.problems)       # each problem exactly once
    assert plan.medications[0].medicine == "Warfarin 5 mg tablet"
    assert plan.schedule.column("morning")[0] == "Warfarin 5 mg tablet"
    assert "Simvastatin 40 mg tablet (Zocor)" in plan.schedule.column("bedtime")
    assert {o.kind for o in plan.schedule.other} == {"as-needed", "short-course"}  # ibuprofen, Norco; cephalexin
    md = render_markdown(plan)
    assert md.startswith("# Medication Action Plan for Mary Jones, DOB: 1948-03-02")
    assert "| Medicine | Before breakfast | Morning | Midday | Evening | Bedtime |" in md
    data = json.loads(json.dumps(plan.to_dict()))
    assert {"name", "birth_date", "allergies", "actions", "follow_up", "questions", "medications", "schedule"} <= set(data)


def test_letter_groups_by_prescriber_and_fhir(prepared):
    found = {l.prescriber: l for l in letters(prepared.profile, prepared.facts, prepared.report)}
    assert "Dr. A. Lee (cardiology)" in found and "Dr. M. Patel (primary care)" in found
    assert any("Warfarin with ibuprofen" == r.problem.title for r in found["Dr. A. Lee (cardiology)"].recommendations)
    text = render(prepared.profile, prepared.facts, prepared.report, "md")
    assert text.startswith("# To: Dr. A. Lee (cardiology)") and "**R** — Recommendation" in text
    bundle = care_plan_bundle(prepared.profile, prepared.facts, prepared.report)
    plan = bundle["entry"][0]["resource"]
    assert plan["resourceType"] == "CarePlan" and plan["intent"] == "plan"
    assert len(plan["supportingInfo"]) == len(bundle["entry"]) - 1
    assert {a["detail"]["performer"][0]["display"] for a in plan["activity"]} == set(found)


def test_follow_up_compares_reports(engine, profile):
    old = prepare(engine, profile, AS_OF).report.to_dict()
    fixed = profile.model_copy(deep=True)
    fixed.medications = [m for m in fixed.medications if not m.name.startswith("ibuprofen")]
    fixed.labs.append(type(fixed.labs[0])(name="INR", value=2.5, date=date(2026, 12, 20)))
    new = prepare(engine, fixed, date(2026, 12, 27)).report.to_dict()
    result = compare(old, new)
    resolved = {p["rule"] for p in result.resolved}
    assert "interactions/ddi-warfarin-nsaid" in resolved and "core-care/warfarin-inr-overdue" in resolved
    assert result.persisting and result.follow_up is not None
    assert date.fromisoformat(result.follow_up) <= date(2026, 12, 27 + 3) or result.follow_up_reason


def test_bad_session_and_fill_inputs(engine, tmp_path):
    bad = tmp_path / "s.yaml"
    bad.write_text("decisions:\n  abc: {status: maybe}\n")
    with pytest.raises(InputError) as info:
        read_session(bad)
    assert "s.yaml:2" in str(info.value) and "status" in str(info.value)
    with pytest.raises(InputError):
        engine.profile({"id": "x", "medications": [{"name": "metformin", "fills": [{"date": "2026-01-01", "days_supply": -30}]}]})
    # a fill dated after the as-of date is not counted
    data = {"id": "f", "medications": [{"name": "atorvastatin 40 mg", "fills": [{"date": "2026-10-01", "days_supply": 30},
                                                                              {"date": "2027-01-01", "days_supply": 30}]}]}
    prep = prepare(engine, engine.profile(data), AS_OF)
    assert "fewer than two fills" in prep.review(engine)[0].adherence
    assert Session().decisions == {}
