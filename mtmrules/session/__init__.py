"""The MTM session around the problem list: intake gaps, per-medication review, action plan,
prescriber letters, pharmacist decisions and follow-up. Start with :func:`prepare`."""

from mtmrules.session.decisions import read_session
from mtmrules.session.runner import Prepared, prepare

__all__ = ["Prepared", "prepare", "read_session"]
