"""Safe YAML/JSON loading that remembers the line of every value, for file:line error messages.

This is the edge every input file passes: regular files only (never a device or a FIFO), a size
cap, UTF-8 (a byte-order mark is accepted), no duplicate keys, no NaN/Infinity, no integers of
thousands of digits, and a cap on nesting depth. Each breach is an :class:`InputError` naming the
file, never a traceback, a hang or unbounded memory.
"""

from __future__ import annotations

import codecs
import json
import math
import os
import stat
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from mtmrules.errors import InputError

Loc = tuple[Any, ...]


class _LineLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml when available: ~5× faster
    """SafeLoader that records the 1-based line of each mapping value and sequence item."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict:
    mapping = {}
    lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        mapping[key] = loader.construct_object(value_node, deep=True)
        lines[key] = key_node.start_mark.line + 1
    loader._lines[id(mapping)] = (node.start_mark.line + 1, lines)
    return mapping


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> list:
    items = [loader.construct_object(child, deep=True) for child in node.value]
    loader._lines[id(items)] = (node.start_mark.line + 1,
                                {i: child.start_mark.line + 1 for i, child in enumerate(node.value)})
    return items


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)
# Dates stay strings until pydantic parses them, so error messages show what the user wrote.
_LineLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class Document:
    """Parsed data plus a way to find the line of any path inside it."""

    def __init__(self, data: Any, file: str, lines: dict[int, tuple[int, dict]] | None = None,
                 text: str | None = None) -> None:
        self.data = data
        self.file = file
        self._lines = lines or {}
        self._text = text   # JSON source: lines are worked out only when an error needs one

    def line_of(self, loc: Loc, root: Any = None) -> int | None:
        """Line of the deepest value along ``loc`` that the loader saw."""
        if self._text is not None and root is None:
            try:
                lined = load_text(self._text, self.file)
                self.data, self._lines = lined.data, lined._lines
            except InputError:
                pass
            self._text = None
        node = self.data if root is None else root
        line = self._lines.get(id(node), (None, {}))[0]
        for part in loc:
            entry = self._lines.get(id(node))
            if entry is None:
                break
            try:
                line = entry[1].get(part, line)
                node = node[part]
            except (KeyError, IndexError, TypeError):
                break
        return line

    def error(self, loc: Loc, message: str, root: Any = None) -> InputError:
        where = ".".join(str(p) for p in loc) if loc else None
        return InputError(message, file=self.file, line=self.line_of(loc, root), where=where)

    def validation_error(self, exc: ValidationError, loc_prefix: Loc = (), root: Any = None,
                         error_index: int = 0) -> InputError:
        """One pydantic error (the first by default), as one line with file, line and field."""
        first = exc.errors(include_url=False)[error_index]
        loc = tuple(p for p in first["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        message = first["msg"]
        if first["type"] == "extra_forbidden":
            message = "unknown field (check the spelling)"
        elif first["type"] == "missing":
            message = "required field is missing"
        elif first["type"] in ("literal_error", "enum"):
            message = message.replace("Input should be", "expected")
        if first["type"] != "missing" and "input" in first and not isinstance(first["input"], (dict, list)):
            message += f" (got {first['input']!r})"
        return self.error(loc_prefix + loc, message, root)


#: largest input file read whole (a profile, a Bundle, a pack): far above any real one
MAX_FILE_BYTES = 256 * 1024 * 1024
#: deepest nesting of mappings/lists accepted (FHIR resources nest about 10 deep)
MAX_DEPTH = 64
#: longest integer literal accepted (a 64-bit integer has at most 20 digits)
MAX_INT_DIGITS = 40


def check_regular_file(path: Path, max_bytes: int = MAX_FILE_BYTES) -> int:
    """Size of ``path`` after checking it is a readable regular file of at most ``max_bytes``."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise InputError("file not found", file=str(path)) from None
    except OSError as exc:
        raise InputError(f"cannot read file ({exc.strerror or exc.__class__.__name__})", file=str(path)) from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError("expected a file, got a folder", file=str(path))
    if not stat.S_ISREG(info.st_mode):
        raise InputError("expected a regular file (not a device, FIFO or socket)", file=str(path))
    if info.st_size > max_bytes:
        raise InputError(f"file is {info.st_size:,} bytes; the limit is {max_bytes:,}", file=str(path))
    return info.st_size


def without_bom(raw: bytes) -> bytes:
    """``raw`` without a leading UTF-8 byte-order mark: what the "utf-8-sig" codec skips, without that
    codec (written in Python: half the cost of reading a Bulk line)."""
    return raw[3:] if raw.startswith(codecs.BOM_UTF8) else raw


def decode(raw: bytes, file: str, line: int | None = None) -> str:
    """UTF-8 text (a leading byte-order mark dropped); invalid UTF-8 names the line it is on."""
    try:
        return without_bom(raw).decode()   # error positions are the codec's: after the mark
    except UnicodeDecodeError as exc:
        bad_line = (line or 1) + raw.count(b"\n", 0, exc.start)
        raise InputError(f"not valid UTF-8 (byte {exc.start + 1})", file=file, line=bad_line) from None


def read_text(path: str | Path, max_bytes: int = MAX_FILE_BYTES) -> str:
    """The text of a regular UTF-8 file of bounded size."""
    path = Path(path)
    check_regular_file(path, max_bytes)
    try:
        with path.open("rb") as handle:
            raw = handle.read(max_bytes + 1)   # the file may have grown since stat
    except OSError as exc:
        raise InputError(f"cannot read file ({exc.strerror or exc.__class__.__name__})", file=str(path)) from None
    if len(raw) > max_bytes:
        raise InputError(f"file is larger than the limit of {max_bytes:,} bytes", file=str(path))
    return decode(raw, str(path))


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]}… is out of range" if len(text) > 20 else f"number {text} is out of range")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"integer of {len(text.lstrip('-'))} digits (at most {MAX_INT_DIGITS})")
    return int(text)


#: strict JSON (see ``parse_json``), built once: ``json.loads`` with hooks builds a decoder per call
_STRICT_JSON = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_reject_constant,
                                parse_float=_finite_float, parse_int=_bounded_int)


def parse_json(text: str, file: str = "<input>", line: int | None = None) -> Any:
    """Strict JSON: duplicate keys, NaN/Infinity, overlong integers and deep nesting are InputErrors."""
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        if text.startswith("\ufeff"):   # a second BOM, as json.loads reports it
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        data = _STRICT_JSON.decode(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", file=file,
                         line=exc.lineno if line is None else line) from None
    except ValueError as exc:   # raised by the hooks above
        if line is None and str(exc).startswith("duplicate key"):
            load_text(text, file)   # YAML reads JSON too, and names the line of the duplicate
        raise InputError(f"not valid JSON: {exc}", file=file, line=line) from None
    except RecursionError:
        raise InputError(f"not valid JSON: nested more than {MAX_DEPTH} levels deep", file=file, line=line) from None
    if text.count("{") + text.count("[") > MAX_DEPTH:   # fewer brackets cannot nest deeper (a walk costs 2× the parse)
        check_depth(data, file, line)
    return data


def check_depth(data: Any, file: str, line: int | None = None, limit: int = MAX_DEPTH) -> None:
    """InputError when mappings/lists nest deeper than ``limit`` (checked without recursion)."""
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            raise InputError(f"nested more than {limit} levels deep", file=file, line=line)
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))


def _check_yaml_values(data: Any, file: str, doc: "Document") -> None:
    """YAML's .nan/.inf and giant integers are as unusable as JSON's; reject them with their line."""
    stack: list[tuple[Any, tuple]] = [(data, ())]
    while stack:
        node, loc = stack.pop()
        if isinstance(node, dict):
            stack.extend((v, loc + (k,)) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, loc + (i,)) for i, v in enumerate(node))
        elif isinstance(node, float) and not math.isfinite(node):
            raise doc.error(loc, f"{node} is not a usable number")
        elif isinstance(node, int) and abs(node).bit_length() > 128:
            raise doc.error(loc, f"integer of {len(str(abs(node)))} digits (at most {MAX_INT_DIGITS})")


def load_text(text: str, file: str = "<input>") -> Document:
    """Parse YAML (JSON is a subset) safely, keeping line numbers."""
    if text.startswith("\ufeff"):
        text = text[1:]
    loader = _LineLoader(text)
    loader._lines = {}
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"not valid YAML/JSON: {problem}", file=file,
                         line=mark.line + 1 if mark else None) from None
    except RecursionError:
        raise InputError(f"not valid YAML/JSON: nested more than {MAX_DEPTH} levels deep", file=file) from None
    except ValueError:   # an integer of more digits than Python converts
        raise InputError(f"not valid YAML/JSON: an integer of more than {MAX_INT_DIGITS} digits", file=file) from None
    finally:
        loader.dispose()
    check_depth(data, file)
    doc = Document(data, file, loader._lines)
    _check_yaml_values(data, file, doc)
    return doc


def load_file(path: str | Path) -> Document:
    """Read and parse a YAML or JSON file; a missing, unreadable or malformed file is an InputError."""
    path = Path(path)
    text = read_text(path)
    if path.suffix.lower() == ".json":
        return Document(parse_json(text, str(path)), str(path), text=text)
    return load_text(text, str(path))
