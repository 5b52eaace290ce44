"""One line per problem, for grep and pipelines: ``concise`` (like ruff's) and ``jsonl``."""

from __future__ import annotations

import json

from mtmrules.report.models import Report


def concise_lines(report: Report) -> list[str]:
    """``patient: #rank severity rule: title [drugs]`` — one line a problem, nothing else."""
    return [f"{report.patient.id}: #{p.rank} {p.severity} {p.rule}: {p.title}"
            + (f" [{', '.join(p.medications)}]" if p.medications else "") for p in report.problems]


def jsonl_lines(report: Report) -> list[str]:
    """One compact JSON object a problem, with the patient id and as-of date beside the problem's fields."""
    base = {"patient": report.patient.id, "as_of": report.as_of.isoformat()}
    return [json.dumps({**base, **p.model_dump(mode="json")}, ensure_ascii=False, separators=(",", ":"))
            for p in report.problems]
