"""Population screening: claims input, chunked streaming, worker processes, vectorised matching, Dask."""
