"""The knowledge base: drugs, classes, conditions, labs and tables loaded from ``knowledge/``.

Every table is checked when loaded: unknown source keys, unknown ingredients or classes, and
malformed rows are errors naming the file and line, so a bad edit never degrades screening silently.
"""

from __future__ import annotations

import re

import csv
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from mtmrules.errors import InputError
from mtmrules.knowledge.interactions import DERIVED_SOURCES, DERIVED_TABLES
from mtmrules.knowledge.text import normalise
from mtmrules.yamlsource import Document, load_file

#: a knowledge table is named, never addressed by path
_TABLE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def default_knowledge_dir() -> Path:
    """The bundled knowledge: ``knowledge/`` in a checkout, ``mtmrules/_knowledge`` in a wheel."""
    override = os.environ.get("MTMRULES_KNOWLEDGE")
    if override:
        return Path(override)
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "_knowledge", here.parent / "knowledge"):
        if (candidate / "sources.yaml").exists():
            return candidate
    raise InputError("bundled knowledge not found (expected knowledge/sources.yaml)")


@dataclass(frozen=True)
class Source:
    key: str
    citation: str
    url: str | None
    licence: str | None
    kind: str | None


@dataclass(frozen=True)
class Ingredient:
    id: str
    rxcui: str | None
    brands: tuple[str, ...]
    synonyms: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class Product:
    name: str
    rxcui: str | None
    ingredients: tuple[str, ...]
    strengths: tuple[str, ...]
    form: str | None
    route: str | None


@dataclass(frozen=True)
class DrugClass:
    id: str
    label: str
    parents: tuple[str, ...]
    source: str
    description: str = ""


@dataclass(frozen=True)
class ConditionGroup:
    id: str
    label: str
    names: tuple[str, ...]
    snomed: tuple[str, ...]
    icd10: tuple[str, ...]
    parents: tuple[str, ...]


@dataclass(frozen=True)
class LabDef:
    id: str
    label: str
    names: tuple[str, ...]
    loinc: tuple[str, ...]
    unit: str
    conversions: dict[str, float] = field(default_factory=dict)


def _split(cell: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (cell or "").split(";") if part.strip())


def read_csv(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """Rows of a knowledge CSV with their line numbers; missing columns are an error."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                raise InputError(f"missing column(s) {', '.join(missing)}", file=str(path), line=1)
            rows = []
            for row in reader:
                clean = {k: (v or "").strip() for k, v in row.items() if k is not None}
                if any(clean.values()):
                    rows.append((reader.line_num, clean))
            return rows
    except FileNotFoundError:
        raise InputError("knowledge table not found", file=str(path)) from None


class KnowledgeBase:
    """All clinical knowledge, indexed for resolution and rule compilation."""

    def __init__(self, directory: str | Path | None = None) -> None:
        self.dir = Path(directory) if directory else default_knowledge_dir()
        self.sources = self._load_sources()
        self.ingredients = self._load_drugs()
        self.classes = self._load_classes()
        self.class_members = self._load_members()
        self.products = self._load_products()
        self.conditions = self._load_conditions()
        self.labs = self._load_labs()
        self.allergens = self._load_allergens()
        self._tables: dict[str, list[tuple[int, dict[str, str]]]] = {}

    # --- loading -----------------------------------------------------------------------------

    def _check_source(self, key: str, file: Path, line: int | None) -> str:
        for part in _split(key):
            if part not in self.sources:
                raise InputError(f"source key {part!r} is not defined in sources.yaml",
                                 file=str(file), line=line)
        if not key:
            raise InputError("row has no source", file=str(file), line=line)
        return key

    def _load_sources(self) -> dict[str, Source]:
        sources: dict[str, Source] = {}
        for path in self._files("sources", ".yaml"):
            doc = load_file(path)
            if not isinstance(doc.data, dict):
                raise doc.error((), "expected a mapping of source key → {citation, url, licence, kind}")
            for key, entry in doc.data.items():
                if not isinstance(entry, dict) or not entry.get("citation"):
                    raise doc.error((key,), "each source needs a citation")
                if key in sources:
                    raise doc.error((key,), f"source {key!r} is defined twice")
                sources[key] = Source(key, entry["citation"], entry.get("url"), entry.get("licence"),
                                      entry.get("kind"))
        return sources

    def _load_drugs(self) -> dict[str, Ingredient]:
        path = self.dir / "drugs.csv"
        out: dict[str, Ingredient] = {}
        for line, row in read_csv(path, ("ingredient", "rxcui", "brands", "synonyms", "source")):
            ing = row["ingredient"].lower()
            if ing in out:
                raise InputError(f"duplicate ingredient {ing!r}", file=str(path), line=line)
            self._check_source(row["source"], path, line)
            out[ing] = Ingredient(ing, row["rxcui"] or None, _split(row["brands"]),
                                  _split(row["synonyms"]), row["source"])
        return out

    def _require_ingredient(self, ing: str, file: Path, line: int | None) -> str:
        if ing not in self.ingredients:
            raise InputError(f"unknown ingredient {ing!r} (not in drugs.csv)", file=str(file), line=line)
        return ing

    def _files(self, stem: str, suffix: str) -> list[Path]:
        """``stem.suffix`` plus any ``stem-*.suffix`` extension files, in name order."""
        return [self.dir / f"{stem}{suffix}", *sorted(self.dir.glob(f"{stem}-*{suffix}"))]

    def _yaml_entries(self, stem: str) -> list[tuple[Document, int, dict]]:
        entries = []
        for path in self._files(stem, ".yaml"):
            doc = load_file(path)
            if not isinstance(doc.data, list):
                raise doc.error((), "expected a list of entries")
            for i, entry in enumerate(doc.data):
                if not isinstance(entry, dict) or "id" not in entry:
                    raise doc.error((i,), "each entry needs an id")
                self._check_source(str(entry.get("source", "")), path, doc.line_of((i,)))
                entries.append((doc, i, entry))
        seen: set[str] = set()
        for doc, i, entry in entries:
            if entry["id"] in seen:
                raise doc.error((i, "id"), f"duplicate id {entry['id']!r}")
            seen.add(entry["id"])
        return entries

    def _load_classes(self) -> dict[str, DrugClass]:
        entries = self._yaml_entries("classes")
        out = {e["id"]: DrugClass(e["id"], e.get("label", e["id"]), tuple(e.get("parents") or ()), e["source"],
                                  e.get("description", "")) for _, _, e in entries}
        for doc, i, entry in entries:
            for parent in entry.get("parents") or ():
                if parent not in out:
                    raise doc.error((i, "parents"), f"unknown parent class {parent!r}")
        return out

    def _load_members(self) -> dict[str, set[str]]:
        members: dict[str, set[str]] = {c: set() for c in self.classes}
        for path in self._files("class_members", ".csv"):
            for line, row in read_csv(path, ("class", "ingredient", "source")):
                if row["class"] not in self.classes:
                    raise InputError(f"unknown class {row['class']!r}", file=str(path), line=line)
                self._require_ingredient(row["ingredient"], path, line)
                self._check_source(row["source"], path, line)
                members[row["class"]].add(row["ingredient"])
        return members

    def _load_products(self) -> list[Product]:
        path = self.dir / "products.csv"
        out = []
        for line, row in read_csv(path, ("product", "rxcui", "ingredients", "strengths", "form", "route",
                                         "source")):
            ings = _split(row["ingredients"].lower())
            for ing in ings:
                self._require_ingredient(ing, path, line)
            self._check_source(row["source"], path, line)
            out.append(Product(row["product"], row["rxcui"] or None, ings, _split(row["strengths"]),
                               row["form"] or None, row["route"] or None))
        return out

    def _load_conditions(self) -> dict[str, ConditionGroup]:
        entries = self._yaml_entries("conditions")
        out = {}
        for _, _, entry in entries:
            out[entry["id"]] = ConditionGroup(
                entry["id"], entry.get("label", entry["id"]),
                tuple(str(n).lower() for n in entry.get("names") or ()),
                tuple(str(c) for c in entry.get("snomed") or ()),
                tuple(str(c).upper() for c in entry.get("icd10") or ()),
                tuple(entry.get("parents") or ()))
        for doc, i, entry in entries:
            for parent in entry.get("parents") or ():
                if parent not in out:
                    raise doc.error((i, "parents"), f"unknown parent group {parent!r}")
        return out

    def _load_labs(self) -> dict[str, LabDef]:
        doc = load_file(self.dir / "labs.yaml")
        out = {}
        for i, entry in enumerate(doc.data or []):
            self._check_source(str(entry.get("source", "")), self.dir / "labs.yaml", doc.line_of((i,)))
            out[entry["id"]] = LabDef(
                entry["id"], entry.get("label", entry["id"]),
                tuple(str(n).lower() for n in entry.get("names") or ()),
                tuple(str(c) for c in entry.get("loinc") or ()),
                str(entry.get("unit", "")),
                {str(k).lower(): float(v) for k, v in (entry.get("conversions") or {}).items()})
        return out

    def _load_allergens(self) -> dict[str, tuple[str, str]]:
        """Allergy terms ("sulfa", "penicillins") → ("class"|"ingredient", id)."""
        path = self.dir / "allergens.csv"
        out: dict[str, tuple[str, str]] = {}
        if not path.exists():
            return out
        for line, row in read_csv(path, ("term", "class", "ingredient", "source")):
            self._check_source(row["source"], path, line)
            if row["class"]:
                if row["class"] not in self.classes:
                    raise InputError(f"unknown class {row['class']!r}", file=str(path), line=line)
                out[normalise(row["term"])] = ("class", row["class"])
            else:
                out[normalise(row["term"])] = ("ingredient", self._require_ingredient(row["ingredient"], path, line))
        return out

    # --- derived indexes ---------------------------------------------------------------------

    @cached_property
    def class_descendants(self) -> dict[str, set[str]]:
        """Class → itself and every class below it."""
        children: dict[str, set[str]] = {c: set() for c in self.classes}
        for cls in self.classes.values():
            for parent in cls.parents:
                children[parent].add(cls.id)
        out: dict[str, set[str]] = {}

        def walk(cid: str, seen: set[str]) -> set[str]:
            if cid in out:
                return out[cid]
            result = {cid}
            for child in children[cid]:
                if child not in seen:
                    result |= walk(child, seen | {child})
            out[cid] = result
            return result

        for cid in self.classes:
            walk(cid, {cid})
        return out

    def class_ingredients(self, class_id: str) -> frozenset[str]:
        """Every ingredient in a class, including members of its subclasses."""
        return frozenset().union(*(self.class_members[c] for c in self.class_descendants[class_id]))

    @cached_property
    def ingredient_classes(self) -> dict[str, frozenset[str]]:
        """Ingredient → every class it belongs to, ancestors included."""
        out: dict[str, set[str]] = {i: set() for i in self.ingredients}
        for cid in self.classes:
            for ing in self.class_ingredients(cid):
                out[ing].add(cid)
        return {k: frozenset(v) for k, v in out.items()}

    @cached_property
    def condition_ancestors(self) -> dict[str, frozenset[str]]:
        out: dict[str, frozenset[str]] = {}

        def walk(gid: str, trail: tuple[str, ...]) -> frozenset[str]:
            if gid in out:
                return out[gid]
            result = {gid}
            for parent in self.conditions[gid].parents:
                if parent not in trail:
                    result |= walk(parent, trail + (parent,))
            out[gid] = frozenset(result)
            return out[gid]

        for gid in self.conditions:
            walk(gid, (gid,))
        return out

    @cached_property
    def condition_descendants(self) -> dict[str, frozenset[str]]:
        out: dict[str, set[str]] = {g: set() for g in self.conditions}
        for gid, ancestors in self.condition_ancestors.items():
            for anc in ancestors:
                out[anc].add(gid)
        return {k: frozenset(v) for k, v in out.items()}

    def table(self, name: str) -> list[tuple[int, dict[str, str]]]:
        """Rows (with line numbers) of ``knowledge/<name>.csv`` for table-driven rules."""
        if name not in self._tables and name in DERIVED_TABLES:
            self._tables[name] = DERIVED_TABLES[name](self)
        if name not in self._tables:
            path = self.table_path(name)
            rows = read_csv(path, ("source",))
            for line, row in rows:
                self._check_source(row["source"], path, line)
                if "ingredient" in row and row["ingredient"]:
                    self._require_ingredient(row["ingredient"], path, line)
            self._tables[name] = rows
        return self._tables[name]

    def table_path(self, name: str) -> Path:
        """``knowledge/<name>.csv`` (for a derived table, the table its rows' line numbers refer to); a name
        that is a path, or a file that leads outside the knowledge folder (``..``, an absolute path, a
        symlink out), is an InputError: packs read only knowledge."""
        if not isinstance(name, str) or not _TABLE_NAME.fullmatch(name):
            raise InputError(f"table {name!r}: expected the name of a table in the knowledge folder "
                             "(letters, digits, - and _; no path)", file=str(self.dir))
        path = self.dir / f"{DERIVED_SOURCES.get(name, name)}.csv"
        root = self.dir.resolve()
        if path.exists() and root not in path.resolve().parents:
            raise InputError(f"table {name!r} leads outside the knowledge folder", file=str(path))
        return path

    def describe(self) -> dict[str, Any]:
        """Counts, for `mtmrules coverage` and the docs."""
        return {"ingredients": len(self.ingredients), "products": len(self.products),
                "classes": len(self.classes), "condition_groups": len(self.conditions),
                "labs": len(self.labs), "sources": len(self.sources)}
