"""Why a rule did or did not fire for one patient: the rule's condition tree with each node's
three-valued result and what decided it — the evidence found, or the data that was missing.

For pack authors ("why is my rule silent for this patient?") and for pharmacists checking a
finding. Each node is evaluated on its own by the naive executor (the executable specification).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mtmrules.engine import ir
from mtmrules.engine.matches import FALSE, TRUE, UNKNOWN
from mtmrules.engine.naive import NaiveExecutor
from mtmrules.errors import InputError
from mtmrules.knowledge.facts import PatientFacts

RESULT = {TRUE: "true", FALSE: "false", UNKNOWN: "unknown"}
MARK = {TRUE: "✔", FALSE: "✘", UNKNOWN: "?"}
GROUP_TEXT = {ir.All: "all of", ir.Any_: "any of", ir.Not: "none of"}


@dataclass
class Step:
    """One node of a rule's condition tree, evaluated for one patient."""

    text: str
    state: str
    detail: tuple[str, ...] = ()
    children: list["Step"] = field(default_factory=list)

    def lines(self, depth: int = 0) -> list[str]:
        detail = f" — {'; '.join(self.detail)}" if self.detail else ""
        out = [f"{'  ' * depth}{MARK[self.state]} {self.text}{detail}"]
        for child in self.children:
            out += child.lines(depth + 1)
        return out


def explain(rules: list[ir.CompiledRule], facts: PatientFacts, rule_id: str) -> str:
    """The evaluated condition tree of ``rule_id`` (and of its modifiers) as indented text. A
    table-driven rule's template id explains the rows about the patient's own medications."""
    chosen = [r for r in rules if r.id == rule_id] or _rows_for_patient(rules, facts, rule_id)
    return "\n".join(_explain_one(rule, facts) for rule in chosen)


def _rows_for_patient(rules: list[ir.CompiledRule], facts: PatientFacts, template: str) -> list[ir.CompiledRule]:
    rows = [r for r in rules if r.id.startswith(template.rstrip("/") + "/")]
    if not rows:
        raise InputError(f"no loaded rule {template!r} (list them with 'mtmrules rules')")
    taken = {item.ingredient for item in facts.items}
    mine = [r for r in rows if any(isinstance(leaf, (ir.Med, ir.Count, ir.Total, ir.AllergyConflict, ir.Adherence))
                                   and leaf.match.ingredients & taken for leaf in ir.rule_leaves(r))]
    if not mine:
        raise InputError(f"{template!r} has {len(rows)} rows and none is about this patient's medications; "
                         f"name one, e.g. {rows[0].id}")
    return mine


def _explain_one(rule: ir.CompiledRule, facts: PatientFacts) -> str:
    executor = NaiveExecutor([rule])
    root = _step(executor, rule.when, facts)
    verdict = {TRUE: "fires", FALSE: "stays silent", UNKNOWN: "is not evaluated (data missing)"}[root.state]
    lines = [f"{rule.id} {verdict} for patient {facts.patient_id} as of {facts.as_of.isoformat()} "
             f"({rule.kind}, {rule.severity})"] + root.lines(1)
    for number, modifier in enumerate(rule.modifiers, 1):
        step = _step(executor, modifier.when, facts)
        change = f"severity {modifier.severity}" if modifier.severity else "note only"
        lines += [f"  modifier {number} ({change}): {RESULT[step.state]}"] + step.lines(2)
    return "\n".join(lines) + "\n"


def _step(executor: NaiveExecutor, node: ir.Node, facts: PatientFacts) -> Step:
    outcome = executor.eval(node, facts)
    detail = outcome.evidence[:4] if outcome.state == TRUE else outcome.missing[:4] if outcome.state == UNKNOWN else ()
    group = GROUP_TEXT.get(type(node))
    if group is None:
        return Step(node.text or type(node).__name__, outcome.state, tuple(detail))
    return Step(group, outcome.state, (), [_step(executor, child, facts) for child in node.children])


def true_leaves(node: ir.Node, facts: PatientFacts, kind: type) -> list[ir.Node]:
    """Leaves of type ``kind`` that hold for this patient on the paths that made ``node`` true (never
    inside a ``none``): what a title or message may truthfully name, e.g. the overdue tests."""
    out: list[ir.Node] = []
    _collect_true(node, facts, kind, NaiveExecutor([]), out)
    return out


def _collect_true(node: ir.Node, facts: PatientFacts, kind: type, executor: NaiveExecutor, out: list) -> None:
    # module-level recursion: a nested recursive function would be a reference cycle holding the
    # patient's facts until the cycle collector runs, which screening does rarely
    if executor.eval(node, facts).state != TRUE:
        return
    if isinstance(node, (ir.All, ir.Any_)):
        for child in node.children:
            _collect_true(child, facts, kind, executor, out)
    elif isinstance(node, kind):
        out.append(node)
