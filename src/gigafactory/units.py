"""Unit conversion at the boundary (data files, scenario files, reports).

Internally gigafactory uses SI units (s, W, J, bytes, FLOP) and USD.  Data files may
state values in the unit their source used ("288 GB", "8 TB/s", "142 kW"); they are
converted once, at load time, with pint.

Every conversion is affine, ``to = scale * from + offset``, with scale and offset computed by
pint.  The pairs the bundled catalog uses are tabulated in ``catalog/data/unit_factors.json``
(``python -m gigafactory.catalog.unit_table`` rewrites it; a test checks it against pint), so a command
that loads only the bundled catalog never imports pint (about 0.8 s on 2 cores).  A pair not
in the table (a scenario's "0.3 GW") is computed by pint the same way, so a value converts
to the same float whether its pair was tabulated or not.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

TABLE_PATH = Path(__file__).resolve().parent / "catalog" / "data" / "unit_factors.json"


@lru_cache(maxsize=1)
def registry() -> Any:
    import pint

    reg = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
    # Quantities pint does not know: floating-point operations, money, tokens, people.
    reg.define("FLOP = [computation] = flop")
    reg.define("USD = [currency] = usd")
    reg.define("token = [token] = tok")
    reg.define("FTE = [headcount]")
    reg.define("GPU_unit = [] = gpu")
    reg.define("ratio = []")
    return reg


class UnitMismatch(ValueError):
    """A value's unit cannot be converted to the unit its attribute requires."""


@lru_cache(maxsize=1)
def _table() -> tuple[dict[tuple[str, str], tuple[float, float]], frozenset[str]]:
    try:
        data = json.loads(TABLE_PATH.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}, frozenset()
    pairs = {tuple(k.split("|", 1)): (float(a), float(b)) for k, (a, b) in data.get("factors", {}).items()}
    return pairs, frozenset(data.get("known", ()))  # type: ignore[return-value]


@lru_cache(maxsize=4096)
def _pint_factors(unit_from: str, unit_to: str) -> tuple[float, float]:
    import pint

    reg = registry()
    try:
        src = reg.Unit(unit_from)
        dst = reg.Unit(unit_to)
    except (pint.errors.UndefinedUnitError, AttributeError, TypeError, ValueError) as exc:
        raise UnitMismatch(f"unknown unit: {exc}") from None
    if src.dimensionality != dst.dimensionality:
        raise UnitMismatch(f"'{unit_from}' ({src.dimensionality}) cannot be converted to '{unit_to}' ({dst.dimensionality})")
    offset = float(reg.Quantity(0.0, src).to(dst).magnitude)
    scale = float(reg.Quantity(1.0, src).to(dst).magnitude) - offset
    return scale, offset


def factors(unit_from: str, unit_to: str) -> tuple[float, float]:
    """(scale, offset) with ``value_to = scale * value_from + offset``; UnitMismatch when the
    units are unknown or of different dimensions."""
    key = (_normalise(unit_from), _normalise(unit_to))
    hit = _table()[0].get(key)
    return hit if hit is not None else _pint_factors(*key)


def convert(value: float | Sequence[float], unit_from: str, unit_to: str) -> float | list[float]:
    """Convert ``value`` given in ``unit_from`` to ``unit_to``.

    Lists are converted element-wise.  Raises :class:`UnitMismatch` when the two units
    have different dimensions (for example kW given where kWh is expected).
    """
    scale, offset = factors(unit_from, unit_to)
    if isinstance(value, (list, tuple)):
        return [scale * float(v) + offset for v in value]
    return scale * float(value) + offset


def is_known(unit: str) -> bool:
    u = _normalise(unit)
    if u in _table()[1]:
        return True
    try:
        registry().Unit(u)
        return True
    except Exception:  # noqa: BLE001 - any parse failure means "not a unit"
        return False


def _normalise(unit: str) -> str:
    unit = unit.strip()
    if unit in ("", "1", "count", "dimensionless"):
        return "dimensionless"
    return unit
