"""The sig vocabulary: what each word or phrase of a prescription direction means to the reader.

Written from the NCPDP SCRIPT Structured and Codified Sig vocabulary (frequency, interval, timing,
site, as-needed and maximum-dose concepts), the ISMP list of error-prone abbreviations (read where the
meaning is unambiguous in a sig, refused where it is not: "biweekly") and label and e-prescription
wording, plus the typing errors pharmacy systems actually hold.

Every entry maps to a token ``(kind, value)``; the grammar in ``grammar.py`` reads the kinds.
"""

from __future__ import annotations

#: number words ("on tablet" is a common typo for "one tablet": handled in the normaliser)
NUMBER_WORDS = {
    "one": 1.0, "two": 2.0, "three": 3.0, "four": 4.0, "five": 5.0, "six": 6.0, "seven": 7.0, "eight": 8.0,
    "nine": 9.0, "ten": 10.0, "eleven": 11.0, "twelve": 12.0, "fifteen": 15.0, "twenty": 20.0, "thirty": 30.0,
    "half": 0.5, "a half": 0.5, "one half": 0.5, "one and a half": 1.5, "one and one half": 1.5,
    "quarter": 0.25, "one quarter": 0.25, "tow": 2.0, "too": 2.0, "thee": 3.0, "fuor": 4.0, "single": 1.0,
    "thirteen": 13.0, "fourteen": 14.0, "sixteen": 16.0, "seventeen": 17.0, "eighteen": 18.0,
    "nineteen": 19.0, "forty": 40.0, "fifty": 50.0, "sixty": 60.0, "seventy": 70.0, "eighty": 80.0,
    "ninety": 90.0,
    # "twenty four", "seventy two" (EHR intervals "every 72 (seventy-two) hours"; hyphens are dropped first)
    **{f"{tens} {unit}": t + u for tens, t in (("twenty", 20.0), ("thirty", 30.0), ("forty", 40.0),
                                                ("fifty", 50.0), ("sixty", 60.0), ("seventy", 70.0),
                                                ("eighty", 80.0), ("ninety", 90.0))
       for unit, u in (("one", 1.0), ("two", 2.0), ("three", 3.0), ("four", 4.0), ("five", 5.0),
                       ("six", 6.0), ("seven", 7.0), ("eight", 8.0), ("nine", 9.0))},
    # apothecary roman numerals as prescribers still write them ("ii tabs"); "iv" is a route, never a number
    "ii": 2.0, "iii": 3.0,
}

#: words only a Spanish sig holds: their presence turns on the SPANISH rewrite (so that "la", "en", "de" in an
#: English sig are never rewritten)
SPANISH_MARKERS = {
    "tome", "tomar", "toma", "tomen", "tomese", "tableta", "tabletas", "pastilla", "pastillas", "capsula",
    "capsulas", "comprimido", "comprimidos", "cada", "vez", "veces", "dia", "dias", "diario", "diaria",
    "diariamente", "horas", "cucharadita", "cucharaditas", "cucharada", "cucharadas", "noche", "manana",
    "inyectar", "inyecte", "inyectese", "aplicar", "aplique", "unidades", "parche", "parches", "gotas",
    "semana", "necesario", "acostarse", "desayuno", "almuerzo", "boca",
}
#: Spanish label and prescription wording (accents folded) → the English words the grammar reads; matched on
#: whole words, longest first, before typo correction (which would otherwise split "capsula" → "caps ula")
SPANISH = {
    "tome": "take", "tomar": "take", "toma": "take", "tomen": "take", "tomese": "take", "dar": "give",
    "de": "", "la": "", "las": "", "el": "", "los": "", "y": "and", "con": "with", "sin": "without",
    "en": "in", "para": "for", "durante": "for", "por": "for", "luego": "then", "despues": "then",
    "tableta": "tablet", "tabletas": "tablets", "pastilla": "tablet", "pastillas": "tablets",
    "comprimido": "tablet", "comprimidos": "tablets", "pildora": "tablet", "pildoras": "tablets",
    "capsula": "capsule", "capsulas": "capsules", "cucharadita": "teaspoon", "cucharaditas": "teaspoons",
    "cucharada": "tablespoon", "cucharadas": "tablespoons", "gota": "drop", "gotas": "drops",
    "unidad": "unit", "unidades": "units", "parche": "patch", "parches": "patches",
    "inhalacion": "inhalation", "inhalaciones": "inhalations", "disparo": "puff", "disparos": "puffs",
    "aplicacion": "application", "aplicaciones": "applications", "supositorio": "suppository",
    "uno": "one", "una": "one", "un": "one", "dos": "two", "tres": "three", "cuatro": "four", "cinco": "five",
    "seis": "six", "media": "half", "medio": "half",
    "cada": "every", "hora": "hour", "horas": "hours", "dia": "day", "dias": "days", "semana": "week",
    "semanas": "weeks", "mes": "month", "meses": "months", "vez": "times", "veces": "times",
    "una vez": "once", "una vez al dia": "once a day", "al dia": "a day", "por dia": "per day",
    "diario": "daily", "diaria": "daily", "diariamente": "daily", "cada dia": "every day",
    "todos los dias": "every day", "a la semana": "a week", "por semana": "per week", "semanal": "weekly",
    "semanalmente": "weekly", "al mes": "a month", "mensual": "monthly", "mensualmente": "monthly",
    "por boca": "by mouth", "por via oral": "by mouth", "via oral": "by mouth", "oral": "orally",
    "en la manana": "in the morning", "por la manana": "in the morning", "cada manana": "every morning",
    "manana": "morning", "en la tarde": "in the afternoon", "por la tarde": "in the afternoon",
    "en la noche": "at night", "por la noche": "at night", "cada noche": "every night",
    "todas las noches": "every night", "noche": "night", "al acostarse": "at bedtime",
    "antes de acostarse": "at bedtime", "antes de dormir": "at bedtime",
    "con comida": "with meals", "con comidas": "with meals", "con las comidas": "with meals",
    "con alimentos": "with food", "antes de las comidas": "before meals", "desayuno": "breakfast",
    "almuerzo": "lunch", "cena": "dinner",
    "si es necesario": "as needed",
    "si tiene": "as needed for", "en caso de": "as needed for", "si necesita": "as needed", "si lo necesita": "as needed",
    "como sea necesario": "as needed", "segun sea necesario": "as needed",
    "cuando sea necesario": "as needed", "cuando lo necesite": "as needed", "dolor": "pain",
    "no mas de": "no more than", "maximo": "max", "no exceda": "do not exceed", "no exceder": "do not exceed",
    "hasta terminar": "until finished", "como se indica": "as directed", "segun indicado": "as directed",
    "segun las indicaciones": "as directed", "como indicado": "as directed", "segun instrucciones": "as directed",
    "inyectar": "inject", "inyecte": "inject", "inyectese": "inject", "aplicar": "apply", "aplique": "apply",
    "inhalar": "inhale", "inhale": "inhale", "usar": "use", "use": "use", "debajo": "under", "piel": "skin",
    "ojo": "eye", "ojos": "eyes", "oido": "ear", "oidos": "ears", "en cada ojo": "in each eye",
    "en ambos ojos": "in both eyes", "en cada oido": "in each ear", "en cada fosa nasal": "in each nostril",
    "en cada orificio nasal": "in each nostril",
}

#: the counted forms as a patient reads them (for wording): written word → noun
NOUNS = {
    **{w: "tablet" for w in ("tab", "tabs", "tablet", "tablets", "tb", "tbl", "tabl", "tablt", "tabet", "tabelt",
                             "tablest", "tablests", "tabls", "tablte", "tabelts", "caplet", "caplets", "pill",
                             "pills", "chewable", "chewables")},
    **{w: "capsule" for w in ("cap", "caps", "capsule", "capsules", "capsul", "capsuls", "c", "softgel",
                              "softgels", "gelcap", "gelcaps")},
    **{w: "suppository" for w in ("supp", "supps", "suppository", "suppositories")},
    **{w: "lozenge" for w in ("lozenge", "lozenges", "troche", "troches")},
    **{w: "packet" for w in ("packet", "packets", "sachet", "sachets")},
    **{w: "syringe" for w in ("syringe", "syringes", "autoinjector", "autoinjectors")},
    **{w: "pen" for w in ("pen", "pens")},
}

#: units of mass and of activity → (canonical unit, factor to it)
MASS_UNITS = {
    "mg": ("mg", 1.0), "mgs": ("mg", 1.0), "milligram": ("mg", 1.0), "milligrams": ("mg", 1.0),
    "g": ("mg", 1000.0), "gm": ("mg", 1000.0), "gms": ("mg", 1000.0), "gram": ("mg", 1000.0),
    "grams": ("mg", 1000.0), "mcg": ("mg", 0.001), "ug": ("mg", 0.001), "mcgs": ("mg", 0.001),
    "microgram": ("mg", 0.001), "micrograms": ("mg", 0.001),
    "unit": ("unit", 1.0), "units": ("unit", 1.0), "u": ("unit", 1.0), "iu": ("unit", 1.0), "unt": ("unit", 1.0),
    "untis": ("unit", 1.0), "unites": ("unit", 1.0),
    "meq": ("meq", 1.0), "mmol": ("mmol", 1.0),
}
#: volumes → mL
VOLUME_UNITS = {
    "ml": 1.0, "mls": 1.0, "milliliter": 1.0, "milliliters": 1.0, "millilitre": 1.0, "millilitres": 1.0,
    "cc": 1.0, "ccs": 1.0, "l": 1000.0, "tsp": 5.0, "tsps": 5.0, "teaspoon": 5.0, "teaspoons": 5.0,
    "teaspoonful": 5.0, "teaspoonfuls": 5.0, "tbsp": 15.0, "tbsps": 15.0, "tablespoon": 15.0,
    "tablespoons": 15.0, "tablespoonful": 15.0,
}
#: counted units of the product itself
COUNT_UNITS = {
    "tab": "each", "tabs": "each", "tablet": "each", "tablets": "each", "tb": "each", "tbl": "each",
    "tabl": "each", "tablt": "each", "tabet": "each", "tabelt": "each", "tablest": "each", "tablests": "each",
    "tabls": "each", "tablte": "each", "tabelts": "each", "caplet": "each", "caplets": "each", "pill": "each",
    "pills": "each", "cap": "each", "caps": "each", "capsule": "each", "capsules": "each", "capsul": "each",
    "capsuls": "each", "c": "each", "each": "each", "ea": "each", "softgel": "each", "softgels": "each",
    "gelcap": "each", "gelcaps": "each", "chewable": "each", "chewables": "each", "troche": "each",
    "troches": "each", "lozenge": "each", "lozenges": "each", "film": "each", "films": "each",
    "strip": "each", "strips": "each", "wafer": "each", "wafers": "each", "pen": "each",
    "puff": "actuation", "puffs": "actuation", "inhalation": "actuation", "inhalations": "actuation",
    "spray": "actuation", "sprays": "actuation", "actuation": "actuation", "actuations": "actuation",
    "squirt": "actuation", "squirts": "actuation", "pump": "actuation", "pumps": "actuation",
    "drop": "drop", "drops": "drop", "gtt": "drop", "gtts": "drop",
    "patch": "patch", "patches": "patch", "system": "patch",
    "supp": "each", "supps": "each", "suppository": "each", "suppositories": "each",
    "packet": "each", "packets": "each", "sachet": "each", "sachets": "each", "scoop": "each",
    "scoops": "each", "capful": "each", "capfuls": "each",
    "vial": "vial", "vials": "vial", "ampule": "vial", "ampules": "vial", "ampoule": "vial", "ampoules": "vial",
    "neb": "vial", "nebs": "vial", "respule": "vial", "respules": "vial",
    "application": "application", "applications": "application", "applicatorful": "application",
    "applicator": "application", "ring": "each", "implant": "each", "injection": "each", "injections": "each",
    "syringe": "each", "syringes": "each", "pens": "each", "autoinjector": "each", "autoinjectors": "each",
    "dose": "dose", "doses": "dose",
}

#: written frequencies → (administrations per day, timing anchors)
FREQUENCIES: dict[str, tuple[float, tuple[str, ...]]] = {
    "daily": (1, ()), "qd": (1, ()), "qday": (1, ()), "qdaily": (1, ()), "od": (1, ()), "everyday": (1, ()),
    "once daily": (1, ()), "once a day": (1, ()), "once per day": (1, ()), "once each day": (1, ()),
    "one time daily": (1, ()), "one time a day": (1, ()), "one time per day": (1, ()), "every day": (1, ()),
    "each day": (1, ()), "per day": (1, ()), "a day": (1, ()), "q 24 h": (1, ()), "q24": (1, ()),
    "every 24 hours": (1, ()), "1 time daily": (1, ()), "1 time a day": (1, ()), "1 time per day": (1, ()),
    "once": (1, ()), "qam": (1, ("morning",)), "q am": (1, ("morning",)), "every morning": (1, ("morning",)),
    "each morning": (1, ("morning",)), "qmorning": (1, ("morning",)), "q morning": (1, ("morning",)),
    "daily in the morning": (1, ("morning",)), "qpm": (1, ("evening",)), "q pm": (1, ("evening",)),
    "every evening": (1, ("evening",)), "each evening": (1, ("evening",)), "q evening": (1, ("evening",)),
    "qhs": (1, ("bedtime",)), "q hs": (1, ("bedtime",)), "nightly": (1, ("bedtime",)),
    "every night": (1, ("bedtime",)), "each night": (1, ("bedtime",)), "qnight": (1, ("bedtime",)),
    "q night": (1, ("bedtime",)), "every bedtime": (1, ("bedtime",)), "qn": (1, ("bedtime",)),
    "bid": (2, ()), "twice daily": (2, ()), "twice a day": (2, ()), "twice per day": (2, ()), "twice": (2, ()),
    "two times daily": (2, ()), "two times a day": (2, ()), "two times per day": (2, ()), "q12": (2, ()),
    "tid": (3, ()), "three times daily": (3, ()), "three times a day": (3, ()), "three times per day": (3, ()),
    "thrice daily": (3, ()), "q8": (3, ()),
    "qid": (4, ()), "four times daily": (4, ()), "four times a day": (4, ()), "four times per day": (4, ()),
    "q6": (4, ()), "five times daily": (5, ()), "five times a day": (5, ()),
    "qod": (0.5, ()), "every other day": (0.5, ()), "every second day": (0.5, ()), "alternate days": (0.5, ()),
    "on alternate days": (0.5, ()), "qad": (0.5, ()), "eod": (0.5, ()),
    "weekly": (1 / 7, ()), "once weekly": (1 / 7, ()), "once a week": (1 / 7, ()), "once per week": (1 / 7, ()),
    "every week": (1 / 7, ()), "each week": (1 / 7, ()), "qweek": (1 / 7, ()), "q week": (1 / 7, ()),
    "qwk": (1 / 7, ()), "q wk": (1 / 7, ()), "qw": (1 / 7, ()), "one time weekly": (1 / 7, ()),
    "per week": (1 / 7, ()), "a week": (1 / 7, ()),
    "twice weekly": (2 / 7, ()), "twice a week": (2 / 7, ()), "twice per week": (2 / 7, ()),
    "two times weekly": (2 / 7, ()), "two times a week": (2 / 7, ()), "three times weekly": (3 / 7, ()),
    "three times a week": (3 / 7, ()), "monthly": (1 / 30, ()), "once monthly": (1 / 30, ()),
    "once a month": (1 / 30, ()), "every month": (1 / 30, ()), "q month": (1 / 30, ()),
    "qmonth": (1 / 30, ()), "per month": (1 / 30, ()), "once per month": (1 / 30, ()),
    "yearly": (1 / 365, ()), "annually": (1 / 365, ()), "once a year": (1 / 365, ()),
    "qhour": (24, ()), "every hour": (24, ()), "hourly": (24, ()),
}

#: times of day and meals; a clause without a written frequency counts one administration per anchor group
ANCHORS: dict[str, tuple[str, ...]] = {
    "in the morning": ("morning",), "in am": ("morning",), "in the am": ("morning",), "am": ("morning",),
    "morning": ("morning",), "mornings": ("morning",), "upon waking": ("morning",), "on waking": ("morning",),
    "upon rising": ("morning",), "on rising": ("morning",), "when you wake up": ("morning",),
    "at noon": ("noon",), "noon": ("noon",), "midday": ("noon",), "mid day": ("noon",), "at midday": ("noon",),
    "in the afternoon": ("afternoon",), "afternoon": ("afternoon",),
    "in the evening": ("evening",), "evening": ("evening",), "in evening": ("evening",), "pm": ("evening",),
    "in the pm": ("evening",), "in pm": ("evening",), "evenings": ("evening",), "at night": ("bedtime",),
    "at bedtime": ("bedtime",), "bedtime": ("bedtime",), "hs": ("bedtime",), "at hs": ("bedtime",),
    "bed time": ("bedtime",), "at bed time": ("bedtime",), "before bed": ("bedtime",),
    "before bedtime": ("bedtime",), "at bed": ("bedtime",), "night": ("bedtime",), "nighttime": ("bedtime",),
    "at nighttime": ("bedtime",), "before sleep": ("bedtime",), "qbedtime": ("bedtime",),
    "breakfast": ("breakfast",), "lunch": ("lunch",), "dinner": ("dinner",), "supper": ("dinner",),
    "evening meal": ("dinner",), "meals": ("meals",), "each meal": ("meals",), "every meal": ("meals",),
    "ac": ("meals",), "pc": ("meals",), "at home": ("home",), "at school": ("school",),
    "meal": ("meals",), "a meal": ("meals",),
}
#: anchors that name a single meal ("with a meal"): one administration, where "with meals" counts three
ONE_MEAL = {"meal", "a meal"}

#: "in each nostril" and the like: the written amount goes to two sites
TWO_SITES = {
    "each nostril", "in each nostril", "per nostril", "both nostrils", "in both nostrils", "each nare",
    "in each nare", "both nares", "each naris", "in each naris", "each eye", "in each eye", "both eyes",
    "in both eyes", "ou", "each ear", "in each ear", "both ears", "in both ears", "au", "in each nosetril",
    "into each nostril", "into both nostrils", "into each eye", "into both eyes", "to each eye",
}

DAYS_OF_WEEK = {
    "monday": "mon", "mon": "mon", "mondays": "mon", "m": "mon", "tuesday": "tue", "tue": "tue",
    "tues": "tue", "tu": "tue", "tuesdays": "tue", "wednesday": "wed", "wed": "wed", "wednesdays": "wed",
    "w": "wed", "thursday": "thu", "thu": "thu", "thur": "thu", "thurs": "thu", "th": "thu",
    "thursdays": "thu", "t": "tue", "friday": "fri", "fri": "fri", "fridays": "fri", "f": "fri", "saturday": "sat",
    "sat": "sat", "saturdays": "sat", "sa": "sat", "sunday": "sun", "sun": "sun", "sundays": "sun", "su": "sun",
}
WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: the days of the week the sig's other doses do not name ("5 mg M/W/F and 2.5 mg all other days")
OTHER_DAYS = {"all other days", "other days", "on other days", "on all other days", "the other days",
              "on the other days", "all other days of the week", "remaining days", "the remaining days",
              "on the remaining days", "rest of the week", "the rest of the week", "rest of the days",
              "the rest of the days", "all remaining days", "on remaining days"}

#: period words after "every N", "per", "/" or "in": their length in days
PERIODS = {
    "h": 1 / 24, "hr": 1 / 24, "hrs": 1 / 24, "hour": 1 / 24, "hours": 1 / 24, "hourly": 1 / 24, "hous": 1 / 24,
    "hors": 1 / 24, "horus": 1 / 24, "minute": 1 / 1440, "minutes": 1 / 1440, "min": 1 / 1440, "mins": 1 / 1440,
    "d": 1.0, "day": 1.0, "days": 1.0, "daily": 1.0, "night": 1.0, "nights": 1.0,
    "wk": 7.0, "wks": 7.0, "week": 7.0, "weeks": 7.0, "weekly": 7.0, "mo": 30.0, "mos": 30.0, "month": 30.0,
    "months": 30.0, "monthly": 30.0, "yr": 365.0, "year": 365.0, "years": 365.0,
}

#: phrases that mean "as needed"
PRN = {"prn", "as needed", "if needed", "when needed", "as required", "if required", "when required",
       "as need", "as neeeded", "as neded", "as nedded", "if necessary", "when necessary", "as necessary",
       "asneeded", "ifneeded", "after each loose stool", "after each loose bowel movement"}
#: phrases that open a written maximum
CAP = {"max", "maximum", "mdd", "max daily dose", "maximum daily dose", "not to exceed", "do not exceed",
       "dont exceed", "don't exceed", "nte", "no more than", "not more than", "not exceeding", "max of",
       "maximum of", "up to a maximum of", "up to max", "up to max of", "never more than", "limit",
       "do not take more than", "don't take more than", "dont take more than", "do not use more than",
       "take no more than", "use no more than", "not to take more than", "should not exceed"}
UP_TO = {"up to", "upto"}
THEN = {"then", "followed by", "after that", "thereafter", "and then", "next"}
EXCEPT = {"except", "except on", "excluding", "but", "except for"}
AND = {"and", "&", "plus", "+", "also", ",", "as well as"}
ONE_TIME = {"stat", "now", "single dose", "as a single dose", "one time", "one time only", "once only",
            "today", "in clinic", "in office", "once today", "one dose",
            "at onset", "at onset of migraine", "at onset of headache", "at first sign", "1 time", "onetime",
            # a dose taken once ahead of an event: dental prophylaxis, a procedure
            "before dental appointment", "before dental work", "before dental procedure", "before dental visit",
            "prior to dental appointment", "prior to dental work", "prior to dental procedure",
            "before procedure", "before the procedure", "prior to procedure", "prior to the procedure",
            "before appointment", "before your appointment", "before surgery", "prior to surgery"}
#: a sig that carries two regimens for the same drug (EHR "Patient taking differently: …"): which one is taken
#: is a question for the patient, not a sum
TWO_REGIMENS = {"taking differently", "patient taking differently", "pt taking differently",
                "taking it differently", "patient is taking differently"}
#: how long a patch stays on ("remove after 12 hours", "on 12 hours, off 12 hours"): the rate is worn that long
WEAR = {"remove after", "leave on for", "leave on", "wear for", "keep on for", "on for", "remove in"}
SLIDING = {"sliding scale", "per sliding scale", "per ss", "ss", "per scale", "correction scale",
           "correctional scale", "as per scale", "per protocol", "sliding-scale", "slidingscale",
           "correction dose", "per correction scale", "carb ratio", "per carb ratio", "carbohydrate ratio",
           "insulin to carb ratio", "per carbohydrate count", "based on blood sugar", "per blood sugar"}
AS_DIRECTED = {"as directed", "ud", "as instructed", "use as directed", "per instructions",
               "as per instructions", "per package", "per package directions", "as per doctor",
               "as directed by physician", "as directed by prescriber", "asdir", "utd"}
UNTIL = {"until gone", "until finished", "until all taken", "until completed", "until complete",
         "until done", "until used up"}
REPEAT = {"may repeat", "can repeat", "repeat", "may take another", "may take a second dose"}
EVERY = {"q", "every", "each", "evry", "eveyr", "ever", "q.", "qq"}
X_WORDS = {"x", "times", "time", "tims"}
MONTHS = {"january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct",
          "nov", "dec"}
#: words that say the following amount is not this prescription's dose ("replaces her 30mg dose")
NOT_THE_DOSE = {"dispense", "disp", "dispensed", "qty", "quantity",
                "replaces", "replace", "instead", "previous", "previously", "prior", "was", "old",
                "discontinue", "dc", "stop", "stopped", "formerly", "changed", "from", "decrease by",
                "increase by", "taper by", "reduce by", "decrease dose by", "increase dose by", "titrate by",
                "wean by"}
#: glued day-of-week schedules
DAY_RUNS = {"mwf": ("mon", "wed", "fri"), "tth": ("tue", "thu"), "tuth": ("tue", "thu"), "tthsa": ("tue", "thu", "sat"),
            "mtwthf": ("mon", "tue", "wed", "thu", "fri"), "mtwtf": ("mon", "tue", "wed", "thu", "fri"),
            "mwfsu": ("mon", "wed", "fri", "sun"), "tts": ("tue", "thu", "sat")}

#: common misspellings → the word meant (applied to single words before phrase matching)
TYPOS = {
    "daliy": "daily", "dialy": "daily", "dailt": "daily", "daiy": "daily", "dayly": "daily", "daly": "daily",
    "dailly": "daily", "dailey": "daily", "daiily": "daily", "diaily": "daily", "dailu": "daily",
    "twcie": "twice", "tiwce": "twice", "twic": "twice", "twise": "twice", "twicw": "twice", "twicd": "twice",
    "morining": "morning", "mornig": "morning", "moring": "morning", "mornign": "morning", "morninng": "morning",
    "evenig": "evening", "eveing": "evening", "evning": "evening", "evenning": "evening",
    "bedtiem": "bedtime", "bedtme": "bedtime", "bedime": "bedtime", "betime": "bedtime", "bedtim": "bedtime",
    "neded": "needed", "needded": "needed", "neeeded": "needed", "nedded": "needed", "neeed": "needed",
    "need": "needed", "mouht": "mouth", "moth": "mouth", "mout": "mouth", "hous": "hours", "hrs": "hours",
    "hr": "hours", "hors": "hours", "horus": "hours", "houres": "hours", "tabelts": "tablets",
    "tablests": "tablets", "tablts": "tablets", "tabets": "tablets", "tabletes": "tablets",
    "capsuels": "capsules", "capsuls": "capsules", "capules": "capsules", "caspules": "capsules",
    "cpas": "caps", "tbas": "tabs", "tbs": "tabs", "evrey": "every", "evey": "every", "evry": "every",
    "weekely": "weekly", "weelky": "weekly", "wkly": "weekly", "nighly": "nightly", "nitely": "nightly",
    "nightley": "nightly", "thrice": "thrice", "untill": "until", "unitl": "until", "untl": "until",
    "tkae": "take", "tale": "take", "takes": "take", "inhalations": "inhalations", "puffes": "puffs",
    "sprys": "sprays", "nostirl": "nostril", "nostril": "nostril", "nostrills": "nostrils",
    "nosetril": "nostril", "nare": "nare", "brakfast": "breakfast", "breakfest": "breakfast",
    "breakfst": "breakfast", "diner": "dinner", "dinnner": "dinner", "luch": "lunch", "meels": "meals",
    "meails": "meals", "maels": "meals", "everyday": "everyday", "perday": "per day", "aday": "a day",
    "qday": "qday", "bidd": "bid", "tidd": "tid", "q4hrs": "q 4 hours", "wks": "weeks",
    "mnths": "months", "minuts": "minutes", "applu": "apply", "aply": "apply", "aplly": "apply",
    "inhlae": "inhale", "inahle": "inhale", "injet": "inject", "injetc": "inject", "unti": "units",
    "untis": "units", "nightime": "nighttime", "bedtimee": "bedtime", "mg.": "mg",
    "hprn": "h prn", "hrprn": "hr prn", "hrsprn": "hrs prn", "dya": "day", "dys": "days",
    "nigt": "night", "nite": "night", "nigth": "night", "niht": "night", "nihgt": "night", "nght": "night",
    "tpo": "t po", "cpo": "c po", "nigts": "nights", "nites": "nights", "tonite": "tonight", "nitly": "nightly", "nigthly": "nightly",
}

#: words glued to other words in real sigs ("tidwmeals", "dailyx5", "hrprnas") are split at these
GLUE_PREFIXES = sorted({
    "bid", "tid", "qid", "qd", "qhs", "qam", "qpm", "qod", "qday", "daily", "prn", "hrs", "hr", "hours",
    "tabs", "tab", "tablets", "tablet", "caps", "cap", "capsules", "capsule", "po", "x", "and", "with",
    "nightly", "weekly", "as", "needed", "for", "pain", "mouth", "by", "at", "bedtime", "hs", "then",
    "puffs", "puff", "mg", "mcg", "ml", "units", "every", "q", "take", "times", "day", "days",
    "tpo", "cpo",   # "1tpoqd": tablet by mouth daily, typed without spaces
}, key=len, reverse=True)

#: route and filler words that carry nothing for the dose but may separate an amount from its timing
FILLER = {
    "take", "takes", "taking", "give", "apply", "inhale", "inject", "instill", "insert", "place", "use",
    "chew", "dissolve", "swallow", "spray", "by", "mouth", "po", "orally", "oral", "p", "o", "via", "sl",
    "sublingually", "under", "the", "tongue", "subq", "subcut", "subcutaneously", "sq", "sc", "sub", "q",
    "im", "iv", "topically", "topical", "externally", "rectally", "pr", "vaginally", "pv", "in", "into",
    "to", "of", "a", "an", "on", "for", "with", "without", "food", "water", "glass", "full", "affected",
    "area", "areas", "skin", "thin", "layer", "film", "nebulizer", "nebulized", "nebulization", "neb",
    "inhaler", "nasally", "intranasally", "nostril", "nostrils", "eye", "eyes", "ear", "ears", "left",
    "right", "os", "od", "oz", "os", "ad", "as", "is", "it", "your", "you", "please", "pt", "patient",
    "then", "mouthful", "contents", "content", "open", "sprinkle", "applesauce", "pudding", "juice",
    "milk", "liquid", "ounces", "ounce", "or", "per", "at", "from", "dose", "whole", "do", "not", "crush",
    "tablet", "capsule",
}
