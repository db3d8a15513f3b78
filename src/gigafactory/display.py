"""Formatting of values for people: SI values back into readable units."""
from __future__ import annotations

from typing import Any

# (SI unit, [(threshold, factor, label), ...]) largest first
_SCALES: dict[str, list[tuple[float, float, str]]] = {
    "B": [(1e15, 1e15, "PB"), (1e12, 1e12, "TB"), (1e9, 1e9, "GB"), (1e6, 1e6, "MB"), (0, 1, "B")],
    "B/s": [(1e12, 1e12, "TB/s"), (1e9, 1e9, "GB/s"), (0, 1, "B/s")],
    "bit/s": [(1e12, 1e12, "Tb/s"), (1e9, 1e9, "Gb/s"), (0, 1, "b/s")],
    "FLOP/s": [(1e15, 1e15, "PFLOP/s"), (1e12, 1e12, "TFLOP/s"), (0, 1, "FLOP/s")],
    "W": [(1e9, 1e9, "GW"), (1e6, 1e6, "MW"), (1e3, 1e3, "kW"), (0, 1, "W")],
    "USD": [(1e9, 1e9, "B USD"), (1e6, 1e6, "M USD"), (1e3, 1e3, "k USD"), (0, 1, "USD")],
    "s": [(86400 * 7, 86400 * 7, "weeks"), (86400, 86400, "days"), (1, 1, "s"), (1e-3, 1e-3, "ms"), (0, 1e-6, "µs")],
}


def human(value: Any, unit: str | None) -> str:
    """'288 GB' for (2.88e11, 'B'); lists and plain values are shown compactly."""
    if value is None:
        return "—"
    if isinstance(value, bool) or isinstance(value, str):
        return str(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(f"{v:g}" for v in value) + "]" + (f" {unit}" if unit and unit not in ("1", "count") else "")
    if unit in _SCALES and isinstance(value, (int, float)):
        for threshold, factor, label in _SCALES[unit]:
            if abs(value) >= threshold:
                return f"{value / factor:.4g} {label}"
    if unit == "count" and isinstance(value, (int, float)) and abs(value) >= 1e6:
        for factor, label in ((1e12, "T"), (1e9, "B"), (1e6, "M")):
            if abs(value) >= factor:
                return f"{value / factor:.4g}{label}"
    if unit == "degC" and isinstance(value, (int, float)):
        return f"{value:.3g} °C"
    if unit in (None, "", "1", "count"):
        return f"{value:,.6g}" if isinstance(value, float) else f"{value:,}"
    return f"{value:.6g} {unit}"
