"""Deprecated import path: the CDS Hooks service lives in :mod:`mtmrules.service` (service logic in
:mod:`mtmrules.service.cdshooks`, suppressions in :mod:`mtmrules.service.store`, the HTTP app in
:mod:`mtmrules.service.app`). This module re-exports their public names so existing imports keep working."""

import warnings

from mtmrules.service.app import create_app
from mtmrules.service.cdshooks import SERVICES, CdsHooksService, HookError, discovery
from mtmrules.service.store import SuppressionStore, apply_suppressions

warnings.warn("mtmrules.cdshooks is deprecated: import from mtmrules.service", DeprecationWarning, stacklevel=2)

__all__ = ["SERVICES", "CdsHooksService", "HookError", "SuppressionStore", "apply_suppressions", "create_app",
           "discovery"]
