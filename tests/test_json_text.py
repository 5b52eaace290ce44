"""dumps_indented writes exactly what json.dumps(indent=2, ensure_ascii=False) writes, whatever the data."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from mtmrules.report.json_text import dumps_indented

_scalars = (st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70) | st.floats()
            | st.text())
_data = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=6) | st.integers(), inner, max_size=4), max_leaves=25)


@settings(max_examples=400, deadline=None)
@given(_data)
def test_same_text_as_json(data):
    assert dumps_indented(data) == json.dumps(data, indent=2, ensure_ascii=False)


def test_the_cases_orjson_writes_differently_fall_back():
    for data in ({"a": 1e-05}, {"a": float("nan")}, {"a": 2**64}, {1: "int key"}, {"a": "\ud800"}, {"a": [], "b": {}}):
        assert dumps_indented(data) == json.dumps(data, indent=2, ensure_ascii=False)
