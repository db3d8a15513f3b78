"""The economics stage: design, serving rates and rollout -> cash flows ->
levelised costs, NPV / IRR / payback, cost of delay, tornado, Monte Carlo."""
from __future__ import annotations

import dataclasses

from gigafactory.catalog import Catalog
from gigafactory.economics.analysis import base_case, monte_carlo, tornado
from gigafactory.economics.build import build_inputs
from gigafactory.pipeline.streams import stream
from gigafactory.results.demand import DemandResult
from gigafactory.results.design import DesignResult
from gigafactory.results.operations import OperationsResult
from gigafactory.results.economics import EconomicsResult
from gigafactory.results.rollout import RolloutResult
from gigafactory.results.serving import ServingResult
from gigafactory.scenario.model import Scenario


def run_economics(cat: Catalog, scn: Scenario, design: DesignResult, rollout: RolloutResult, serving: ServingResult,
                  mc_samples: int = 10_000, demand: DemandResult | None = None, sensitivity: bool = True,
                  operations: OperationsResult | None = None) -> EconomicsResult:
    """The economics stage: cash flows and their analysis from the typed design, rollout, serving
    and demand results.  With the operations stage's result the spares pool is the one sized from
    failure rates and lead times (its share of GPU-system capex) instead of the cost profile's
    flat fraction; availability reaches revenue through the demand stage's capacity; the
    technicians are part of the cost profile's staff per MW (a subset, not an extra line)."""
    inp = build_inputs(cat, scn, design, rollout, serving, demand)
    if operations is not None:
        inp = dataclasses.replace(inp, spares_fraction_of_it_capex=operations.total.spares_share_of_it_capex)
    base = base_case(inp)
    p90 = rollout.ttft_days_p90 if rollout.ttft_days_p90 is not None else rollout.plan_ttft_days
    spread = (rollout.ttft_days - rollout.plan_ttft_days, p90 - rollout.plan_ttft_days)
    delay = (max(0.0, spread[0] / 30.44), max(0.0, spread[1] / 30.44))
    rng = stream(scn.seed, "economics.monte_carlo")
    mc = monte_carlo(inp, mc_samples, rng, delay) if mc_samples > 0 else None
    cost = cat.get("costs", scn.finance.cost_profile)
    market = []
    for wl in scn.workloads:
        model_id = cat.model(wl.model).id
        c = base["cost_per_mtok_usd"].get(model_id)
        if c and wl.price_output_usd_per_mtok:
            market.append({"model": model_id, "cost_per_mtok_usd": c, "list_price_output_usd_per_mtok": wl.price_output_usd_per_mtok,
                           "price_over_cost": wl.price_output_usd_per_mtok / c})
    warnings = []
    fin = base.get("financing") or {}
    if fin.get("min_dscr") is not None and fin["min_dscr"] < 1.2:
        warnings.append(f"minimum yearly debt-service coverage {fin['min_dscr']:.2f} is below the 1.20-1.25 senior lenders require")
    modelled = demand is not None and demand.mode == "modelled"
    if not modelled and any(m["price_over_cost"] > 3 for m in market):
        warnings.append("list token prices are several times the modelled cost per token: revenue assumes today's list prices hold at this "
                        "scale (less the yearly decline); the tornado's token-price and price-decline rows show how fast that changes")
    return EconomicsResult.model_validate({
        **base,
        "market_check": market,
        "warnings": warnings,
        "tornado": tornado(inp) if sensitivity else [],  # the method comparison needs the base case only
        "monte_carlo": mc,
        "assumptions": {
            "horizon_months": inp.months, "wacc": inp.wacc, "tax_rate": inp.tax_rate, "utilisation": inp.utilisation,
            "price_decline_per_year": inp.price_decline_per_year, "price_decline_source": inp.price_decline_source,
            "revenue_model": scn.finance.revenue_model,
            "depreciation_months": {"it": inp.life_it_months, "network": inp.life_network_months, "facility": inp.life_facility_months},
            "maintenance_fraction_per_year": inp.maintenance_fraction_per_year, "cost_profile": cost.id, "base_year": int(cost.base_year),
            "economic_life_months": {"it": inp.economic_life_it_months or inp.life_it_months,
                                     "network": inp.economic_life_network_months or inp.life_network_months,
                                     "facility": inp.economic_life_facility_months or inp.life_facility_months},
            "insurance_fraction_per_year": inp.insurance_fraction_per_year,
            "property_tax_fraction_per_year": inp.property_tax_fraction_per_year,
            "licence_usd_per_gpu_year": inp.licence_usd_per_gpu_year,
            "spares_fraction_of_it_capex": inp.spares_fraction_of_it_capex,
            "currency": "USD",
        },
        "notes": list(inp.notes) + [
            "no facility (M&E) maintenance: the cost profile has no sourced figure for it; software licences are charged at "
            "NVIDIA AI Enterprise list price on every GPU in service (an open-source serving stack pays none)",
            ("revenue = what the demand stage sold: served output tokens x output price + their input tokens x input price (cache "
             "hits at the cache price, less free tier and discounts), plus take-or-pay contracts" if modelled else
             "revenue = output tokens x output price + input tokens (isl/osl per output token) x input price, at the scenario's utilisation"),
        ],
        "serving": {sid: [w.model_dump(include={"model", "share", "tok_s_gpu", "tok_s_user", "reason"}) for w in rows]
                    for sid, rows in serving.systems.items()},
    })
