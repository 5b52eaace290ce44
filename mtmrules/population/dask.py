"""Dask adapter: the same chunk function as ``mtmrules screen``, mapped over DataFrame partitions.

    import dask.dataframe as dd
    from mtmrules.population.dask import screen
    fills = dd.read_parquet("claims/*.parquet")          # one row per fill, partitioned by patient
    problems = screen(fills, as_of=date(2026, 11, 27)).compute()

Each partition must hold whole patients (partition the fills by patient id, e.g. with
``fills.shuffle("patient_id")``); every worker builds its own Engine once. The result is a Dask
DataFrame with one row per problem, the same columns as ``mtmrules screen``.

PySpark: the same function runs under ``groupBy(...).applyInPandas`` — see ``examples/pyspark_screen.py``.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from mtmrules.engine.engine import Engine
from mtmrules.population.screen import PROBLEM_COLUMNS, iter_profiles, screen_chunk

META = pd.DataFrame({c: pd.Series(dtype="int64" if c == "rank" else "float64" if c == "score" else "object")
                     for c in PROBLEM_COLUMNS})


_ENGINES: dict[tuple, Engine] = {}   # per worker process: one engine per (packs, site policy, executor)


def _engine(packs: tuple[str, ...], site: str | None, executor: str) -> Engine:
    key = (packs, site, executor)
    if key not in _ENGINES:
        _ENGINES[key] = Engine.with_packs(list(packs), executor, site) if packs else Engine.default(executor, site)
    return _ENGINES[key]


def screen_partition(frame: pd.DataFrame, as_of: date, executor: str = "fast", packs: tuple[str, ...] = (),
                     site: str | None = None) -> pd.DataFrame:
    """One pandas partition of fills (whole patients) → one row per problem. ``packs`` (extra rule
    packs) and ``site`` (a site policy file) are paths every worker can read."""
    errors: list = []
    items = [("profile", p) for p in iter_profiles(frame, as_of, lambda where, why: errors.append((where, why)))]
    problems, _, _ = screen_chunk(items, as_of, executor, engine=_engine(tuple(map(str, packs)), site, executor))
    out = pd.DataFrame(problems, columns=PROBLEM_COLUMNS)
    return out.astype({"rank": "int64", "score": "float64"})


def screen(fills, as_of: date, executor: str = "fast", packs: tuple[str, ...] = (), site: str | None = None):
    """Screen a Dask DataFrame of fills (or a path readable by ``dask.dataframe.read_parquet``/``read_csv``),
    with the built-in packs plus ``packs`` and an optional site policy file."""
    import dask.dataframe as dd
    if isinstance(fills, str):
        fills = dd.read_parquet(fills) if fills.endswith(".parquet") else dd.read_csv(fills, dtype=str)
    return fills.map_partitions(screen_partition, as_of, executor, tuple(map(str, packs)), site, meta=META)
