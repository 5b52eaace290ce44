"""mtmrules: find medication-related problems from declarative YAML rule packs.

    from datetime import date
    from mtmrules import Engine
    report = Engine.default().check(profile, as_of=date(2026, 11, 27))
    for problem in report.problems: ...
"""

__version__ = "0.1.0"

from mtmrules.engine.engine import Engine  # noqa: E402
from mtmrules.engine.site import SitePolicy  # noqa: E402
from mtmrules.errors import InputError, MtmRulesError  # noqa: E402
from mtmrules.profile.models import Profile  # noqa: E402
from mtmrules.report.models import Problem, Report  # noqa: E402

__all__ = ["Engine", "InputError", "MtmRulesError", "Problem", "Profile", "Report", "SitePolicy", "__version__"]
