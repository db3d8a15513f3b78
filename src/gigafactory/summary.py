"""A resolved overview of a validated scenario: what `gigafactory check` prints.

Only catalog look-ups and simple bounds are computed here; the factory design, the
performance model and the economics live in their own modules.
"""
from __future__ import annotations

import math
from typing import Any

from gigafactory.catalog import Catalog
from gigafactory.checks import BYTES_PER_PARAM, _active_params
from gigafactory.scenario.model import Scenario


def tpot_floor_s(model: Any, accelerator: Any, precision: str, speculative_tokens: int = 0) -> float:
    """Physical lower bound on time per output token [s] (see checks.slo_physical_floor)."""
    gpus = accelerator.scale_up_domain_gpus + (model.experts_per_token or 0)
    return _active_params(model) * BYTES_PER_PARAM[precision] / (accelerator.hbm_bandwidth_bytes_per_s * gpus) / (1 + speculative_tokens)


def scenario_summary(scn: Scenario, cat: Catalog) -> dict[str, Any]:
    sites = []
    for site in scn.sites:
        region = cat.region(site.region)
        system = cat.system(scn.system_for(site))
        temps = region.monthly_mean_temp_c
        sites.append(
            {
                "name": site.name,
                "region": region.id,
                "region_name": region.name,
                "power_mw": site.power_mw,
                "power_basis": "facility" if site.facility_power_mw is not None else "IT",
                "system": system.id,
                "unit_max_power_kw": system.max_power_w / 1e3,
                "unit_typical_power_kw": system.typical_power_w / 1e3,
                # Upper bound: every watt of the envelope to units at max power (no PUE, no network).
                "max_units_by_power": math.floor(site.power_mw * 1e6 / system.max_power_w),
                "coldest_month_c": min(temps),
                "warmest_month_c": max(temps),
                "electricity_price_usd_per_mwh": region.electricity_price_usd_per_mwh,
                "grid_carbon_kg_per_mwh": region.grid_carbon_intensity_kg_per_mwh,
                "powered_shell": site.powered_shell,
            }
        )
    default_system = cat.system(scn.systems.default)
    acc = cat.accelerator(default_system.accelerator)
    workloads = []
    for wl in scn.workloads:
        model = cat.model(wl.model)
        workloads.append(
            {
                "model": model.id,
                "hf_id": model.hf_id,
                "architecture": model.architecture,
                "total_params": model.total_params,
                "active_params": _active_params(model),
                "share": wl.share,
                "precision": wl.precision,
                "isl_tokens": wl.isl_tokens,
                "osl_tokens": wl.osl_tokens,
                "ttft_p99_ms": wl.slo.ttft_p99_ms,
                "tpot_p99_ms": wl.slo.tpot_p99_ms,
                "speculative_tokens": wl.speculative_tokens,
                "weights_bytes": float(model.total_params) * BYTES_PER_PARAM[wl.precision],
                "tpot_floor_ms": tpot_floor_s(model, acc, wl.precision, wl.speculative_tokens) * 1e3,
            }
        )
    return {
        "name": scn.name,
        "seed": scn.seed,
        "catalog_version": cat.version,
        "total_power_mw": sum(s.power_mw for s in scn.sites),
        "sites": sites,
        "systems": {"default": default_system.id, "candidates": [cat.system(c).id for c in scn.systems.candidates]},
        "workloads": workloads,
        "rollout_method": scn.rollout.method,
        "start_date": scn.rollout.start_date.isoformat(),
        "cost_profile": cat.get("costs", scn.finance.cost_profile).id,
        "device_count": sum(f.count for f in scn.devices.fleets),
        "offload_model": scn.devices.offload_model,
        "scenario": scn.model_dump(mode="json"),
    }
