"""Lint results as text, GitHub Actions annotations, SARIF 2.1.0 or JSON, so pack repositories get
annotations in their own CI."""

from __future__ import annotations

import json

from mtmrules.errors import InputError

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _record(error: InputError) -> dict:
    rule, _, field = (error.where or "").partition(": ")
    return {"file": error.file, "line": error.line, "rule": rule or None, "field": field or None,
            "message": error.reason}


def render(errors: list[InputError], fmt: str, version: str) -> str:
    """``text``: file:line: rule: message; ``github``: ``::error file=…,line=…::``; ``sarif``; ``json``."""
    if fmt == "json":
        return json.dumps([_record(e) for e in errors], indent=2)
    if fmt == "github":
        lines = []
        for e in errors:
            props = ",".join(f"{k}={v}" for k, v in (("file", e.file), ("line", e.line)) if v is not None)
            message = (f"{e.where}: " if e.where else "") + e.reason
            lines.append(f"::error {props},title=mtmrules lint::{_escape(message)}")
        return "\n".join(lines)
    if fmt == "sarif":
        results = []
        for e in errors:
            location = {"physicalLocation": {"artifactLocation": {"uri": e.file or ""}}}
            if e.line is not None:
                location["physicalLocation"]["region"] = {"startLine": e.line}
            rec = _record(e)
            results.append({"ruleId": "mtmrules-lint", "level": "error",
                            "message": {"text": (f"{e.where}: " if e.where else "") + e.reason},
                            "locations": [location], **({"properties": {"rule": rec["rule"]}} if rec["rule"] else {})})
        return json.dumps({"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [{
            "tool": {"driver": {"name": "mtmrules", "version": version, "informationUri": "https://mtmrules.dev",
                                "rules": [{"id": "mtmrules-lint", "shortDescription": {"text": "rule pack error"}}]}},
            "results": results}]}, indent=2)
    return "\n".join(str(e) for e in errors)


def _escape(text: str) -> str:
    """GitHub workflow-command data escaping."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
