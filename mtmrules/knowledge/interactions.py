"""Interaction knowledge by mechanism: the rows the mechanism templates read.

Three cited tables hold the facts — ``pk_perpetrators.csv`` (who inhibits or induces a pathway, how
strongly), ``pk_victims.csv`` (who depends on a pathway, how sensitive, what happens) and
``pd_effects.csv`` (who adds to a pharmacodynamic effect, how much) — and this module joins them:

- ``pk_interactions``: one row per victim × pathway × effect × perpetrator strength, listing the
  perpetrators (never the victim itself), with the severity of the matrix below.
- ``pd_interactions``: one row per effect × pair of ``pd_effects`` rows (a row with itself when its
  ``within`` says two of its members interact), listing the ingredients of each side, with the
  severity of the summed weights.

Severity matrix (docs/interactions.md): points = strength (strong 3, moderate 2, transporter
``listed`` 2, weak 1) + victim sensitivity (sensitive 2, moderate 1) + 1 for a narrow therapeutic
index + 1 for a serious consequence; 6 or more is major, 5 moderate, 4 minor, 3 or less no row (the
pair stays quiet). For effect pairs the two weights (1-3) are summed with the same cut-offs shifted by
one: 5 or more major, 4 moderate, 3 minor, 2 no row. A contraindication is never produced by the
matrix: only a label-specific pair rule says "contraindicated".
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from mtmrules.errors import InputError

STRENGTH_POINTS = {"strong": 3, "moderate": 2, "listed": 2, "weak": 1}
SENSITIVITY_POINTS = {"sensitive": 2, "moderate": 1}
PK_CUTOFFS = ((6, "major"), (5, "moderate"), (4, "minor"))
PD_CUTOFFS = ((5, "major"), (4, "moderate"), (3, "minor"))
RAISED = {"minor": "moderate", "moderate": "major", "major": "major"}
LOWERED = {"major": "moderate", "moderate": "minor", "minor": "minor"}
EFFECTS = ("inhibit", "induce")

#: Pathway id → how the texts name it.
PATHWAY_LABELS = {
    "cyp3a4": "CYP3A4", "cyp2c9": "CYP2C9", "cyp2c19": "CYP2C19", "cyp2d6": "CYP2D6", "cyp1a2": "CYP1A2",
    "cyp2c8": "CYP2C8", "p-gp": "P-glycoprotein", "oatp1b": "OATP1B1/1B3", "bcrp": "BCRP", "ugt1a1": "UGT1A1",
    "lithium-renal": "renal lithium clearance", "methotrexate-renal": "renal methotrexate clearance",
}
#: Effect id → (what the pair adds up to, what to do, one plain sentence for the patient), for the texts.
EFFECT_TEXTS = {
    "bleeding": ("additive bleeding risk", "Confirm both are needed; prefer a non-interacting alternative (e.g. acetaminophen for pain) and watch for bleeding.",
                 "Together they can make you bleed more easily."),
    "gi-ulcer": ("additive risk of stomach ulcers and GI bleeding", "Avoid the combination if possible; otherwise add a proton pump inhibitor and use the lowest doses for the shortest time.",
                 "Together they can hurt your stomach and make it bleed."),
    "qt": ("additive QT prolongation (torsade de pointes)", "Avoid combining QT-prolonging drugs where an alternative exists; otherwise check an ECG and keep potassium and magnesium normal.",
           "Together they can cause an uneven heartbeat."),
    "serotonergic": ("serotonin syndrome", "Avoid the combination or use the lowest doses; watch for agitation, tremor, fever and diarrhoea.",
                     "Together they can cause a bad reaction with shaking and fever."),
    "cns-depression": ("additive sedation and respiratory depression", "Avoid the combination where possible; otherwise use the lowest doses and warn about drowsiness and falls.",
                       "Together they can make you too sleepy or slow your breathing."),
    "hyperkalaemia": ("additive rise in potassium (hyperkalaemia)", "Check potassium and kidney function within 1-2 weeks and after dose changes.",
                      "Together they can raise the potassium in your blood too high."),
    "hypotension": ("additive low blood pressure and falls", "Avoid the combination or separate and lower the doses; warn about dizziness on standing.",
                    "Together they can drop your blood pressure and make you dizzy or fall."),
    "anticholinergic": ("additive anticholinergic effects (confusion, constipation, urinary retention)", "Reduce the anticholinergic load: stop or replace one of the drugs.",
                        "Together they can make you confused or make it hard to pass urine or stool."),
    "nephrotoxic": ("additive kidney injury", "Avoid the combination or monitor kidney function (creatinine) closely.",
                    "Together they can harm your kidneys."),
    "hyponatraemia": ("additive risk of low sodium (hyponatraemia)", "Check the sodium level, especially in older adults, and after starting either drug.",
                      "Together they can lower the salt in your blood and make you confused or fall."),
    "hypoglycaemia": ("additive risk of low blood sugar", "Review whether both are needed, lower the dose of the insulin secretagogue and monitor blood glucose.",
                      "Together they can make your blood sugar too low."),
    "seizure-threshold": ("additive lowering of the seizure threshold", "Avoid the combination where possible, especially with a seizure history.",
                          "Together they can raise the chance of a seizure."),
    "bradycardia": ("additive slowing of the heart rate or AV block", "Check the pulse and an ECG; lower or stop one of the drugs if the heart rate is slow.",
                    "Together they can slow your heart too much and make you faint."),
}
DERIVED_SOURCES = {"pk_interactions": "pk_victims", "pd_interactions": "pd_effects"}


def severity_for(points: int, cutoffs: tuple[tuple[int, str], ...]) -> str | None:
    """The matrix's severity for a point total, or None when the pair stays quiet."""
    return next((severity for floor, severity in cutoffs if points >= floor), None)


def pk_points(strength: str, sensitivity: str, narrow_ti: bool, serious: bool) -> int:
    return STRENGTH_POINTS[strength] + SENSITIVITY_POINTS[sensitivity] + int(narrow_ti) + int(serious)


def _choice(row: dict, column: str, allowed, path: Path, line: int) -> str:
    value = row.get(column, "")
    if value not in allowed:
        raise InputError(f"{column} {value!r}: expected one of {', '.join(allowed)}", file=str(path), line=line)
    return value


def _sources(*cells: str) -> str:
    return ";".join(dict.fromkeys(part for cell in cells for part in cell.split(";") if part))


def pk_interactions(kb) -> list[tuple[int, dict[str, str]]]:
    """Victim × perpetrator-strength rows (see the module docstring)."""
    perp_path, victim_path = kb.table_path("pk_perpetrators"), kb.table_path("pk_victims")
    perpetrators: dict[tuple[str, str, str], list[tuple[str, str]]] = defaultdict(list)
    for line, row in kb.table("pk_perpetrators"):
        pathway = _choice(row, "pathway", PATHWAY_LABELS, perp_path, line)
        effect = _choice(row, "effect", EFFECTS, perp_path, line)
        strength = _choice(row, "strength", STRENGTH_POINTS, perp_path, line)
        perpetrators[(pathway, effect, strength)].append((row["ingredient"], row["source"]))
    out = []
    for line, row in kb.table("pk_victims"):
        pathway = _choice(row, "pathway", PATHWAY_LABELS, victim_path, line)
        effect = _choice(row, "effect", EFFECTS, victim_path, line)
        sensitivity = _choice(row, "sensitivity", SENSITIVITY_POINTS, victim_path, line)
        narrow = _choice(row, "narrow_ti", ("yes", "no"), victim_path, line) == "yes"
        serious = _choice(row, "harm", ("serious", "limited"), victim_path, line) == "serious"
        weakest = row.get("from_strength", "")
        if weakest:
            _choice(row, "from_strength", STRENGTH_POINTS, victim_path, line)
        for strength in STRENGTH_POINTS:
            if weakest and STRENGTH_POINTS[strength] < STRENGTH_POINTS[weakest]:
                continue   # the victim's label acts only from this strength up
            members = sorted((ing, src) for ing, src in perpetrators.get((pathway, effect, strength), ())
                             if ing != row["ingredient"])
            severity = severity_for(pk_points(strength, sensitivity, narrow, serious), PK_CUTOFFS)
            if not members or severity is None:
                continue
            names = list(dict.fromkeys(ing for ing, _ in members))
            label = PATHWAY_LABELS[pathway]
            if pathway.endswith("-renal"):
                mechanism, heading = f"lowers {label}", f"reduced {label.removeprefix('renal ')}"
            else:
                heading = f"{label} {'inhibition' if effect == 'inhibit' else 'induction'}"
                noun = "inhibitor" if effect == "inhibit" else "inducer"
                grade = "clinically relevant (listed)" if strength == "listed" else strength
                mechanism = f"is a {grade} {label} {noun}"
            out.append((line, {
                "mechanism": mechanism, "heading": heading,
                "victim": row["ingredient"], "pathway": pathway, "pathway_label": PATHWAY_LABELS[pathway],
                "effect": effect, "strength": strength, "perpetrators": ";".join(names), "example": names[0],
                "sensitivity": sensitivity, "narrow_ti": row["narrow_ti"], "harm": row["harm"],
                "consequence": row["consequence"], "label_action": row["label_action"],
                "severity": severity, "severity_raised": RAISED[severity], "severity_lowered": LOWERED[severity],
                "source": _sources(row["source"], *(src for _, src in members)),
            }))
    return out


def pd_interactions(kb) -> list[tuple[int, dict[str, str]]]:
    """Effect × pair-of-groups rows (see the module docstring)."""
    path = kb.table_path("pd_effects")
    groups: dict[str, list[tuple[int, str, frozenset[str], int, str, bool]]] = defaultdict(list)
    quiet: set[tuple[str, str, str]] = set()   # (effect, group, group): an intended combination, no row
    for line, row in kb.table("pd_effects"):
        cls, ing = row.get("class", ""), row.get("ingredient", "")
        if bool(cls) == bool(ing):
            raise InputError("give exactly one of ingredient or class", file=str(path), line=line)
        if cls and cls not in kb.classes:
            raise InputError(f"unknown class {cls!r}", file=str(path), line=line)
        members = frozenset(kb.class_ingredients(cls)) if cls else frozenset((ing,))
        weight = _choice(row, "weight", ("1", "2", "3"), path, line)
        within = _choice(row, "within", ("yes", "no"), path, line) == "yes"
        groups[row["effect"]].append((line, cls or ing, members, int(weight), row["source"], within))
        quiet.update((row["effect"], cls or ing, other) for other in row.get("quiet_with", "").split(";") if other)
    out = []
    for effect, rows in groups.items():
        for i, (line, name_a, members_a, weight_a, src_a, within) in enumerate(rows):
            # Two members of one group pair up only where the group says so (two QT-prolonging drugs);
            # two insulins or two SSRIs are duplicate therapy, not an interaction.
            partners = [(name_a, members_a, weight_a, src_a)] if within and len(members_a) > 1 else []
            partners += [(name, members, weight, src) for _, name, members, weight, src, _ in rows[i + 1:]]
            for name_b, members_b, weight_b, src_b in partners:
                if {(effect, name_a, name_b), (effect, name_b, name_a)} & quiet:
                    continue
                severity = severity_for(weight_a + weight_b, PD_CUTOFFS)
                side_a = members_a
                side_b = members_b if name_b == name_a else members_b - members_a  # never a drug with itself
                if severity is None or not side_b:
                    continue
                example_a = min(side_a)
                example_b = min(side_b - {example_a})
                if effect not in EFFECT_TEXTS:
                    raise InputError(f"unknown effect {effect!r}; expected one of {', '.join(EFFECT_TEXTS)}",
                                     file=str(path), line=line)
                adds, advice, patient = EFFECT_TEXTS[effect]
                out.append((line, {
                    "effect_text": adds, "advice": advice, "patient_warning": patient,
                    "effect": effect, "group_a": name_a, "group_b": name_b,
                    "drugs_a": ";".join(sorted(side_a)), "drugs_b": ";".join(sorted(side_b)),
                    "drugs": ";".join(sorted(side_a | side_b)), "example_a": example_a, "example_b": example_b,
                    "weight": str(weight_a + weight_b), "severity": severity,
                    "severity_raised": RAISED[severity], "severity_lowered": LOWERED[severity],
                    "source": _sources(src_a, src_b),
                }))
    return out


DERIVED_TABLES = {"pk_interactions": pk_interactions, "pd_interactions": pd_interactions}
