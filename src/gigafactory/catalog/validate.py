"""Check catalog data files one kind at a time: ``python -m gigafactory.catalog.validate [KIND ...]``."""
from __future__ import annotations

import sys

from gigafactory.catalog.loader import KINDS, validate_kind


def main(argv: list[str]) -> int:
    for kind in argv or list(KINDS):
        entries = validate_kind(kind)
        n_values = sum(len(e.provenance) for e in entries.values())
        print(f"{kind}: {len(entries)} entries, {n_values} sourced values: OK")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
