"""Bulk lines the strict first pass accepts are read the same by ``load_line`` (orjson when installed)
as by the standard library: no number, string or structure may come back different."""

import codecs
import json

import pytest

from hypothesis import given, settings
from hypothesis import strategies as st

from mtmrules.adapters.bulk import load_line
from mtmrules.errors import InputError
from mtmrules.yamlsource import decode, parse_json

_scalars = (st.none() | st.booleans() | st.integers(min_value=-10**39, max_value=10**39)
            | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12))
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
                       max_leaves=20)


def _same(a, b) -> bool:
    return repr(a) == repr(b)   # repr tells -0.0 from 0.0 and 1 from 1.0


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=8), _values, min_size=1, max_size=5), st.booleans(), st.booleans())
def test_load_line_reads_what_json_reads(resource, ascii_only, bom):
    text = json.dumps(resource, ensure_ascii=ascii_only)
    raw = ("\ufeff" if bom else "").encode() + text.encode("utf-8", "surrogatepass")
    try:
        expected = parse_json(raw.decode("utf-8-sig"))
    except (InputError, UnicodeDecodeError):
        return   # the first pass reports such a line; it never reaches load_line
    assert _same(load_line(raw), expected)


def test_big_integers_and_lone_surrogates_are_not_misread():
    for raw in (b'{"a": 123456789012345678901234567890}', b'{"a": -9223372036854775809}',
                b'{"a": 18446744073709551616}', b'{"a": "\\ud800"}', b'\xef\xbb\xbf{"a": 1}'):
        assert _same(load_line(raw), json.loads(raw.decode("utf-8-sig")))


@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=40), st.sampled_from([b"", codecs.BOM_UTF8, codecs.BOM_UTF8 * 2, b"\xef\xbb"]))
def test_decode_reads_and_refuses_what_the_utf8_sig_codec_does(body, prefix):
    """The first pass decodes each line without the "utf-8-sig" codec: same text, same error position."""
    raw = prefix + body
    try:
        expected = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        with pytest.raises(InputError, match=rf"not valid UTF-8 \(byte {exc.start + 1}\)"):
            decode(raw, "lines.ndjson", 1)
    else:
        assert decode(raw, "lines.ndjson", 1) == expected
