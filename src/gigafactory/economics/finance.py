"""Time value of money: discounting, NPV, IRR, annuities, levelised cost, payback, depreciation,
loan schedules (delayed draw, interest during construction) and debt-service coverage.

Pure functions on numbers and numpy arrays; no objects, no catalog.  Conventions used
throughout (the same as Brealey, Myers & Allen, *Principles of Corporate Finance*, ch. 2-5):

* **Rates** are effective rates per period, as fractions (``0.10`` is 10 % per period).  A rate
  must be finite and greater than -1; anything else raises :class:`ValueError`.
* **Cash flows** are an array indexed by period ``t = 0, 1, ..., n``; ``cash_flows[t]`` happens
  at time ``t`` periods from now, so ``cash_flows[0]`` is today and is not discounted.
  Outflows (capex, opex) are negative, inflows positive.  Several series may be stacked along
  leading axes; time is always the last axis.
* **Money** is in USD (undated: the caller keeps every amount in the same year's dollars).
* **Periods** are whatever the rate's period is (years or months); :func:`monthly_rate` and
  :func:`annual_irr_from_monthly` convert between the two as *effective* rates.

Scalar inputs give Python floats; array inputs give numpy arrays.
"""
from __future__ import annotations

import math
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "discount_factors",
    "monthly_rate",
    "npv",
    "irr",
    "annual_irr_from_monthly",
    "capital_recovery_factor",
    "annuity_payment",
    "annuity_present_value",
    "levelised_cost",
    "payback_period",
    "straight_line_depreciation",
    "residual_value",
    "cumulative",
    "loan_schedule",
    "yearly_dscr",
]

Timing = Literal["end", "start"]


# ----------------------------------------------------------------------------- helpers

def _out(x: np.ndarray) -> float | np.ndarray:
    """A 0-d result as a Python float, anything else unchanged."""
    x = np.asarray(x, dtype=float)
    return float(x) if x.ndim == 0 else x


def _rate(rate: ArrayLike, name: str = "rate") -> np.ndarray:
    """``rate`` as a float array, checked finite and > -1 [fraction per period]."""
    r = np.asarray(rate, dtype=float)
    if not np.all(np.isfinite(r)):
        raise ValueError(f"{name} must be finite, got {rate!r}")
    if np.any(r <= -1.0):
        raise ValueError(f"{name} must be greater than -1 (a rate of -100 % or less has no discount factor), got {rate!r}")
    return r


def _flows(cash_flows: ArrayLike, name: str = "cash_flows") -> np.ndarray:
    """``cash_flows`` as a float array of at least one dimension, checked finite [USD]."""
    cf = np.asarray(cash_flows, dtype=float)
    if cf.ndim == 0:
        raise ValueError(f"{name} must be a sequence of per-period amounts (time on the last axis), got a scalar {cash_flows!r}")
    if not np.all(np.isfinite(cf)):
        raise ValueError(f"{name} must be finite, got {cash_flows!r}")
    return cf


def _periods(n_periods: int, name: str = "n_periods") -> int:
    """A whole, non-negative number of periods [periods]."""
    if isinstance(n_periods, (bool, np.bool_)) or int(n_periods) != n_periods or n_periods < 0:
        raise ValueError(f"{name} must be a whole number >= 0, got {n_periods!r}")
    return int(n_periods)


def _growth_inverse(rate: np.ndarray, t: np.ndarray) -> np.ndarray:
    """(1 + rate)^-t for rate[..., None] against times t, via log1p for accuracy near 0 [-]."""
    return np.exp(-np.multiply.outer(np.log1p(rate), t))


# ----------------------------------------------------------------------------- discounting

def discount_factors(rate: ArrayLike, n_periods: int, timing: Timing = "end") -> float | np.ndarray:
    """Discount factors ``1 / (1 + rate)^t`` for ``n_periods`` periods.

    Parameters
    ----------
    rate : float or array
        Discount rate per period [fraction per period], > -1.  An array of rates gives one row of
        factors per rate.
    n_periods : int
        Number of periods [periods], >= 0 (0 gives an empty array).
    timing : {"end", "start"}
        ``"end"``: amounts at the end of each period, ``t = 1 .. n`` (ordinary annuity).
        ``"start"``: at the start, ``t = 0 .. n-1`` (annuity due; the first factor is 1).

    Returns
    -------
    array, shape ``np.shape(rate) + (n_periods,)``
        Discount factors [-]; all 1 at ``rate = 0``.
    """
    r = _rate(rate)
    n = _periods(n_periods)
    if timing == "end":
        t = np.arange(1, n + 1, dtype=float)
    elif timing == "start":
        t = np.arange(0, n, dtype=float)
    else:
        raise ValueError(f"timing must be 'end' or 'start', got {timing!r}")
    return _growth_inverse(r, t)


def monthly_rate(annual_rate: ArrayLike) -> float | np.ndarray:
    """Effective monthly rate equivalent to an effective annual rate: ``(1 + r)^(1/12) - 1``.

    Twelve months compounded at the result give exactly ``annual_rate``.  This is *not* the
    nominal convention ``annual_rate / 12`` (an APR), which compounds to more than the annual
    rate (10 %/12 compounds to 10.47 % a year); pass ``apr / 12`` directly if the source quotes
    a nominal rate compounded monthly.

    Parameters
    ----------
    annual_rate : float or array
        Effective annual rate [fraction per year], > -1.

    Returns
    -------
    float or array
        Effective monthly rate [fraction per month].
    """
    r = _rate(annual_rate, "annual_rate")
    return _out(np.expm1(np.log1p(r) / 12.0))


def annual_irr_from_monthly(irr_monthly: ArrayLike) -> float | np.ndarray:
    """Effective annual rate from an effective monthly one: ``(1 + m)^12 - 1``.

    The inverse of :func:`monthly_rate`.  ``nan`` (an :func:`irr` that does not exist) passes
    through as ``nan``.

    Parameters
    ----------
    irr_monthly : float or array
        Rate per month [fraction per month], > -1 or nan.

    Returns
    -------
    float or array
        Effective annual rate [fraction per year]; nan where the input is nan.
    """
    m = np.asarray(irr_monthly, dtype=float)
    finite = m[~np.isnan(m)]
    _rate(finite, "irr_monthly")
    return _out(np.expm1(12.0 * np.log1p(m)))


def npv(rate: ArrayLike, cash_flows: ArrayLike, t0: float = 0) -> float | np.ndarray:
    """Net present value ``sum_t CF_t / (1 + rate)^(t + t0)``.

    With the default ``t0 = 0`` the first cash flow is today and is **not** discounted (the
    textbook and ``numpy_financial.npv`` convention).  Excel's ``NPV()`` discounts the first value
    by one full period; ``npv(rate, flows, t0=1)`` reproduces it.

    Parameters
    ----------
    rate : float or array
        Discount rate per period [fraction per period], finite and > -1 (0 and negative rates are
        allowed).  An array gives one NPV per rate (broadcast against the leading axes of
        ``cash_flows``).
    cash_flows : array
        Cash flow of each period, time on the last axis [USD]; an empty series has NPV 0.
    t0 : float
        Time of the first cash flow [periods]; 0 = now.

    Returns
    -------
    float or array
        Net present value at time 0 [USD].

    Raises
    ------
    ValueError
        If ``rate <= -1`` or is not finite, or ``cash_flows`` is not finite.
    """
    r = _rate(rate)
    cf = _flows(cash_flows)
    t = np.arange(cf.shape[-1], dtype=float) + float(t0)
    return _out(np.sum(cf * np.exp(-np.multiply.outer(np.log1p(r), t)), axis=-1))


# ----------------------------------------------------------------------------- IRR

def _npv_poly(c: np.ndarray, x: float) -> tuple[float, float, float]:
    """NPV polynomial ``p(x) = sum_t c_t x^t``, its derivative and ``sum_t |c_t| x^t``, all divided
    by ``max(1, x)^n`` so nothing overflows for ``x > 1`` (``r < 0``); the division keeps the sign."""
    n = c.size - 1
    t = np.arange(c.size, dtype=float)
    if x <= 1.0:
        powers = x**t
        dpowers = t * x ** np.maximum(t - 1.0, 0.0)
    else:
        y = 1.0 / x
        powers = y ** (n - t)  # x^t / x^n
        dpowers = t * y ** (n - t + 1.0)  # t x^(t-1) / x^n
    return float(c @ powers), float(c @ dpowers), float(np.abs(c) @ powers)


def _irr_1d(cf: np.ndarray) -> float:
    signs = np.sign(cf[cf != 0])
    changes = int(np.count_nonzero(signs[1:] != signs[:-1]))
    if changes == 0:
        return math.nan  # no sign change (or all zero): NPV never crosses zero
    nz = np.flatnonzero(cf)
    c = cf[nz[0]:nz[-1] + 1]  # leading zeros only shift time (factor x^k); trailing zeros add nothing
    # NPV = p(x) = sum_t c_t x^t with x = 1/(1+r): a polynomial in x; r > -1  <=>  x > 0.
    if changes == 1:
        # Exactly one positive root (Descartes); p(0) = c_0 and p(B) have opposite signs at the
        # Cauchy bound B = 1 + max|c_t / c_n|, which every root is strictly inside.
        bound = 1.0 + float(np.max(np.abs(c[:-1]))) / abs(float(c[-1]))
        from scipy.optimize import brentq  # imported here: scipy.optimize costs ~0.35 s at start-up

        x = brentq(lambda v: _npv_poly(c, v)[0], 0.0, bound, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=500)
        return float(1.0 / x - 1.0)
    # Several sign changes: possibly several IRRs.  Find every positive real root from the
    # companion-matrix eigenvalues (no bracket needed, touching roots included).
    roots = np.roots(c[::-1])
    near_real = np.abs(roots.imag) <= 1e-6 * np.maximum(1.0, np.abs(roots))
    xs = roots.real[near_real]
    candidates = []
    for x in xs[xs > 0]:
        # Newton polish: eigenvalues are accurate to ~1e-12 for simple roots; a few steps bring
        # them to machine precision.
        for _ in range(50):
            p, dp, _ = _npv_poly(c, x)
            if dp == 0:
                break
            x_new = x - p / dp
            if not x_new > 0:
                break
            done = abs(x_new - x) <= 4 * np.finfo(float).eps * abs(x)
            x = x_new
            if done:
                break
        p, _, scale = _npv_poly(c, x)
        if abs(p) <= 1e-8 * scale:
            candidates.append(1.0 / x - 1.0)
    if not candidates:
        return math.nan
    return float(min(candidates, key=abs))


def irr(cash_flows: ArrayLike) -> float | np.ndarray:
    """Internal rate of return: the rate per period at which :func:`npv` is zero.

    Solved as the roots of the NPV polynomial ``sum_t CF_t x^t`` in ``x = 1 / (1 + r)``, keeping
    roots with ``x > 0`` (``r > -1``).  Flows whose sign changes once (the usual project: outflows,
    then inflows) have exactly one such root (Descartes' rule of signs), found by Brent's method
    (``scipy.optimize.brentq``) between ``x = 0`` and the Cauchy bound on the roots, so it is
    bracketed whatever its size.  Otherwise every real root is taken from numpy's companion-matrix
    roots (no bracket to miss a pair of roots), polished by Newton's method and accepted only if the
    NPV there is zero to 1e-8 of the sum of the absolute discounted flows; this path costs
    O(n^3) in the number of periods.

    Multiple roots: a series whose sign changes more than once can have several IRRs (Descartes'
    rule of signs bounds their number by the number of sign changes).  The root **closest to 0**
    is returned; e.g. -1,600 / +10,000 / -10,000 has IRRs of 25 % and 400 % (Brealey, Myers &
    Allen, ch. 5, "Pitfall 2") and 0.25 is returned.  Use :func:`npv` to decide such projects.
    A conventional series (outflows, then inflows) has exactly one IRR.

    Parameters
    ----------
    cash_flows : array
        Cash flow of each period, time on the last axis [USD].  A 2-d array gives one IRR per row.

    Returns
    -------
    float or array
        IRR [fraction per period]; ``nan`` when none exists: no sign change in the flows (all
        outflows, e.g. a project that never pays back, or all inflows), all zeros, or no real root
        above -1 (e.g. +100, -300, +250).
    """
    cf = _flows(cash_flows)
    if cf.ndim == 1:
        return _irr_1d(cf)
    flat = cf.reshape(-1, cf.shape[-1])
    return np.array([_irr_1d(row) for row in flat]).reshape(cf.shape[:-1])


# ----------------------------------------------------------------------------- annuities

def capital_recovery_factor(rate: ArrayLike, n_periods: ArrayLike) -> float | np.ndarray:
    """Capital recovery factor ``r (1 + r)^n / ((1 + r)^n - 1)``; ``1 / n`` at ``r = 0``.

    The level end-of-period payment per unit of present value that repays it with interest over
    ``n`` periods (the annuity closed form, e.g. Brealey, Myers & Allen ch. 2).  Computed as
    ``r / -expm1(-n log1p(r))``, which is accurate as ``r -> 0`` and continuous with the ``1 / n``
    limit.

    Parameters
    ----------
    rate : float or array
        Interest rate per period [fraction per period], > -1.
    n_periods : float or array
        Number of payments [periods], > 0 (fractional periods are allowed).

    Returns
    -------
    float or array
        Payment per unit principal [1/period].
    """
    r = _rate(rate)
    n = np.asarray(n_periods, dtype=float)
    if not np.all(np.isfinite(n)) or np.any(n <= 0):
        raise ValueError(f"n_periods must be finite and > 0, got {n_periods!r}")
    r, n = np.broadcast_arrays(r, n)
    zero = r == 0
    r_safe = np.where(zero, 1.0, r)
    crf = r_safe / -np.expm1(-n * np.log1p(r_safe))
    return _out(np.where(zero, 1.0 / n, crf))


def annuity_payment(principal: ArrayLike, rate: ArrayLike, n_periods: ArrayLike, timing: Timing = "end") -> float | np.ndarray:
    """Level payment that repays ``principal`` over ``n_periods`` at ``rate`` (loan / lease payment).

    Parameters
    ----------
    principal : float or array
        Present value to repay [USD].
    rate : float or array
        Interest rate per period [fraction per period], > -1.
    n_periods : float or array
        Number of payments [periods], > 0.
    timing : {"end", "start"}
        Payments at the end of each period (ordinary annuity, the default) or at the start
        (annuity due: the end-of-period payment divided by ``1 + rate``).

    Returns
    -------
    float or array
        Payment per period [USD per period].
    """
    crf = np.asarray(capital_recovery_factor(rate, n_periods))
    if timing == "start":
        crf = crf / (1.0 + np.asarray(rate, dtype=float))
    elif timing != "end":
        raise ValueError(f"timing must be 'end' or 'start', got {timing!r}")
    return _out(np.asarray(principal, dtype=float) * crf)


def annuity_present_value(payment: ArrayLike, rate: ArrayLike, n_periods: ArrayLike, timing: Timing = "end") -> float | np.ndarray:
    """Present value of ``n_periods`` level payments: ``payment / capital_recovery_factor``.

    Parameters
    ----------
    payment : float or array
        Payment per period [USD per period].
    rate : float or array
        Discount rate per period [fraction per period], > -1.
    n_periods : float or array
        Number of payments [periods], > 0.
    timing : {"end", "start"}
        Payments at the end of each period (default) or at the start (annuity due).

    Returns
    -------
    float or array
        Present value at time 0 [USD]; ``payment * n_periods`` at ``rate = 0``.
    """
    crf = np.asarray(capital_recovery_factor(rate, n_periods))
    if timing == "start":
        crf = crf / (1.0 + np.asarray(rate, dtype=float))
    elif timing != "end":
        raise ValueError(f"timing must be 'end' or 'start', got {timing!r}")
    return _out(np.asarray(payment, dtype=float) / crf)


# ----------------------------------------------------------------------------- levelised cost

def levelised_cost(
    capex: ArrayLike,
    opex_per_period: ArrayLike,
    output_per_period: ArrayLike,
    rate: ArrayLike,
    n_periods: int | None = None,
) -> float | np.ndarray:
    """Levelised cost: present value of costs / present value of output.

    The constant price per unit of output that recovers capex and opex with a return of ``rate``
    (the LCOE construction, e.g. IEA/NEA *Projected Costs of Generating Electricity*), here
    e.g. USD per GPU-hour or USD per million tokens.  With no opex and constant output it is
    ``capex * capital_recovery_factor(rate, n) / output``.

    Timing: a scalar ``capex`` is spent at time 0; an array ``capex[t]`` at time ``t`` (t = 0, 1,
    ...).  Opex and output fall at the end of each period: ``opex_per_period[i]`` and
    ``output_per_period[i]`` at time ``i + 1``.

    Parameters
    ----------
    capex : float or 1-d array
        Capital spend, at time 0 or by period [USD].
    opex_per_period : float or 1-d array
        Operating cost of each period, constant if scalar [USD per period].
    output_per_period : float or 1-d array
        Output of each period (GPU-hours, million tokens, ...), constant if scalar [unit per period].
    rate : float or array
        Discount rate per period [fraction per period], > -1; an array gives one cost per rate.
    n_periods : int, optional
        Operating periods [periods]; needed when both opex and output are scalars, otherwise
        taken from (and checked against) their length.

    Returns
    -------
    float or array
        Levelised cost [USD per unit of output]; ``inf`` when the output is zero and costs are
        positive, ``nan`` when both are zero.
    """
    r = _rate(rate)
    capex_a = np.atleast_1d(np.asarray(capex, dtype=float))
    opex = np.asarray(opex_per_period, dtype=float)
    out = np.asarray(output_per_period, dtype=float)
    for name, arr in (("capex", capex_a), ("opex_per_period", opex), ("output_per_period", out)):
        if arr.ndim > 1:
            raise ValueError(f"{name} must be a scalar or a 1-d array by period, got shape {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be finite, got {arr!r}")
    lengths = {arr.size for arr in (opex, out) if arr.ndim == 1}
    if n_periods is not None:
        lengths.add(_periods(n_periods))
    if not lengths:
        raise ValueError("n_periods is required when opex_per_period and output_per_period are both scalars")
    if len(lengths) > 1:
        raise ValueError(f"opex_per_period, output_per_period and n_periods disagree on the number of periods: {sorted(lengths)}")
    n = lengths.pop()
    if np.any(out < 0):
        raise ValueError("output_per_period must be >= 0")
    df = np.asarray(discount_factors(r, n, "end"))
    pv_cost = np.sum(np.broadcast_to(opex, (n,)) * df, axis=-1) + np.sum(capex_a * _growth_inverse(r, np.arange(capex_a.size, dtype=float)), axis=-1)
    pv_out = np.sum(np.broadcast_to(out, (n,)) * df, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        lc = np.where(pv_out > 0, pv_cost / np.where(pv_out > 0, pv_out, 1.0), np.sign(pv_cost) * np.inf)
    lc = np.where((pv_out <= 0) & (pv_cost == 0), np.nan, lc)
    return _out(lc)


# ----------------------------------------------------------------------------- cash-flow metrics

def cumulative(cash_flows: ArrayLike) -> np.ndarray:
    """Running total of cash flows over time (the last axis).

    Parameters
    ----------
    cash_flows : array
        Cash flow of each period [USD].

    Returns
    -------
    array
        Cumulative cash position at the end of each period [USD], same shape.
    """
    return np.cumsum(_flows(cash_flows), axis=-1)


def payback_period(cash_flows: ArrayLike, discounted_rate: float | None = None) -> float | None:
    """Time at which the cumulative (optionally discounted) cash flow turns, and stays, >= 0.

    ``cash_flows[t]`` is at time ``t``; between two times the cumulative position is linearly
    interpolated (cash assumed to arrive evenly within the period, the textbook convention:
    -100, +60, +60 pays back in 1 + 40/60 = 1.67 periods).  "Stays": if the cumulative position
    dips below zero again later (e.g. a mid-life refresh), payback is the last crossing.

    Parameters
    ----------
    cash_flows : 1-d array
        Cash flow of each period [USD].
    discounted_rate : float, optional
        Discount each flow at this rate first (discounted payback) [fraction per period], > -1.

    Returns
    -------
    float or None
        Payback time [periods]; 0.0 when the cumulative position is never negative (e.g. ``CF_0 >=
        0`` and it never dips); ``None`` when it is still negative at the last period (never
        pays back) or the series is empty.
    """
    cf = _flows(cash_flows)
    if cf.ndim != 1:
        raise ValueError(f"cash_flows must be 1-d, got shape {cf.shape}")
    if cf.size == 0:
        return None
    if discounted_rate is not None:
        r = _rate(discounted_rate, "discounted_rate")
        if r.ndim != 0:
            raise ValueError("discounted_rate must be a scalar")
        cf = cf * _growth_inverse(r, np.arange(cf.size, dtype=float))
    cum = np.cumsum(cf)
    negative = np.flatnonzero(cum < 0)
    if negative.size == 0:
        return 0.0
    k = int(negative[-1])
    if k == cum.size - 1:
        return None
    return float(k + (-cum[k]) / (cum[k + 1] - cum[k]))


# ----------------------------------------------------------------------------- depreciation

def straight_line_depreciation(
    cost: ArrayLike,
    life_periods: float,
    n_periods: int,
    start_period: float = 0,
    salvage: ArrayLike = 0,
) -> np.ndarray:
    """Straight-line depreciation charge in each period of a horizon.

    ``(cost - salvage) / life_periods`` per period from ``start_period`` for ``life_periods``
    periods, pro rata in a period the life only partly covers (fractional start or life);
    nothing outside the life or outside the horizon ``0 .. n_periods - 1``.

    Parameters
    ----------
    cost : float or array
        Depreciable asset cost [USD]; an array gives one row per asset.
    life_periods : float
        Depreciable life [periods], > 0.
    n_periods : int
        Length of the horizon [periods], >= 0.
    start_period : float
        Period in which depreciation starts (placed in service) [periods]; may be negative for an
        asset already in service.
    salvage : float or array
        Value left at the end of the life, 0 <= salvage <= cost [USD].

    Returns
    -------
    array, shape ``np.shape(cost) + (n_periods,)``
        Depreciation charge of each period [USD per period]; over a horizon covering the whole life
        it sums to ``cost - salvage``.
    """
    c = np.asarray(cost, dtype=float)
    s = np.asarray(salvage, dtype=float)
    n = _periods(n_periods)
    if not (np.isfinite(life_periods) and life_periods > 0):
        raise ValueError(f"life_periods must be finite and > 0, got {life_periods!r}")
    if not np.isfinite(start_period):
        raise ValueError(f"start_period must be finite, got {start_period!r}")
    if np.any(s < 0) or np.any(s > c):
        raise ValueError(f"salvage must be between 0 and cost, got salvage={salvage!r}, cost={cost!r}")
    p = np.arange(n, dtype=float)
    overlap = np.clip(np.minimum(p + 1, start_period + life_periods) - np.maximum(p, start_period), 0.0, 1.0)
    return np.multiply.outer((c - s) / life_periods, overlap)


def residual_value(cost: ArrayLike, life_periods: ArrayLike, age_periods: ArrayLike, salvage: ArrayLike = 0) -> float | np.ndarray:
    """Book value after straight-line depreciation: ``cost - (cost - salvage) * min(age / life, 1)``.

    Parameters
    ----------
    cost : float or array
        Asset cost [USD].
    life_periods : float or array
        Depreciable life [periods], > 0.
    age_periods : float or array
        Age of the asset [periods], >= 0; beyond the life the value stays at ``salvage``.
    salvage : float or array
        Value at the end of the life, 0 <= salvage <= cost [USD].

    Returns
    -------
    float or array
        Book (residual) value [USD].
    """
    c = np.asarray(cost, dtype=float)
    s = np.asarray(salvage, dtype=float)
    life = np.asarray(life_periods, dtype=float)
    age = np.asarray(age_periods, dtype=float)
    if not np.all(np.isfinite(life)) or np.any(life <= 0):
        raise ValueError(f"life_periods must be finite and > 0, got {life_periods!r}")
    if np.any(np.isnan(age)) or np.any(age < 0):
        raise ValueError(f"age_periods must be >= 0, got {age_periods!r}")
    if np.any(s < 0) or np.any(s > c):
        raise ValueError(f"salvage must be between 0 and cost, got salvage={salvage!r}, cost={cost!r}")
    return _out(c - (c - s) * np.minimum(age / life, 1.0))


# ----------------------------------------------------------------------------- debt

def loan_schedule(
    draws: ArrayLike,
    rate: ArrayLike,
    term_periods: int,
    first_service_period: ArrayLike = 0,
    amortisation: Literal["annuity", "linear"] = "annuity",
) -> dict[str, np.ndarray]:
    """Schedule of a delayed-draw term loan with interest during construction, vectorised.

    The loan is drawn as the capex it funds is paid (``draws[t]`` at the end of period ``t``).
    Before ``first_service_period`` (``c``, e.g. the first month the factory sells) no debt
    service is paid: interest accrues on the balance and is capitalised (interest during
    construction, IDC), so the balance at the end of period ``c - 1`` is
    ``sum_{u < c} draws[u] (1 + r)^(c - 1 - u)``.  That capitalised balance is one tranche whose
    repayment starts in period ``c``; every later draw ``draws[t]`` (``t >= c``) is its own
    tranche, repaid in periods ``t + 1 .. t + term``.  Each tranche amortises over
    ``term_periods`` either as a level annuity (payment = principal x
    :func:`capital_recovery_factor`, the mortgage convention) or with linear principal
    (principal / term each period plus interest on the balance).  Interest from period ``c`` on
    is paid in cash.  The balance still outstanding at the last period is returned, not repaid:
    the caller repays it (a balloon at the horizon).

    Everything is closed form (cumulative sums), so a stack of scenarios (leading axes) costs
    O(periods) each: no loop over periods or tranches.

    Parameters
    ----------
    draws : array
        Amount drawn in each period, time on the last axis [USD], >= 0.
    rate : float or array
        Interest rate per period [fraction per period], > -1; an array broadcasts over the leading
        axes of ``draws`` (one rate per scenario).
    term_periods : int
        Repayment term of each tranche [periods], >= 1.
    first_service_period : int or array of int
        First period with debt service (``c``); before it interest is capitalised [periods];
        ``>= len(draws)`` capitalises everything (no service within the horizon).
    amortisation : {"annuity", "linear"}
        Level payments or level principal.

    Returns
    -------
    dict of arrays, each shaped like ``draws`` unless noted
        ``balance`` (end of period), ``interest`` (accrued in the period, on the opening balance),
        ``interest_paid`` (``interest`` from period ``c`` on), ``interest_capitalised`` (before
        ``c``), ``principal`` (scheduled repayment), ``payment`` (``principal + interest_paid``,
        the scheduled debt service), and ``idc`` (leading shape: total interest capitalised) [USD].
    """
    d = _flows(draws, "draws")
    if np.any(d < 0):
        raise ValueError("draws must be >= 0")
    n_t = d.shape[-1]
    lead = d.shape[:-1]
    n = _periods(term_periods, "term_periods")
    if n < 1:
        raise ValueError(f"term_periods must be >= 1, got {term_periods!r}")
    if amortisation not in ("annuity", "linear"):
        raise ValueError(f"amortisation must be 'annuity' or 'linear', got {amortisation!r}")
    r = np.broadcast_to(_rate(rate), lead).astype(float)[..., None]
    c = np.broadcast_to(np.asarray(first_service_period), lead)
    if not np.issubdtype(c.dtype, np.integer) and np.any(c != np.round(c)):
        raise ValueError(f"first_service_period must be whole periods, got {first_service_period!r}")
    c = np.clip(c.astype(int), 0, n_t)[..., None]
    t = np.arange(n_t)
    pre = t < c
    g = np.exp(np.log1p(r) * t)  # (1 + r)^t
    grown = g * np.cumsum(np.where(pre, d, 0.0) / g, axis=-1)  # capitalised balance if nothing were repaid
    idx = np.clip(c - 1, 0, max(n_t - 1, 0))
    cap = np.where(c >= 1, np.take_along_axis(grown, idx, axis=-1), 0.0)  # balance at the end of c - 1
    starts = np.where(pre, 0.0, d)
    starts = starts + np.where(t == c - 1, cap, 0.0)
    cum = np.concatenate([np.zeros(lead + (1,)), np.cumsum(starts, axis=-1)], axis=-1)  # cum[k] = sum starts[:k]
    active = cum[..., t] - cum[..., np.clip(t - n, 0, None)]  # principal of tranches in repayment at t
    if amortisation == "annuity":
        crf = np.asarray(capital_recovery_factor(r, n))
        payment = crf * active
        balance = g * np.cumsum((d - payment) / g, axis=-1)
    else:
        principal_lin = active / n
        post = np.where(pre, 0.0, d - principal_lin)
        balance = np.where(pre, grown, cap + np.cumsum(post, axis=-1))
    opening = np.concatenate([np.zeros(lead + (1,)), balance[..., :-1]], axis=-1)
    interest = r * opening
    interest_paid = np.where(pre, 0.0, interest)
    interest_cap = np.where(pre, interest, 0.0)
    if amortisation == "annuity":
        principal = np.where(pre, 0.0, payment - interest_paid)
    else:
        principal = principal_lin
        payment = principal + interest_paid
    return {"balance": balance, "interest": interest, "interest_paid": interest_paid, "interest_capitalised": interest_cap,
            "principal": principal, "payment": payment, "idc": np.sum(interest_cap, axis=-1)}


def yearly_dscr(cfads: ArrayLike, debt_service: ArrayLike, periods_per_year: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Debt-service coverage ratio per year: cash flow available for debt service over scheduled
    debt service (interest + principal), each summed over the year, and its minimum.

    Parameters
    ----------
    cfads : array
        Cash flow available for debt service per period (revenue - operating costs - taxes),
        time on the last axis [USD].
    debt_service : array
        Scheduled interest + principal per period, same shape [USD].
    periods_per_year : int
        Periods per year (12 for months).

    Returns
    -------
    (dscr, minimum)
        ``dscr``: per year (leading axes + (years,)), ``nan`` in years without debt service [-];
        ``minimum``: the lowest over the years with debt service, ``nan`` when there is none [-].
    """
    cf = _flows(cfads, "cfads")
    ds = _flows(debt_service, "debt_service")
    if cf.shape != ds.shape:
        raise ValueError(f"cfads and debt_service must have the same shape, got {cf.shape} and {ds.shape}")
    k = _periods(periods_per_year, "periods_per_year")
    if k < 1:
        raise ValueError("periods_per_year must be >= 1")
    starts = np.arange(0, cf.shape[-1], k)
    cf_y = np.add.reduceat(cf, starts, axis=-1)
    ds_y = np.add.reduceat(ds, starts, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(ds_y > 0, cf_y / np.where(ds_y > 0, ds_y, 1.0), np.nan)
    has = np.any(ds_y > 0, axis=-1)
    minimum = np.where(has, np.nanmin(np.where(ds_y > 0, ratio, np.inf), axis=-1), np.nan)
    return ratio, minimum
