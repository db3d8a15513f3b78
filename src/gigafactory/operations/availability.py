"""Serving capacity per site and month over the horizon: scalable units come online at their
acceptance, fail more in early life (infant mortality decaying after burn-in), and then run at
the steady-state availability of ``model.py`` under the chosen spares and crews.

The early-life hazard multiplier is ``1 + (k - 1) exp(-age / tau)`` on hardware classes
(``lifecycle.infant_multiplier`` k, ``lifecycle.infant_decay`` tau); a month's mean multiplier
for a unit of age a0..a1 days is its integral over the month.  Availability is interpolated
in the multiplier (it is smooth and nearly linear in it).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import numpy as np

DAYS_PER_MONTH = 365.25 / 12


def month_starts(start: dt.date, months: int) -> list[dt.date]:
    out = []
    y, m = start.year, start.month
    for _ in range(months):
        out.append(dt.date(y, m, 1))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def mean_multiplier(age0_d: np.ndarray, age1_d: np.ndarray, k: float, tau_d: float) -> np.ndarray:
    """Mean of ``1 + (k - 1) exp(-age / tau)`` over ages [age0, age1] days (0 where age1 <= age0) [1]."""
    span = np.maximum(age1_d - age0_d, 1e-12)
    integral = span + (k - 1) * tau_d * (np.exp(-age0_d / tau_d) - np.exp(-age1_d / tau_d))
    return integral / span


def monthly_capacity(accept_days: Sequence[float], su_gpus: Sequence[float], start: dt.date, months: int,
                     availability_at: Callable[[float], float], k: float, tau_d: float) -> list[dict[str, float | str]]:
    """Per month from ``start``: installed GPUs (time-averaged), expected serving GPUs and their ratio.

    accept_days: acceptance of each unit [days from start]; su_gpus: its GPUs [count];
    availability_at(multiplier): steady-state availability with hardware rates x multiplier [1]."""
    acc = np.asarray(accept_days, dtype=float)
    g = np.asarray(su_gpus, dtype=float)
    grid = np.linspace(1.0, max(k, 1.0), 9)
    table = np.array([availability_at(float(m)) for m in grid])
    out = []
    starts = month_starts(start, months)
    for i, ms in enumerate(starts):
        d0 = (ms - start).days
        d1 = ((starts[i + 1] if i + 1 < len(starts) else ms + dt.timedelta(days=31)) - start).days
        lo = np.maximum(acc, d0)
        online = np.clip(d1 - lo, 0.0, d1 - d0) / (d1 - d0)  # share of the month each unit is online
        mult = mean_multiplier(np.maximum(d0 - acc, 0.0), np.maximum(d1 - acc, 0.0), k, tau_d)
        avail = np.interp(mult, grid, table)
        installed = float(np.sum(online * g))
        serving = float(np.sum(online * g * avail))
        out.append({"month": ms.strftime("%Y-%m"), "installed_gpus": installed, "serving_gpus": serving,
                    "availability": serving / installed if installed > 0 else 0.0})
    return out
