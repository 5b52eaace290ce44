"""Coverage figures: rules per kind, knowledge breadth, and the drug-resolution rate on real inputs."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from mtmrules.engine.engine import Engine


#: Clinical areas reported by ``mtmrules coverage``: the packs (or single pack/rule templates) that make
#: them up and the knowledge tables whose rows drive them.
AREAS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "liver disease": (("hepatic",), ("hepatic_dosing",)),
    "pregnancy and lactation": (("pregnancy", "drug-disease/pregnancy-"), ("pregnancy_lactation",)),
    "criteria-based doses": (("dose-criteria", "dosing/apixaban-af-underdose", "dosing/rivaroxaban-af-underdose",
                              "dosing/dabigatran-af-underdose", "dosing/statin-intensity-ascvd"),
                             ("label_population_limits",)),
}


def area_counts(engine: Engine) -> dict:
    """Per clinical area: executable rules (a table row counts as one rule) and knowledge-table rows."""
    out = {}
    for area, (prefixes, tables) in AREAS.items():
        rules = [r for r in engine.rules
                 if any(r.id.startswith(p if "/" in p else p + "/") for p in prefixes)]
        out[area] = {"rules": len(rules), "templates": len({r.template_id or r.id for r in rules}),
                     "rows": sum(len(engine.kb.table(t)) for t in tables)}
    return out


def rule_counts(engine: Engine) -> dict:
    kinds = Counter(rule.kind for rule in engine.rules)
    dose_limits = {row["ingredient"] for _, row in engine.kb.table("dose_limits")}
    renal = {row["ingredient"] for _, row in engine.kb.table("renal_dosing")}
    return {
        "rules": len(engine.rules),
        "by_kind": dict(sorted(kinds.items())),
        "ingredients": len(engine.kb.ingredients),
        "products": len(engine.kb.products),
        "classes": len(engine.kb.classes),
        "condition_groups": len(engine.kb.conditions),
        "sources": len(engine.kb.sources),
        "max_daily_dose_ingredients": len(dose_limits),
        "renal_threshold_drugs": len(renal),
        "areas": area_counts(engine),
    }


def resolution_rate(engine: Engine, paths: list[Path]) -> dict:
    """Share of active medications resolved (exactly or approximately) across the given inputs."""
    from mtmrules.adapters.inputs import read_any
    counts: Counter = Counter()
    unresolved: Counter = Counter()
    patients = 0
    for path in paths:
        for profile in read_any(path):
            patients += 1
            for med in profile.medications:
                if med.status != "active":
                    continue
                code = med.code
                res = engine.facts.resolver.drug(med.name or (code.display if code else None),
                                                 code.system if code else None, code.code if code else None)
                counts[res.status] += 1
                if res.status == "unresolved":
                    unresolved[med.label] += 1
    total = sum(counts.values())
    return {"patients": patients, "active_medications": total, "by_status": dict(sorted(counts.items())),
            "resolution_rate": round((counts["resolved"] + counts["approximate"]) / total, 4) if total else None,
            "unresolved": dict(unresolved.most_common(20))}
