"""Input adapters: every shape of input data → :class:`mtmrules.profile.Profile`.

- :mod:`mtmrules.adapters.native` — native JSON/YAML profiles (DESIGN §5.1)
- :mod:`mtmrules.adapters.fhir` — FHIR R4 Bundles and resource lists
- :mod:`mtmrules.adapters.bulk` — FHIR Bulk Data NDJSON exports, grouped by patient
- :mod:`mtmrules.adapters.claims` — claims-style fills tables (CSV, Parquet, DataFrame)
- :mod:`mtmrules.adapters.cdshooks` — a CDS Hooks request (prefetch, draft orders) → FHIR resources
- :mod:`mtmrules.adapters.inputs` — any file or folder, recognised by shape
"""
