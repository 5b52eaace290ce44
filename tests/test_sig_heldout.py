"""The held-out sig corpus (tests/data/sigs_heldout.yaml), written blind from pharmacy label, e-prescription and
discharge wording: one test per sig, compared as the development corpus is (tests/sig_corpus.check)."""

import pytest

from tests.sig_corpus import HELDOUT, check, load, params

ENTRIES = load(HELDOUT)


def test_heldout_corpus_is_large_and_varied():
    categories = {e["c"] for e in ENTRIES}
    assert len(ENTRIES) >= 300
    assert {"frequency", "amounts", "noise", "prn-cap", "taper", "weekly", "spanish", "liquid", "inhaler",
            "drops-topical", "patch", "injection", "insulin", "combination", "as-directed"} <= categories
    assert all(len([e for e in ENTRIES if e["c"] == c]) >= 10 for c in categories)


def test_heldout_corpus_does_not_repeat_the_development_corpus():
    # written independently, a few common phrasings ("1tab po bid") coincide; a copy would not be held out
    development = {(e["sig"], e["product"]) for e in load()}
    shared = [e["sig"] for e in ENTRIES if (e["sig"], e["product"]) in development]
    assert len(shared) <= 0.02 * len(ENTRIES), shared


@pytest.mark.parametrize("entry", params(ENTRIES))
def test_heldout_sig(entry):
    outcome = check(entry)
    assert not outcome.problems, f"{entry['sig']!r}: {outcome.problems}; read as {outcome.reading.describe()}"
