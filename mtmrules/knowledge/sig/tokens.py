"""Tokenizer and normaliser: sig text → typed tokens.

Steps: fold case and unicode (½, µg, dashes); refuse number forms that must not be guessed ("-5000 mg",
"1e3 mg"); normalise numbers ("1,000", "1 000", "0,5", ".5", fractions); turn clock times into time
tokens ("8am", "11:00"); drop abbreviation dots ("b.i.d." → "bid"); split digits from letters
("tablet60bid" → "tablet 60 bid"); fix known typos and split glued words ("hrprnas" → "hr prn as");
then match the vocabulary's phrases, longest first.
"""

from __future__ import annotations

import difflib
import functools
import re
import unicodedata
from typing import NamedTuple

from mtmrules.knowledge.sig import lexicon as L


class Token(NamedTuple):
    kind: str       # num | ratio | unit | freq | anchor | time | sites | dow | period | prn | cap | upto | then
    value: object   # and | sep | once | sliding | asdir | until | repeat | every | x | for | slash | dash | to
    text: str       # or | month | notdose | divided | other | lparen | rparen | percent | kg | other


class Rejected(ValueError):
    """The text holds a number form that must not be read (a negative amount, exponent notation)."""


_UNICODE = {"½": " 1/2", "¼": " 1/4", "¾": " 3/4", "⅓": " 1/3", "⅔": " 2/3", "⅛": " 1/8", "µ": "mc", "μ": "mc",
            "–": "-", "—": "-", "×": "x", "’": "'", "≤": " max ", "＝": "="}
_EXPONENT = re.compile(r"\d(?:\.\d+)?e[+-]?\d")
# a minus sign on a number ("-5000 mg", "take -5 mg"); a dash between words and a number is a separator
# ("for BP - 1 tab daily", "daily - 2 tabs on Mondays"), a dash between numbers a range
_NEGATIVE = re.compile(r"(?:^|[\s(:;,=])-\.?\d")
_TIME_AMPM = re.compile(r"(?:(?<=\bat )|(?<=\bat))?\b(\d{1,2})(?::(\d{2}))?(\s*)(a\.?m\.?|p\.?m\.?)(?![a-z])")
_TIME_24 = re.compile(r"\b(\d{1,2}):(\d{2})\b")
_THOUSANDS = re.compile(r"(\d),(\d{3})(?!\d)")
_DECIMAL_COMMA = re.compile(r"(\d),(\d{1,2})(?![\d,])")
_SPACE_THOUSANDS = re.compile(r"\b(\d{1,3})[ \t]+000\b")
# not after a letter: "q.12h" is "q12h", never "q 0.12 h"
_NAKED_DECIMAL = re.compile(r"(?<![\d.a-z])\.(\d)")
_ABBREV_DOT = re.compile(r"(?<=[a-z])\.(?=[a-z0-9])|(?<=\d)\.(?=[a-z])")
_TRAILING_DOT = re.compile(r"(?<=[a-z])\.")
_WITH = re.compile(r"(?<![a-z/])w/(?![a-z]{1,2}(?:/|\b))|(?<![a-z/])w/(?=[a-z]{3})")
#: shorthand whose digit is a word, before digits are split from letters ("b4 breakfast" is not 4 of anything)
_DIGIT_WORDS = re.compile(r"\bb4\b|\bb/4\b")
#: apothecary "i" (one) before a route or a counted form: "i po qd", "i tab bid" (never the pronoun)
_ROMAN_ONE = re.compile(r"\bi(?=\s+(?:po|tabs?|caps?|gtts?|puffs?|sl|pr|t|c|supp)\b)")
#: hyphenated number words: "one-half", "twenty-four", "one-and-a-half"
_NUMBER_HYPHEN = re.compile(r"\b(one|a|and|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)-(?=[a-z])")
_DIGIT_ALPHA = re.compile(r"(?<=\d)(?=[a-z])|(?<=[a-z])(?=\d)")
_TOKEN = re.compile(r"@\d{4}|\d+(?:\.\d+)?(?:/\d+(?:\.\d+)?)?|[a-z]+(?:'[a-z]+)?|[-/,;&+()%=.:]")

#: words the fuzzy typo step may correct to (long enough that a near miss is unambiguous)
_FUZZY_TARGETS = ("daily", "twice", "tablet", "tablets", "capsule", "capsules", "morning", "evening", "bedtime",
                  "needed", "hours", "weekly", "nightly", "breakfast", "dinner", "nostril", "inhalations",
                  "applications", "sliding", "directed", "exceed", "maximum", "every", "meals", "times",
                  "lunch", "units", "monthly", "suppository", "afternoon", "minutes", "until", "puffs", "sprays")


#: what every match of _TIME_AMPM contains (a digit, then am or pm): a cheap test before the costly pattern
_AMPM_HINT = re.compile(r"\d\s*[ap]\.?m")
_CLOCK = re.compile(r"\d\s*[ap]\.?m\b|\d:\d\d")


def _time(match: re.Match) -> str:
    hour, minute, space, half = int(match.group(1)), match.group(2) or "00", match.group(3), match.group(4)
    glued = not space or match.group(2) is not None
    before = match.string[max(0, match.start() - 3):match.start()]
    # "at 9 AM and 5 PM", "at 8 am, 2 pm": a list of clock times after a first one ("2 pm" alone may be
    # "2 in the evening")
    listed = match.string[:match.start()].endswith(("and ", ", ", "& ", ",")) \
        and _CLOCK.search(match.string[:match.start()])
    if not (glued or listed or before.endswith("at ") or before.endswith("@")) or not 1 <= hour <= 12:
        return match.group(0)
    if half.startswith("p") and hour != 12:
        hour += 12
    elif half.startswith("a") and hour == 12:
        hour = 0
    return f" @{hour:02d}{minute} "


def _time24(match: re.Match) -> str:
    hour, minute = int(match.group(1)), int(match.group(2))
    return f" @{hour:02d}{minute:02d} " if hour < 24 and minute < 60 else match.group(0)


def normalise(text: str) -> str:
    """Sig text with numbers, times, abbreviation dots and glued digits normalised (lowercase)."""
    # Every pattern below needs some character to match; most sigs lack it, so the cheap ``in`` test goes
    # first (this runs once per distinct sig, but a population brings new sigs all the time).
    out = text.lower()
    if not out.isascii():
        for old, new in _UNICODE.items():
            if old in out:
                out = out.replace(old, new)
        if not out.isascii():
            # accents folded ("día", "mañana", "cápsula"): Spanish labels and typed accents read as their letters
            out = "".join(ch for ch in unicodedata.normalize("NFKD", out) if not unicodedata.combining(ch))
    if "e" in out and _EXPONENT.search(out):
        raise Rejected("a number in exponent notation (such as 1e3) is not read as a dose")
    if "-" in out and _NEGATIVE.search(out):
        raise Rejected("a negative amount is not a dose")
    if "," in out:
        out = _THOUSANDS.sub(r"\1\2", out)
        out = _DECIMAL_COMMA.sub(r"\1.\2", out)
    if "000" in out:
        out = _SPACE_THOUSANDS.sub(r"\g<1>000", out)
    if "." in out:
        out = _NAKED_DECIMAL.sub(r"0.\1", out)
    if _AMPM_HINT.search(out):
        out = _TIME_AMPM.sub(_time, out)
    if ":" in out:
        out = _TIME_24.sub(_time24, out)
    if "." in out:
        out = _ABBREV_DOT.sub("", out)
        out = _TRAILING_DOT.sub(" ", out)
    if "w/" in out:
        out = _WITH.sub("with ", out.replace("w/o ", "without "))
    if "b4" in out or "b/4" in out:
        out = _DIGIT_WORDS.sub("before", out)
    out = _ROMAN_ONE.sub("1", out)
    if "-" in out:
        out = _NUMBER_HYPHEN.sub(r"\1 ", out)
    return _DIGIT_ALPHA.sub(" ", out)


@functools.lru_cache(maxsize=8192)
def _fix_word(word: str) -> tuple[str, ...]:
    """A word as the vocabulary knows it: itself, its typo correction, or the pieces of a glued word."""
    if word in _KNOWN_WORDS:
        return (word,)
    if word in L.TYPOS:
        return tuple(L.TYPOS[word].split())
    if len(word) >= 4:
        pieces = _unglue(word)
        if pieces:
            return pieces
    if len(word) >= 5:
        close = difflib.get_close_matches(word, _FUZZY_TARGETS, n=1, cutoff=0.8)
        if close:
            return (close[0],)
    return (word,)


_SPANISH_LONGEST = max(len(k.split()) for k in L.SPANISH)


def _from_spanish(raws: list[str]) -> list[str]:
    """Spanish words and phrases → the English words the grammar reads ("dos veces al dia" → "two times a day")."""
    out: list[str] = []
    i = 0
    while i < len(raws):
        for size in range(min(_SPANISH_LONGEST, len(raws) - i), 0, -1):
            if raws[i] == "a" and 0 < i < len(raws) - 1 and raws[i - 1][0].isdigit() and raws[i + 1][0].isdigit():
                out.append("to")      # "cada 4 a 6 horas": every 4 to 6 hours
                i += 1
                break
            english = L.SPANISH.get(" ".join(raws[i:i + size]))
            if english is not None:
                out.extend(english.split())
                i += size
                break
        else:
            out.append(raws[i])
            i += 1
    return out


def _unglue(word: str) -> tuple[str, ...] | None:
    """Split 'tidwmeals' → ('tid', 'wmeals'), 'hrprnas' → ('hr', 'prn', 'as'), 'dailyx' → ('daily', 'x').
    Only when the word starts with a strong sig abbreviation; the rest is split again if it can be."""
    for prefix in L.GLUE_PREFIXES:
        if len(prefix) >= 2 and word.startswith(prefix) and len(word) > len(prefix):
            rest = word[len(prefix):]
            tail = _unglue(rest) if len(rest) >= 2 and rest not in _KNOWN_WORDS else None
            return (prefix, *(tail or (rest,)))
    return None


def _phrase_table() -> dict[tuple[str, ...], Token]:
    table: dict[tuple[str, ...], Token] = {}

    def add(phrases, kind, value=None):
        for phrase in phrases:
            table.setdefault(tuple(phrase.split()), Token(kind, value if value is not None else phrase, phrase))

    for phrase, value in L.NUMBER_WORDS.items():
        table[tuple(phrase.split())] = Token("num", value, phrase)
    for phrase, (unit, factor) in L.MASS_UNITS.items():
        table[(phrase,)] = Token("unit", (unit, factor), phrase)
    for phrase, factor in L.VOLUME_UNITS.items():
        table[(phrase,)] = Token("unit", ("mL", factor), phrase)
    for phrase, unit in L.COUNT_UNITS.items():
        table.setdefault((phrase,), Token("unit", (unit, 1.0), phrase))
    for phrase, value in L.FREQUENCIES.items():
        table[tuple(phrase.split())] = Token("freq", value, phrase)
    for phrase, value in L.ANCHORS.items():
        table.setdefault(tuple(phrase.split()), Token("anchor", value, phrase))
    add(L.TWO_SITES, "sites", 2)
    for phrase, day in L.DAYS_OF_WEEK.items():
        table.setdefault((phrase,), Token("dow", day, phrase))
    for phrase, days in L.DAY_RUNS.items():
        table[(phrase,)] = Token("dow", days, phrase)
    for phrase in ("weekdays", "on weekdays", "every weekday", "weekday"):
        table[tuple(phrase.split())] = Token("dow", L.WEEK[:5], phrase)
    for phrase in ("weekends", "on weekends", "every weekend"):
        table[tuple(phrase.split())] = Token("dow", L.WEEK[5:], phrase)
    for phrase, days in L.PERIODS.items():
        table.setdefault((phrase,), Token("period", days, phrase))
    add(L.OTHER_DAYS, "otherdays")
    add(L.TWO_REGIMENS, "tworegimens")
    add(L.WEAR, "wear")
    add(("same meal", "the same meal"), "other")   # "after the same meal each day": which meal is not said
    # when a patch comes off is not an administration
    add(("remove at bedtime", "remove at night", "remove at hs", "take off at bedtime", "take off at night",
         "remove before bedtime", "remove before bed"), "other")
    add(L.PRN, "prn")
    add(L.CAP, "cap")
    add(L.UP_TO, "upto")
    add(L.THEN, "then")
    add(L.EXCEPT, "except")
    add(L.AND, "and")
    add(L.ONE_TIME, "once")
    add(L.SLIDING, "sliding")
    add(L.AS_DIRECTED, "asdir")
    add(L.UNTIL, "until")
    add(L.REPEAT, "repeat")
    add(L.EVERY, "every")
    add(L.X_WORDS, "x")
    add(("for", "during"), "for")
    add(L.MONTHS, "month")
    add(L.NOT_THE_DOSE, "notdose")
    add(("divided", "in divided doses", "divided doses", "in divided", "total daily dose", "per day divided",
         "daily dose divided"), "divided")
    add(("other",), "other-word")
    add(("to", "through", "thru"), "to")
    add(("or",), "or")
    add(("in", "within", "per", "a", "an", "each"), "per")
    add(("kg", "kilogram", "kilograms"), "kg")
    add(("sq m", "m2", "bsa"), "bsa")
    table[("/",)] = Token("slash", "/", "/")
    table[("-",)] = Token("dash", "-", "-")
    table[(";",)] = Token("sep", ";", ";")
    table[(".",)] = Token("sep", ".", ".")
    table[(":",)] = Token("sep", ":", ":")
    table[(",",)] = Token("and", ",", ",")
    table[("(",)] = Token("lparen", "(", "(")
    table[(")",)] = Token("rparen", ")", ")")
    table[("%",)] = Token("percent", "%", "%")
    table[("=",)] = Token("equals", "=", "=")
    return table


_PHRASES = _phrase_table()
#: first word → the lengths of the phrases that start with it, longest first
_LENGTHS: dict[str, tuple[int, ...]] = {}
for _key in _PHRASES:
    _LENGTHS[_key[0]] = tuple(sorted({len(_key), *_LENGTHS.get(_key[0], ())}, reverse=True))
_KNOWN_WORDS = frozenset(w for k in _PHRASES for w in k) | frozenset(L.FILLER) | frozenset(
    ("take", "with", "without", "food", "pain", "then", "dose", "doses", "mouth"))


#: no amount, strength or count in a sig is larger: above it the number is a typing error
MAX_NUMBER = 1_000_000


def _number(word: str) -> Token:
    if "/" in word:
        top, bottom = word.split("/")
        num, den = float(top), float(bottom)
        # 1/2, 3/4, 1/8: a fraction; 5/325, 12/20: a strength pair or a date, never an amount
        if den and 0 < num < den <= 8:
            return Token("num", num / den, word)
        return Token("ratio", (num, den), word)
    value = float(word)
    if value > MAX_NUMBER:
        shown = word if len(word) <= 12 else f"{word[:12]}… ({len(word)} digits)"
        raise Rejected(f"{shown} is not a plausible amount (above {MAX_NUMBER:,.0f})")
    return Token("num", value, word)


def tokenize(text: str) -> list[Token]:
    """Typed tokens of a sig (raises ``Rejected`` for number forms that must not be read)."""
    words: list[str] = []
    raws = _TOKEN.findall(normalise(text))
    if not L.SPANISH_MARKERS.isdisjoint(raws):
        raws = _from_spanish(raws)
    for raw in raws:
        if raw[0].isalpha():
            words.extend(_fix_word(raw))
        else:
            words.append(raw)
    out: list[Token] = []
    i, n = 0, len(words)
    while i < n:
        word = words[i]
        if word[0] == "@":
            out.append(Token("time", f"{word[1:3]}:{word[3:]}", word))
            i += 1
            continue
        if word[0].isdigit():
            out.append(_number(word))
            i += 1
            continue
        for size in _LENGTHS.get(word, ()):
            token = _PHRASES.get(tuple(words[i:i + size])) if size > 1 else _PHRASES[(word,)]
            if token is not None:
                out.append(token)
                i += size
                break
        else:
            out.append(Token("other", word, word))
            i += 1
    return _drop_repeated_numbers(out)


def _drop_repeated_numbers(tokens: list[Token]) -> list[Token]:
    """'2 (two) times a day', 'every 6 (six) hours': EHR sigs repeat a number in words in parentheses."""
    out: list[Token] = []
    k = 0
    while k < len(tokens):
        out.append(tokens[k])
        if tokens[k].kind == "num" and k + 3 < len(tokens) and tokens[k + 1].kind == "lparen" \
                and tokens[k + 2].kind == "num" and tokens[k + 2].value == tokens[k].value \
                and tokens[k + 3].kind == "rparen":
            k += 4
            continue
        k += 1
    return out
