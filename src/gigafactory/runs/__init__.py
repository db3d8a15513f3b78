"""Run store: every plan recorded in an embedded SQLite database."""
