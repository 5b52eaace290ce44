"""Patient wording: a sig as a sentence, a medicine's name as the patient knows it, the reason for a
drug in everyday words, and the Flesch-Kincaid grade that the tests hold every patient sentence to.

Nothing here copies a sig into patient text: sentences are built from what the sig reading found
(amount, times a day, as needed, timing words, days), so no "po", "tid" or "prn" reaches the patient.
"""

from __future__ import annotations

import re

from mtmrules.knowledge.dose import Amount, Regimen, format_number
from mtmrules.knowledge.resolve import DrugResolution
from mtmrules.session.schedule import course_days, sig_anchors

#: Latin and pharmacy shorthand that must never appear in patient text
LATIN = re.compile(r"\b(p\.?o|b\.?i\.?d|t\.?i\.?d|q\.?i\.?d|q\.?d|q\.?h\.?s|h\.?s|p\.?r\.?n|q\d+h|q\.?a\.?m|q\.?p\.?m|"
                   r"q\.?o\.?d|tabs?|caps?|sig|s\.?l|gtts?|inh|subq|s\.?c|i\.?m|ud|disp)\b", re.IGNORECASE)

_UNIT_WORDS = {"tablet": ("tablet", "tablets"), "capsule": ("capsule", "capsules"), "actuation": ("puff", "puffs"),
               "patch": ("patch", "patches"), "drop": ("drop", "drops"), "suppository": ("suppository", "suppositories"),
               "lozenge": ("lozenge", "lozenges"), "packet": ("packet", "packets"), "unit": ("unit", "units"),
               "application": ("application", "applications"), "mL": ("mL", "mL"), "vial": ("vial", "vials"),
               "each": ("dose", "doses")}
_FORM_WORDS = (("capsule", "capsule"), ("tablet", "tablet"), ("extended-release", "tablet"),
               ("delayed-release", "tablet"), ("chewable", "tablet"), ("orally disintegrating", "tablet"))
_STRIP_FROM_NAME = re.compile(r"\b(\d+(?:\.\d+)?(?:/\d+(?:\.\d+)?)*\s*(?:mg|mcg|g|ml|units?|%)?|tabs?|tablets?|caps?|"
                              r"capsules?|er|xr|xl|sr|ir|dr|oral|solution|extended[- ]release|po)\b", re.IGNORECASE)
_PRN_REASON = re.compile(r"\b(?:prn|as needed|when needed|if needed)\b(?:\s+for)?\s+([a-z][a-z \-]*[a-z])", re.IGNORECASE)
_FOR_REASON = re.compile(r"\bfor\s+(?!\d)([a-z][a-z \-]*[a-z])", re.IGNORECASE)
_REASON_STOP = re.compile(r"\s+(?:x|for|up to|every|then|and|with|at|max|maximum|not|do|no|may|repeat)\b.*$", re.IGNORECASE)
_EVERY_HOURS = re.compile(r"\b(?:every|q)\s*(\d+)(?:\s*-\s*(\d+))?\s*(?:hours?|hrs?|h)\b", re.IGNORECASE)
_TIMES_WORDS = {1: "once a day", 2: "2 times a day", 3: "3 times a day", 4: "4 times a day"}
_ANCHOR_WORDS = {"bedtime": "at bedtime", "waking": "before breakfast", "morning": "in the morning",
                 "midday": "at midday", "evening": "in the evening"}


def mass_words(amount: Amount) -> str:
    """5 mg, 88 mcg (below 1 mg), 4 grams (whole grams from 1000 mg)."""
    if amount.unit == "mg" and 0 < amount.value < 1:
        return f"{format_number(round(amount.value * 1000, 3))} mcg"
    if amount.unit == "mg" and amount.value >= 1000 and amount.value % 500 == 0:
        grams = amount.value / 1000
        return f"{format_number(grams)} gram{'s' if grams != 1 else ''}"
    return f"{format_number(amount.value)} {amount.unit}"


def count_words(value: float, unit: str) -> str:
    """1 tablet, 2 tablets, half a tablet, 5 mL."""
    one, many = _UNIT_WORDS.get(unit, (unit, unit))
    if value == 0.5 and unit not in ("mL", "unit"):
        return f"half a {one}"
    return f"{format_number(value)} {one if value == 1 else many}"


def _form_word(resolution: DrugResolution, name: str) -> str | None:
    for text in (resolution.form or "", name.lower()):
        for key, word in _FORM_WORDS:
            if key in text:
                return word
    return None


def amount_per_time(amount: Amount | None, resolution: DrugResolution, name: str) -> str | None:
    """How much to take each time, in what the patient counts: "1 tablet", "2 puffs", "10 units".

    A dose written in mg becomes tablets or capsules when the product has one strength that divides it
    into halves or whole units; otherwise it stays in mg."""
    if amount is None:
        return None
    form = _form_word(resolution, name)
    if amount.unit == "each" and form:           # FHIR "1 each" of a tablet product
        return count_words(amount.value, form)
    if amount.unit in _UNIT_WORDS:
        return count_words(amount.value, amount.unit)
    if amount.is_mass and form and len(resolution.strengths) == 1:
        strength = next(iter(resolution.strengths.values()))
        if strength.amount.is_mass and strength.per is None and strength.per_volume_ml is None and strength.amount.value:
            count = amount.value / strength.amount.value
            if count * 2 == int(count * 2) and 0 < count <= 4:
                return count_words(count, form)
    return mass_words(amount)


def medicine_name(resolution: DrugResolution, label: str) -> str:
    """The medicine as the patient finds it on the bottle: generic name, strength, form, and the brand the
    input used: "Simvastatin 40 mg tablet (Zocor)". Unknown drugs keep the text as written."""
    if not resolution.ingredients:
        return label
    parts = []
    for ingredient in resolution.ingredients:
        strength = resolution.strengths.get(ingredient)
        parts.append(f"{ingredient} {mass_words(strength.amount)}" if strength and strength.per is None else ingredient)
    text = " and ".join(parts)
    form = _form_word(resolution, label)
    if resolution.form and "release" in resolution.form:
        text += f" {resolution.form}"
    if form and not text.endswith(form):
        text += f" {form}"
    brand = " ".join(_STRIP_FROM_NAME.sub(" ", label).split())
    generic = {w for i in resolution.ingredients for w in i.lower().split()}
    if brand and not set(brand.lower().split()) & generic:
        text += f" ({brand})"
    return text[0].upper() + text[1:]


def sig_reason(text: str | None) -> str | None:
    """The reason a sig states ("prn knee pain" → "knee pain", "at bedtime for sleep" → "sleep")."""
    if not text:
        return None
    found = _PRN_REASON.search(text) or _FOR_REASON.search(text)
    if not found:
        return None
    reason = _REASON_STOP.sub("", found.group(1)).strip().lower()
    return reason if reason and not LATIN.search(reason) else None


def _verb(resolution: DrugResolution, amount: Amount | None) -> tuple[str, str]:
    """The verb and the route words for the sentence."""
    route = (resolution.route or "").lower()
    unit = amount.unit if amount else ""
    if unit == "actuation" and "nasal" in route:
        return "Use", "in the nose"
    if unit == "actuation" or "inhal" in route:
        return "Inhale", ""
    if unit == "patch" or "transdermal" in route:
        return "Put on", ""
    if route in ("subcutaneous",):
        return "Inject", "under the skin"
    if route in ("topical",):
        return "Put", "on the skin"
    if unit == "drop" or route in ("ophthalmic", "otic"):
        return "Use", ""
    if route in ("oral", "") and (unit in ("tablet", "capsule", "mL", "mg") or _form_word(resolution, "")):
        return "Take", "by mouth"
    return "Use", ""


def how_often(regimen: Regimen, text: str, anchors: tuple[str, ...]) -> str:
    """"3 times a day", "every 6 hours", "once a week" … with the timing words a sig gives."""
    freq = regimen.frequency
    per_day = freq.per_day if freq else None
    hours = _EVERY_HOURS.search(text)
    placed = [a for a in ("waking", "morning", "midday", "evening", "bedtime") if a in anchors]
    if hours:
        span = f"{hours.group(1)} to {hours.group(2)}" if hours.group(2) else hours.group(1)
        phrase = f"every {span} hours"
    elif per_day is None:
        phrase = ""
    elif per_day >= 1 and round(per_day) in _TIMES_WORDS and abs(per_day - round(per_day)) < 0.01:
        count = round(per_day)
        if len(placed) == count:
            phrase = " and ".join(_ANCHOR_WORDS[a] for a in placed)
            placed = []
        else:
            phrase = _TIMES_WORDS[count]
    elif abs(per_day - 1 / 7) < 1e-6:
        phrase = "once a week"
    elif abs(per_day - 0.5) < 1e-6:
        phrase = "every other day"
    elif abs(per_day - 1 / 30) < 1e-6:
        phrase = "once a month"
    elif abs(per_day - 1 / 14) < 1e-6:
        phrase = "every 2 weeks"
    else:
        phrase = f"{format_number(per_day)} times a day"
    extra = [_ANCHOR_WORDS[a] for a in placed]
    if "with-food" in anchors:
        extra.append("with food" if (per_day or 0) <= 1 else "with meals")
    elif "empty-stomach" in anchors and "waking" not in anchors:
        extra.append("on an empty stomach")
    if freq and freq.prn and phrase:
        phrase = f"up to {phrase}" if not phrase.startswith("every") else phrase
    return " ".join(p for p in [phrase, *extra] if p)


_RANGE = re.compile(r"\b(\d+(?:\.\d+)?)\s*(?:-|to|or)\s*(\d+(?:\.\d+)?)\s*(tabs?|tablets?|caps?|capsules?|puffs?|"
                    r"sprays?|inhalations?|drops?|ml|units?)\b", re.IGNORECASE)
_CAP_WORDS = re.compile(r"\b(max(?:imum)?|not to exceed|do not exceed|no more than|may repeat|repeat)\b", re.IGNORECASE)
_CAP = re.compile(r"\b(?:max(?:imum)?|not to exceed|do not exceed|no more than)\s*(?:of\s*)?(\d+)\s*(tabs?|tablets?|caps?|"
                  r"capsules?|puffs?|sprays?|doses?)?\s*(?:/|per|a|in|each)\s*(?:24\s*h(?:ours?)?|day)\b", re.IGNORECASE)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def _amount_range(text: str, amount: str) -> str:
    """"1-2 tabs" → "1 to 2 tablets" (the reading keeps only one number)."""
    found = _RANGE.search(text)
    if not found:
        return amount
    unit = amount.split()[-1]
    many = {"tablet": "tablets", "capsule": "capsules", "puff": "puffs", "spray": "sprays", "drop": "drops",
            "unit": "units"}.get(unit, unit)
    return f"{found.group(1)} to {found.group(2)} {many}"


def sig_sentence(regimen: Regimen, resolution: DrugResolution, name: str, text: str, prn: bool) -> str | None:
    """"Take 1 tablet by mouth up to 3 times a day when needed for knee pain." — or None when the sig was
    not read well enough to say all of it plainly (the caller then says to ask the pharmacist): a written
    limit or a repeat rule that cannot be restated is never dropped from the patient's sentence."""
    amount = amount_per_time(regimen.amount, resolution, name)
    anchors = sig_anchors(text)
    often = how_often(regimen, text, anchors)
    if amount is None or not (often or prn):
        return None
    if not often and len(_NUMBER.findall(text)) > 1:       # as needed, with numbers we did not read
        return None
    cap = _CAP.search(text)
    if _CAP_WORDS.search(text) and not cap:
        return None
    amount = _amount_range(text, amount)
    verb, route = _verb(resolution, regimen.amount)
    if verb == "Inhale" and regimen.amount is not None and regimen.amount.unit == "capsule":
        amount = f"the powder from {amount}"
    if regimen.amount is not None and regimen.amount.unit == "vial" and re.search(r"\bneb", text, re.IGNORECASE):
        verb, route = "Use", "in your nebulizer"
    if route == "in the nose":
        amount = amount.replace("puff", "spray")
    words = [verb, amount, route, often]
    reason = sig_reason(text)
    if prn:
        words.append(f"when needed for {reason}" if reason else "when needed")
    elif reason:
        words.append(f"for {reason}")
    days = course_days(text)
    if days:
        words.append(f"for {days} days")
    sentence = " ".join(w for w in words if w) + "."
    if cap:
        unit = cap.group(2) or (regimen.amount.unit if regimen.amount else "dose")
        unit = {"tab": "tablet", "tabs": "tablet", "cap": "capsule", "caps": "capsule"}.get(unit.lower(), unit.lower())
        sentence += f" Do not take more than {count_words(float(cap.group(1)), unit.rstrip('s'))} in a day."
    return sentence


# --- readability ---------------------------------------------------------------------------------------

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’/-]*")


def syllables(word: str) -> int:
    """Syllables in an English word, by the usual vowel-group rule (silent final e, -es/-ed endings);
    numbers and short words count as one."""
    w = re.sub(r"[^a-z]", "", word.lower())
    if len(w) <= 3:
        return 1
    w = re.sub(r"(?:[^laeiouy]es|[^laeiouy]ed|[^laeiouy]e)$", lambda m: m.group(0)[0], w)
    w = re.sub(r"^y", "", w)
    return max(1, len(re.findall(r"[aeiouy]+", w)))


def fk_grade(sentence: str, names: frozenset[str] = frozenset()) -> float:
    """Flesch-Kincaid grade level of one sentence (Kincaid et al. 1975):
    0.39 × words per sentence + 11.8 × syllables per word − 15.59.

    Words in ``names`` (medicine names the patient reads off the bottle, for which no plainer word
    exists) count as two syllables, so "hydrocodone" does not decide the grade of a sentence."""
    words = _WORD.findall(sentence)
    if not words:
        return 0.0
    total = sum(2 if w.lower().strip("'’") in names else syllables(w) for w in words)
    return 0.39 * len(words) + 11.8 * total / len(words) - 15.59


_NOT_AN_END = re.compile(r"(?:\b(?:Dr|Mr|Mrs|Ms|St|e\.g|i\.e|vs)|\b[A-Z])\.$")


def sentences(text: str) -> list[str]:
    """Split patient text into sentences (on . ! ? and line breaks; not after "Dr." or an initial)."""
    out: list[str] = []
    for part in re.split(r"(?<=[.!?])\s+|\n+", text):
        part = part.strip()
        if out and _NOT_AN_END.search(out[-1]):
            out[-1] = f"{out[-1]} {part}"
        elif part:
            out.append(part)
    return [p for p in out if _WORD.search(p)]
