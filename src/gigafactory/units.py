"""Unit conversion at the boundary (data files, scenario files, reports).

Internally gigafactory uses SI units (s, W, J, bytes, FLOP) and USD.  Data files may
state values in the unit their source used ("288 GB", "8 TB/s", "142 kW"); they are
converted once, at load time, with pint.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import pint


@lru_cache(maxsize=1)
def registry() -> pint.UnitRegistry:
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


def convert(value: float | Sequence[float], unit_from: str, unit_to: str) -> float | list[float]:
    """Convert ``value`` given in ``unit_from`` to ``unit_to``.

    Lists are converted element-wise.  Raises :class:`UnitMismatch` when the two units
    have different dimensions (for example kW given where kWh is expected).
    """
    reg = registry()
    try:
        src = reg.Unit(_normalise(unit_from))
        dst = reg.Unit(_normalise(unit_to))
    except (pint.errors.UndefinedUnitError, AttributeError, TypeError, ValueError) as exc:
        raise UnitMismatch(f"unknown unit: {exc}") from None
    if src.dimensionality != dst.dimensionality:
        raise UnitMismatch(
            f"'{unit_from}' ({src.dimensionality}) cannot be converted to '{unit_to}' ({dst.dimensionality})"
        )
    if isinstance(value, (list, tuple)):
        return [float(reg.Quantity(float(v), src).to(dst).magnitude) for v in value]
    return float(reg.Quantity(float(value), src).to(dst).magnitude)


def is_known(unit: str) -> bool:
    try:
        registry().Unit(_normalise(unit))
        return True
    except Exception:  # noqa: BLE001 - any parse failure means "not a unit"
        return False


def _normalise(unit: str) -> str:
    unit = unit.strip()
    if unit in ("", "1", "count", "dimensionless"):
        return "dimensionless"
    return unit
