"""Writes catalog/data/unit_factors.json, the (scale, offset) of every unit conversion the
bundled catalog makes, computed by pint (see gigafactory.units): ``python -m gigafactory.catalog.unit_table``."""
from __future__ import annotations

import json
from typing import Any

from gigafactory.units import TABLE_PATH, UnitMismatch, _normalise, _pint_factors


def build_table() -> dict[str, Any]:
    """The table for the bundled catalog: every (given unit, schema unit) pair it converts and
    every schema unit, each computed by pint."""
    import yaml

    from gigafactory.catalog.loader import data_dir

    base = data_dir()
    pairs: set[tuple[str, str]] = set()
    known: set[str] = set()
    for schema_file in sorted((base / "schema").glob("*.yaml")):
        schema = yaml.safe_load(schema_file.read_text(encoding="utf-8"))
        units = {a["name"]: a.get("unit") for a in schema.get("attributes", []) if a.get("unit")}
        known.update(_normalise(u) for u in units.values())
        data_file = base / schema_file.name
        if not data_file.exists():
            continue
        raw = yaml.safe_load(data_file.read_text(encoding="utf-8")) or {}
        entries = raw.get("entries") if isinstance(raw, dict) else None
        for entry in (entries or {}).values():
            for name, unit_to in units.items():
                v = entry.get(name)
                if isinstance(v, dict) and v.get("unit"):
                    pairs.add((_normalise(str(v["unit"])), _normalise(unit_to)))
    factors_out = {}
    for a, b in sorted(pairs):
        try:
            factors_out[f"{a}|{b}"] = list(_pint_factors(a, b))
        except UnitMismatch:
            continue  # the loader reports it as a data error
    import pint

    return {"generated_by": "python -m gigafactory.catalog.unit_table", "pint_version": pint.__version__, "factors": factors_out,
            "known": sorted(known)}


def main() -> None:
    TABLE_PATH.write_text(json.dumps(build_table(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {TABLE_PATH}")


if __name__ == "__main__":
    main()
