"""Assemble the monthly base series of the cash-flow model from the design, the rollout plan
and the performance model's tokens/s per GPU."""
from __future__ import annotations

from typing import Any

import numpy as np

from gigafactory.catalog import Catalog
from gigafactory.economics.cashflow import HOURS_PER_MONTH, SECONDS_PER_MONTH, EconInputs, cost_profile_inputs
from gigafactory.results.demand import DemandResult
from gigafactory.results.design import DesignResult
from gigafactory.results.rollout import RolloutResult
from gigafactory.results.serving import ServingResult
from gigafactory.scenario.model import Scenario

#: US federal corporate income tax rate since 2018 (Tax Cuts and Jobs Act of 2017), used when
#: the scenario gives none.
DEFAULT_TAX_RATE = 0.21
#: staff are hired ahead of capacity: at least this share of the site's staff from its first
#: energisation (assumption).
STAFF_FLOOR = 0.25
DAYS_PER_MONTH = 365.25 / 12


def _month(day: float) -> int:
    return int(day // DAYS_PER_MONTH)


def build_inputs(cat: Catalog, scn: Scenario, design: DesignResult, rollout: RolloutResult, serving: ServingResult,
                 demand: DemandResult | None = None) -> EconInputs:
    """``serving``: per system id, the perf model's best point per workload (design.choice.serving_rates).
    ``demand``: the demand stage's sales; when modelled, revenue and tokens are what it sold (see
    `_from_demand`), else `finance.utilisation` of capacity at list prices."""
    cost = cat.get("costs", scn.finance.cost_profile)
    months = scn.finance.horizon_years * 12
    gantt = rollout.gantt
    capex_it = np.zeros(months)
    capex_fac = np.zeros(months)
    gpus_online = np.zeros(months)
    energy = np.zeros(months)
    staff = np.zeros(months)
    revenue = np.zeros(months)
    tokens: dict[str, np.ndarray] = {}
    shares: dict[str, float] = {}
    notes: list[str] = []
    start = scn.rollout.start_date
    cal_month = np.array([(start.month - 1 + m) % 12 for m in range(months)])
    wl_by_model = {cat.model(w.model).id: w for w in scn.workloads}
    net_share_num = net_share_den = 0.0
    for site_spec, site in zip(scn.sites, design.sites):
        bd = site.capex_breakdown_usd
        it_capex = bd.get("gpu_systems", 0.0) + bd.get("network", 0.0) + bd.get("storage", 0.0)
        # a site worked beyond the day shift pays for the extra labour (rollout facility_cost_factor; 1 for most methods)
        fac_capex = sum(v for k, v in bd.items() if k in ("power", "cooling", "building", "soft_costs")) * rollout.facility_cost_factor
        net_share_num += bd.get("network", 0.0)
        net_share_den += it_capex
        tasks = [t for t in gantt if t.site == site_spec.name]
        installs = [t for t in tasks if t.kind == "install"]
        accepts = {t.su: t for t in tasks if t.kind == "accept"}
        energise_end = max((t.end_day for t in tasks if t.kind == "energise"), default=0.0)
        first_energise = min((t.end_day for t in tasks if t.kind == "energise"), default=0.0)
        # facility: construction progress payments, even from NTP to the last energisation
        last = min(months, max(1, _month(energise_end) + 1))
        capex_fac[:last] += fac_capex / last
        # IT: paid on delivery (install start) per SU; in service from acceptance
        per_su_capex = it_capex / max(len(installs), 1)
        per_su_gpus = site.gpus / max(len(installs), 1)
        site_online = np.zeros(months)
        for t in installs:
            m = _month(t.start_day)
            if m < months:
                capex_it[m] += per_su_capex
            acc_day = accepts[t.su].end_day
            m_on = acc_day / DAYS_PER_MONTH
            k = int(m_on)
            if k < months:
                site_online[k] += per_su_gpus * (1 - (m_on - k))
                site_online[k + 1:] += per_su_gpus
        gpus_online += site_online
        frac = site_online / max(site.gpus, 1)
        pue_m = np.asarray(site.pue_monthly)[cal_month]
        energy += frac * site.it_typical_mw * pue_m * HOURS_PER_MONTH * site_spec_price(cat, site_spec)
        fte = cost.staff_fte_per_mw * site_spec.power_mw
        m_first = _month(first_energise)
        staffing = np.where(np.arange(months) >= m_first, np.maximum(frac, STAFF_FLOOR), 0.0)
        staff += fte * cost.staff_loaded_cost_usd_per_year / 12 * staffing
        tok_gpu = {w.model: w.tok_s_gpu for w in serving.systems[site.system]}
        for model_id, wl in wl_by_model.items():
            out_tok = site_online * wl.share * tok_gpu.get(model_id, 0.0) * SECONDS_PER_MONTH
            tokens[model_id] = tokens.get(model_id, np.zeros(months)) + out_tok
            shares[model_id] = wl.share
            if scn.finance.revenue_model == "tokens":
                p_out, p_in = wl.price_output_usd_per_mtok, wl.price_input_usd_per_mtok
                if p_out is None:
                    notes.append(f"{model_id}: no token price in the scenario; its tokens earn nothing")
                    continue
                revenue += out_tok / 1e6 * (p_out + (p_in or 0.0) * wl.isl_tokens / wl.osl_tokens)
        if scn.finance.revenue_model == "gpu-hours":
            price = scn.finance.gpu_hour_price_usd or reference_gpu_hour_price(cat, cost, site.system)
            revenue += site_online * HOURS_PER_MONTH * price
    if demand is not None:  # the demand stage resolved it (a number, or the next generation's)
        decline, decline_source = demand.price_decline_per_year, demand.price_decline_source
    else:
        from gigafactory.demand.decline import resolve_price_decline

        pd = resolve_price_decline(cat, scn, design, serving)
        decline, decline_source = pd.per_year, pd.source
    utilisation = scn.finance.utilisation
    contract = None
    licensed = 1.0
    from_demand = demand is not None and demand.mode == "modelled"
    if from_demand:
        revenue, contract, tokens, shares, utilisation, licensed = _from_demand(demand, scn, shares)
        notes.append("revenue is what the demand stage sold: served tokens at the segments' prices and the contracts' GPU-hours "
                     "(the tornado's utilisation row scales the token sales around the modelled utilisation)")
    return EconInputs(
        months=months, capex_it_usd=capex_it, capex_facility_usd=capex_fac, gpus_online=gpus_online, energy_usd=energy, staff_usd=staff,
        revenue_usd=revenue, output_tokens=tokens, gpu_share=shares,
        life_it_months=int(round(cost.depreciation_gpu_years * 12)), life_network_months=int(round(cost.depreciation_network_years * 12)),
        life_facility_months=int(round(cost.depreciation_facility_years * 12)),
        network_share_of_it=net_share_num / net_share_den if net_share_den else 0.0,
        maintenance_fraction_per_year=cost.maintenance_fraction_of_capex_per_year,
        wacc=scn.finance.wacc if scn.finance.wacc is not None else cost.wacc_fraction,
        tax_rate=scn.finance.tax_rate if scn.finance.tax_rate is not None else DEFAULT_TAX_RATE,
        utilisation=utilisation, price_decline_per_year=decline, price_decline_source=decline_source,
        contract_revenue_usd=contract, revenue_scales_with_throughput=not from_demand, licensed_gpu_share=licensed,
        notes=tuple(dict.fromkeys(notes)),
        **cost_profile_inputs(cost),
    )


def site_spec_price(cat: Catalog, site_spec: Any) -> float:
    return cat.region(site_spec.region).electricity_price_usd_per_mwh


def reference_gpu_hour_price(cat: Catalog, cost: Any, system_id: str) -> float:
    """The cost profile's reserved (else on-demand) GPU-hour price for a system's GPU class [USD/GPU-h]."""
    key = {"gb200-nvl72": "gb200", "gb300-nvl72": "gb200", "dgx-b200": "b200", "dgx-b300": "b200", "dgx-h200": "h200", "dgx-h100": "h100"}.get(system_id, "gb200")
    for attr in (f"gpu_rental_{key}_reserved_usd_per_gpu_hour", f"gpu_rental_{key}_on_demand_usd_per_gpu_hour"):
        v = getattr(cost, attr, None)
        if v:
            return float(v)
    return float(cost.gpu_rental_h100_on_demand_usd_per_gpu_hour)


def _from_demand(demand: DemandResult, scn: Scenario, shares: dict[str, float]):
    """Revenue, contract revenue, tokens, GPU shares and utilisation from the demand stage, in the
    cash-flow model's convention: token sales are stored at utilisation 1 and no price decline
    (divided by the modelled utilisation and decline), so the base case returns exactly what the
    demand stage sold and the tornado and Monte Carlo scale it around that."""
    months = len(demand.monthly)
    u0 = demand.utilisation if demand.utilisation > 0 else 1.0
    decline0 = (1 - demand.price_decline_per_year) ** (np.arange(months) / 12.0)
    revenue = np.array([m.revenue_tokens_usd for m in demand.monthly]) / (u0 * decline0)
    contract = np.array([m.revenue_contracts_usd for m in demand.monthly])
    tokens = {k: np.array([m.served_tokens_by_model.get(k, 0.0) for m in demand.monthly]) / u0 for k in shares}
    online = sum(m.gpus_online for m in demand.monthly)
    pool = 1.0 - (sum(m.contract_gpus for m in demand.monthly) / online if online > 0 else 0.0)
    # the cost of a model's tokens is the cost of its GPUs in the token pool (contracted GPUs serve the contracts)
    return revenue, contract, tokens, {k: v * pool for k, v in shares.items()}, u0, pool
