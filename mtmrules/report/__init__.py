"""Reports: the problem model and its renderers."""
