"""Deprecated import path: the Dask adapter lives in :mod:`mtmrules.population.dask`."""

import warnings

from mtmrules.population.dask import screen, screen_partition

warnings.warn("mtmrules.dask is deprecated: import from mtmrules.population.dask", DeprecationWarning, stacklevel=2)

__all__ = ["screen", "screen_partition"]
