"""Text renderer: the ranked problem list as a table a pharmacist can scan, then the details."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table
from rich.text import Text

from mtmrules.report.models import Report
from mtmrules.wording import plural

SEVERITY_STYLE = {"contraindicated": "bold red", "major": "red", "moderate": "yellow", "minor": "cyan"}


def render_text(report: Report, width: int = 120, color: bool = False, details: bool = True) -> str:
    """Deterministic text for a report (no colour unless asked)."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=color, color_system="standard" if color else None,
                      highlight=False, emoji=False)
    p = report.patient
    head = f"Patient {p.id}" + (f", {p.age} y" if p.age is not None else "") + f", {p.sex}"
    if p.egfr is not None:
        head += f", eGFR {p.egfr:g} ({p.egfr_basis})"
    if p.crcl is not None:
        head += f", CrCl {p.crcl:g} ({p.crcl_basis})"
    console.print(Text(head, style="bold"))
    console.print(f"As of {report.as_of.isoformat()} · {plural(len(report.medications), 'medication')} · "
                  f"{plural(len(report.problems), 'problem')} · engine {report.engine}")
    if report.site is not None:
        site = report.site
        parts = [f"minimum severity {site.min_severity}"] if site.min_severity else []
        parts += [f"{plural(len(site.disabled), 'rule setting')} off"] if site.disabled else []
        parts += [f"{plural(len(site.retiered), 'rule')} re-tiered"] if site.retiered else []
        console.print(f"Site policy: {site.name}" + (f" ({'; '.join(parts)})" if parts else ""))
    if report.problems:
        table = Table(show_lines=False, expand=False, pad_edge=False)
        for column in ("#", "Severity", "Kind", "Problem", "Drugs", "Top intervention"):
            table.add_column(column, overflow="fold")
        for prob in report.problems:
            top = prob.interventions[0]
            table.add_row(str(prob.rank), Text(prob.severity, style=SEVERITY_STYLE[prob.severity]), prob.kind,
                          prob.title, ", ".join(prob.medications) or "—", f"{top.action}: {top.text}")
        console.print(table)
    else:
        console.print("No medication-related problems found by the loaded rules.")
    if details:
        for prob in report.problems:
            console.print(Text(f"\n{prob.rank}. {prob.title} [{prob.severity}, {prob.kind}] {prob.rule}", style="bold"))
            console.print(f"   {prob.explanation}")
            for iv in prob.interventions:
                console.print(f"   → {iv.action} ({iv.to}): {iv.text}")
            console.print(f"   Patient: {prob.patient_text}")
            if prob.site_note:
                console.print(f"   Site policy: {prob.site_note}")
            console.print("   References: " + "; ".join(r.key for r in prob.references))
    if report.suppressed:
        console.print(Text(f"\nNot shown ({len(report.suppressed)})", style="bold"))
        for item in report.suppressed:
            until = f" until {item.until}" if item.until else ""
            console.print(f"   {item.title} ({item.rule}): {item.reason}{until}")
    if report.not_evaluated:
        console.print(Text(f"\nNot evaluated ({plural(len(report.not_evaluated), 'rule')}: data missing)", style="bold"))
        for item in report.not_evaluated:
            console.print(f"   {item.rule}: {item.reason}")
    flagged = [m for m in report.medications if m.status != "resolved" or m.dose_note]
    if report.unresolved or flagged:
        console.print(Text("\nInput to check", style="bold"))
        for u in report.unresolved:
            console.print(f"   {u.kind} {u.input!r}: {u.reason}")
        for m in flagged:
            if m.status == "approximate":
                console.print(f"   medication {m.input!r}: approximate match ({m.note}) → {', '.join(m.ingredients)}")
            elif m.status == "resolved" and m.active:
                console.print(f"   medication {m.input!r}: daily dose not computed ({m.dose_note})")
    return buffer.getvalue()
