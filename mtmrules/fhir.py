"""Deprecated import path: the FHIR adapter lives in :mod:`mtmrules.adapters.fhir` (Bulk NDJSON in
:mod:`mtmrules.adapters.bulk`). This module re-exports their public names so existing imports keep working."""

import warnings

from mtmrules.adapters.bulk import bulk_groups, read_bulk
from mtmrules.adapters.fhir import (MEDICATION_TYPES, USED_TYPES, dosage_fields, load_fhir_json, profile_from_bundle,
                                    profiles_from_bundle, profiles_from_resources)

warnings.warn("mtmrules.fhir is deprecated: import from mtmrules.adapters.fhir (and mtmrules.adapters.bulk)",
              DeprecationWarning, stacklevel=2)

__all__ = ["MEDICATION_TYPES", "USED_TYPES", "bulk_groups", "dosage_fields", "load_fhir_json", "profile_from_bundle",
           "profiles_from_bundle", "profiles_from_resources", "read_bulk"]
