"""Interaction coverage: how many of the pairs the mechanism tables describe produce a problem, at which severity.

    python benchmarks/interaction_coverage.py                # every perpetrator × victim pair, per pathway
    python benchmarks/interaction_coverage.py --pd           # also every effect × effect ingredient pair
    python benchmarks/interaction_coverage.py --pairs list.csv   # a held-out list: drug_a,drug_b[,list]
    python benchmarks/interaction_coverage.py --json

Each pair is screened as a two-drug profile (age 50, no labs, oral, no route given) with all built-in
packs, so modifiers stay at the base severity; the figure is the lead problem's severity for the pair
(a label-specific rule if one fires, else the mechanism template) and who found it. Without --pairs,
the issue's examples are screened too, so the classes they stand for are a number, not a claim.

The two published-criteria lists (tests/data/ddi_high_priority.csv, ddi_low_priority.csv) are always
scored: each row is two medication texts with doses, screened on an adult (55) and an older (78)
patient. High priority: *caught* = a problem names both drugs, *severity-correct* = at or above the
row's min_severity. Low priority: *noise* = a problem naming both drugs above the row's max_severity.
A --pairs file with min_severity or max_severity columns is scored the same way.
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
RANK = {s: len(SEVERITIES) - 1 - i for i, s in enumerate(SEVERITIES)}  # none 0 … contraindicated 4
DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
HIGH_PRIORITY = DATA / "ddi_high_priority.csv"
LOW_PRIORITY = DATA / "ddi_low_priority.csv"
#: The two patients each listed pair is screened on (no labs, so lab modifiers stay off).
PATIENTS = {"adult": {"age": 55, "sex": "male"}, "older": {"age": 78, "sex": "female"}}
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


def screen_listed_pair(engine: Engine, med_a: str, med_b: str, patient: str) -> tuple[str, str]:
    """(severity, rule) of the most severe problem naming an ingredient of each medication text,
    ("none", "") when there is none; ("unresolved", "") when a text does not resolve."""
    profile = {"id": f"{med_a}+{med_b}", **PATIENTS[patient], "medications": [med_a, med_b]}
    report = engine.check(profile, as_of=AS_OF)
    ingredients = [set(m.ingredients or ()) for m in report.medications]
    if len(ingredients) != 2 or not all(ingredients):
        return "unresolved", ""
    best = ("none", "")
    for problem in report.problems:
        named = set(problem.medications)
        if (named & ingredients[0] and named & ingredients[1] and _about_interaction(problem)
                and RANK[problem.severity] > RANK[best[0]]):
            best = (problem.severity, problem.rule)
    return best


def _about_interaction(problem) -> bool:
    """An interaction problem, or another problem an interaction finding joined (e.g. a Beers DOAC
    problem that took in the inducer finding); a monitoring gap that happens to name both drugs is not."""
    rules = [problem.rule, *(problem.also_found_by or ())]
    return problem.kind == "drug-drug-interaction" or any(r.startswith("interactions") for r in rules)


def read_list(path: Path) -> list[dict]:
    """Rows of a listed-pairs CSV (drug_a, drug_b, list, min_severity or max_severity, and optionally
    patients: which of PATIENTS the row is about, e.g. `older` for a geriatric criterion; default all)."""
    with path.open(newline="", encoding="utf-8") as handle:
        return [{k: (v or "").strip() for k, v in row.items() if k} for row in csv.DictReader(handle)]


def score_list(engine: Engine, rows: list[dict]) -> dict:
    """Each row screened on every patient; the list's caught / severity-correct / noise figures."""
    results, caught, correct, noisy, expected, bounded = [], 0, 0, 0, 0, 0
    for row in rows:
        for patient in (row.get("patients") or " ".join(PATIENTS)).split():
            severity, rule = screen_listed_pair(engine, row["drug_a"], row["drug_b"], patient)
            rank = RANK.get(severity, 0)
            verdict = ""
            if row.get("min_severity"):
                expected += 1
                caught += rank > 0
                ok = rank >= RANK[row["min_severity"]]
                correct += ok
                verdict = "ok" if ok else ("LOW" if rank else "MISSED")
            if row.get("max_severity"):
                bounded += 1
                over = rank > RANK[row["max_severity"]]
                noisy += over
                verdict = "NOISE" if over else "ok"
            results.append({"pair": f"{row['drug_a']} + {row['drug_b']}", "list": row.get("list", ""),
                            "patient": patient, "severity": severity, "rule": rule, "verdict": verdict})
    summary = {"rows": len(rows), "screened": len(results)}
    if expected:
        summary.update(caught=caught, severity_correct=correct, of=expected)
    if bounded:
        summary.update(noise=noisy, of=bounded, noise_rate=round(noisy / bounded, 3))
    return {"summary": summary, "results": results}


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
    lists = {"high-priority": HIGH_PRIORITY, "low-priority": LOW_PRIORITY}
    if args.pairs and {"min_severity", "max_severity"} & set(read_list(args.pairs)[0] if read_list(args.pairs) else {}):
        lists = {args.pairs.stem: args.pairs}
        args.pairs = None
    result["lists"] = {name: score_list(engine, read_list(path)) for name, path in lists.items()}
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
    for name, scored in result["lists"].items():
        print(f"\n{name}: " + ", ".join(f"{k} {v}" for k, v in scored["summary"].items()))
        for row in scored["results"]:
            if row["verdict"] != "ok":
                print(f"  {row['verdict']:7} {row['patient']:6} {row['list']:24} {row['pair']:70} {row['severity']:15} {row['rule']}")


if __name__ == "__main__":
    main()
