"""Seeded synthetic patient profiles drawn from the knowledge base and the loaded rules.

Used by the benchmarks and by the property-based tests (which pass Hypothesis-controlled
``random.Random`` instances). Profiles are plausible in shape — several medications with doses and
frequencies, conditions, a few labs, sometimes allergies — and biased towards the drugs and
conditions the rules mention, so that rules actually fire. They are not clinically realistic.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from mtmrules.engine import ir
from mtmrules.knowledge.base import KnowledgeBase

FREQUENCIES = ["daily", "twice daily", "three times daily", "every 6 hours", "at bedtime", "weekly",
               "every 8 hours as needed", "bid", "qid", None]
DOSES = ["0.125 mg", "2.5 mg", "5 mg", "10 mg", "20 mg", "25 mg", "40 mg", "50 mg", "81 mg", "100 mg",
         "200 mg", "400 mg", "500 mg", "800 mg", "1000 mg", "2 tabs", "1 tab", "10 units", None]
ROUTES = [None, None, None, "oral", "topical", "transdermal", "inhalation", "injection"]
LABS = [("eGFR", "mL/min/1.73m2", 8, 110), ("creatinine", "mg/dL", 0.5, 4.0), ("potassium", "mmol/L", 3.0, 6.5),
        ("INR", None, 0.9, 5.0), ("HbA1c", "%", 5.0, 12.0), ("LDL", "mg/dL", 40, 200), ("TSH", "mIU/L", 0.1, 12),
        ("systolic blood pressure", "mm[Hg]", 100, 190), ("creatinine clearance", "mL/min", 8, 120),
        ("sodium", "mmol/L", 120, 148)]
REACTIONS = ["hives", "anaphylaxis", "rash", "nausea", "angioedema", None]


class ProfileFactory:
    """Draws profiles; build once per knowledge base and rule set, then call ``profile(rng)``."""

    def __init__(self, kb: KnowledgeBase, rules: list[ir.CompiledRule]) -> None:
        mentioned: set[str] = set()
        groups: set[str] = set()
        for rule in rules:
            for leaf in ir.rule_leaves(rule):
                if isinstance(leaf, (ir.Med, ir.Count, ir.Total, ir.AllergyConflict)):
                    if len(leaf.match.ingredients) < 200:  # "any medication" filters say nothing about what to draw
                        mentioned |= leaf.match.ingredients
                elif isinstance(leaf, ir.CondGroup):
                    groups |= leaf.groups
        self.ingredients = sorted(mentioned) or sorted(kb.ingredients)
        self.all_ingredients = sorted(kb.ingredients)
        self.brands = sorted(b for ing in kb.ingredients.values() for b in ing.brands)
        self.products = sorted(p.name for p in kb.products)
        self.conditions = sorted(kb.conditions[g].label for g in groups if g in kb.conditions) or \
            sorted(g.label for g in kb.conditions.values())
        self.allergens = sorted(kb.allergens) + self.ingredients[:50]

    def medication(self, rng: random.Random) -> dict | str:
        pick = rng.random()
        if pick < 0.70:
            name = rng.choice(self.ingredients)
        elif pick < 0.80:
            name = rng.choice(self.all_ingredients)
        elif pick < 0.88:
            name = rng.choice(self.brands)
        elif pick < 0.97:
            name = rng.choice(self.products)
        else:
            name = rng.choice(["Foo 10 mg", "atorvastatn 20 mg", "vitamin gummies"])
        if rng.random() < 0.15:
            return f"{name} {rng.choice([d for d in DOSES if d])} {rng.choice([f for f in FREQUENCIES if f])}"
        med: dict = {"name": name}
        dose, freq, route = rng.choice(DOSES), rng.choice(FREQUENCIES), rng.choice(ROUTES)
        if dose:
            med["dose"] = dose
        if freq:
            med["frequency"] = freq
        if route:
            med["route"] = route
        if rng.random() < 0.05:
            med["status"] = "stopped"
        if rng.random() < 0.3:
            med["start_date"] = (date(2026, 11, 27) - timedelta(days=rng.randint(0, 200))).isoformat()
        if rng.random() < 0.25:
            start = date(2026, 11, 27) - timedelta(days=rng.randint(40, 400))
            fills = []
            for _ in range(rng.randint(1, 6)):
                fills.append({"date": start.isoformat(), "days_supply": rng.choice([30, 30, 90])})
                start += timedelta(days=rng.randint(20, 120))
            med["fills"] = [f for f in fills if f["date"] <= "2026-11-27"]
        return med

    def profile(self, rng: random.Random, pid: str = "p", as_of: date = date(2026, 11, 27),
                n_meds: int | None = None, n_conditions: int | None = None) -> dict:
        data: dict = {"id": pid, "sex": rng.choice(["female", "male", "female", "male", "unknown"])}
        if rng.random() < 0.9:
            data["age"] = rng.randint(18, 98)
        if rng.random() < 0.6:
            data["weight_kg"] = round(rng.uniform(40, 130), 1)
        count = n_meds if n_meds is not None else rng.randint(0, 12)
        data["medications"] = [self.medication(rng) for _ in range(count)]
        count = n_conditions if n_conditions is not None else rng.randint(0, 6)
        data["conditions"] = [rng.choice(self.conditions) for _ in range(count)]
        if rng.random() < 0.35:
            data["allergies"] = [{"substance": rng.choice(self.allergens), "reaction": rng.choice(REACTIONS)}
                                 for _ in range(rng.randint(1, 2))]
        labs = []
        for name, unit, low, high in rng.sample(LABS, rng.randint(0, 5)):
            lab = {"name": name, "value": round(rng.uniform(low, high), 1)}
            if unit:
                lab["unit"] = unit
            if rng.random() < 0.95:
                lab["date"] = (as_of - timedelta(days=rng.randint(0, 500))).isoformat()
            labs.append(lab)
        data["labs"] = labs
        return data
