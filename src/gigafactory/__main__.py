"""`python -m gigafactory` runs the CLI."""
from gigafactory.cli import run

run()
