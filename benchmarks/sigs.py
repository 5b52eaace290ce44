"""Sig reading benchmark on an annotated corpus (default: the development corpus tests/data/sigs.yaml).

    python benchmarks/sigs.py            # accuracy per category, µs per sig
    python benchmarks/sigs.py --json
    python benchmarks/sigs.py --corpus tests/data/sigs_heldout.yaml   # the held-out corpus

Accuracy: a sig counts as exact when every ingredient's daily amount (min and max) and the status
(read / variable / weight-based / unreadable) match the annotation. Speed: ``read`` (uncached: tokenize,
normalise, grammar) and ``read_sig`` (cached per distinct text, as the fact builder calls it), per sig,
best of several passes over the corpus; the product step (``daily_dose``) is timed separately.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mtmrules.knowledge.sig import daily_dose, read_sig  # noqa: E402
from mtmrules.knowledge.sig.grammar import read  # noqa: E402
from mtmrules.knowledge.sig.tokens import _fix_word  # noqa: E402
from tests.sig_corpus import CORPUS, check, load, resolver  # noqa: E402


def _best_us(fn, items, passes: int) -> float:
    best = float("inf")
    for _ in range(passes):
        start = time.perf_counter()
        for item in items:
            fn(item)
        best = min(best, time.perf_counter() - start)
    return best / len(items) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="annotated corpus (YAML, sigs.yaml schema)")
    args = parser.parse_args()
    entries = load(args.corpus)
    total, exact, full = Counter(), Counter(), Counter()
    misses = []
    for entry in entries:
        outcome = check(entry)
        total[entry["c"]] += 1
        exact[entry["c"]] += outcome.daily_ok
        full[entry["c"]] += not outcome.problems
        if not outcome.daily_ok:
            misses.append(f"{entry['c']}: {entry['sig']!r} ({entry['product']})")
    texts = [e["sig"] for e in entries]
    distinct = list(dict.fromkeys(texts))

    def uncached(text: str) -> None:
        _fix_word.cache_clear()   # the typo/glue cache would otherwise make "uncached" warm
        read(text)

    uncached_us = _best_us(uncached, distinct, args.passes)
    read_sig.cache_clear()
    for text in distinct:
        read_sig(text)
    cached_us = _best_us(read_sig, texts, args.passes)
    products = {e["product"]: resolver().drug(e["product"]) for e in entries}
    pairs = [(read_sig(e["sig"]), products[e["product"]]) for e in entries]
    product_us = _best_us(lambda p: daily_dose(p[0], p[1].ingredients, p[1].strengths, p[1].form), pairs, args.passes)
    result = {
        "sigs": len(entries), "distinct": len(distinct),
        "exact_daily_dose": round(sum(exact.values()) / len(entries), 4),
        "all_fields": round(sum(full.values()) / len(entries), 4),
        "per_category": {c: {"sigs": total[c], "exact": exact[c], "share": round(exact[c] / total[c], 4)}
                         for c in sorted(total)},
        "us_per_sig_uncached": round(uncached_us, 1), "us_per_sig_cached": round(cached_us, 2),
        "us_per_daily_dose": round(product_us, 1), "misses": misses,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{'category':<16} {'sigs':>5} {'exact':>6} {'share':>7}")
    for c, row in result["per_category"].items():
        print(f"{c:<16} {row['sigs']:>5} {row['exact']:>6} {row['share']:>7.1%}")
    print(f"{'all':<16} {len(entries):>5} {sum(exact.values()):>6} {result['exact_daily_dose']:>7.1%}"
          f"   (all fields incl. PRN, cap, anchors, days: {result['all_fields']:.1%})")
    print(f"read (uncached): {uncached_us:.1f} µs/sig over {len(distinct)} distinct texts; "
          f"read_sig (cached): {cached_us:.2f} µs/sig; daily_dose: {product_us:.1f} µs")
    for miss in misses:
        print(f"  miss {miss}")


if __name__ == "__main__":
    main()
