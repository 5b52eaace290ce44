"""Rule engine: pack language → IR → executors → match table."""
