"""Pure finance functions: worked examples with published answers, a second implementation, invariants.

Second tool: ``_npv_loop`` and ``_irr_bisect`` below are written independently of
``gigafactory.economics.finance`` (a plain Python sum and plain bisection, no numpy roots), so a
shared bug would have to be made twice.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gigafactory.economics.finance import (
    annual_irr_from_monthly,
    annuity_payment,
    annuity_present_value,
    capital_recovery_factor,
    cumulative,
    discount_factors,
    irr,
    levelised_cost,
    loan_schedule,
    monthly_rate,
    npv,
    payback_period,
    residual_value,
    straight_line_depreciation,
    yearly_dscr,
)

HOURS_PER_YEAR = 8760.0


# ----------------------------------------------------------------------------- second tool

def _npv_loop(rate: float, flows: list[float]) -> float:
    """Textbook definition, one term at a time."""
    total = 0.0
    for t, cf in enumerate(flows):
        total += cf / (1.0 + rate) ** t
    return total


def _irr_bisect(flows: list[float], lo: float = -0.999999, hi: float = 1e7) -> float:
    """Plain bisection on the NPV sign; for conventional flows (one root in (lo, hi))."""
    f_lo = _npv_loop(lo, flows)
    assert f_lo * _npv_loop(hi, flows) < 0, "bracket does not straddle the root"
    for _ in range(300):
        mid = 0.5 * (lo + hi)
        f_mid = _npv_loop(mid, flows)
        if f_mid == 0:
            return mid
        if (f_mid > 0) == (f_lo > 0):
            lo, f_lo = mid, f_mid
        else:
            hi = mid
        if hi - lo <= 1e-15 * max(1.0, abs(mid)):
            break
    return 0.5 * (lo + hi)


# ----------------------------------------------------------------------------- strategies

money = st.integers(min_value=1, max_value=1_000_000).map(float)

conventional_flows = st.tuples(money, st.lists(money, min_size=1, max_size=40)).map(lambda p: [-p[0], *p[1]])
"""One outflow at t=0 then inflows: exactly one IRR (Descartes' rule of signs)."""

mixed_flows = st.lists(st.integers(min_value=-1_000_000, max_value=1_000_000).map(float), min_size=2, max_size=20)
"""Any signs; integer amounts keep the NPV polynomial's roots within 1e6 of each other."""


# ----------------------------------------------------------------------------- factory capital charge

def test_capital_charge_per_gpu_hour_bernstein_gb200():
    """All-in $82,000 per GPU over 5 years at 10 %/yr is ~$2.47 per GPU-hour of capital charge.

    Source: factory_facts economics.capex_all_in.bernstein_gb200 (Bernstein 2025, $5.9M all-in per
    GB200 NVL72 rack / 72 GPUs = $81.9k ~ $82k per GPU).  CRF(10 %, 5) = 0.263797 (closed form
    0.1 x 1.1^5 / (1.1^5 - 1)); 82,000 x 0.2638 / 8,760 h = 2.469 $/GPU-h.  Tolerance 0.5 %: the
    issue quotes the answer to 3 significant figures and the per-GPU figure is itself rounded.
    """
    crf = capital_recovery_factor(0.10, 5)
    assert crf == pytest.approx(0.1 * 1.1**5 / (1.1**5 - 1), rel=1e-12)
    assert crf == pytest.approx(0.263797, abs=5e-7)
    per_gpu_usd = 5.9e6 / 72
    assert per_gpu_usd == pytest.approx(82_000, rel=0.005)
    charge = 82_000 * crf / HOURS_PER_YEAR
    assert charge == pytest.approx(2.469, rel=0.005)
    # levelised cost with no opex and 8,760 GPU-h a year is the same number
    assert levelised_cost(82_000, 0.0, HOURS_PER_YEAR, 0.10, n_periods=5) == pytest.approx(charge, rel=1e-12)
    assert levelised_cost(per_gpu_usd, 0.0, HOURS_PER_YEAR, 0.10, n_periods=5) == pytest.approx(2.47, rel=0.005)


# ----------------------------------------------------------------------------- annuities

def test_loan_payment_1000_at_1pct_monthly_12_months():
    """$1,000 at 1 %/month repaid over 12 months: $88.85 a month.

    Closed form 1000 x 0.01 x 1.01^12 / (1.01^12 - 1) = 88.8488; the standard amortisation-table
    answer (e.g. Excel ``PMT(1%, 12, -1000)`` = 88.85).  Tolerance half a cent: the answer is
    quoted to the cent.
    """
    assert annuity_payment(1000.0, 0.01, 12) == pytest.approx(88.85, abs=0.005)
    assert annuity_present_value(88.8488, 0.01, 12) == pytest.approx(1000.0, abs=0.01)


def test_mortgage_payment_100k_at_6pct_apr_30_years():
    """$100,000 at a 6 % APR compounded monthly (0.5 %/month) over 360 months: $599.55 a month.

    The usual 30-year mortgage example (closed form; Excel ``PMT(6%/12, 360, -100000)`` = 599.55).
    Tolerance half a cent.  Note the rate is the nominal APR / 12, not ``monthly_rate(0.06)``.
    """
    assert annuity_payment(100_000.0, 0.06 / 12, 360) == pytest.approx(599.55, abs=0.005)


def test_annuity_due_is_one_period_earlier():
    """Payments at the start of each period are worth (1 + r) times more (annuity due, closed form)."""
    pv_end = annuity_present_value(100.0, 0.05, 10)
    pv_start = annuity_present_value(100.0, 0.05, 10, timing="start")
    assert pv_start == pytest.approx(pv_end * 1.05, rel=1e-12)
    assert pv_start == pytest.approx(100.0 * np.sum(discount_factors(0.05, 10, "start")), rel=1e-12)
    assert annuity_payment(pv_start, 0.05, 10, timing="start") == pytest.approx(100.0, rel=1e-12)


def test_annuity_present_value_matches_sum_of_discount_factors():
    """PV of a level annuity is payment x sum of end-of-period discount factors (definition)."""
    for rate in (-0.05, 0.0, 0.01, 0.1, 2.0):
        assert annuity_present_value(250.0, rate, 24) == pytest.approx(250.0 * np.sum(discount_factors(rate, 24)), rel=1e-12)


def test_capital_recovery_factor_rate_zero_and_vectorised():
    """CRF(0, n) = 1/n exactly (the limit); arrays broadcast."""
    assert capital_recovery_factor(0.0, 4) == 0.25
    out = capital_recovery_factor(np.array([0.0, 0.10]), np.array([[5], [10]]))
    assert out.shape == (2, 2)
    assert out[0, 0] == pytest.approx(0.2) and out[1, 0] == pytest.approx(0.1)
    assert out[0, 1] == pytest.approx(0.263797, abs=5e-7)
    assert out[1, 1] == pytest.approx(0.162745, abs=5e-7)  # CRF(10 %, 10), closed form


@given(n=st.integers(min_value=1, max_value=600), r=st.floats(min_value=1e-12, max_value=1e-6), sign=st.sampled_from([-1.0, 1.0]))
def test_capital_recovery_factor_tends_to_one_over_n(n, r, sign):
    """CRF(r, n) = (1/n)(1 + r(n+1)/2 + O((nr)^2)) -> 1/n as r -> 0: |n CRF - 1| <= n|r| (+ rounding)."""
    crf = capital_recovery_factor(sign * r, n)
    assert abs(n * crf - 1.0) <= n * r + 1e-12


# ----------------------------------------------------------------------------- discounting and NPV

def test_discount_factors_timing_and_rate_zero():
    """End of period t = 1..n, start t = 0..n-1; all ones at rate 0 (definition)."""
    np.testing.assert_allclose(discount_factors(0.10, 3), [1 / 1.1, 1 / 1.21, 1 / 1.331], rtol=1e-14)
    np.testing.assert_allclose(discount_factors(0.10, 3, "start"), [1.0, 1 / 1.1, 1 / 1.21], rtol=1e-14)
    np.testing.assert_array_equal(discount_factors(0.0, 4), np.ones(4))
    assert discount_factors(0.1, 0).shape == (0,)
    assert discount_factors([0.0, 0.1], 3).shape == (2, 3)
    with pytest.raises(ValueError, match="timing"):
        discount_factors(0.1, 3, "middle")
    with pytest.raises(ValueError, match="whole number"):
        discount_factors(0.1, 2.5)


def test_monthly_rate_is_effective_not_nominal():
    """1.01^12 = 1.126825...: 12.68 % a year is exactly 1 % a month effective, not 12.68 %/12."""
    assert monthly_rate(1.01**12 - 1) == pytest.approx(0.01, rel=1e-12)
    assert annual_irr_from_monthly(0.01) == pytest.approx(0.12682503013196977, rel=1e-12)
    assert (1 + monthly_rate(0.10)) ** 12 - 1 == pytest.approx(0.10, rel=1e-12)
    assert monthly_rate(0.10) < 0.10 / 12
    assert math.isnan(annual_irr_from_monthly(float("nan")))
    np.testing.assert_allclose(annual_irr_from_monthly(monthly_rate(np.array([0.0, 0.05, 0.2]))), [0.0, 0.05, 0.2], atol=1e-15)


def test_npv_two_period_example():
    """-100 now, +60, +60 at 10 %: -100 + 60/1.1 + 60/1.21 = 4.13 (hand calculation; half-cent tolerance)."""
    assert npv(0.10, [-100, 60, 60]) == pytest.approx(4.13, abs=0.005)
    assert npv(0.0, [-100, 60, 60]) == pytest.approx(20.0, abs=1e-12)  # rate 0: plain sum


def test_npv_excel_convention_via_t0():
    """Excel NPV discounts the first value one period; ``t0=1`` reproduces it.

    Microsoft's ``NPV`` help, example 1: rate 10 %, values -10,000 (one year from today), 3,000,
    4,200, 6,800 -> $1,188.44 (https://support.microsoft.com/en-us/office/npv-function-8672cb67-2576-4d07-b67b-ac28acf2a568).
    Half-cent tolerance: quoted to the cent.
    """
    assert npv(0.10, [-10_000, 3_000, 4_200, 6_800], t0=1) == pytest.approx(1188.44, abs=0.005)
    assert npv(0.10, [-10_000, 3_000, 4_200, 6_800]) == pytest.approx(1188.44 * 1.1, abs=0.01)


def test_npv_vectorised_over_rates_and_series():
    """An array of rates gives one NPV per rate; stacked series give one NPV per row."""
    flows = [-100.0, 60.0, 60.0]
    out = npv(np.array([0.0, 0.1, -0.5]), flows)
    np.testing.assert_allclose(out, [_npv_loop(r, flows) for r in (0.0, 0.1, -0.5)], rtol=1e-13)
    rows = np.array([[-100.0, 60.0, 60.0], [-4000.0, 2000.0, 4000.0]])
    np.testing.assert_allclose(npv(0.1, rows), [_npv_loop(0.1, list(r)) for r in rows], rtol=1e-13)
    assert npv(0.1, []) == 0.0


def test_npv_rejects_rate_at_or_below_minus_one():
    with pytest.raises(ValueError, match="greater than -1"):
        npv(-1.0, [-100, 60])
    with pytest.raises(ValueError, match="greater than -1"):
        npv(-2.5, [-100, 60])
    with pytest.raises(ValueError, match="finite"):
        npv(float("nan"), [-100, 60])
    with pytest.raises(ValueError, match="finite"):
        npv(0.1, [-100, float("inf")])


@given(flows=mixed_flows, rate=st.floats(min_value=-0.9, max_value=10.0))
def test_npv_matches_loop(flows, rate):
    """Second tool: the plain-Python sum; relative tolerance 1e-12 of the sum of |terms| (rounding)."""
    scale = sum(abs(cf) / (1 + rate) ** t for t, cf in enumerate(flows))
    assert abs(npv(rate, flows) - _npv_loop(rate, flows)) <= 1e-12 * scale + 1e-300


@given(flows=conventional_flows, r1=st.floats(min_value=-0.9, max_value=5.0), r2=st.floats(min_value=-0.9, max_value=5.0))
def test_npv_decreasing_in_rate_for_conventional_flows(flows, r1, r2):
    """One outflow then inflows: every inflow's PV falls as the rate rises, so NPV does."""
    lo, hi = sorted((r1, r2))
    assert npv(lo, flows) >= npv(hi, flows) - 1e-9 * abs(npv(hi, flows))


# ----------------------------------------------------------------------------- IRR

def test_irr_two_period_example():
    """-100, +60, +60: 60x^2 + 60x - 100 = 0 in x = 1/(1+r) -> r = 13.07 % (quadratic formula)."""
    x = (-60 + math.sqrt(60**2 + 4 * 60 * 100)) / (2 * 60)
    assert irr([-100, 60, 60]) == pytest.approx(1 / x - 1, rel=1e-12)
    assert irr([-100, 60, 60]) == pytest.approx(0.1307, abs=5e-5)


def test_irr_brealey_myers_allen():
    """Brealey, Myers & Allen, *Principles of Corporate Finance* (10th ed.), section 5-3.

    Project C0 = -4,000, C1 = +2,000, C2 = +4,000 has IRR 28.08 %.  Tolerance 0.005 percentage
    points: the book quotes two decimals.
    """
    assert irr([-4_000, 2_000, 4_000]) == pytest.approx(0.2808, abs=5e-5)


def test_irr_multiple_roots_returns_the_one_closest_to_zero():
    """Lorie & Savage (1955) "pump" project, reproduced in Brealey, Myers & Allen ch. 5 (Pitfall 2).

    -1,600, +10,000, -10,000 has two IRRs, 25 % and 400 % (both exact: -1600 + 8000 - 6400 = 0 and
    -1600 + 2000 - 400 = 0).  The documented choice is the root closest to 0.
    """
    flows = [-1_600, 10_000, -10_000]
    assert npv(0.25, flows) == pytest.approx(0.0, abs=1e-9)
    assert npv(4.0, flows) == pytest.approx(0.0, abs=1e-9)
    assert irr(flows) == pytest.approx(0.25, rel=1e-12)


def test_irr_excel_help_examples_including_negative_irr():
    """Microsoft's ``IRR`` help example (https://support.microsoft.com/en-us/office/irr-function-64925eaa-9988-495b-b290-3ad0c163c1bc).

    -70,000 then 12,000, 15,000, 18,000, 21,000, 26,000: after four years -2.1 %, after five 8.7 %,
    after two -44.4 %.  Tolerance 0.05 percentage points: Excel shows one decimal.
    """
    flows = [-70_000, 12_000, 15_000, 18_000, 21_000, 26_000]
    assert irr(flows[:5]) == pytest.approx(-0.021, abs=5e-4)
    assert irr(flows) == pytest.approx(0.087, abs=5e-4)
    assert irr(flows[:3]) == pytest.approx(-0.444, abs=5e-4)


def test_irr_nan_when_no_root():
    """No sign change, all zeros, a single flow, or no real root above -1: nan."""
    assert math.isnan(irr([-100, -50, -10]))  # never pays back
    assert math.isnan(irr([100, 50, 10]))  # all inflows
    assert math.isnan(irr([0, 0, 0]))
    assert math.isnan(irr([-100]))
    assert math.isnan(irr([]))
    assert math.isnan(irr([100, -300, 250]))  # 250x^2 - 300x + 100 has no real root
    assert math.isnan(annual_irr_from_monthly(irr([-5, -5])))


def test_irr_edge_cases():
    """Rate 0 (flows sum to 0), a double root, leading/trailing zeros, stacked series, lending."""
    assert irr([-100, 50, 50]) == pytest.approx(0.0, abs=1e-12)
    assert irr([1, -2, 1]) == pytest.approx(0.0, abs=1e-7)  # (1 - x)^2: double root at r = 0
    assert irr([0, 0, -100, 60, 60, 0]) == pytest.approx(irr([-100, 60, 60]), rel=1e-12)
    assert irr([1_000, -1_500]) == pytest.approx(0.5, rel=1e-12)  # lending (BMA Pitfall 1): same IRR
    out = irr(np.array([[-100, 60, 60], [-100, -1, -1]]))
    assert out.shape == (2,) and out[0] == pytest.approx(0.1306623862918075) and math.isnan(out[1])


def test_irr_long_monthly_series():
    """A 30-year monthly series: agrees with bisection and with the annuity closed form."""
    flows = [-1_000_000.0] + [9_000.0] * 360
    r = irr(flows)
    assert r == pytest.approx(_irr_bisect(flows, lo=-0.5, hi=1.0), rel=1e-9)
    assert annuity_present_value(9_000.0, r, 360) == pytest.approx(1_000_000.0, rel=1e-9)


@settings(max_examples=200)
@given(flows=conventional_flows)
def test_irr_matches_bisection_for_conventional_flows(flows):
    """Second tool: plain bisection on the sign of a plain-Python NPV.  Tolerance 1e-9 relative
    (+1e-12 absolute): both are converged to ~machine precision; the slack covers the conditioning
    of the root when the NPV curve is flat.  The oracle brackets rates above -99.9999 %, so
    inflows worth less than 1 % of the outlay (an IRR at the edge of -100 %) are left out."""
    assume(sum(flows[1:]) >= 0.01 * -flows[0])
    if sum(flows) == 0:
        expected = 0.0
    else:
        expected = _irr_bisect(flows)
    assert irr(flows) == pytest.approx(expected, rel=1e-9, abs=1e-12)


@settings(max_examples=300)
@given(flows=mixed_flows)
def test_npv_at_irr_is_zero(flows):
    """Where an IRR exists, NPV there is zero to 1e-7 of the sum of |discounted flows| (rounding of
    1 + r when r is close to -1 costs ~1e-10 relative for integer flows of up to 1e6)."""
    r = irr(flows)
    if math.isnan(r):
        return
    scale = sum(abs(cf) / (1 + r) ** t for t, cf in enumerate(flows))
    assert abs(npv(r, flows)) <= 1e-7 * scale


@settings(max_examples=200)
@given(flows=mixed_flows)
def test_irr_is_the_root_closest_to_zero(flows):
    """Second tool for the multiple-root rule: a 1,001-point scan of the plain-Python NPV finds no
    sign change strictly closer to 0 than the returned IRR (margin 0.1 % of |IRR|; points where the
    NPV is within 1e-9 of its scale are treated as zero and skipped, so rounding cannot fake one)."""
    r = irr(flows)
    if math.isnan(r) or r == 0:
        return
    edge = abs(r) * (1 - 1e-3)
    grid = np.linspace(max(-edge, -0.999), edge, 1001)
    values = []
    for g in grid:
        v = _npv_loop(g, flows)
        scale = sum(abs(cf) / (1 + g) ** t for t, cf in enumerate(flows))
        if abs(v) > 1e-9 * scale:
            values.append(v)
    assert len(set(np.sign(values))) <= 1


def test_irr_several_sign_changes_long_series():
    """A mid-life refresh in a 10-year monthly series (three sign changes: the eigenvalue path)
    agrees with bisection on [-5 %, 100 %] per month, where the NPV changes sign once."""
    flows = [-1_000_000.0] + [15_000.0] * 60 + [-300_000.0] + [15_000.0] * 59 + [-10_000.0]
    r = irr(flows)
    assert r == pytest.approx(_irr_bisect(flows, lo=-0.05, hi=1.0), rel=1e-9)


@given(outflows=st.lists(money, min_size=1, max_size=20))
def test_all_negative_flows_have_no_irr_and_no_payback(outflows):
    flows = [-x for x in outflows]
    assert math.isnan(irr(flows))
    assert payback_period(flows) is None
    assert payback_period(flows, discounted_rate=0.1) is None


# ----------------------------------------------------------------------------- levelised cost

def test_levelised_cost_rate_zero_and_with_opex():
    """Rate 0: (capex + n opex) / (n output).  With constant opex: capex CRF / output + opex / output."""
    assert levelised_cost(1_000.0, 100.0, 50.0, 0.0, n_periods=4) == pytest.approx((1_000 + 400) / 200, rel=1e-12)
    expected = 1_000.0 * capital_recovery_factor(0.08, 4) / 50.0 + 100.0 / 50.0
    assert levelised_cost(1_000.0, 100.0, 50.0, 0.08, n_periods=4) == pytest.approx(expected, rel=1e-12)


def test_levelised_cost_capex_by_period_and_arrays():
    """Capex array capex[t] at time t; opex and output arrays set the horizon; rate arrays vectorise."""
    r = 0.1
    capex = [500.0, 500.0]  # half now, half in a year
    opex = [10.0, 20.0, 30.0]
    out = [100.0, 200.0, 300.0]
    pv_cost = 500 + 500 / 1.1 + 10 / 1.1 + 20 / 1.21 + 30 / 1.331
    pv_out = 100 / 1.1 + 200 / 1.21 + 300 / 1.331
    assert levelised_cost(capex, opex, out, r) == pytest.approx(pv_cost / pv_out, rel=1e-12)
    lc = levelised_cost(capex, opex, out, np.array([0.0, 0.1]))
    assert lc.shape == (2,) and lc[1] == pytest.approx(pv_cost / pv_out, rel=1e-12)
    assert lc[0] == pytest.approx(1060.0 / 600.0, rel=1e-12)


def test_levelised_cost_zero_output_and_bad_inputs():
    """Zero output: inf when there are costs, nan when there are none; horizon must be known and agree."""
    assert levelised_cost(1_000.0, 0.0, 0.0, 0.1, n_periods=5) == math.inf
    assert math.isnan(levelised_cost(0.0, 0.0, 0.0, 0.1, n_periods=5))
    with pytest.raises(ValueError, match="n_periods is required"):
        levelised_cost(1_000.0, 10.0, 5.0, 0.1)
    with pytest.raises(ValueError, match="disagree"):
        levelised_cost(1_000.0, [10.0, 10.0], [5.0, 5.0, 5.0], 0.1)
    with pytest.raises(ValueError, match="greater than -1"):
        levelised_cost(1_000.0, 10.0, 5.0, -1.0, n_periods=3)


@given(
    capex=st.floats(min_value=0.0, max_value=1e9, allow_subnormal=False),
    extra=st.floats(min_value=1.0, max_value=1e9),
    opex=st.floats(min_value=0.0, max_value=1e7, allow_subnormal=False),  # a subnormal opex underflows to 0 once discounted
    output=st.floats(min_value=1e-3, max_value=1e7),
    rate=st.floats(min_value=-0.5, max_value=1.0),
    step=st.floats(min_value=1e-3, max_value=1.0),
    n=st.integers(min_value=1, max_value=40),
)
def test_levelised_cost_monotone_in_capex_and_rate(capex, extra, opex, output, rate, step, n):
    """More capex, or a higher rate (capex now, constant opex and output later), never lowers the
    levelised cost: LC = capex / (output sum df) + opex / output and sum df falls with the rate."""
    base = levelised_cost(capex, opex, output, rate, n_periods=n)
    assert levelised_cost(capex + extra, opex, output, rate, n_periods=n) > base
    assert levelised_cost(capex, opex, output, rate + step, n_periods=n) >= base * (1 - 1e-12)


# ----------------------------------------------------------------------------- payback

def test_payback_examples():
    """-100, +60, +60: cumulative -100, -40, +20 -> 1 + 40/60 = 1.67 periods (even arrival within the
    period, the textbook interpolation).  Discounted at 10 %: -100, -45.45, +4.13 -> 1 + 45.45/49.59."""
    assert payback_period([-100, 60, 60]) == pytest.approx(1 + 40 / 60, rel=1e-12)
    assert payback_period([-100, 60, 60], discounted_rate=0.10) == pytest.approx(1 + (100 - 60 / 1.1) / (60 / 1.21), rel=1e-12)
    assert payback_period([-100, 60, 60], discounted_rate=0.0) == payback_period([-100, 60, 60])
    assert payback_period([-100, 100]) == 1.0


def test_payback_edge_cases():
    """CF_0 >= 0 and never negative -> 0; never recovers -> None; dips again -> the last crossing."""
    assert payback_period([0, 10, 10]) == 0.0
    assert payback_period([50, 10]) == 0.0
    assert payback_period([-100, 10, 10]) is None
    assert payback_period([-100, 60, 60], discounted_rate=0.5) is None  # NPV at 50 % is negative
    assert payback_period([]) is None
    # mid-life refresh: -100, +150 (cum +50), -100 (cum -50), +100 (cum +50): last crossing at 2.5
    assert payback_period([-100, 150, -100, 100]) == pytest.approx(2.5)
    with pytest.raises(ValueError):
        payback_period([-100, 60], discounted_rate=-1.0)


@given(inflows=st.lists(money, min_size=1, max_size=30), shortfall=money)
def test_payback_none_when_flows_never_recover(inflows, shortfall):
    """An outflow larger than all later inflows together is never recovered, discounted or not."""
    flows = [-(sum(inflows) + shortfall), *inflows]
    assert payback_period(flows) is None
    assert payback_period(flows, discounted_rate=0.05) is None
    assert math.isnan(irr(flows)) or irr(flows) < 0  # an IRR, if any, is below 0: NPV(0) < 0


@given(flows=conventional_flows)
def test_payback_consistent_with_cumulative(flows):
    """At the payback time the interpolated cumulative position is zero and afterwards never negative."""
    p = payback_period(flows)
    cum = cumulative(flows)
    if p is None:
        assert cum[-1] < 0
        return
    assert np.all(cum[math.ceil(p):] >= 0)
    k = math.floor(p)
    if p > 0 and k + 1 < cum.size:
        assert cum[k] + (p - k) * (cum[k + 1] - cum[k]) == pytest.approx(0.0, abs=1e-6 * max(1.0, abs(cum).max()))


def test_cumulative():
    np.testing.assert_array_equal(cumulative([-100, 60, 60]), [-100, -40, 20])
    np.testing.assert_array_equal(cumulative([[1, 2], [3, 4]]), [[1, 3], [3, 7]])


# ----------------------------------------------------------------------------- depreciation

def test_straight_line_depreciation():
    """(cost - salvage) / life per period within the life, pro rata at fractional edges (definition)."""
    np.testing.assert_allclose(straight_line_depreciation(100.0, 4, 6), [25, 25, 25, 25, 0, 0])
    np.testing.assert_allclose(straight_line_depreciation(100.0, 4, 6, start_period=1), [0, 25, 25, 25, 25, 0])
    np.testing.assert_allclose(straight_line_depreciation(100.0, 4, 6, salvage=20), [20, 20, 20, 20, 0, 0])
    np.testing.assert_allclose(straight_line_depreciation(100.0, 4, 6, start_period=0.5, salvage=20), [10, 20, 20, 20, 10, 0])
    np.testing.assert_allclose(straight_line_depreciation(100.0, 4, 3), [25, 25, 25])  # horizon cuts the life
    np.testing.assert_allclose(straight_line_depreciation(100.0, 4, 3, start_period=-2), [25, 25, 0])  # already in service
    assert straight_line_depreciation([100.0, 200.0], 4, 5).shape == (2, 5)
    assert straight_line_depreciation(100.0, 4, 0).shape == (0,)
    with pytest.raises(ValueError, match="life_periods"):
        straight_line_depreciation(100.0, 0, 5)
    with pytest.raises(ValueError, match="salvage"):
        straight_line_depreciation(100.0, 4, 5, salvage=150)


@given(cost=money, life=st.floats(min_value=0.5, max_value=20), start=st.floats(min_value=0, max_value=5), frac=st.floats(0, 1))
def test_depreciation_sums_to_depreciable_amount_and_matches_residual(cost, life, start, frac):
    """Over a horizon covering the whole life the charges sum to cost - salvage, and the book value
    at age a equals cost minus the charges so far."""
    salvage = frac * cost
    n = math.ceil(start + life) + 1
    dep = straight_line_depreciation(cost, life, n, start_period=start, salvage=salvage)
    assert dep.sum() == pytest.approx(cost - salvage, rel=1e-9, abs=1e-9)
    age_end = n - start
    assert residual_value(cost, life, age_end, salvage) == pytest.approx(cost - dep.sum(), rel=1e-9, abs=1e-6)


def test_residual_value():
    assert residual_value(100.0, 4, 0) == 100.0
    assert residual_value(100.0, 4, 2) == 50.0
    assert residual_value(100.0, 4, 2, salvage=20) == 60.0
    assert residual_value(100.0, 4, 10, salvage=20) == 20.0  # past its life: salvage
    np.testing.assert_allclose(residual_value(100.0, 4, np.array([0, 1, 4, 5])), [100, 75, 0, 0])
    with pytest.raises(ValueError, match="age_periods"):
        residual_value(100.0, 4, -1)


# ----------------------------------------------------------------------------- loans (issue 14)

def _loan_loop(draws, rate, term, first, linear=False):
    """Second tool: the same loan simulated tranche by tranche, one period at a time, in plain Python."""
    n_t = len(draws)
    tranches = []  # [remaining principal, level payment, periods paid]
    balance, cap_balance, idc = 0.0, 0.0, 0.0
    out = {"payment": [0.0] * n_t, "principal": [0.0] * n_t, "interest_paid": [0.0] * n_t, "balance": [0.0] * n_t}
    for t in range(n_t):
        if t < first:
            interest = cap_balance * rate
            idc += interest
            cap_balance += interest + draws[t]
            balance = cap_balance
            if t == first - 1 and cap_balance > 0:
                tranches.append([cap_balance, 0.0, 0])
        else:
            pay_p = pay_i = 0.0
            for tr in tranches:
                if tr[2] >= term or tr[0] <= 1e-12:
                    continue
                if tr[1] == 0.0:
                    tr[1] = tr[0] * rate / (1 - (1 + rate) ** -term) if rate else tr[0] / term
                    tr.append(tr[0])  # original principal, for linear
                i = tr[0] * rate
                p = tr[3] / term if linear else tr[1] - i
                tr[0] -= p
                tr[2] += 1
                pay_p += p
                pay_i += i
            out["principal"][t], out["interest_paid"][t], out["payment"][t] = pay_p, pay_i, pay_p + pay_i
            if draws[t] > 0:
                tranches.append([draws[t], 0.0, 0])
            balance = sum(tr[0] for tr in tranches)
        out["balance"][t] = balance
    out["idc"] = idc
    return out


def test_annuity_payment_of_a_single_draw_textbook():
    """$100,000 repaid monthly over 12 months at 1 % a month: the textbook level payment is
    100,000 x 0.01 / (1 - 1.01^-12) = $8,884.88 (e.g. Brealey, Myers & Allen ch. 2 annuity
    formula), first paid the month after the draw; the balance is 0 after the 12th."""
    draws = np.zeros(24)
    draws[0] = 100_000.0
    s = loan_schedule(draws, 0.01, 12, 0)
    assert s["payment"][1:13] == pytest.approx([8884.88] * 12, abs=0.005)
    assert s["payment"][0] == 0 and np.all(s["payment"][13:] == 0)
    assert abs(s["balance"][12]) < 1e-6
    assert s["principal"].sum() == pytest.approx(100_000.0)
    assert s["idc"] == 0.0


def test_interest_during_construction_on_a_draw_schedule():
    """Hand calculation: $100 drawn at the end of months 0, 1 and 2, first month in service 3,
    1 % a month.  The balance at the end of month 2 is 100 x 1.01^2 + 100 x 1.01 + 100 = 303.01,
    so IDC = 3.01 (1.00 accrued in month 1 on 100, 2.01 in month 2 on 201).  That balance is then
    one tranche repaid from month 3: annuity 303.01 x CRF(1 %, 12) = $26.9221, or linear principal
    303.01 / 12 = $25.2508 a month."""
    draws = np.zeros(30)
    draws[:3] = 100.0
    s = loan_schedule(draws, 0.01, 12, 3)
    assert s["idc"] == pytest.approx(3.01, abs=1e-12)
    assert s["interest_capitalised"][:3] == pytest.approx([0.0, 1.0, 2.01])
    assert s["balance"][2] == pytest.approx(303.01)
    assert s["payment"][3] == pytest.approx(303.01 * 0.01 / (1 - 1.01 ** -12))
    assert s["payment"][3] == pytest.approx(26.9221, abs=1e-4)
    lin = loan_schedule(draws, 0.01, 12, 3, "linear")
    assert lin["principal"][3:15] == pytest.approx([303.01 / 12] * 12)
    assert lin["interest_paid"][3] == pytest.approx(3.0301)
    assert abs(lin["balance"][14]) < 1e-9


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 5).map(lambda k: 1000.0 * k), min_size=3, max_size=40), st.integers(1, 24), st.integers(0, 45),
       st.sampled_from([0.0, 0.004, 0.01, 0.03]), st.booleans())
def test_loan_schedule_matches_a_tranche_by_tranche_loop(draws, term, first, rate, linear):
    """The closed-form schedule equals a plain loop over tranches and months, and conserves money:
    drawn + IDC = principal repaid + balance left."""
    s = loan_schedule(np.array(draws), rate, term, first, "linear" if linear else "annuity")
    ref = _loan_loop(draws, rate, term, min(first, len(draws)), linear)
    assert s["idc"] == pytest.approx(ref["idc"], abs=1e-6)
    for k in ("payment", "principal", "interest_paid", "balance"):
        assert s[k] == pytest.approx(ref[k], abs=1e-6 * max(1.0, sum(draws)))
    assert sum(draws) + s["idc"] == pytest.approx(s["principal"].sum() + s["balance"][-1], abs=1e-6 * max(1.0, sum(draws)))


def test_loan_schedule_is_vectorised_over_scenarios():
    draws = np.zeros((3, 36))
    draws[:, :4] = [[50.0], [80.0], [20.0]]
    rates = np.array([0.005, 0.01, 0.02])
    firsts = np.array([0, 4, 40])
    stacked = loan_schedule(draws, rates, 24, firsts)
    for i in range(3):
        one = loan_schedule(draws[i], rates[i], 24, int(firsts[i]))
        for k in ("payment", "balance", "interest_paid", "principal"):
            assert stacked[k][i] == pytest.approx(one[k])
        assert stacked["idc"][i] == pytest.approx(one["idc"])
    # first service after the horizon: no service, everything capitalised
    assert np.all(stacked["payment"][2] == 0)
    assert stacked["balance"][2, -1] == pytest.approx(sum(20.0 * 1.02 ** (35 - t) for t in range(4)))


def test_yearly_dscr_hand_calculation():
    """CFADS $150 a month against a $100 monthly annuity: DSCR 1.5 in each year with debt service;
    a year whose CFADS covers only half of it shows 0.5 and is the minimum; years without debt
    service are nan and excluded."""
    cfads = np.full(48, 150.0)
    cfads[36:] = 50.0
    service = np.r_[np.zeros(12), np.full(36, 100.0)]
    per_year, lowest = yearly_dscr(cfads, service)
    assert np.isnan(per_year[0])
    assert per_year[1:] == pytest.approx([1.5, 1.5, 0.5])
    assert lowest == pytest.approx(0.5)
    _, none = yearly_dscr(cfads, np.zeros(48))
    assert np.isnan(none)
