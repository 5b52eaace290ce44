"""Resolution: what the input names (medications, allergies, conditions, labs) mean in the knowledge base.

Medications: RxNorm product or ingredient codes first, then the text — product and brand names,
generic names, abbreviations, combinations ("hydrocodone/APAP 5/325") — by longest phrase match.
Only when nothing matches exactly is a close misspelling accepted, and then it is reported as
*approximate*. Anything else is *unresolved*: reported, never dropped.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass, field
from functools import cached_property

from mtmrules.knowledge.base import KnowledgeBase, Product
from mtmrules.knowledge.dose import Strength, parse_strengths
from mtmrules.knowledge.text import normalise, tokens

_UNITLESS_PAIR = re.compile(r"\b(\d+(?:\.\d+)?)\s*[-/]\s*(\d+(?:\.\d+)?)\b")
ROUTE_WORDS = {
    "po": "oral", "oral": "oral", "orally": "oral", "mouth": "oral", "tablet": "oral", "tablets": "oral",
    "capsule": "oral", "capsules": "oral", "tab": "oral", "cap": "oral", "chewable": "oral",
    "iv": "intravenous", "intravenous": "intravenous", "im": "intramuscular", "intramuscular": "intramuscular",
    "sc": "subcutaneous", "subq": "subcutaneous", "subcutaneous": "subcutaneous", "sq": "subcutaneous",
    "injection": "injection", "injectable": "injection", "syringe": "injection", "pen": "injection",
    "auto": "injection", "sl": "sublingual", "sublingual": "sublingual", "buccal": "buccal",
    "topical": "topical", "cream": "topical", "gel": "topical", "ointment": "topical", "lotion": "topical",
    "ophthalmic": "ophthalmic", "eye": "ophthalmic", "otic": "otic", "ear": "otic",
    "nasal": "nasal", "inhaler": "inhalation", "inhalation": "inhalation", "inhaled": "inhalation",
    "nebulizer": "inhalation", "nebulized": "inhalation", "actuat": "inhalation", "inh": "inhalation",
    "transdermal": "transdermal", "patch": "transdermal", "vaginal": "vaginal", "rectal": "rectal",
    "pr": "rectal", "suppository": "rectal", "intrauterine": "intrauterine", "implant": "implant",
    "mucosal": "mucosal",
}
FORM_WORDS = {
    "tablet": "tablet", "tablets": "tablet", "tab": "tablet", "tabs": "tablet", "capsule": "capsule",
    "capsules": "capsule", "cap": "capsule", "caps": "capsule", "solution": "solution",
    "suspension": "suspension", "syrup": "solution", "elixir": "solution", "injection": "injection",
    "injectable": "injection", "inhaler": "inhaler", "patch": "patch", "cream": "cream", "gel": "gel",
    "ointment": "ointment", "drops": "drops", "spray": "spray", "suppository": "suppository",
    "er": "extended-release", "xr": "extended-release", "xl": "extended-release", "sr": "extended-release",
    "cr": "extended-release", "la": "extended-release", "extended": "extended-release",
}


def route_of(text: str | None) -> str | None:
    """Canonical route from a route or product text ("PO", "by mouth", "1% gel") or None."""
    return _route_in(tokens(text)) if text else None


def form_of(text: str) -> str | None:
    return _form_in(tokens(text))


def _route_in(words: list[str]) -> str | None:
    for word in words:
        if word in ROUTE_WORDS:
            return ROUTE_WORDS[word]
    return None


def _form_in(words: list[str]) -> str | None:
    found = [FORM_WORDS[w] for w in words if w in FORM_WORDS]
    if "extended-release" in found:
        return "extended-release"
    return found[0] if found else None


@dataclass
class DrugResolution:
    """How one medication input was understood."""

    status: str                                  # resolved | approximate | unresolved
    ingredients: list[str] = field(default_factory=list)
    strengths: dict[str, Strength] = field(default_factory=dict)
    form: str | None = None
    route: str | None = None
    note: str | None = None                      # e.g. "read 'Simvistatin' as simvastatin"

    def copy(self) -> DrugResolution:
        """An independent copy (cached resolutions are shared: whoever changes one works on a copy)."""
        return DrugResolution(self.status, list(self.ingredients), dict(self.strengths), self.form, self.route,
                              self.note)


@dataclass(frozen=True)
class _Hit:
    kind: str           # ingredient | product
    target: object      # ingredient id or Product


class Resolver:
    """Maps free text and codes to knowledge-base ids. Immutable after construction; thread-safe."""

    MAX_PHRASE = 8

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb

    # --- indexes (built once) ------------------------------------------------------------------

    @cached_property
    def _phrases(self) -> dict[tuple[str, ...], _Hit]:
        index: dict[tuple[str, ...], _Hit] = {}
        for product in self.kb.products:
            index.setdefault(tuple(tokens(product.name)), _Hit("product", product))
        for ing in self.kb.ingredients.values():
            for name in (ing.id, *ing.synonyms, *ing.brands):
                key = tuple(tokens(name))
                if key and (key not in index or index[key].kind == "product" and len(key) == 1):
                    index[key] = _Hit("ingredient", ing.id)
        return index

    @cached_property
    def _phrase_lengths(self) -> dict[str, tuple[int, ...]]:
        """First word → the lengths of the phrases it starts (at most MAX_PHRASE), longest first."""
        lengths: dict[str, set[int]] = {}
        for key in self._phrases:
            if key and len(key) <= self.MAX_PHRASE:
                lengths.setdefault(key[0], set()).add(len(key))
        return {word: tuple(sorted(sizes, reverse=True)) for word, sizes in lengths.items()}

    @cached_property
    def _by_rxcui(self) -> dict[str, _Hit]:
        index: dict[str, _Hit] = {}
        for ing in self.kb.ingredients.values():
            if ing.rxcui:
                index[ing.rxcui] = _Hit("ingredient", ing.id)
        for product in self.kb.products:
            if product.rxcui:
                index.setdefault(product.rxcui, _Hit("product", product))
        return index

    @cached_property
    def _single_words(self) -> dict[tuple[str, int], list[str]]:
        """One-word names by (first letter, length), for fast misspelling candidates."""
        index: dict[tuple[str, int], list[str]] = {}
        for key in self._phrases:
            if len(key) == 1 and len(key[0]) >= 4 and key[0].isalpha():
                index.setdefault((key[0][0], len(key[0])), []).append(key[0])
        return index

    def _near_words(self, word: str) -> list[str]:
        # Misspellings nearly always keep the first letter and change the length by at most two.
        return sorted(w for n in range(len(word) - 2, len(word) + 3)
                      for w in self._single_words.get((word[0], n), ()))

    @functools.lru_cache(maxsize=16384)   # per distinct word: the same misspelling comes in many texts
    def _correction(self, word: str) -> str | None:
        """The one-word name that ``word`` is a close misspelling of, or None."""
        close = difflib.get_close_matches(word, self._near_words(word), n=1, cutoff=0.84)
        return close[0] if close else None

    # --- medications ---------------------------------------------------------------------------

    def drug(self, text: str | None, code_system: str | None = None, code: str | None = None,
             route: str | None = None) -> DrugResolution:
        """Resolve one medication from its code and/or text (a fresh object each call; lookups are cached)."""
        return self.drug_shared(text, code_system, code, route).copy()

    @functools.lru_cache(maxsize=65536)
    def drug_shared(self, text: str | None, code_system: str | None = None, code: str | None = None,
                    route: str | None = None) -> DrugResolution:
        """``drug``'s cached answer itself, shared by every caller with these arguments: read only
        (``copy()`` it to change it)."""
        result: DrugResolution | None = None
        words = tokens(text) if text else []
        if code and code_system == "rxnorm" and code in self._by_rxcui:
            result = self._from_hits([(0, self._by_rxcui[code])], text or "")
        if result is None and text:
            result = self._from_text(text, words)
        if result is None:
            what = f"{code_system} code {code}" if code else "this name"
            if code and text:
                what = f"{code_system} code {code} or the name {text!r}"
            result = DrugResolution("unresolved", note=f"no drug in the knowledge base matches {what}")
        result.route = route_of(route) or result.route or _route_in(words) or _route_for_form(result.form)
        if text and result.form is None:
            result.form = _form_in(words)
        return result

    def _scan(self, words: list[str]) -> list[tuple[int, _Hit]]:
        """Longest phrase first at each word, left to right (only the lengths of phrases that start there)."""
        hits, i, count = [], 0, len(words)
        while i < count:
            for length in self._phrase_lengths.get(words[i], ()):
                hit = self._phrases.get(tuple(words[i:i + length])) if length <= count - i else None
                if hit:
                    hits.append((i, hit))
                    i += length
                    break
            else:
                i += 1
        return hits

    def _from_text(self, text: str, words: list[str]) -> DrugResolution | None:
        whole = self._phrases.get(tuple(words))
        if whole:
            return self._from_hits([(0, whole)], text)
        hits = self._scan(words)
        if hits:
            return self._from_hits(hits, text)
        # Nothing matched exactly: accept a close misspelling, and say so.
        fixed, notes = [], []
        for word in words:
            close = self._correction(word) if len(word) >= 5 and word.isalpha() else None
            if close:
                fixed.append(close)
                notes.append(f"read {word!r} as {close!r}")
                continue
            fixed.append(word)
        if notes:
            hits = self._scan(fixed)
            if hits:
                result = self._from_hits(hits, text)
                result.status = "approximate"
                result.note = "; ".join(notes)
                return result
        return None

    def _from_hits(self, hits: list[tuple[int, _Hit]], text: str) -> DrugResolution:
        ingredients: list[str] = []
        strengths: dict[str, Strength] = {}
        form = route = None
        for _, hit in hits:
            if hit.kind == "product":
                product: Product = hit.target  # type: ignore[assignment]
                for ing, strength_text in zip(product.ingredients,
                                              product.strengths or ("",) * len(product.ingredients)):
                    if ing not in ingredients:
                        ingredients.append(ing)
                    parsed = parse_strengths(strength_text) if strength_text else []
                    if parsed:
                        strengths[ing] = parsed[0]
                form = form or product.form
                route = route or route_of(product.route)
            elif hit.target not in ingredients:
                ingredients.append(hit.target)  # type: ignore[arg-type]
        if not strengths and text:
            parsed = parse_strengths(text)
            if not parsed and len(ingredients) == 2 and not any(i.startswith("insulin") for i in ingredients):
                # "Norco 5/325", "Janumet 50-1000": combination strengths written without a unit are mg
                # (insulin "70/30" is a ratio of percentages, not a strength).
                pair = _UNITLESS_PAIR.search(text)
                if pair:
                    # Inhaler combinations (Advair 250/50) are written in mcg; tablets (Norco 5/325) in mg.
                    inhaled = route == "inhalation" or form == "inhaler" or route_of(text) == "inhalation"
                    parsed = parse_strengths(f"{pair.group(1)}/{pair.group(2)} {'mcg' if inhaled else 'mg'}")
            if parsed and len(parsed) == len(ingredients):
                strengths = dict(zip(ingredients, parsed))
        return DrugResolution("resolved", ingredients, strengths, form, route)

    # --- allergies -----------------------------------------------------------------------------

    @cached_property
    def _class_names(self) -> dict[str, str]:
        names = {}
        for cls in self.kb.classes.values():
            for name in (cls.id.replace("-", " "), cls.label):
                key = normalise(name)
                names.setdefault(key, cls.id)
                names.setdefault(key.rstrip("s"), cls.id)
                names.setdefault(key + "s", cls.id)
        return names

    @functools.lru_cache(maxsize=16384)
    def allergen(self, text: str | None, code_system: str | None = None,
                 code: str | None = None) -> tuple[frozenset[str], str | None, str]:
        """(ingredients the allergy covers, class id if recorded as a class, status)."""
        if text:
            key = normalise(text)
            for candidate in (key, key.removeprefix("allergy to ").removesuffix(" allergy"),
                              key.removesuffix(" drugs"), key.rstrip("s")):
                if candidate in self.kb.allergens:
                    kind, target = self.kb.allergens[candidate]
                    if kind == "class":
                        return self.kb.class_ingredients(target), target, "resolved"
                    return frozenset({target}), None, "resolved"
                if candidate in self._class_names:
                    cid = self._class_names[candidate]
                    return self.kb.class_ingredients(cid), cid, "resolved"
        drug = self.drug(text, code_system, code)
        return frozenset(drug.ingredients), None, drug.status

    # --- conditions ----------------------------------------------------------------------------

    @cached_property
    def _condition_codes(self) -> tuple[dict[str, set[str]], list[tuple[str, str]]]:
        snomed: dict[str, set[str]] = {}
        icd: list[tuple[str, str]] = []
        for group in self.kb.conditions.values():
            for code in group.snomed:
                snomed.setdefault(code, set()).add(group.id)
            for prefix in group.icd10:
                icd.append((prefix.replace(".", ""), group.id))
        return snomed, icd

    @cached_property
    def _condition_names(self) -> dict[tuple[str, ...], str]:
        out = {}
        for group in self.kb.conditions.values():
            for name in (group.label, *group.names):
                out.setdefault(tuple(tokens(name)), group.id)
        return out

    @functools.lru_cache(maxsize=65536)
    def condition(self, text: str | None, code_system: str | None = None,
                  code: str | None = None) -> frozenset[str]:
        """Every condition group (ancestors included) the entry belongs to; empty if none."""
        groups: set[str] = set()
        snomed, icd = self._condition_codes
        if code and code_system == "snomed":
            groups |= snomed.get(code, set())
        elif code and code_system == "icd10":
            flat = code.replace(".", "").upper()
            groups |= {gid for prefix, gid in icd if flat.startswith(prefix)}
        if not groups and text:
            words = tokens(text.replace("(disorder)", "").replace("(finding)", ""))
            whole = self._condition_names.get(tuple(words))
            if whole:
                groups.add(whole)
            else:
                best: tuple[int, str] | None = None
                for i in range(len(words)):
                    for length in range(min(8, len(words) - i), 0, -1):
                        gid = self._condition_names.get(tuple(words[i:i + length]))
                        if gid and (best is None or length > best[0]):
                            best = (length, gid)
                if best:
                    groups.add(best[1])
        out: set[str] = set()
        for gid in groups:
            out |= self.kb.condition_ancestors[gid]
        return frozenset(out)

    # --- labs ----------------------------------------------------------------------------------

    @cached_property
    def _lab_index(self) -> tuple[dict[str, str], dict[str, str]]:
        by_loinc, by_name = {}, {}
        for lab in self.kb.labs.values():
            for code in lab.loinc:
                by_loinc.setdefault(code, lab.id)
            for name in (lab.id, lab.label, *lab.names):
                by_name.setdefault(normalise(name), lab.id)
        return by_loinc, by_name

    @functools.lru_cache(maxsize=16384)
    def lab(self, name: str | None, loinc: str | None) -> str | None:
        by_loinc, by_name = self._lab_index
        if loinc and loinc in by_loinc:
            return by_loinc[loinc]
        if name:
            return by_name.get(normalise(name))
        return None


def _route_for_form(form: str | None) -> str | None:
    if form in ("tablet", "capsule", "extended-release", "solution", "suspension"):
        return "oral"
    if form in ("cream", "gel", "ointment"):
        return "topical"
    if form == "patch":
        return "transdermal"
    if form == "inhaler":
        return "inhalation"
    if form == "injection":
        return "injection"
    return None
