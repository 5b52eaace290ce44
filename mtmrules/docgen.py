"""Rule reference pages generated from the packs (never written by hand), in the manner of ruff's rule docs.

One page per rule — for a table-driven rule, one page for the template with a table of its rows —
saying what it finds, why it matters, an example patient, what to do, and the references.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from mtmrules.engine.engine import Engine
from mtmrules.engine.ir import CompiledRule


def _example(rule: CompiledRule) -> str:
    test = next((t for t in rule.tests if t.expectation == "fires"), None)
    if test is None:
        return "_No firing example._"
    lines = []
    profile = test.profile
    for key in ("age", "sex", "weight_kg", "pregnant"):
        if key in profile:
            lines.append(f"- {key.replace('_', ' ')}: {profile[key]}")
    for med in profile.get("medications", []):
        lines.append(f"- medication: {med if isinstance(med, str) else ', '.join(f'{k} {v}' for k, v in med.items())}")
    for cond in profile.get("conditions", []):
        lines.append(f"- condition: {cond if isinstance(cond, str) else cond.get('name')}")
    for allergy in profile.get("allergies", []):
        lines.append(f"- allergy: {allergy if isinstance(allergy, str) else allergy.get('substance')}")
    for lab in profile.get("labs", []):
        lines.append(f"- lab: {lab.get('name') or lab.get('loinc')} {lab.get('value')} {lab.get('unit', '')} "
                     f"({lab.get('date', 'undated')})".replace("  ", " "))
    return "\n".join(lines) or "_(empty profile)_"


def _counter_example(rule: CompiledRule) -> str:
    test = next((t for t in rule.tests if t.expectation == "silent"), None)
    if test is None:
        return ""
    meds = test.profile.get("medications", [])
    shown = "; ".join(m if isinstance(m, str) else str(m.get("name")) for m in meds)
    note = f" — {test.note}" if test.note else ""
    return f"\n**Stays silent** for: {shown or 'a profile without the trigger'}{note}.\n"


def rule_page(engine: Engine, rows: list[CompiledRule]) -> str:
    rule = rows[0]
    template = rule.id if len(rows) == 1 and rule.id.count("/") == 1 else f"{rule.pack}/{rule.template_id}"
    out = [f"# {template}", "", f"**{rule.title}**", "",
           "| kind | category | severity | pack |", "|---|---|---|---|",
           f"| `{rule.kind}` | `{rule.category}` | {rule.severity} | {rule.pack} {rule.pack_version} |", "",
           "## What it finds", "", rule.message, "", "## Why this matters", "", rule.why.strip(), ""]
    if rule.modifiers:
        out += ["## Context that changes the alert", ""]
        for mod in rule.modifiers:
            change = ", ".join(x for x in (f"severity → {mod.severity}" if mod.severity else "",
                                           f"action → {mod.action_level}" if mod.action_level else "") if x)
            out.append(f"- when {mod.when.text or 'the modifier condition holds'}: {change}. {mod.note or ''}".rstrip())
        out.append("")
    out += ["## Example", "", "**Fires** for:", "", _example(rule), _counter_example(rule),
            "## What to do", ""]
    out += [f"- **{iv['action']}** ({iv.get('to', 'prescriber')}): {iv['text']}" for iv in rule.interventions]
    out += ["", f"**For the patient:** {rule.patient_text}", ""]
    if len(rows) > 1 or rule.id.count("/") > 1:
        out += [f"## Rows ({len(rows)})", "", "Each row of the knowledge table is its own rule; its id is the "
                f"template id plus the row id. The texts above are shown as filled in for the first row, `{rule.id}`.", "",
                "| rule id | severity | reference |", "|---|---|---|"]
        for row in rows:
            out.append(f"| `{row.id}` | {row.severity} | {', '.join(row.references)} |")
        out.append("")
    out += ["## References", ""]
    keys = dict.fromkeys(k for row in rows for k in row.references)
    for key in keys:
        src = engine.sources[key]
        out.append(f"- `{key}`: {src.citation}" + (f" <{src.url}>" if src.url else ""))
    tests = sum(len(r.tests) for r in rows)
    out += ["", f"_{tests} embedded tests. Generated from `{Path(rule.source_file).name}` by `mtmrules docs`._", ""]
    return "\n".join(out)


def write_rule_docs(engine: Engine, out: Path) -> int:
    """Write one page per rule template plus ``index.md``; returns the number of pages."""
    groups: dict[str, list[CompiledRule]] = defaultdict(list)
    for rule in engine.rules:
        groups[f"{rule.pack}/{rule.template_id}"].append(rule)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.md"):
        stale.unlink()
    by_kind: dict[str, list[tuple[str, CompiledRule, int]]] = defaultdict(list)
    for template, rows in sorted(groups.items()):
        name = template.replace("/", "--") + ".md"
        (out / name).write_text(rule_page(engine, rows), encoding="utf-8")
        by_kind[rows[0].kind].append((template, rows[0], len(rows)))
    index = ["# Rule reference", "",
             f"{len(engine.rules)} rules ({len(groups)} rule definitions; table-driven definitions expand to one "
             "rule per knowledge-table row). Generated by `mtmrules docs` from the packs.", ""]
    for kind in sorted(by_kind):
        index += [f"## {kind}", "", "| rule | title | severity | rows |", "|---|---|---|---|"]
        for template, rule, rows in by_kind[kind]:
            link = template.replace("/", "--") + ".md"
            index.append(f"| [`{template}`]({link}) | {rule.title.replace('|', '/')} | {rule.severity} | {rows} |")
        index.append("")
    (out / "index.md").write_text("\n".join(index), encoding="utf-8")
    return len(groups)
