"""Match table → Report: render texts, merge duplicates, score and rank. Shared by every executor.

Score (documented in docs/ranking.md): severity base + kind weight + patient risk.
- severity: contraindicated 90, major 70, moderate 45, minor 20
- kind: drug-allergy 8, renal-dose 6, dose-too-high 6, drug-drug-interaction 5, drug-disease 5,
  duplicate-therapy 4, untreated-condition 4, age-inappropriate 3, ineffective-therapy 3,
  nonadherence 3, monitoring-gap 2, dose-too-low 2, no-indication 1
- patient risk: age ≥ 85 +4, ≥ 75 +3, ≥ 65 +2; eGFR < 30 +2; 10 or more active medications +1.5
Ties break on rule id, so the order is total and deterministic.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mtmrules import __version__
from mtmrules.engine.ir import CompiledRule
from mtmrules.engine.matches import Match
from mtmrules.knowledge.facts import PatientFacts
from mtmrules.knowledge.base import KnowledgeBase
from mtmrules.knowledge.dose import format_number

if TYPE_CHECKING:
    from mtmrules.engine.site import SitePolicy
from mtmrules.report.models import (ConditionOut, Dose, InterventionOut, MedicationOut, NotEvaluated,
                                    PatientOut, Problem, Reference, Report, SiteOut, SiteRuleOut, Suppressed,
                                    Unresolved)

SEVERITY_BASE = {"contraindicated": 90.0, "major": 70.0, "moderate": 45.0, "minor": 20.0}
SEVERITY_ORDER = {"contraindicated": 0, "major": 1, "moderate": 2, "minor": 3}
KIND_WEIGHT = {
    "drug-allergy": 8, "renal-dose": 6, "dose-too-high": 6, "drug-drug-interaction": 5, "drug-disease": 5,
    "duplicate-therapy": 4, "untreated-condition": 4, "age-inappropriate": 3, "ineffective-therapy": 3,
    "nonadherence": 3, "monitoring-gap": 2, "dose-too-low": 2, "no-indication": 1,
}
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


def patient_risk(facts: PatientFacts) -> float:
    risk = 0.0
    if facts.age is not None:
        risk += 4 if facts.age >= 85 else 3 if facts.age >= 75 else 2 if facts.age >= 65 else 0
    egfr = facts.renal.get("egfr")
    if egfr is not None and egfr.value < 30:
        risk += 2
    if len({i.med for i in facts.items}) >= 10:
        risk += 1.5
    return risk


class ReportBuilder:
    def __init__(self, kb: KnowledgeBase, rules: dict[str, CompiledRule], packs: dict[str, str],
                 site: "SitePolicy | None" = None, site_notes: dict[str, str] | None = None,
                 sources: dict | None = None) -> None:
        self.kb, self.rules, self.packs = kb, rules, packs
        self.sources = sources if sources is not None else kb.sources
        self.site, self.site_notes = site, site_notes or {}
        self.site_out = None if site is None else SiteOut(
            name=site.site, min_severity=site.min_severity,
            disabled=[SiteRuleOut(rule=o.rule, reason=o.reason) for o in site.disabled()],
            retiered=[SiteRuleOut(rule=rule, reason=note) for rule, note in sorted(self.site_notes.items())])

    def ranked(self, facts: PatientFacts, matches: tuple[Match, ...]) -> list[list["_Draft"]]:
        """Merged and ranked problem groups (lead first) — shared by full reports and screening rows."""
        risk = patient_risk(facts)
        drafts = [self._draft(facts, m, risk) for m in matches if m.state == "fired"]
        groups = _merge(drafts)
        groups.sort(key=lambda g: (-g[0].score, SEVERITY_ORDER[g[0].severity], g[0].rule, g[0].id))
        return groups

    def _shown(self, groups: list[list["_Draft"]]) -> tuple[list[list["_Draft"]], list[list["_Draft"]]]:
        """(groups reported as problems, groups below the site's minimum severity)."""
        if self.site is None or self.site.min_severity is None:
            return groups, []
        hidden = [g for g in groups if self.site.below_minimum(g[0].severity)]
        return [g for g in groups if not self.site.below_minimum(g[0].severity)], hidden

    def rows(self, facts: PatientFacts, matches: tuple[Match, ...]) -> list[list]:
        """Screening rows [patient, rank, kind, category, severity, score, rule, medications, title] without
        building the full report: same merging, ranking and site policy."""
        shown, _ = self._shown(self.ranked(facts, matches))
        return [[facts.patient_id, rank, d.kind, d.category, d.severity, d.score, d.rule, ";".join(d.medications),
                 self._render(self.rules[d.rule].title, facts, dict(d.match.bindings))]
                for rank, (d, *_) in enumerate(shown, 1)]

    def build(self, facts: PatientFacts, matches: tuple[Match, ...], engine: str) -> Report:
        shown, hidden = self._shown(self.ranked(facts, matches))
        problems = [self._problem(facts, group, rank) for rank, group in enumerate(shown, 1)]
        suppressed = [Suppressed(id=g[0].id, rule=g[0].rule,
                                 title=self._render(self.rules[g[0].rule].title, facts, dict(g[0].match.bindings)),
                                 reason=f"below {self.site.site}'s minimum severity ({self.site.min_severity})")
                      for g in hidden] if self.site is not None else []
        not_evaluated = [NotEvaluated(rule=m.rule, reason="; ".join(m.missing)) for m in matches
                         if m.state == "not_evaluated"]
        egfr, crcl = facts.renal.get("egfr"), facts.renal.get("crcl")
        return Report(
            mtmrules_version=__version__, as_of=facts.as_of, engine=engine, packs=self.packs,
            patient=PatientOut(id=facts.patient_id, age=facts.age, sex=facts.sex,
                               egfr=round(egfr.value, 1) if egfr else None, egfr_basis=egfr.how if egfr else None,
                               crcl=round(crcl.value, 1) if crcl else None, crcl_basis=crcl.how if crcl else None),
            medications=[_medication(e) for e in facts.entries],
            conditions=[ConditionOut(input=c.label, groups=sorted(c.groups), source=c.source)
                        for c in facts.conditions],
            problems=problems, not_evaluated=not_evaluated,
            unresolved=[Unresolved(input=text, kind=kind, reason=reason) for kind, text, reason in facts.unresolved],
            suppressed=suppressed, site=self.site_out)

    def _names(self, facts: PatientFacts, refs: tuple) -> str:
        names: list[str] = []
        for ref in refs:
            if ref[0] == "med":
                names.append(ref[2])
            elif ref[0] == "condition":
                names.append(next(c.label for c in facts.conditions if c.index == ref[1]))
            elif ref[0] == "allergy":
                names.append(facts.allergies[ref[1]].label)
            elif ref[0] == "lab":
                names.append(self.kb.labs[ref[1]].label)
        return ", ".join(dict.fromkeys(names))

    def _render(self, text: str, facts: PatientFacts, bindings: dict[str, tuple]) -> str:
        def value(m: re.Match) -> str:
            name = m.group(1)
            if name in bindings:
                return self._names(facts, bindings[name])
            if name == "age":
                return str(facts.age) if facts.age is not None else "unknown age"
            if name in ("egfr", "crcl"):
                renal = facts.renal.get(name)
                return format_number(round(renal.value)) if renal else "unknown"
            if name == "sex":
                return facts.sex
            return m.group(0)
        rendered = _PLACEHOLDER.sub(value, text)
        return rendered[:1].upper() + rendered[1:] if rendered else rendered

    def _draft(self, facts: PatientFacts, match: Match, risk: float) -> "_Draft":
        rule = self.rules[match.rule]
        severity = rule.severity
        if match.modifier is not None:
            severity = rule.modifiers[match.modifier].severity or severity
        refs = [r for _, rs in match.bindings for r in rs]
        medications = sorted({r[2] for r in refs if r[0] == "med"})
        cond_index = {c.index: c for c in facts.conditions}
        conditions = sorted({cond_index[r[1]].label for r in refs if r[0] == "condition" and r[1] in cond_index})
        key = "|".join([facts.patient_id, rule.id, ",".join(medications), ",".join(conditions)])
        return _Draft(hashlib.sha256(key.encode()).hexdigest()[:16], rule.id, rule.kind, rule.category, severity,
                      round(SEVERITY_BASE[severity] + KIND_WEIGHT.get(rule.kind, 0) + risk, 1),
                      medications, conditions, match)

    def _problem(self, facts: PatientFacts, group: list["_Draft"], rank: int) -> Problem:
        lead = group[0]
        match = lead.match
        rule = self.rules[match.rule]
        bindings = dict(match.bindings)
        action_level = note = None
        if match.modifier is not None:
            action_level, note = rule.modifiers[match.modifier].action_level, rule.modifiers[match.modifier].note
        refs = [r for _, rs in match.bindings for r in rs]
        message = self._render(rule.message, facts, bindings)
        explanation = message + " Found: " + "; ".join(match.evidence) + "."
        if note:
            explanation += f" {self._render(note, facts, bindings)}"
        if match.missing:
            explanation += " Could not check whether the severity should be higher: " + "; ".join(match.missing) + "."
        interventions = [InterventionOut(
            action=iv["action"], to=iv.get("to", "prescriber"), lab=iv.get("lab"),
            target=self._names(facts, bindings[iv["target"]]) if iv.get("target") in bindings else iv.get("target"),
            text=self._render(iv["text"], facts, bindings)) for iv in rule.interventions]
        implicated = sorted({src for src in (_source_of(facts, r) for r in refs) if src})
        keys = dict.fromkeys(k for d in group for k in self.rules[d.rule].references)
        return Problem(
            id=lead.id, rank=rank, score=lead.score, rule=rule.id, also_found_by=sorted(d.rule for d in group[1:]),
            kind=rule.kind, category=rule.category, severity=lead.severity, action_level=action_level,
            title=self._render(rule.title, facts, bindings), explanation=explanation,
            evidence=list(dict.fromkeys(e for d in group for e in d.match.evidence)),
            medications=lead.medications, conditions=lead.conditions,
            interventions=interventions, patient_text=self._render(rule.patient_text, facts, bindings),
            references=[Reference(key=k, citation=self.sources[k].citation, url=self.sources[k].url) for k in keys],
            implicated=implicated, site_note=self.site_notes.get(rule.id), not_checked=list(match.missing))


def _source_of(facts: PatientFacts, ref: tuple) -> str | None:
    if ref[0] == "med":
        return facts.entries[ref[1]].source
    if ref[0] == "allergy":
        return facts.allergies[ref[1]].source
    if ref[0] == "condition":
        return next((c.source for c in facts.conditions if c.index == ref[1]), None)
    return None


#: Kinds where two rules on the same drugs ask for different actions (start X vs start Y, test A vs
#: test B), so they are never merged.
NEVER_MERGED = {"untreated-condition", "monitoring-gap", "ineffective-therapy"}


@dataclass
class _Draft:
    """What ranking and merging need to know about one fired rule."""

    id: str
    rule: str
    kind: str
    category: str
    severity: str
    score: float
    medications: list[str]
    conditions: list[str]
    match: Match


def _merge(drafts: list[_Draft]) -> list[list[_Draft]]:
    """Groups of one problem each (lead first): a class rule and an ingredient rule on the same drugs
    and conditions merge into one problem."""
    groups: dict[tuple, list[_Draft]] = {}
    for draft in drafts:
        if draft.medications and draft.kind not in NEVER_MERGED:
            key = (draft.kind, tuple(draft.medications), tuple(draft.conditions))
        else:
            key = (draft.kind, draft.rule)
        groups.setdefault(key, []).append(draft)
    for group in groups.values():
        group.sort(key=lambda d: (SEVERITY_ORDER[d.severity], -d.score, d.rule))
    return list(groups.values())


def _medication(entry) -> MedicationOut:
    res = entry.resolution
    doses = {ing: Dose(value=round(a.value, 4), unit=a.unit) for ing, a in sorted(entry.daily.items())}
    single = doses.get(res.ingredients[0]) if len(res.ingredients) == 1 else None
    return MedicationOut(input=entry.label, status=res.status, active=entry.active, ingredients=list(res.ingredients),
                         daily_dose=single, daily_doses=doses, dose_note=entry.dose_note if res.ingredients else None,
                         note=res.note, route=res.route, source=entry.source)
