"""Who can act on a recommendation: the prescriber of the drug it targets, or the primary care prescriber
for over-the-counter, self-started and unattributed drugs — never "self" and never an empty name."""

from __future__ import annotations

import re
from collections import Counter

from mtmrules.knowledge.facts import PatientFacts

#: prescriber texts that name no prescriber who could receive a letter
_NOT_A_PRESCRIBER = re.compile(r"^\s*$|\b(self|otc|over[- ]the[- ]counter|patient|none|unknown|not recorded)\b",
                               re.IGNORECASE)
_PRIMARY_CARE = re.compile(r"\b(primary care|pcp|family (?:medicine|practice|doctor|physician)|general practi|"
                           r"internal medicine|internist|gp)\b", re.IGNORECASE)


def real_prescriber(text: str | None) -> str | None:
    """The prescriber as written, or None when it names nobody who can be written to ("self (OTC)")."""
    return None if text is None or _NOT_A_PRESCRIBER.search(text) else text.strip()


def primary_care(profile, chosen: str | None = None) -> str | None:
    """The primary care prescriber: ``chosen`` (a command-line or site setting), else a prescriber named as
    primary care, else the one who prescribes most of the active medicines (ties: first in the list)."""
    if chosen:
        return chosen
    names = [real_prescriber(m.prescriber) for m in profile.medications if m.status == "active"]
    names = [n for n in names if n]
    for name in names:
        if _PRIMARY_CARE.search(name):
            return name
    if not names:
        return None
    counts = Counter(names)
    best = max(counts.values())
    return next(n for n in names if counts[n] == best)


class Prescribers:
    """Ingredient → the prescriber who can change it, for one patient."""

    def __init__(self, profile, facts: PatientFacts, pcp: str | None = None) -> None:
        self.pcp = primary_care(profile, pcp)
        self.by_ingredient: dict[str, list[str]] = {}
        self.self_managed: set[str] = set()     # OTC / self-started / no prescriber recorded
        for item in facts.items:
            name = real_prescriber(profile.medications[item.med].prescriber)
            if name is None:
                self.self_managed.add(item.ingredient)
            else:
                self.by_ingredient.setdefault(item.ingredient, [])
                if name not in self.by_ingredient[item.ingredient]:
                    self.by_ingredient[item.ingredient].append(name)

    def for_ingredients(self, ingredients: list[str]) -> list[str]:
        """Prescribers who can act on these drugs: their own prescribers; for drugs nobody prescribed (OTC,
        self-started) or no drug at all (a therapy gap), the primary care prescriber. Empty when there
        is none on record — the item then goes to the "to decide at the review" list."""
        names: list[str] = []
        for ingredient in ingredients:
            for name in self.by_ingredient.get(ingredient, []):
                if name not in names:
                    names.append(name)
        needs_pcp = not ingredients or any(i in self.self_managed for i in ingredients)
        if needs_pcp and self.pcp and self.pcp not in names:
            names.append(self.pcp)
        return names
