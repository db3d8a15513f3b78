"""`python -m gigafactory.cli`."""
from gigafactory.cli import run

run()
