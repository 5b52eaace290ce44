"""Interaction coverage: how many of the pairs the mechanism tables describe produce a problem, at which severity.

    python benchmarks/interaction_coverage.py                # every perpetrator × victim pair, per pathway
    python benchmarks/interaction_coverage.py --pd           # also every effect × effect ingredient pair
    python benchmarks/interaction_coverage.py --pairs list.csv   # a held-out list: drug_a,drug_b[,list]
    python benchmarks/interaction_coverage.py --json

Each pair is screened as a two-drug profile (age 50, no labs, oral, no route given) with all built-in
packs, so modifiers stay at the base severity; the figure is the lead problem's severity for the pair
(a label-specific rule if one fires, else the mechanism template) and who found it. Without --pairs,
the issue's examples are screened too, so the classes they stand for are a number, not a claim.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mtmrules import Engine  # noqa: E402

AS_OF = date(2026, 11, 27)
SEVERITIES = ("contraindicated", "major", "moderate", "minor", "none")
#: The examples of issue 15 (pairs a commercial screening module catches).
ISSUE_EXAMPLES = [
    ("digoxin", "cyclosporine"), ("apixaban", "ibuprofen"), ("rivaroxaban", "naproxen"), ("clopidogrel", "ibuprofen"),
    ("prednisone", "naproxen"), ("warfarin", "ciprofloxacin"), ("warfarin", "clarithromycin"),
    ("phenytoin", "sulfamethoxazole"), ("theophylline", "cimetidine"), ("lithium", "furosemide"),
    ("apixaban", "enzalutamide"), ("apixaban", "apalutamide"), ("rivaroxaban", "enzalutamide"),
    ("rivaroxaban", "apalutamide"), ("irinotecan", "diltiazem"), ("irinotecan", "verapamil"), ("tizanidine", "zileuton"),
]


def screen_pair(engine: Engine, a: str, b: str) -> tuple[str, str]:
    """(severity of the lead interaction problem naming both drugs, its rule) — ("none", "") when silent."""
    report = engine.check({"id": f"{a}+{b}", "age": 50, "medications": [a, b]}, as_of=AS_OF)
    for problem in report.problems:
        if problem.kind == "drug-drug-interaction" and {a, b} <= set(problem.medications):
            return problem.severity, problem.rule
    return "none", ""


def pk_pairs(engine: Engine) -> dict[str, set[tuple[str, str]]]:
    """pathway → every (victim, perpetrator) pair the two tables describe (same pathway and effect)."""
    kb = engine.kb
    perpetrators = defaultdict(set)
    for _, row in kb.table("pk_perpetrators"):
        perpetrators[(row["pathway"], row["effect"])].add(row["ingredient"])
    pairs = defaultdict(set)
    for _, row in kb.table("pk_victims"):
        key = (row["pathway"], row["effect"])
        for perp in perpetrators.get(key, ()):
            if perp != row["ingredient"]:
                pairs[f"{row['pathway']} {row['effect']}"].add((row["ingredient"], perp))
    return pairs


def pd_pairs(engine: Engine) -> dict[str, set[tuple[str, str]]]:
    """effect → every ingredient pair across the effect's groups that the matrix turns into a row."""
    pairs = defaultdict(set)
    for _, row in engine.kb.table("pd_interactions"):
        for a in row["drugs_a"].split(";"):
            for b in row["drugs_b"].split(";"):
                if a != b:
                    pairs[row["effect"]].add(tuple(sorted((a, b))))
    return pairs


def tally(engine: Engine, groups: dict[str, set[tuple[str, str]]]) -> dict[str, dict]:
    out = {}
    for name in sorted(groups):
        severities, finders = Counter(), Counter()
        for a, b in sorted(groups[name]):
            severity, rule = screen_pair(engine, a, b)
            severities[severity] += 1
            if rule:
                finders["mechanism" if rule.startswith("interactions-mechanism/") else "specific"] += 1
        total = sum(severities.values())
        out[name] = {"pairs": total, "with_problem": total - severities["none"],
                     "severity": {s: severities[s] for s in SEVERITIES if severities[s]}, "led_by": dict(finders)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pd", action="store_true", help="also enumerate effect × effect ingredient pairs")
    parser.add_argument("--pairs", type=Path, help="CSV of drug_a,drug_b[,list] to screen instead of the issue's examples")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    engine = Engine.default()
    result = {"pk": tally(engine, pk_pairs(engine))}
    if args.pd:
        result["pd"] = tally(engine, pd_pairs(engine))
    if args.pairs:
        with args.pairs.open(newline="", encoding="utf-8") as handle:
            listed = [(r["drug_a"].strip().lower(), r["drug_b"].strip().lower(), (r.get("list") or "").strip())
                      for r in csv.DictReader(handle)]
    else:
        listed = [(a, b, "issue-15") for a, b in ISSUE_EXAMPLES]
    result["listed"] = [{"pair": f"{a} + {b}", "list": name, **dict(zip(("severity", "rule"), screen_pair(engine, a, b)))}
                        for a, b, name in listed]

    if args.json:
        print(json.dumps(result, indent=1))
        return
    for layer in ("pk", "pd"):
        if layer not in result:
            continue
        print(f"{'pathway' if layer == 'pk' else 'effect':28} {'pairs':>6} {'problem':>8}  severity of the lead problem")
        totals = Counter()
        for name, row in result[layer].items():
            dist = ", ".join(f"{s} {n}" for s, n in row["severity"].items())
            print(f"{name:28} {row['pairs']:6} {row['with_problem']:8}  {dist}")
            totals.update(row["severity"])
        print(f"{'total':28} {sum(totals.values()):6} {sum(totals.values()) - totals['none']:8}  "
              + ", ".join(f"{s} {totals[s]}" for s in SEVERITIES if totals[s]) + "\n")
    for row in result["listed"]:
        print(f"{row['list']:10} {row['pair']:32} {row['severity']:16} {row['rule']}")


if __name__ == "__main__":
    main()
