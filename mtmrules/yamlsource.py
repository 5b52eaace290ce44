"""Safe YAML/JSON loading that remembers the line of every value, for file:line error messages."""

from __future__ import annotations

import json
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


def load_text(text: str, file: str = "<input>") -> Document:
    """Parse YAML (JSON is a subset) safely, keeping line numbers."""
    loader = _LineLoader(text)
    loader._lines = {}
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"not valid YAML/JSON: {problem}", file=file,
                         line=mark.line + 1 if mark else None) from None
    finally:
        loader.dispose()
    return Document(data, file, loader._lines)


def load_file(path: str | Path) -> Document:
    """Read and parse a YAML or JSON file; a missing or unreadable file is an InputError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("file not found", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read file ({exc.__class__.__name__})", file=str(path)) from None
    if path.suffix.lower() == ".json":
        try:
            return Document(json.loads(text), str(path), text=text)
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON: {exc.msg}", file=str(path), line=exc.lineno) from None
    return load_text(text, str(path))
