"""Score the engine against the pharmacist review cases in examples/review/cases/.

usage: python benchmarks/review_score.py [CASES_DIR] [--verbose] [--src CHECKOUT]

--src scores another checkout's code (e.g. main, for before/after figures) on the same cases.

Prints, per case and in total: expected findings found, traps (must_not) violated, whether the problem
to work first (`first`) ranks in the top three, and the alerts in neither list ("other"). Each other
alert is looked up in the cases' judgements.yaml (TRUE / NOISE / FALSE with a cited reason); the
noise share is NOISE + FALSE over the judged others, and unjudged others are listed so they get judged.
Matching follows the team's shared scorer (kind list, medications as case-insensitive substrings of a
problem's medications or title, severity bounds, optional title_any over title and explanation).
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
_SRC = sys.argv[sys.argv.index("--src") + 1] if "--src" in sys.argv[:-1] else str(ROOT)
sys.path.insert(0, _SRC)

from mtmrules import Engine  # noqa: E402

AS_OF = date(2026, 11, 27)
SEVERITY = {"minor": 0, "moderate": 1, "major": 2, "contraindicated": 3}


def _list(value) -> list:
    return [] if value is None else list(value) if isinstance(value, (list, tuple)) else [value]


def _meds(problem: dict, meds) -> bool:
    hay = [m.lower() for m in problem["medications"]] + [problem["title"].lower()]
    return all(any(str(m).lower() in h for h in hay) for m in _list(meds))


def _kind(problem: dict, kinds) -> bool:
    kinds = [str(k).lower() for k in _list(kinds)]
    return not kinds or problem["kind"] in kinds


def _title(problem: dict, item: dict) -> bool:
    wanted = [str(t).lower() for t in _list(item.get("title_any"))]
    text = (problem["title"] + "\n" + problem["explanation"]).lower()
    return not wanted or any(t in text for t in wanted)


def matches_expected(problem: dict, item: dict) -> bool:
    """True when ``problem`` satisfies an expected (or first) item."""
    return (_kind(problem, item.get("kind")) and _meds(problem, item.get("medications"))
            and SEVERITY[problem["severity"]] >= SEVERITY.get(item.get("min_severity", "minor"), 0)
            and _title(problem, item))


def violates(problem: dict, item: dict) -> bool:
    """True when ``problem`` falls in a must_not trap."""
    if not (_kind(problem, item.get("kind")) and _meds(problem, item.get("medications")) and _title(problem, item)):
        return False
    return "max_severity" not in item or SEVERITY[problem["severity"]] > SEVERITY[item["max_severity"]]


def judgement_key(case_id: str, problem: dict) -> str:
    """How an other alert is named in judgements.yaml: case file stem, rule id, medications."""
    return f"{case_id} {problem['rule']} {','.join(problem['medications'])}"


def score_case(engine: Engine, path: Path) -> dict:
    """One case scored: counts, the other alerts and printable lines."""
    case = yaml.safe_load(path.read_text(encoding="utf-8"))
    report = engine.check(case["profile"], as_of=AS_OF).to_dict()
    problems = report["problems"]
    used: set[int] = set()
    lines, found = [], 0
    for item in case.get("expected") or []:
        hits = [i for i, p in enumerate(problems) if matches_expected(p, item)]
        used.update(hits)
        found += bool(hits)
        lines.append(("FOUND  " if hits else "MISSED ") + f"{_describe(item)}"
                     + (f" <- #{problems[hits[0]]['rank']}" if hits else ""))
    violated = 0
    for item in case.get("must_not") or []:
        hits = [i for i, p in enumerate(problems) if violates(p, item)]
        used.update(hits)
        violated += bool(hits)
        lines += [f"TRAP   {_describe(item)} by #{problems[i]['rank']} {problems[i]['title']}" for i in hits]
    first = case.get("first")
    first_rank = next((p["rank"] for p in problems if first and matches_expected(p, first)), None)
    top3 = first is not None and first_rank is not None and first_rank <= 3
    lines.append(f"first: {_describe(first) if first else '-'} -> "
                 f"{'#' + str(first_rank) if first_rank else 'not found'}{'' if top3 else '  (NOT IN TOP 3)'}")
    others = [p for i, p in enumerate(problems) if i not in used]
    unresolved = [u["input"] for u in report["unresolved"] if u["kind"] == "medication"]
    return {"id": path.stem, "expected": len(case.get("expected") or []), "found": found,
            "must_not": len(case.get("must_not") or []), "violated": violated, "has_first": first is not None,
            "top3": top3, "problems": problems, "others": others, "lines": lines, "unresolved": unresolved}


def _describe(item: dict) -> str:
    kinds = "/".join(str(k) for k in _list(item.get("kind"))) or "any kind"
    meds = ", ".join(str(m) for m in _list(item.get("medications"))) or "-"
    extra = f" title~{'|'.join(_list(item['title_any']))}" if item.get("title_any") else ""
    extra += f" >= {item['min_severity']}" if item.get("min_severity") else ""
    extra += f" (allowed up to {item['max_severity']})" if item.get("max_severity") else ""
    return f"{kinds} [{meds}]{extra}"


def main(argv: list[str]) -> int:
    args = [a for i, a in enumerate(argv[1:], 1) if not a.startswith("--") and argv[i - 1] != "--src"]
    verbose = "--verbose" in argv
    cases_dir = Path(args[0]) if args else ROOT / "examples" / "review" / "cases"
    files = sorted(cases_dir.glob("c*.yaml"))
    judged_path = cases_dir / "judgements.yaml"
    judgements = (yaml.safe_load(judged_path.read_text(encoding="utf-8")) or {}) if judged_path.exists() else {}
    engine = Engine.default()
    totals = dict(expected=0, found=0, must_not=0, violated=0, cases=0, top3=0, problems=0, others=0)
    verdicts = {"TRUE": 0, "NOISE": 0, "FALSE": 0}
    unjudged: list[str] = []
    for path in files:
        result = score_case(engine, path)
        totals["cases"] += 1
        for key in ("expected", "found", "must_not", "violated"):
            totals[key] += result[key]
        totals["top3"] += result["top3"]
        totals["problems"] += len(result["problems"])
        totals["others"] += len(result["others"])
        print(f"=== {result['id']}: found {result['found']}/{result['expected']}, traps {result['violated']}, "
              f"first in top 3: {'yes' if result['top3'] else 'NO'}, problems {len(result['problems'])}, "
              f"other {len(result['others'])}")
        if verbose or result["found"] < result["expected"] or result["violated"] or not result["top3"]:
            for line in result["lines"]:
                print("   " + line)
        if verbose:
            for p in result["problems"]:
                print(f"   #{p['rank']} {p['severity']} {p['kind']} {p['title']} [{p['rule']}]")
        for p in result["others"]:
            key = judgement_key(result["id"], p)
            verdict = (judgements.get(key) or {}).get("verdict")
            verdict = {True: "TRUE", False: "FALSE"}.get(verdict, verdict)  # YAML reads bare TRUE as a boolean
            if verdict in verdicts:
                verdicts[verdict] += 1
            else:
                unjudged.append(key)
            print(f"   other: [{verdict or 'UNJUDGED'}] #{p['rank']} {p['severity']} {p['kind']} :: {p['title']}"
                  f"  ({key})")
        if result["unresolved"]:
            print(f"   unresolved: {'; '.join(result['unresolved'])}")
    judged = sum(verdicts.values())
    noise = verdicts["NOISE"] + verdicts["FALSE"]
    print()
    print(f"cases {totals['cases']}; expected found {totals['found']}/{totals['expected']}; "
          f"traps violated {totals['violated']}/{totals['must_not']}; first problem in top 3 "
          f"{totals['top3']}/{totals['cases']}; problems {totals['problems']}; other alerts {totals['others']}")
    print(f"other alerts judged {judged}/{totals['others']}: TRUE {verdicts['TRUE']}, NOISE {verdicts['NOISE']}, "
          f"FALSE {verdicts['FALSE']}; noise share {noise / judged:.0%}" if judged else
          f"other alerts judged 0/{totals['others']}")
    if unjudged:
        print(f"{len(unjudged)} other alerts not judged yet (add them to {judged_path.name})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
