"""Unit conversion at the boundary (pint), including the units pint lacks (FLOP, USD)."""
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gigafactory.units import UnitMismatch, convert


@pytest.mark.parametrize(
    ("value", "unit_from", "unit_to", "expected"),
    [
        (288, "GB", "B", 288e9),  # decimal gigabytes, as GPU datasheets use
        (8, "TB/s", "B/s", 8e12),
        (2.5, "PFLOP/s", "FLOP/s", 2.5e15),
        (142, "kW", "W", 142e3),
        (800, "Gbit/s", "bit/s", 800e9),
        (3.4, "MUSD", "USD", 3.4e6),
        (5, "percent", "1", 0.05),
        (46, "week", "s", 46 * 7 * 86400),
    ],
)
def test_known_conversions(value, unit_from, unit_to, expected):
    assert math.isclose(convert(value, unit_from, unit_to), expected, rel_tol=1e-12)


@pytest.mark.parametrize(("unit_from", "unit_to"), [("kW", "kWh"), ("GB", "GB/s"), ("USD", "W"), ("bogus", "W")])
def test_dimension_mismatch_is_refused(unit_from, unit_to):
    with pytest.raises(UnitMismatch):
        convert(1.0, unit_from, unit_to)


@given(st.floats(min_value=1e-6, max_value=1e6, allow_nan=False))
def test_mw_kw_round_trip(mw):
    assert math.isclose(convert(convert(mw, "MW", "kW"), "kW", "MW"), mw, rel_tol=1e-12)


def test_unit_table_matches_pint_and_covers_the_catalog():
    """catalog/data/unit_factors.json spares the bundled catalog a pint import; it must be what
    pint computes for every pair the catalog converts (regenerate with
    `python -m gigafactory.catalog.unit_table`)."""
    import json

    from gigafactory.catalog.unit_table import build_table
    from gigafactory.units import TABLE_PATH

    committed = json.loads(TABLE_PATH.read_text(encoding="utf-8"))
    fresh = build_table()
    assert committed["factors"] == fresh["factors"] and committed["known"] == fresh["known"]


def test_conversion_is_the_same_with_or_without_the_table():
    """A pair outside the table goes through pint by the same affine rule, so a value converts to
    the same float either way (runs stay bit-for-bit reproducible)."""
    from gigafactory.units import _pint_factors, _table, convert

    for (a, b), (scale, offset) in list(_table()[0].items())[:20]:
        assert _pint_factors(a, b) == (scale, offset)
        assert convert(3.5, a, b) == scale * 3.5 + offset
    assert convert(20, "degC", "K") == 293.15
    assert convert(0.3, "GW", "MW") == 300.0
