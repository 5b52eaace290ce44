"""Match table → Report: render texts, merge duplicates, join problems that ask for one action on one
drug, score by harm in this patient and rank. Shared by every executor.

Score (documented in docs/ranking.md): severity base + kind weight + patient risk + context.
- severity: contraindicated 90, major 70, moderate 45, minor 20
- kind: drug-allergy 8, renal-dose 6, dose-too-high 6, drug-drug-interaction 5, drug-disease 5,
  duplicate-therapy 4, untreated-condition 4, age-inappropriate 3, ineffective-therapy 3,
  nonadherence 3, monitoring-gap 2, dose-too-low 2, no-indication 1
- patient risk: age ≥ 85 +4, ≥ 75 +3, ≥ 65 +2; eGFR < 30 +2; 10 or more active medications +1.5
- context (report/harm.py): a lab already showing the consequence +6/+10, a drug started in the last
  90 days +4, an ISMP high-alert drug +3, and +1.5 for each further reason joined into the problem (at most +4.5)
Ties break on severity, kind weight and the number of reasons before rule id, so the order is total and
deterministic.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise
from operator import attrgetter
from typing import TYPE_CHECKING

from mtmrules import __version__
from mtmrules.engine import ir
from mtmrules.engine.explain import true_leaves
from mtmrules.engine.ir import CompiledRule
from mtmrules.engine.matches import Match
from mtmrules.engine.naive import NaiveExecutor
from mtmrules.knowledge.facts import PatientFacts
from mtmrules.knowledge.base import KnowledgeBase
from mtmrules.knowledge.dose import format_number
from mtmrules.report.grouping import DOSE, REPLACE, connected, group_by_action
from mtmrules.report.harm import HarmContext, PatientHarm

if TYPE_CHECKING:
    from mtmrules.engine.site import SitePolicy
from mtmrules.report.models import (ConditionOut, Dose, InterventionOut, MedicationOut, NotEvaluated,
                                    PatientOut, Problem, Reason, Reference, Report, SiteOut, SiteRuleOut,
                                    Suppressed, Unresolved)

SEVERITY_BASE = {"contraindicated": 90.0, "major": 70.0, "moderate": 45.0, "minor": 20.0}
SEVERITY_ORDER = {"contraindicated": 0, "major": 1, "moderate": 2, "minor": 3}
KIND_WEIGHT = {
    "drug-allergy": 8, "renal-dose": 6, "dose-too-high": 6, "drug-drug-interaction": 5, "drug-disease": 5,
    "duplicate-therapy": 4, "untreated-condition": 4, "age-inappropriate": 3, "ineffective-therapy": 3,
    "nonadherence": 3, "monitoring-gap": 2, "dose-too-low": 2, "no-indication": 1,
}
CONVERGENCE_STEP, CONVERGENCE_CAP = 1.5, 4.5


def _action_order(action: str | None) -> int:
    return 0 if action in REPLACE else 1 if action in DOSE else 2
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


@lru_cache(maxsize=1024)
def _base_score(severity: str, kind: str, risk: float) -> float:
    """Severity base + kind weight + patient risk; cached (few distinct inputs, and ``round`` is slow)."""
    return round(SEVERITY_BASE[severity] + KIND_WEIGHT.get(kind, 0) + risk, 1)


def patient_risk(facts: PatientFacts) -> float:
    risk = 0.0
    if facts.age is not None:
        risk += 4 if facts.age >= 85 else 3 if facts.age >= 75 else 2 if facts.age >= 65 else 0
    egfr = facts.renal.get("egfr")
    if egfr is not None and egfr.value < 30:
        risk += 2
    if len(facts.items) >= 10 and len({i.med for i in facts.items}) >= 10:
        risk += 1.5
    return risk


class ReportBuilder:
    def __init__(self, kb: KnowledgeBase, rules: dict[str, CompiledRule], packs: dict[str, str],
                 site: "SitePolicy | None" = None, site_notes: dict[str, str] | None = None,
                 sources: dict | None = None) -> None:
        self.kb, self.rules, self.packs = kb, rules, packs
        self.sources = sources if sources is not None else kb.sources
        self.site, self.site_notes = site, site_notes or {}
        self.harm = HarmContext(kb)
        self._rule_infos: dict[str, _RuleInfo] = {}     # one per rule id (bounded by the rule set)
        self._templates: dict[str, tuple[str, ...]] = {}   # one per rule text (bounded likewise)
        self.site_out = None if site is None else SiteOut(
            name=site.site, min_severity=site.min_severity,
            disabled=[SiteRuleOut(rule=o.rule, reason=o.reason) for o in site.disabled()],
            retiered=[SiteRuleOut(rule=rule, reason=note) for rule, note in sorted(self.site_notes.items())])

    def ranked(self, facts: PatientFacts, matches: tuple[Match, ...]) -> list[list["_Draft"]]:
        """Merged and ranked problem groups (lead first) — shared by full reports and screening rows."""
        risk = patient_risk(facts)
        drafts = [self._draft(facts, m, risk) for m in matches if m.state == "fired"]
        merged = _merge(drafts)   # may lower a joined mechanism finding's severity, so keys come after
        # the lead is the most severe reason; among equals a specific rule before a mechanism finding,
        # then one that names the action (replace, then dose), then the one with most harm here.
        # The harm in context is worked out only where the first three tie (rarely), once per draft:
        # a draft's score changes only once it leads its final group, after that group is sorted.
        keys: dict[int, tuple] = {}
        harm = self.harm.of(facts)

        def lead_key(d: _Draft) -> tuple:
            key = keys.get(id(d))
            if key is None:
                key = keys[id(d)] = (*_lead_order(d), -(d.score + sum(p for p, _ in self._context(harm, [d]))),
                                     d.rule)
            return key

        def lead_first(group: list[_Draft]) -> None:
            group.sort(key=_lead_order)
            if any(_lead_order(a) == _lead_order(b) for a, b in pairwise(group)):
                group.sort(key=lead_key)
        for group in merged:
            if len(group) > 1:
                lead_first(group)   # joining by action reads each problem's lead
        groups = group_by_action(merged, attrgetter("action"), self._missing_therapy)
        for group in groups:
            if len(group) > 1:
                lead_first(group)
            self._score_in_context(harm, group)
        groups.sort(key=_rank_order)
        if len({g[0].rule for g in groups}) < len(groups):   # leads tie on rule only with repeated matches
            groups.sort(key=lambda g: (*_rank_order(g), g[0].id))
        return groups

    def _rule_info(self, rule: CompiledRule) -> "_RuleInfo":
        """What ranking reads of ``rule`` (pure function of the rule), computed once per rule."""
        info = self._rule_infos.get(rule.id)
        if info is None or info.rule is not rule:
            main = rule.interventions[0] if rule.interventions else None
            info = self._rule_infos[rule.id] = _RuleInfo(
                rule, main["action"] if main else None, main.get("target") if main else None,
                _missing_therapy(rule.when), *_test_parts(rule.when))
        return info

    @staticmethod
    def _context(harm: PatientHarm, group: list["_Draft"]) -> list[tuple[float, str]]:
        if len(group) == 1:
            return harm.factors(group[0].medications, group[0].action[2])
        ingredients = {m for d in group for m in d.medications}
        entries = frozenset().union(*(d.action[2] for d in group))
        return harm.factors(ingredients, entries)

    def _missing_therapy(self, draft: "_Draft") -> frozenset[str]:
        """Ingredients an untreated-condition rule requires to be absent (any of them would answer it)."""
        return self._rule_info(self.rules[draft.rule]).missing_therapy

    def _score_in_context(self, harm: PatientHarm, group: list["_Draft"]) -> None:
        """Add the patient context of the whole group to its lead's score (and keep why)."""
        lead = group[0]
        factors = self._context(harm, group)
        # further findings that argue for the action (a moot monitoring gap joined under it does not)
        reasons = 0 if len(group) == 1 else len(dict.fromkeys(
            d.rule for d in group[1:]
            if d.rule != lead.rule and (d.kind != "monitoring-gap" or lead.kind == "monitoring-gap")))
        if reasons:
            factors.append((min(CONVERGENCE_CAP, CONVERGENCE_STEP * reasons),
                            f"{reasons} further reason{'s' if reasons > 1 else ''} for the same action"))
        if factors:   # (a score is already rounded: rounding it again changes nothing)
            lead.score = round(lead.score + sum(points for points, _ in factors), 1)
        lead.factors = factors   # worded only for a full report (``_problem``)

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
        rows = []
        for rank, group in enumerate(shown, 1):
            lead = group[0]
            rule = self.rules[lead.rule]
            rows.append([facts.patient_id, rank, lead.kind, lead.category, lead.severity, lead.score, lead.rule,
                         ";".join(lead.medications), self._render(rule.title, facts, dict(lead.match.bindings), rule)])
        return rows

    def build(self, facts: PatientFacts, matches: tuple[Match, ...], engine: str) -> Report:
        shown, hidden = self._shown(self.ranked(facts, matches))
        problems = [self._problem(facts, group, rank) for rank, group in enumerate(shown, 1)]
        suppressed = [Suppressed(id=g[0].id, rule=g[0].rule,
                                 title=self._render(self.rules[g[0].rule].title, facts, dict(g[0].match.bindings),
                                                    self.rules[g[0].rule]),
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

    def _render(self, text: str, facts: PatientFacts, bindings: dict[str, tuple],
                rule: CompiledRule | None = None) -> str:
        parts = self._templates.get(text)
        if parts is None:
            # literal, placeholder name, literal, … with the first letter capitalised when the text opens
            # with a literal; a text without placeholders is stored rendered
            parts = tuple(_PLACEHOLDER.split(text)) if "{" in text else ()
            parts = self._templates[text] = (_capital(parts[0]), *parts[1:]) if len(parts) > 1 else (_capital(text),)
        if len(parts) == 1:
            return parts[0]
        values = list(parts)
        for i in range(1, len(parts), 2):
            values[i] = self._value(parts[i], facts, bindings, rule)
        rendered = "".join(values)
        return rendered if parts[0] else _capital(rendered)

    def _value(self, name: str, facts: PatientFacts, bindings: dict[str, tuple], rule: CompiledRule | None) -> str:
        """What the placeholder ``{name}`` stands for in this patient (itself, braces kept, if unknown)."""
        if name in bindings:
            return self._names(facts, bindings[name])
        if name == "overdue" and rule is not None:
            return self._overdue(self._rule_info(rule), facts)
        if name == "age":
            return str(facts.age) if facts.age is not None else "unknown age"
        if name in ("egfr", "crcl"):
            renal = facts.renal.get(name)
            return format_number(round(renal.value)) if renal else "unknown"
        if name == "sex":
            return facts.sex
        return "{" + name + "}"

    def _overdue(self, info: "_RuleInfo", facts: PatientFacts) -> str:
        """The tests ``{overdue}`` names: the missing tests on the paths that made the (fired) rule hold.
        Only the parts of its condition that can name a test are walked; when those parts are made of
        missing-test leaves alone, their outcome is which of those tests are recent, so the wording is
        kept per combination (evaluating them costs more than the rest of a screening row)."""
        key = None
        if info.test_leaves is not None:
            key = tuple(_EVALUATOR.lab_recent(leaf, facts) for leaf in info.test_leaves)
            text = info.overdue_texts.get(key)
            if text is not None:
                return text
        leaves = [leaf for part in info.test_parts for leaf in true_leaves(part, facts, ir.LabMissing)]
        labels = [_in_sentence(self.kb.labs[leaf.test].label) for leaf in leaves]
        text = " or ".join(dict.fromkeys(labels)) or "a monitoring test"
        if key is not None:
            info.overdue_texts[key] = text
        return text

    def _draft(self, facts: PatientFacts, match: Match, risk: float) -> "_Draft":
        rule = self.rules[match.rule]
        info = self._rule_info(rule)
        severity = rule.severity_with(match.modifier)
        meds: set[str] = set()
        entries: set[int] = set()
        targets: frozenset[int] = frozenset()
        condition_refs = False
        for name, refs in match.bindings:
            for ref in refs:
                if ref[0] == "med":
                    meds.add(ref[2])
                    entries.add(ref[1])
                elif ref[0] == "condition":
                    condition_refs = True
            if name == info.target:
                targets = frozenset([r[1] for r in refs if r[0] == "med"])
        conditions: list[str] = []
        if condition_refs:
            cond_index = {c.index: c for c in facts.conditions}
            conditions = sorted({cond_index[r[1]].label for _, refs in match.bindings for r in refs
                                 if r[0] == "condition" and r[1] in cond_index})
        return _Draft(facts.patient_id, rule.id, rule.kind, rule.category, severity,
                      _base_score(severity, rule.kind, risk),
                      sorted(meds), conditions, match, (), rule.basis, rule.mechanism,
                      (info.action, targets, frozenset(entries)))

    def _problem(self, facts: PatientFacts, group: list["_Draft"], rank: int) -> Problem:
        lead = group[0]
        match = lead.match
        rule = self.rules[match.rule]
        bindings = dict(match.bindings)
        action_level = note = None
        if match.modifier is not None:
            action_level, note = rule.modifiers[match.modifier].action_level, rule.modifiers[match.modifier].note
        refs = [r for _, rs in match.bindings for r in rs]
        message = self._render(rule.message, facts, bindings, rule)
        explanation = message + " Found: " + "; ".join(match.evidence) + "."
        if note:
            explanation += f" {self._render(note, facts, bindings)}"
        if match.missing:
            explanation += " Could not check whether the severity should be higher: " + "; ".join(match.missing) + "."
        interventions = self._interventions(facts, rule, bindings)
        if lead.kind == "monitoring-gap":
            # one blood draw: every test the joined gaps order
            for d in group[1:]:
                extra = self._interventions(facts, self.rules[d.rule], dict(d.match.bindings))
                interventions += [iv for iv in extra if iv.action == "order-lab"
                                  and (iv.action, iv.text) not in {(x.action, x.text) for x in interventions}]
        interventions += self._joined_changes(facts, group, interventions)
        others = [d for d in group[1:] if d.rule != lead.rule]
        reasons = [self._reason(facts, d) for d in others]
        title = self._render(rule.title, facts, bindings, rule)
        reasons = [r for r in reasons if r.title != title]
        if reasons:
            explanation += " Also: " + " ".join(f"{r.title} ({r.severity}): {r.explanation}" for r in reasons)
        refs = [r for d in group for _, rs in d.match.bindings for r in rs]
        implicated = sorted({src for src in (_source_of(facts, r) for r in refs) if src})
        medications = sorted({m for d in group for m in d.medications})
        keys = self._references(group, set(medications))
        return Problem(
            id=lead.id, rank=rank, score=lead.score, rule=rule.id,
            also_found_by=sorted({d.rule for d in group[1:]} - {rule.id}),
            kind=rule.kind, category=rule.category, severity=lead.severity, action_level=action_level,
            title=title, explanation=explanation,
            evidence=list(dict.fromkeys(e for d in group for e in d.match.evidence)),
            medications=medications, lead_medications=lead.medications,
            conditions=sorted({c for d in group for c in d.conditions}), reasons=reasons,
            rank_factors=[f"{text} (+{format_number(points)})" for points, text in lead.factors],
            interventions=interventions, patient_text=self._render(rule.patient_text, facts, bindings, rule),
            references=[Reference(key=k, citation=self.sources[k].citation, url=self.sources[k].url) for k in keys],
            implicated=implicated, not_checked=list(match.missing),
            site_note="; ".join(dict.fromkeys(self.site_notes[r] for r in (rule.id, *(d.rule for d in group))
                                              if r in self.site_notes)) or None)


    def _joined_changes(self, facts: PatientFacts, group: list["_Draft"],
                        interventions: list[InterventionOut]) -> list[InterventionOut]:
        """The replace or dose step of a finding joined under a lead that does not itself change that drug
        (a renal dose limit joined to an interaction about the same drug keeps its "reduce to N mg"): the
        plan must not lose the concrete change. One change per drug: the lead's, else the first joined."""
        changed = {iv.target for iv in interventions if iv.action in REPLACE | DOSE}
        extra: list[InterventionOut] = []
        for draft in group[1:]:
            for iv in self._interventions(facts, self.rules[draft.rule], dict(draft.match.bindings)):
                if iv.action in REPLACE | DOSE and iv.target not in changed:
                    changed.add(iv.target)
                    extra.append(iv)
        return extra

    def _interventions(self, facts: PatientFacts, rule: CompiledRule, bindings: dict) -> list[InterventionOut]:
        return [InterventionOut(
            action=iv["action"], to=iv.get("to", "prescriber"), lab=iv.get("lab"),
            target=self._names(facts, bindings[iv["target"]]) if iv.get("target") in bindings else iv.get("target"),
            text=self._render(iv["text"], facts, bindings, rule)) for iv in rule.interventions]

    def _references(self, group: list["_Draft"], medications: set[str]) -> list[str]:
        """The group's references, without the labels of drugs this patient does not take (a rule about
        ACE inhibitors or ARBs cites both labels; a lisinopril problem should not cite losartan's)."""
        keys = list(dict.fromkeys(k for d in group for k in self.rules[d.rule].references))
        def foreign(key: str) -> bool:
            drug = key.removeprefix("label-").replace("-", " ")
            return key.startswith("label-") and drug in self.kb.ingredients and drug not in medications
        return [k for k in keys if not foreign(k)] or keys

    def _reason(self, facts: PatientFacts, draft: "_Draft") -> Reason:
        """A further finding joined into a problem, rendered from its own match."""
        rule = self.rules[draft.rule]
        bindings = dict(draft.match.bindings)
        text = self._render(rule.message, facts, bindings, rule)
        if draft.match.evidence:
            text += " Found: " + "; ".join(draft.match.evidence) + "."
        if draft.match.modifier is not None and rule.modifiers[draft.match.modifier].note:
            text += " " + self._render(rule.modifiers[draft.match.modifier].note, facts, bindings)
        return Reason(rule=rule.id, kind=rule.kind, severity=draft.severity,
                      title=self._render(rule.title, facts, bindings, rule),
                      explanation=text, medications=draft.medications,
                      patient_text=self._render(rule.patient_text, facts, bindings, rule))


def _lead_order(draft: "_Draft") -> tuple[int, bool, int]:
    """Most severe first, a specific rule before a mechanism finding, then replace, dose, other actions."""
    return SEVERITY_ORDER[draft.severity], draft.basis == "mechanism", _action_order(draft.action[0])


def _rank_order(group: list["_Draft"]) -> tuple:
    """Problems by score, then severity, kind weight, number of reasons and rule id (then problem id,
    which needs hashing, only where two leads share a rule)."""
    lead = group[0]
    return -lead.score, SEVERITY_ORDER[lead.severity], -KIND_WEIGHT.get(lead.kind, 0), -len(group), lead.rule


def _capital(text: str) -> str:
    """The text with its first letter upper-cased (the rest kept)."""
    return text[:1].upper() + text[1:]


def _missing_therapy(when: ir.Node) -> frozenset[str]:
    """Ingredients a rule requires to be absent (under a ``none``): for an untreated condition, the
    therapy that would answer it."""
    return frozenset(_absent_ingredients(when, False))


# Module-level recursion, not nested functions: a nested recursive function is a reference cycle, left
# for the cycle collector, which screening runs rarely (population/screen.py ``_settle_gc``).
def _absent_ingredients(node: ir.Node, negated: bool) -> Iterator[str]:
    if isinstance(node, ir.Not):
        for child in node.children:
            yield from _absent_ingredients(child, True)
    elif isinstance(node, (ir.All, ir.Any_)):
        for child in node.children:
            yield from _absent_ingredients(child, negated)
    elif negated and isinstance(node, ir.Med):
        yield from node.match.ingredients


def _test_parts(when: ir.Node) -> tuple[tuple[ir.Node, ...], tuple[ir.LabMissing, ...] | None]:
    """The parts of a rule's condition that ``true_leaves`` can find a missing test in (through
    ``all``/``any``, never under a ``none``): its children that reach one when it is an ``all`` or an
    ``any``, else the condition itself. For a condition known to hold, the true missing-test leaves of
    these parts, in order, are those of the whole condition, without evaluating the rest twice.
    Second: the missing-test leaves of those parts when nothing else is in them (else None)."""
    parts = tuple(c for c in when.children if _reaches_test(c)) if isinstance(when, (ir.All, ir.Any_)) else (when,)
    found = [_only_tests(part) for part in parts]
    if None in found:
        return parts, None
    return parts, tuple(leaf for part in found for leaf in part)  # type: ignore[union-attr]


def _reaches_test(node: ir.Node) -> bool:
    return isinstance(node, ir.LabMissing) or (
        isinstance(node, (ir.All, ir.Any_)) and any(_reaches_test(c) for c in node.children))


def _only_tests(node: ir.Node) -> list[ir.LabMissing] | None:
    """The missing-test leaves of ``node`` when it holds nothing else (through all/any), else None."""
    if isinstance(node, ir.LabMissing):
        return [node]
    if isinstance(node, (ir.All, ir.Any_)):
        found = [_only_tests(c) for c in node.children]
        return None if None in found else [leaf for part in found for leaf in part]  # type: ignore[union-attr]
    return None


@dataclass(frozen=True, slots=True)
class _RuleInfo:
    """What ranking reads of one rule, computed once per rule rather than once per patient."""

    rule: CompiledRule
    action: str | None          # its main (first) intervention's action
    target: str | None          # the binding that intervention targets
    missing_therapy: frozenset[str]
    test_parts: tuple[ir.Node, ...]   # where the tests {overdue} names are found (``_test_parts``)
    test_leaves: tuple[ir.LabMissing, ...] | None
    #: {overdue}'s wording by which of ``test_leaves`` are recent (at most 2 ** len(test_leaves))
    overdue_texts: dict[tuple[bool, ...], str] = field(default_factory=dict, compare=False)


#: reads a missing-test leaf exactly as rule evaluation does (``true_leaves`` evaluates with this executor)
_EVALUATOR = NaiveExecutor([])


def _in_sentence(label: str) -> str:
    """A lab label inside a sentence: "Urine albumin…" → "urine albumin…", acronyms ("INR") kept."""
    return label if len(label) > 1 and label[1].isupper() else label[:1].lower() + label[1:]


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


@dataclass(slots=True)
class _Draft:
    """What ranking and merging need to know about one fired rule."""

    patient: str
    rule: str
    kind: str
    category: str
    severity: str
    score: float
    medications: list[str]
    conditions: list[str]
    match: Match
    factors: Sequence[tuple[float, str]] = ()   # (points, why) of the patient context, set on a lead
    basis: str = "specific"
    mechanism: tuple[str, ...] = ()
    #: (main action, the medication entries it targets, the entries of every medication in the finding)
    action: tuple[str | None, frozenset[int], frozenset[int]] = (None, frozenset(), frozenset())
    _id: str | None = None

    @property
    def id(self) -> str:
        """The problem's stable id (patient, rule, drugs, conditions), hashed only for drafts that lead."""
        if self._id is None:
            key = "|".join([self.patient, self.rule, ",".join(self.medications), ",".join(self.conditions)])
            self._id = hashlib.sha256(key.encode()).hexdigest()[:16]
        return self._id


def _merge(drafts: list[_Draft]) -> list[list[_Draft]]:
    """Groups of one problem each (unordered: ``ranked`` puts each lead first): a class rule and an
    ingredient rule on the same drugs and conditions merge into one problem; a mechanism finding joins
    the specific rule's problem about the same interaction (``_same_interaction``); problems about one
    abnormal state that share a drug are one problem, and a mechanism finding about that state on its
    drugs joins it (``_same_state_groups``, ``_shows_state``); the mechanism findings left over join each
    other when they are about the same effect and share a drug (four sedatives are one sedation problem,
    not six pairs)."""
    groups: dict[tuple, list[_Draft]] = {}
    loose: list[_Draft] = []
    specific = [d for d in drafts if d.basis != "mechanism"]
    for draft in specific:
        if draft.medications and draft.kind not in NEVER_MERGED:
            key = (draft.kind, tuple(draft.medications), tuple(draft.conditions))
        else:
            key = (draft.kind, draft.rule)
        groups.setdefault(key, []).append(draft)
    # without a finding about an abnormal state (most patients) no group shows one: skip those passes
    stateful = any(d.kind in STATE_KINDS and d.mechanism for d in drafts)
    states = _same_state_groups(list(groups.values())) if stateful else list(groups.values())
    for draft in (d for d in drafts if d.basis == "mechanism"):
        hosts = [g for g in states if _same_interaction(draft, g) or (stateful and _shows_state(draft, g))]
        host = min(hosts, key=lambda g: (len(set(g[0].medications) ^ set(draft.medications)), g[0].rule,
                                          tuple(g[0].medications)), default=None)
        if host is not None:
            _defer_to_label(draft, host)
            host.append(draft)
        else:
            loose.append(draft)
    return states + _same_effect_clusters(loose)


STATE_KINDS = frozenset({"drug-disease", "dose-too-high", "nonadherence"})


def _state_of(group: list[_Draft]) -> frozenset[str]:
    """The abnormal states (``mechanism`` tags such as hyperkalaemia) a group of state rules is about."""
    return frozenset(m for d in group if d.kind in STATE_KINDS for m in d.mechanism)


def _same_state_groups(groups: list[list[_Draft]]) -> list[list[_Draft]]:
    """Problems about one abnormal state (a rule reading the lab and an older rule on the coded diagnosis
    or the same lab, ``mechanism: [hyponatraemia]``) that share a drug are one problem: one sodium, one
    note to the prescriber. Adherence findings (``mechanism: [adherence]``: a critical refill gap, the
    general refill gap, a PDC) that share a drug are likewise one conversation with the patient.
    Joining is transitive, so the result does not depend on the order of the groups; a joined group
    takes the place of its first member."""
    states = [_state_of(g) for g in groups]
    if sum(map(bool, states)) < 2:
        return groups   # at most one group is about a state: nothing to join (most patients)
    keyed = [(state, {m for d in g for m in d.medications}, g) for state, g in zip(states, groups)]
    sets = connected(keyed, lambda a, b: bool(a[0] & b[0] and a[1] & b[1]))
    return [[d for _, _, group in members for d in group] for members in sets]


def _shows_state(finding: _Draft, group: list[_Draft]) -> bool:
    """Whether a mechanism finding about a state (two drugs adding to low sodium) belongs to a problem
    showing that state on those same drugs: the lab already shows the pair's consequence. A finding more
    severe than the problem stays its own problem (joined, it would be shown at the problem's severity)."""
    if _state_of(group).isdisjoint(finding.mechanism):
        return False
    strongest = min(SEVERITY_ORDER[d.severity] for d in group)
    return (SEVERITY_ORDER[finding.severity] >= strongest
            and set(finding.medications) <= {m for d in group for m in d.medications})


def _same_effect_clusters(findings: list[_Draft]) -> list[list[_Draft]]:
    """Mechanism findings of one kind and effect, joined wherever two share a drug."""
    return connected(findings, lambda a, b: (a.kind == b.kind and a.mechanism == b.mechanism
                                             and a.kind not in NEVER_MERGED
                                             and bool(set(a.medications) & set(b.medications))))


def _defer_to_label(finding: _Draft, host: list[_Draft]) -> None:
    """A mechanism finding is never more severe than the label rule about the same interaction: the
    label rule's severity already weighs this patient's context (an opioid with a benzodiazepine in
    hospice care is minor there, however the generic sedation template scores the pair)."""
    label = min((d for d in host if d.basis != "mechanism"), key=lambda d: SEVERITY_ORDER[d.severity])
    if SEVERITY_ORDER[finding.severity] < SEVERITY_ORDER[label.severity]:
        finding.score = round(finding.score - SEVERITY_BASE[finding.severity] + SEVERITY_BASE[label.severity], 1)
        finding.severity = label.severity


def _same_interaction(finding: _Draft, group: list[_Draft]) -> bool:
    """Whether a mechanism finding belongs to a specific rule's problem: same kind; the drugs of one
    include the drugs of the other (an ACE inhibitor + NSAID pair and the "triple whammy"; digoxin +
    amiodarone and digoxin with amiodarone and carvedilol); and, when the specific rule names its
    mechanisms (``mechanism: [qt]``), the finding is about one of them — so a QT rule does not swallow
    the CYP3A4 finding on the same two drugs."""
    if finding.kind in NEVER_MERGED:
        return False
    specific = [d for d in group if d.basis != "mechanism"]
    if not specific or len(specific[0].medications) < 2 or specific[0].kind != finding.kind:
        return False
    drugs, host_drugs = set(finding.medications), set(specific[0].medications)
    named = {m for d in specific for m in d.mechanism}
    return (drugs <= host_drugs or host_drugs <= drugs) and (not named or bool(named & set(finding.mechanism)))


def _medication(entry) -> MedicationOut:
    res = entry.resolution
    doses = {ing: _dose(a, entry.daily_min.get(ing)) for ing, a in sorted(entry.daily.items())}
    single = doses.get(res.ingredients[0]) if len(res.ingredients) == 1 else None
    timing = list(entry.reading.anchors) if entry.reading is not None else []
    return MedicationOut(input=entry.label, status=res.status, active=entry.active, ingredients=list(res.ingredients),
                         daily_dose=single, daily_doses=doses, dose_note=entry.dose_note if res.ingredients else None,
                         note=res.note, route=res.route, source=entry.source, timing=timing)


def _dose(high, low) -> Dose:
    value = round(high.value, 4)
    if low is None or round(low.value, 4) == value:
        return Dose(value=value, unit=high.unit)
    return Dose(value=value, unit=high.unit, min=round(low.value, 4), max=value)
