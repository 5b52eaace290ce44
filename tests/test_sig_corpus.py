"""The annotated sig corpus (tests/data/sigs.yaml), one test per sig: daily amount per ingredient (min/max),
status, PRN, written maximum, timing anchors and days of the week."""

import pytest

from tests.sig_corpus import check, load, params

ENTRIES = load()


def test_corpus_is_large_and_covers_every_category():
    categories = {e["c"] for e in ENTRIES}
    assert len(ENTRIES) >= 500
    assert {"frequency", "interval", "days", "anchors", "amounts", "ranges", "numbers", "noise", "duration",
            "taper", "prn-cap", "liquid", "inhaler", "drops-topical", "patch", "combination", "insulin",
            "weight-rate"} <= categories
    assert all(len([e for e in ENTRIES if e["c"] == c]) >= 15 for c in categories)


@pytest.mark.parametrize("entry", params(ENTRIES))
def test_sig(entry):
    outcome = check(entry)
    assert not outcome.problems, f"{entry['sig']!r}: {outcome.problems}; read as {outcome.reading.describe()}"
