"""Monthly cash flows of the programme, vectorised over samples.

Every series is a (months,) base array built once from the design, the rollout and the
performance model (``EconInputs``); ``evaluate`` applies per-sample multipliers (shape
(samples,)) and returns (samples, months) arrays, so the base case, the tornado and a
10,000-sample Monte Carlo share one code path.

Conventions: month 0 is notice to proceed; flows are end of month; the discount rate is the
effective monthly rate of the annual WACC; money is USD of the cost profile's base year.
Taxes: corporate income tax on EBIT with unlimited loss carry-forward (cumulative tax paid =
rate x the running maximum of cumulative EBIT, floored at 0).  Residual value: the book value
of all assets at the horizon, received in the last month.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

SECONDS_PER_MONTH = 365.25 * 86400 / 12
HOURS_PER_MONTH = 365.25 * 24 / 12


@dataclass(frozen=True)
class EconInputs:
    months: int
    capex_it_usd: np.ndarray  # GPU systems, network, storage paid on delivery, per month
    capex_facility_usd: np.ndarray  # power, cooling, building, soft costs: construction progress payments
    gpus_online: np.ndarray  # average GPUs in service during the month [count]
    energy_usd: np.ndarray  # electricity bill at full load of the online GPUs (IT typical x PUE x price)
    staff_usd: np.ndarray
    revenue_usd: np.ndarray  # at utilisation 1 and no price decline
    output_tokens: dict[str, np.ndarray]  # per model, at utilisation 1
    gpu_share: dict[str, float]  # share of GPUs serving each model
    life_it_months: int
    life_network_months: int
    life_facility_months: int
    network_share_of_it: float  # share of IT capex that is network (its own life)
    maintenance_fraction_per_year: float  # of IT capex in service
    wacc: float  # annual
    tax_rate: float
    utilisation: float
    price_decline_per_year: float
    notes: tuple[str, ...] = field(default=())


BASE = {"capex_it": 1.0, "capex_facility": 1.0, "energy_price": 1.0, "token_price": 1.0, "throughput": 1.0,
        "utilisation": None, "wacc": None, "price_decline": None, "delay_months": 0.0, "maintenance": None}


def _samples(mult: dict[str, Any], inp: EconInputs) -> dict[str, np.ndarray]:
    full = {**BASE, **mult}
    full["utilisation"] = inp.utilisation if full["utilisation"] is None else full["utilisation"]
    full["wacc"] = inp.wacc if full["wacc"] is None else full["wacc"]
    full["price_decline"] = inp.price_decline_per_year if full["price_decline"] is None else full["price_decline"]
    full["maintenance"] = inp.maintenance_fraction_per_year if full["maintenance"] is None else full["maintenance"]
    arrays = {k: np.atleast_1d(np.asarray(v, dtype=float)) for k, v in full.items()}
    n = max(a.size for a in arrays.values())
    return {k: np.broadcast_to(a, (n,)) for k, a in arrays.items()}


def _shift(x: np.ndarray, d: np.ndarray) -> np.ndarray:
    """(months,) series delayed by d[s] whole months for every sample -> (samples, months)."""
    m = np.arange(x.size)
    idx = m[None, :] - d.astype(int)[:, None]
    return np.where(idx >= 0, x[np.clip(idx, 0, None)], 0.0)


def _straight_line(capex: np.ndarray, life: int) -> np.ndarray:
    """Depreciation per month of capex paid per month (samples, months), in service from payment."""
    c = np.cumsum(capex, axis=1)
    lagged = np.zeros_like(c)
    if life < capex.shape[1]:
        lagged[:, life:] = c[:, :-life]
    return (c - lagged) / life


@dataclass(frozen=True)
class Flows:
    revenue: np.ndarray
    energy: np.ndarray
    staff: np.ndarray
    maintenance: np.ndarray
    depreciation: np.ndarray
    tax: np.ndarray
    capex: np.ndarray
    residual: np.ndarray
    net: np.ndarray  # free cash flow per month (samples, months)
    discount: np.ndarray  # (samples, months), end of month
    gpu_hours: np.ndarray
    tokens: dict[str, np.ndarray]

    @property
    def npv(self) -> np.ndarray:
        return np.sum(self.net * self.discount, axis=1)


def evaluate(inp: EconInputs, mult: dict[str, Any] | None = None) -> Flows:
    s = _samples(mult or {}, inp)
    d = s["delay_months"]
    months = np.arange(inp.months)
    decline = (1 - s["price_decline"][:, None]) ** (months[None, :] / 12.0)
    online = _shift(inp.gpus_online, d)
    capex_it = _shift(inp.capex_it_usd, d) * s["capex_it"][:, None]
    capex_fac = np.broadcast_to(inp.capex_facility_usd, online.shape) * s["capex_facility"][:, None]
    util = s["utilisation"][:, None]
    revenue = _shift(inp.revenue_usd, d) * util * s["throughput"][:, None] * s["token_price"][:, None] * decline
    energy = _shift(inp.energy_usd, d) * s["energy_price"][:, None]
    staff = np.broadcast_to(inp.staff_usd, online.shape).copy()
    in_service_it = np.cumsum(capex_it, axis=1)
    maintenance = in_service_it * s["maintenance"][:, None] / 12.0
    net_share = inp.network_share_of_it
    dep = (_straight_line(capex_it * (1 - net_share), inp.life_it_months) + _straight_line(capex_it * net_share, inp.life_network_months)
           + _straight_line(capex_fac, inp.life_facility_months))
    ebit = revenue - energy - staff - maintenance - dep
    cum_tax = inp.tax_rate * np.maximum.accumulate(np.maximum(np.cumsum(ebit, axis=1), 0.0), axis=1)
    tax = np.diff(cum_tax, axis=1, prepend=0.0)
    capex = capex_it + capex_fac
    book = np.cumsum(capex, axis=1) - np.cumsum(dep, axis=1)
    residual = np.zeros_like(book)
    residual[:, -1] = np.maximum(book[:, -1], 0.0)
    net = revenue - energy - staff - maintenance - tax - capex + residual
    r_m = (1 + s["wacc"]) ** (1 / 12) - 1
    discount = (1 + r_m[:, None]) ** -(months[None, :] + 1.0)
    gpu_hours = online * HOURS_PER_MONTH
    tokens = {k: _shift(v, d) * util * s["throughput"][:, None] for k, v in inp.output_tokens.items()}
    return Flows(revenue, energy, staff, maintenance, dep, tax, capex, residual, net, discount, gpu_hours, tokens)
