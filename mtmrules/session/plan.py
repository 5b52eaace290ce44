"""The written summary the patient takes home after a Comprehensive Medication Review, in the CMS
Standardized Format (form CMS-10396): a cover letter, the Medication Action Plan ("What we talked
about / What I need to do / What I did and when I did it", "My follow-up plan", "Questions I want to
ask") and the Personal Medication List ("How I use it / Why I use it / Prescriber / Date I started /
Date I stopped"), plus a daily schedule with the number of tablets at each time.

Everything the patient reads is built here in plain words (see :mod:`mtmrules.session.lay`); the
templates only lay it out.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta

from mtmrules.engine.engine import Engine
from mtmrules.knowledge.dose import parse_regimen
from mtmrules.knowledge.facts import PatientFacts
from mtmrules.report.models import Problem, Report
from mtmrules.session.decisions import accepted
from mtmrules.session.followup import FOLLOW_UP_DAYS
from mtmrules.session.lay import LATIN, amount_per_time, medicine_name, sentences, sig_reason, sig_sentence
from mtmrules.session.prescribers import Prescribers, real_prescriber
from mtmrules.session.schedule import (OtherTime, Schedule, ScheduleRow, course_days, course_end, is_taper,
                                       schedule_slots, sig_anchors, weekday)

#: first words of an intervention text that is an instruction to the pharmacist, not to the patient
_PHARMACIST_VERBS = re.compile(r"^(teach|explain|review|counsel|educate|discuss|assess|confirm|clarify|document|"
                               r"add up|offer|recommend|consider|check adherence)\b", re.IGNORECASE)
#: first words of a sentence that tells the patient to do something
_IMPERATIVE = re.compile(r"^(please|do not|don't|never|always|ask|take|check|keep|tell|call|get|bring|use|stop|"
                         r"avoid|report|watch|weigh|write|read|look|carry|limit|drink|eat|go|make|see|talk|"
                         r"occasional use)\b", re.IGNORECASE)
_ASK_PRESCRIBER = re.compile(r"\b(ask|talk (?:to|with)) your (prescriber|doctor)\b", re.IGNORECASE)
_IT = re.compile(r"\bit\b")
_YOUR_PRESCRIBER = re.compile(r"\byour (prescriber|doctor)\b", re.IGNORECASE)
#: how a once-daily time from the label is said in the medication list (slot → words)
SLOT_WORDS = {"alone": "first thing in the morning, alone", "waking": "before breakfast", "morning": "in the morning",
              "midday": "at midday", "evening": "in the evening", "bedtime": "at bedtime"}
#: the same, as whole sentences for the medication list
CONSTRAINT_SENTENCES = {"with-food": "Take it with food.", "empty-stomach": "Take it on an empty stomach.",
                        "empty-stomach-alone": "Take it alone, with a full glass of water, before food and other medicines.",
                        "separate-from-minerals": "Do not take it at the same time as stomach pills for heartburn, or "
                                                  "pills with iron or calcium. The same goes for vitamins with minerals."}
CONSTRAINT_NOTES = {"with-food": "with food", "empty-stomach": "on an empty stomach",
                    "empty-stomach-alone": "alone, with a full glass of water, before food and other medicines",
                    "separate-from-minerals": "apart from antacids, iron, calcium and minerals"}


@dataclass
class Contact:
    """Who the patient calls about the papers (site or command-line settings)."""

    pharmacist: str | None = None
    pharmacy: str | None = None
    phone: str | None = None
    hours: str | None = None
    plan_name: str | None = None


@dataclass
class ActionItem:
    """One box of the Medication Action Plan: the agreed problems that ask the same thing of the patient."""

    heading: str
    talked_about: list[str]
    to_do: list[str]
    problem_ids: list[str]


@dataclass
class ListEntry:
    """One medicine on the Personal Medication List."""

    medicine: str
    how: str
    why: str
    prescriber: str
    started: str | None
    other: list[str] = field(default_factory=list)


@dataclass
class Plan:
    patient_id: str
    name: str | None
    birth_date: str | None
    prepared: str
    contact: Contact
    allergy_status: str                      # recorded | none-known | unknown
    allergies: list[tuple[str, str]]         # (medicine I took, what happened to me)
    actions: list[ActionItem]
    follow_up: list[str]
    questions: list[str]
    medications: list[ListEntry]
    schedule: Schedule

    def to_dict(self) -> dict:
        data = asdict(self)
        data["schedule"] = self.schedule.to_dict()
        return data

    def patient_sentences(self) -> list[str]:
        """Every sentence the plan generates for the patient (for the readability check)."""
        texts = [t for a in self.actions for t in a.talked_about + a.to_do]
        texts += self.follow_up + self.questions + [m.how for m in self.medications]
        texts += [f"I use it {m.why[0].lower()}{m.why[1:]}" if m.why.startswith(("For ", "To ", "After "))
                  else m.why for m in self.medications]          # read with its label: "Why I use it: …"
        texts += [o for m in self.medications for o in m.other] + [o.how for o in self.schedule.other]
        return [s for text in texts for s in sentences(text)]


class PlanBuilder:
    """Builds the take-home documents from one engine's knowledge."""

    def __init__(self, engine: Engine) -> None:
        kb = engine.kb
        self.kb = kb
        self.timing = {row["ingredient"]: row for _, row in kb.table("administration_timing")}
        self.indications: dict[str, list[str]] = {}
        for _, row in kb.table("indications"):
            self.indications.setdefault(row["ingredient"], []).append(row["condition"])
        self.plain: dict[tuple[str, str], str] = {(row["condition"], row["drug_class"]): row["why"]
                                                  for _, row in kb.table("plain_language")}

    # --- why I use it ------------------------------------------------------------------------------
    def why(self, ingredients: list[str], facts: PatientFacts, sig_text: str) -> str | None:
        """The reason in plain words, from the indications that match the patient's conditions (never
        from a condition the drug is not indicated for); else the reason the sig states; else the drug
        class's action. None when nothing is known."""
        reasons: list[str] = []
        for ingredient in ingredients:
            classes = self.kb.ingredient_classes.get(ingredient, frozenset())
            for group in self.indications.get(ingredient, []):
                covered = self.kb.condition_descendants.get(group, frozenset({group}))
                if not any(c.groups & covered for c in facts.conditions):
                    continue
                text = next((self.plain[(group, cls)] for cls in sorted(classes) if (group, cls) in self.plain),
                            self.plain.get((group, "")))
                if text and text not in reasons:
                    reasons.append(text)
        if reasons:
            return reasons[0] if len(reasons) == 1 else ", ".join(reasons[:-1]) + " and " + reasons[-1]
        stated = sig_reason(sig_text)
        if stated:
            return f"for {stated}"
        for ingredient in ingredients:
            for cls in sorted(self.kb.ingredient_classes.get(ingredient, frozenset())):
                if ("", cls) in self.plain:
                    return self.plain[("", cls)]
        return None

    # --- the documents -----------------------------------------------------------------------------
    def build(self, profile, facts: PatientFacts, report: Report, contact: Contact | None = None,
              only: set[str] | None = None, pcp: str | None = None) -> Plan:
        """The plan for one prepared patient; ``only`` keeps the problems whose id or rule starts with
        one of the given strings (the ``--problems`` selection)."""
        prescribers = Prescribers(profile, facts, pcp)
        problems = [p for p in accepted(report)
                    if not only or any(p.id == k or p.rule == k or p.rule.startswith(k.rstrip("*")) for k in only)]
        medications, schedule, questions = self._medications(profile, facts)
        purposes: dict[str, str] = {}
        for entry in facts.entries:
            med = profile.medications[entry.index]
            why = self.why(entry.resolution.ingredients, facts, " ".join(t for t in (med.frequency, med.sig) if t))
            for ingredient in entry.resolution.ingredients:
                if why and ingredient not in purposes:
                    purposes[ingredient] = why
        actions = _actions(problems, prescribers, facts, self.kb, purposes)
        follow_up = []
        if problems:
            days = min(FOLLOW_UP_DAYS[p.severity] for p in problems)
            when = facts.as_of + timedelta(days=days)
            follow_up.append(f"Your pharmacist will call you by {_long_date(when)}.")
        if any(a.heading.startswith("Ask ") for a in actions):   # the letters go out with the plan
            follow_up.append("Your pharmacist sent your doctors a note about this plan.")
        allergies = [(a.label, a.reaction or "not recorded") for a in profile.allergies]
        status = "recorded" if allergies else "none-known" if profile.no_known_allergies else "unknown"
        if status == "unknown":
            questions.insert(0, "Do I have any allergies to medicines that should be on my list?")
        return Plan(profile.id, profile.name, profile.birth_date.isoformat() if profile.birth_date else None,
                    facts.as_of.isoformat(), contact or Contact(), status, allergies, actions, follow_up,
                    questions, medications, schedule)

    def _medications(self, profile, facts: PatientFacts) -> tuple[list[ListEntry], Schedule, list[str]]:
        entries, schedule, questions = [], Schedule(), []
        for entry in facts.entries:
            if not entry.active:
                continue
            med = profile.medications[entry.index]
            res = entry.resolution
            name = medicine_name(res, entry.label)
            text = " ".join(t for t in (med.frequency, med.sig) if t)
            regimen = parse_regimen(med.dose, med.frequency, med.sig)
            prn = med.prn or regimen.prn
            extra = None          # the as-needed part of "2 puffs twice daily and 1 puff as needed"
            mixed = _split_mixed(med.sig)
            if mixed and res.status != "unresolved":
                text = " ".join(t for t in (med.frequency, mixed[0]) if t)
                regimen, prn = parse_regimen(med.dose, med.frequency, mixed[0]), False
                extra = sig_sentence(parse_regimen(None, None, mixed[1]), res, entry.label, mixed[1], True)
            sentence = sig_sentence(regimen, res, entry.label, text, prn) if res.status != "unresolved" else None
            if mixed and (sentence is None or extra is None):
                sentence = extra = None
            if sentence is None:
                questions.append(f"How should I take {name}?")
            timing = next((self.timing[i] for i in res.ingredients if i in self.timing), None)
            anchors = sig_anchors(text)
            per_day = regimen.frequency.per_day if regimen.frequency else None
            if sentence and not prn and per_day == 1 and not set(anchors) & set(SLOT_WORDS):
                slot = schedule_slots(per_day, anchors, timing)
                if slot and slot[0] in SLOT_WORDS and slot[0] != "morning":
                    sentence = f"{sentence[:-1]}, {SLOT_WORDS[slot[0]]}."    # the label's time, as the schedule shows it
            why = self.why(res.ingredients, facts, text)
            if why is None:
                questions.append(f"What is {name} for, and do I still need it?")
            constraint = (timing or {}).get("constraint", "none")
            other = []
            if constraint in CONSTRAINT_SENTENCES and not (constraint == "with-food" and "with-food" in anchors) \
                    and not (constraint == "empty-stomach-alone" and sentence and "alone" in sentence):
                other.append(CONSTRAINT_SENTENCES[constraint])
            entries.append(ListEntry(name, f"{sentence} {extra}" if sentence and extra else
                                     sentence or "Ask your pharmacist how to take it.",
                                     (why[0].upper() + why[1:] + ".") if why else "Ask your doctor or pharmacist.",
                                     _prescriber_words(med.prescriber),
                                     _long_date(med.start_date) if med.start_date else None, other))
            self._place(schedule, name, med, regimen, res, text, prn, sentence, timing, anchors, facts)
            if extra:
                schedule.other.append(OtherTime(name, "as-needed", extra))
        return entries, schedule, questions

    @staticmethod
    def _place(schedule: Schedule, name: str, med, regimen, res, text: str, prn: bool, sentence: str | None,
               timing: dict | None, anchors: tuple[str, ...], facts: PatientFacts) -> None:
        per_day = regimen.frequency.per_day if regimen.frequency else None
        how = sentence or "Ask your pharmacist how to take it."
        days = course_days(text)
        if prn:
            schedule.other.append(OtherTime(name, "as-needed", how))
        elif days or is_taper(text):
            end = course_end(med.start_date, days) if days else None
            until = f" The last day is {_long_date(end)}." if end else " Ask your pharmacist which day is the last."
            schedule.other.append(OtherTime(name, "short-course", how + until, end.isoformat() if end else None))
        elif per_day is not None and per_day < 1:
            if abs(per_day - 1 / 7) < 1e-6:
                day = weekday(text, med.start_date)
                tail = f" Take it on {day}s." if day else " Pick one day of the week and mark it on your calendar."
                schedule.other.append(OtherTime(name, "weekly", how + tail))
            elif abs(per_day - 1 / 30) < 1e-6:
                tail = (f" Take it on day {med.start_date.day} of each month." if med.start_date
                        else " Pick one day of the month and mark it on your calendar.")
                schedule.other.append(OtherTime(name, "monthly", how + tail))
            else:
                schedule.other.append(OtherTime(name, "other", how))
        else:
            slots = schedule_slots(per_day, anchors, timing) if sentence else ()
            amount = amount_per_time(regimen.amount, res, name)
            if not slots or amount is None:
                schedule.other.append(OtherTime(name, "other", how))
                return
            constraint = (timing or {}).get("constraint", "none")
            notes = [CONSTRAINT_NOTES[constraint]] if constraint in CONSTRAINT_NOTES else []
            if "with-food" in anchors and "with food" not in notes:
                notes.append("with food")
            schedule.rows.append(ScheduleRow(name, {slot: amount for slot in slots}, notes))


_MIXED = re.compile(r"^(.*?)\s*(?:\band\b|\bplus\b|;|,)\s*(.*\b(?:prn|as needed|when needed|if needed)\b.*)$",
                    re.IGNORECASE)


def _split_mixed(sig: str | None) -> tuple[str, str] | None:
    """A sig with a fixed part and an as-needed part → (fixed, as needed); None for any other sig."""
    from mtmrules.knowledge.dose import parse_frequency
    found = _MIXED.match(sig or "")
    if not found:
        return None
    fixed = parse_frequency(found.group(1))
    if fixed is None or fixed.prn or fixed.per_day is None:
        return None
    return found.group(1).strip(), found.group(2).strip()


def _prescriber_words(text: str | None) -> str:
    if real_prescriber(text):
        return text
    return "None: I buy it myself" if text else "Not written down"


def _short_name(prescriber: str) -> str:
    """"Dr. M. Patel (primary care)" → "Dr. Patel": how the patient says it."""
    found = re.match(r"^(Dr\.?|Doctor)\s+(?:[A-Z]\.\s*)*([A-Z][\w'-]+)", prescriber)
    return f"Dr. {found.group(2)}" if found else re.sub(r"\s*\(.*\)$", "", prescriber)


def _long_date(day: date) -> str:
    return f"{day.strftime('%B')} {day.day}, {day.year}"


# --- the action plan ----------------------------------------------------------------------------------

def _split_patient_text(text: str) -> tuple[list[str], list[str]]:
    """A rule's patient text → (what we talked about, what I need to do): explanations and instructions."""
    talk, do = [], []
    for sentence in sentences(text):
        sentence = sentence[0].upper() + sentence[1:]
        (do if _IMPERATIVE.match(sentence) else talk).append(sentence)
    return talk, do


def _patient_steps(problem: Problem) -> list[str]:
    """Intervention texts addressed to the patient (not instructions to the pharmacist)."""
    steps = []
    for iv in problem.interventions:
        if iv.to != "patient" or _PHARMACIST_VERBS.match(iv.text) or "the patient" in iv.text.lower():
            continue
        if LATIN.search(iv.text):
            continue
        steps.append(iv.text if iv.text.endswith(".") else iv.text + ".")
    return steps


def _targets(problem: Problem) -> list[str]:
    for iv in problem.interventions:
        if iv.target and iv.to in ("prescriber", "patient"):
            named = [t.strip() for t in iv.target.split(",") if t.strip() in problem.medications]
            if named:
                return named
    return list(problem.medications)


def _lab_problem(problem: Problem) -> bool:
    return problem.kind == "monitoring-gap" and any(iv.lab for iv in problem.interventions)


#: plain names for the tests a monitoring problem asks for (lab id → words); others use the lab's label
LAB_WORDS = {"inr": "INR blood test (it checks your warfarin dose)", "uacr": "urine test for protein (it checks your kidneys)",
             "creatinine": "kidney blood test", "egfr": "kidney blood test", "potassium": "potassium blood test",
             "hba1c": "A1C blood sugar test", "tsh": "thyroid blood test", "ldl": "cholesterol blood test",
             "sodium": "sodium blood test", "digoxin-level": "digoxin blood level test", "lithium-level": "lithium blood level test"}


def _actions(problems: list[Problem], prescribers: Prescribers, facts: PatientFacts, kb=None,
             purposes: dict[str, str] | None = None) -> list[ActionItem]:
    """Group the agreed problems by what the patient does: get a test; change how they use the medicines
    for one purpose (all the pain medicines together); ask a named prescriber. Each problem is one line
    of "What we talked about" in exactly one box."""
    boxes: dict[tuple, ActionItem] = {}
    purposes = purposes or {}
    members: dict[tuple, set[str]] = {}

    def drug_key(ingredient: str) -> tuple:
        return ("drug", purposes.get(ingredient, ingredient))

    def drug_heading(key: tuple) -> str:
        drugs = sorted(members[key])
        if key[1] in drugs:
            return f"My {key[1]}"
        return f"My {'medicines' if len(drugs) > 1 else 'medicine'} {key[1]}: {', '.join(drugs)}"

    def named(steps: list[str], drug: str) -> list[str]:
        """"Ask whether to stop it" → "… stop ibuprofen": the heading names a purpose, not the drug."""
        return [s if drug in s.lower() else _IT.sub(drug, s, count=1) for s in steps]

    def add(key: tuple, heading: str, problem: Problem, talk: str, do: list[str]) -> None:
        item = boxes.setdefault(key, ActionItem(heading, [], [], []))
        item.problem_ids.append(problem.id)
        if talk and talk not in item.talked_about:
            item.talked_about.append(talk)
        item.to_do += [d for d in do if d not in item.to_do]

    asks, doctors = [], []
    for problem in problems:
        talk, do = _split_patient_text(problem.patient_text)
        names = prescribers.for_ingredients(_targets(problem))
        who = names[0] if names else None
        short = _short_name(who) if who else None
        do = [_YOUR_PRESCRIBER.sub(short, d) if short else d for d in do]
        steps = _patient_steps(problem)
        own = [d for d in do + steps if not _ASK_PRESCRIBER.search(d) and not (short and short in d)]
        if _lab_problem(problem):
            lab = next(iv.lab for iv in problem.interventions if iv.lab)
            words = LAB_WORDS.get(lab) or (kb.labs[lab].label if kb is not None and lab in kb.labs else lab)
            when = "this week" if problem.severity in ("contraindicated", "major") else "soon"
            order = f" {_short_name(who)} can order it." if who else ""
            add(("tests",), "Tests I need", problem, " ".join(talk), [f"Get your {words} {when}.{order}"])
        elif own and _targets(problem):
            drug = _targets(problem)[0]
            members.setdefault(drug_key(drug), set()).add(drug)
            add(drug_key(drug), "", problem, " ".join(talk), named(do + steps, drug))
        elif own:
            add(("self",), "Things I will do", problem, " ".join(talk), do + steps)
        else:
            asks.append((problem, talk, do, who))
    for problem, talk, do, who in asks:
        drug = next((d for d in _targets(problem) if drug_key(d) in boxes), None)
        if drug is not None:
            members[drug_key(drug)].add(drug)
            add(drug_key(drug), "", problem, " ".join(talk), named(do, drug))
            continue
        short = _short_name(who) if who else "your doctor"
        do = [d.replace(f" {short}", "", 1) if d.startswith("Ask ") else d for d in do]   # the line is headed with the name
        add(("ask",), "Ask my doctors", problem, f"{short}: " + " ".join(talk + do), [])
        doctors.append(short)
    for key in members:
        boxes[key].heading = drug_heading(key)
    if ("ask",) in boxes:
        names = list(dict.fromkeys(doctors))
        ask = boxes[("ask",)]
        ask.heading = f"Ask {names[0]}" if len(names) == 1 else "Ask my doctors"
        ask.talked_about = [t.split(": ", 1)[1] for t in ask.talked_about] if len(names) == 1 else ask.talked_about
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        ask.to_do = [f"Show this page to {listed} at your next visit, or call the office. Ask about each point."]
    order = {p.id: i for i, p in enumerate(problems)}
    return sorted(boxes.values(), key=lambda b: min(order[i] for i in b.problem_ids))


# --- rendering ----------------------------------------------------------------------------------------

def render_html(plan: Plan) -> str:
    """The print-ready HTML: cover letter, action plan, medication list and schedule, each from a new page."""
    from jinja2 import Environment, PackageLoader, select_autoescape
    from mtmrules.session.schedule import SLOT_LABELS
    env = Environment(loader=PackageLoader("mtmrules.session", "templates"), autoescape=select_autoescape(["html"]))
    born = _long_date(date.fromisoformat(plan.birth_date)) if plan.birth_date else None
    return env.get_template("plan.html.j2").render(plan=plan, slot_labels=SLOT_LABELS, birth_date=born,
                                                   prepared=_long_date(date.fromisoformat(plan.prepared)))


def render_markdown(plan: Plan) -> str:
    """The same documents as markdown (no cover letter), for pasting into a record."""
    from mtmrules.session.schedule import SLOT_LABELS
    who = plan.name or "the patient"
    dob = plan.birth_date or "not recorded"
    out = [f"# Medication Action Plan for {who}, DOB: {dob}", "", f"Date prepared: {plan.prepared}", ""]
    for action in plan.actions:
        out += [f"## {action.heading}", "", "**What we talked about:**", ""]
        out += [f"- {line}" for line in action.talked_about]
        out += ["", "**What I need to do:**", ""] + [f"- {step}" for step in action.to_do]
        out += ["", "**What I did and when I did it:** ______________________", ""]
    out += ["## My follow-up plan", ""] + [f"- {line}" for line in plan.follow_up] + ["", "______________________", ""]
    out += ["## Questions I want to ask", ""] + [f"- {line}" for line in plan.questions] + ["", "______________________", ""]
    out += [f"# Personal Medication List for {who}, DOB: {dob}", "", "## Allergies or side effects", ""]
    if plan.allergy_status == "recorded":
        out += ["| Medicine I took | What happened to me |", "|---|---|"]
        out += [f"| {m} | {w} |" for m, w in plan.allergies] + [""]
    else:
        out += ["No known allergies." if plan.allergy_status == "none-known" else "Not known yet: ask the patient.", ""]
    for med in plan.medications:
        out += [f"## {med.medicine}", "", f"- How I use it: {med.how}", f"- Why I use it: {med.why}",
                f"- Prescriber: {med.prescriber}", f"- Date I started: {med.started or '________'}",
                "- Date I stopped: ________"] + [f"- {line}" for line in med.other] + [""]
    used = plan.schedule.used_slots()
    out += ["# My Daily Medicine Schedule", "", "| Medicine | " + " | ".join(SLOT_LABELS[s] for s in used) + " |",
            "|---|" + "---|" * len(used)]
    for row in plan.schedule.rows:
        out.append(f"| {row.medicine} | " + " | ".join(row.amounts.get(s, "") for s in used) + " |")
    for other in plan.schedule.other:
        out.append(f"\n- {other.medicine} ({other.kind}): {other.how}")
    return "\n".join(out) + "\n"


def render_pdf(html: str) -> bytes:
    """Print the HTML to PDF with headless Chromium (the browser the tests already drive), so the PDF is
    exactly what the print-ready HTML gives. Raises MtmRulesError when Chromium is not installed."""
    import shutil
    import subprocess
    import tempfile
    from pathlib import Path

    from mtmrules.errors import MtmRulesError
    browser = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
    if browser is None:
        raise MtmRulesError("--format pdf needs headless Chromium ('chromium' on the PATH); use --format html and print it")
    with tempfile.TemporaryDirectory() as tmp:
        page, pdf = Path(tmp) / "plan.html", Path(tmp) / "plan.pdf"
        page.write_text(html, encoding="utf-8")
        run = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                              "--disable-background-networking", "--disable-component-update", "--disable-sync",
                              f"--user-data-dir={tmp}/profile", "--no-pdf-header-footer",
                              f"--print-to-pdf={pdf}", page.as_uri()], capture_output=True, timeout=120)
        if run.returncode != 0 or not pdf.exists():
            raise MtmRulesError(f"Chromium could not print the plan to PDF (exit {run.returncode})")
        return pdf.read_bytes()
