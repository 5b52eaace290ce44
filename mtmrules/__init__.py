"""mtmrules: find medication-related problems from declarative YAML rule packs.

    from datetime import date
    from mtmrules import Engine
    report = Engine.default().check(profile, as_of=date(2026, 11, 27))
    for problem in report.problems: ...
"""

__version__ = "0.1.0"

from mtmrules.engine.engine import Engine  # noqa: E402
from mtmrules.errors import InputError, MtmRulesError  # noqa: E402

__all__ = ["Engine", "InputError", "MtmRulesError", "__version__"]
