"""Economics outputs: levelised $/GPU-hour and $/Mtok, NPV, IRR, payback, cumulative cash,
cost of delay, the financing view (debt, IDC, equity and project IRR, DSCR), tornado
sensitivity and a Monte Carlo over uncertain inputs."""
from __future__ import annotations

from typing import Any

import numpy as np

from gigafactory.economics import finance
from gigafactory.economics.cashflow import EconInputs, Flows, evaluate

DAYS_PER_MONTH = 365.25 / 12

#: tornado ranges (low, high) around the base case; multipliers unless noted.  Assumed spreads:
#: capex +-15 % (analyst per-rack prices span $2-4M), electricity +-30 %, token prices -40/+20 %
#: (the same open model spans ~6x across providers; factory_facts api_token_prices), throughput
#: +-20 % (the perf model's cross-validated median error), utilisation 0.5-0.9, WACC 8-15 %
#: (GPU-backed debt 10-17 %, developer hurdle 12-19 %), price decline 10-35 %/year, delay 0-6 months,
#: IT support/maintenance 10-20 % of IT capex a year (vendor support contracts; cost profile
#: maintenance_fraction_of_capex_per_year and its _high, absolute fractions).
TORNADO = {
    "capex_it": (0.85, 1.15),
    "capex_facility": (0.85, 1.15),
    "energy_price": (0.7, 1.3),
    "token_price": (0.6, 1.2),
    "throughput": (0.8, 1.2),
    "utilisation": (0.5, 0.9),
    "wacc": (0.08, 0.15),
    "price_decline": (0.10, 0.35),
    "delay_months": (0.0, 6.0),
    "maintenance": (0.10, 0.20),
}

#: the cost lines of the yearly and total figures (``Flows`` attributes; spares are part of capex).
LINES = ("revenue", "energy", "staff", "maintenance", "insurance", "property_tax", "licences", "tax", "capex", "spares", "net")


def _levelised(inp: EconInputs, f: Flows) -> dict[str, Any]:
    disc = f.discount[0]
    parts = {"capex_less_residual": f.capex[0] - f.residual[0], "energy": f.energy[0], "staff": f.staff[0],
             "maintenance": f.maintenance[0], "insurance": f.insurance[0], "property_tax": f.property_tax[0], "licences": f.licences[0]}
    pv = {k: float(np.sum(v * disc)) for k, v in parts.items()}
    pv_costs = sum(pv.values())
    pv_gpu_h = float(np.sum(f.gpu_hours[0] * disc))
    per_gpu_h = pv_costs / pv_gpu_h if pv_gpu_h > 0 else float("inf")
    per_mtok = {}
    for model, tok in f.tokens.items():
        pv_tok = float(np.sum(tok[0] * disc))
        per_mtok[model] = pv_costs * inp.gpu_share[model] / pv_tok * 1e6 if pv_tok > 0 else None
    return {"cost_per_gpu_hour_usd": per_gpu_h, "cost_per_sold_gpu_hour_usd": per_gpu_h / inp.utilisation, "cost_per_mtok_usd": per_mtok,
            "cost_per_gpu_hour_breakdown_usd": {k: (v / pv_gpu_h if pv_gpu_h > 0 else float("inf")) for k, v in pv.items()},
            "pv_costs_usd": pv_costs, "pv_gpu_hours": pv_gpu_h}


def _yearly(x: np.ndarray, months: int) -> list[float]:
    return [float(v) for v in np.add.reduceat(x, np.arange(0, months, 12))]


def _annual_irr(flows: np.ndarray) -> float | None:
    m = finance.irr(flows)
    return None if np.isnan(m) else float(finance.annual_irr_from_monthly(m))


def financing_summary(inp: EconInputs, f: Flows) -> dict[str, Any]:
    """The financing block of the base case (sample 0 of ``f``)."""
    fin = f.financing
    assert fin is not None, "evaluate(..., financing=True) first"
    dscr_y, min_dscr = finance.yearly_dscr(fin.cfads[0], fin.debt_service[0])
    tranches = {}
    for name, terms in (("it", inp.it_debt), ("facility", inp.facility_debt)):
        t = fin.by_tranche[name]
        tranches[name] = {"fraction": terms.fraction, "rate": terms.rate, "term_months": terms.term_months, "amortisation": terms.amortisation,
                          "drawn_usd": float(np.sum(t["draws"][0])), "idc_usd": float(t["idc"][0]),
                          "interest_paid_usd": float(np.sum(t["interest_paid"][0])), "principal_repaid_usd": float(np.sum(t["principal"][0])),
                          "balance_at_horizon_usd": float(t["balance"][0, -1])}
    drawn = float(np.sum(fin.draws[0]))
    capex = float(np.sum(f.capex[0]))
    first = int(fin.first_service_month[0])
    return {
        "debt_drawn_usd": drawn,
        "debt_share_of_capex": drawn / capex if capex > 0 else 0.0,
        "equity_invested_usd": capex - drawn,
        "idc_usd": float(fin.idc[0]),
        "interest_paid_usd": float(np.sum(fin.interest[0])),
        "principal_repaid_usd": float(np.sum(fin.principal[0])),
        "balance_at_horizon_usd": float(fin.balloon[0]),
        "first_service_month": first if first < inp.months else None,
        "project_irr": _annual_irr(f.net[0]),
        "equity_irr": _annual_irr(fin.equity_net[0]),
        "min_dscr": None if np.isnan(min_dscr) else float(min_dscr),
        "dscr_yearly": [None if np.isnan(x) else float(x) for x in dscr_y],
        "tranches": tranches,
        "yearly_usd": {"draws": _yearly(fin.draws[0], inp.months), "interest": _yearly(fin.interest[0], inp.months),
                       "principal": _yearly(fin.principal[0], inp.months), "cfads": _yearly(fin.cfads[0], inp.months),
                       "equity_net": _yearly(fin.equity_net[0], inp.months), "tax": _yearly(fin.tax[0], inp.months)},
        "equity_cumulative_cash_usd": [float(x) for x in np.cumsum(fin.equity_net[0])],
    }


def base_case(inp: EconInputs) -> dict[str, Any]:
    f = evaluate(inp)
    net = f.net[0]
    irr_m = finance.irr(net)
    payback = finance.payback_period(net)
    payback_disc = finance.payback_period(net, discounted_rate=(1 + inp.wacc) ** (1 / 12) - 1)
    delayed = evaluate(inp, {"delay_months": 1.0}, financing=False)
    cost_of_delay_week = float(f.npv[0] - delayed.npv[0]) / (DAYS_PER_MONTH / 7)
    yearly = {k: _yearly(getattr(f, k)[0], inp.months) for k in LINES}
    return {
        **_levelised(inp, f),
        "npv_usd": float(f.npv[0]),
        "irr": None if np.isnan(irr_m) else float(finance.annual_irr_from_monthly(irr_m)),
        "payback_months": payback,
        "discounted_payback_months": payback_disc,
        "cost_of_delay_usd_per_week": cost_of_delay_week,
        "cumulative_cash_usd": [float(x) for x in np.cumsum(net)],
        "yearly_usd": yearly,
        "totals_usd": {k: float(np.sum(getattr(f, k)[0])) for k in (*LINES[:-1], "residual")},
        "financing": financing_summary(inp, f),
    }


def tornado(inp: EconInputs) -> list[dict[str, Any]]:
    base = float(evaluate(inp, financing=False).npv[0])
    rows = []
    for name, (lo, hi) in TORNADO.items():
        npv = evaluate(inp, {name: np.array([lo, hi])}, financing=False).npv
        rows.append({"input": name, "low": lo, "high": hi, "npv_low_usd": float(npv[0]), "npv_high_usd": float(npv[1]),
                     "swing_usd": float(abs(npv[1] - npv[0])), "base_npv_usd": base})
    return sorted(rows, key=lambda r: -r["swing_usd"])


def monte_carlo(inp: EconInputs, n: int, rng: np.random.Generator, delay_p50_p90_months: tuple[float, float] = (0.0, 3.0)) -> dict[str, Any]:
    """Triangular draws over the tornado inputs (mode = base case), each input from its own
    generator spawned from ``rng``; delay from the rollout's P50->P90 spread."""
    streams = rng.spawn(len(TORNADO))
    draws: dict[str, np.ndarray] = {}
    base_vals = {"utilisation": inp.utilisation, "wacc": inp.wacc, "price_decline": inp.price_decline_per_year,
                 "maintenance": inp.maintenance_fraction_per_year}
    for (name, (lo, hi)), g in zip(TORNADO.items(), streams):
        mode = base_vals.get(name, 1.0)
        if name == "delay_months":
            lo, mode, hi = 0.0, delay_p50_p90_months[0], max(delay_p50_p90_months[1], delay_p50_p90_months[0] + 1e-6)
            draws[name] = np.round(g.triangular(lo, max(min(mode, hi), lo), hi, size=n))
            continue
        draws[name] = g.triangular(min(lo, mode), mode, max(hi, mode) + 1e-12, size=n)
    npv = evaluate(inp, draws, financing=False).npv
    return {"samples": n, "npv_p10_usd": float(np.percentile(npv, 10)), "npv_p50_usd": float(np.percentile(npv, 50)),
            "npv_p90_usd": float(np.percentile(npv, 90)), "probability_npv_negative": float(np.mean(npv < 0)),
            "histogram": {"edges_usd": [float(x) for x in np.histogram_bin_edges(npv, 30)], "counts": [int(c) for c in np.histogram(npv, 30)[0]]}}
