"""Self-contained HTML report of a plan."""
