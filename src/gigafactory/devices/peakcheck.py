"""The device fleets' peak hour on the serving simulator: how many whole serving units of the
offload model the static and the fleet-aware peak need to meet its SLO.

The devices stage sizes the peaks in output tokens/s at the workload's serving rate, which holds
for the workload's lengths; device requests carry a long context per output token (a chat
history), so prefill, not decode, may bound them.  This replays the peak hour on the
discrete-event simulator (the offload model's serving configuration, continuous batching, KV
admission) with that hour's requests: the offloaded ones (their mean context and output) and the
model's other segments (the workload's lengths), Poisson within the hour; and finds the fewest
units meeting the SLO for ``TARGET_ATTAINMENT`` of requests, for each peak.  Then the static
peak on the fleet-aware sizing shows what happens if the devices do not absorb the peak.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from gigafactory.catalog import Catalog
from gigafactory.errors import InputError, Problem
from gigafactory.results.design import DesignResult
from gigafactory.results.devices import DevicesResult, PeakCase
from gigafactory.results.serving import ServingResult
from gigafactory.scenario.model import Scenario

DURATION_S = 120.0  # arrival window of each run [s]; Poisson arrivals at thousands per second fill it
TARGET_ATTAINMENT = 0.99  # share of requests meeting both p99 limits the sizing asks for
MAX_UNITS = 4096


def _peak_hour(res: DevicesResult, aware: bool) -> tuple[float, float]:
    """(device load, other load) in the hour of the week where their sum peaks [output tokens/s]."""
    a = res.fleet_aware
    dev = np.asarray(a.aware_device_tok_s if aware else a.static_device_tok_s)
    other = np.asarray(res.other_output_tok_s)
    h = int(np.argmax(dev + other))
    return float(dev[h]), float(other[h])


def _label(spec) -> str:
    from gigafactory.perf.layout import Layout

    def lab(d) -> str:
        return Layout(tp=int(d["tp"]), pp=int(d.get("pp", 1)), ep=int(d.get("ep", 1)), dp_attention=bool(d.get("dp_attention", False))).label()

    if spec.mode == "disaggregated":
        return f"{spec.prefill_per_unit}x {lab(spec.prefill_layout)} prefill + {spec.decode_per_unit}x {lab(spec.layout)} decode"
    return f"aggregated {lab(spec.layout)}"


def peak_hour_check(cat: Catalog, scn: Scenario, design: DesignResult, serving: ServingResult, res: DevicesResult,
                    duration_s: float = DURATION_S, target: float = TARGET_ATTAINMENT) -> list[PeakCase]:
    """Size the offload pool for the static and the fleet-aware peak hour by simulation: the
    fewest whole serving units whose simulated SLO attainment reaches ``target`` (doubling, then
    bisection); then the static peak on the fleet-aware sizing."""
    from gigafactory.simulate.run import plan_pools, run_pool, size_group

    if res.fleet_aware is None or res.offload_model is None:
        raise InputError([Problem("no fleet-aware comparison to check: it needs device fleets, offloaded requests and a quality-threshold "
                                  "or fleet-aware policy", field="devices.policy", value=scn.devices.policy,
                                  fix="use policy quality-threshold or fleet-aware", check="devices")])
    main = max(design.sites, key=lambda s: s.gpus)
    wl = next(w for w in scn.workloads if cat.model(w.model).id == res.offload_model)

    def pool_for(isl: float, osl: float):
        """The offload model's pool with the serving configuration the perf search picks for these
        lengths under its SLO (a factory would not serve a chat-history mix with a 1,024/1,024 layout)."""
        from gigafactory.design.choice import serving_for_system
        from gigafactory.results.serving import ServingResult

        w = wl.model_copy(update={"isl_tokens": max(1, int(round(isl))), "osl_tokens": max(1, int(round(osl)))})
        variant = scn.model_copy(update={"workloads": [w]})
        rows = serving_for_system(cat, variant, main.system)
        specs = plan_pools(cat, variant, design, ServingResult(systems={main.system: rows}))
        if not specs:
            raise InputError([Problem(f"{res.offload_model} has no serving configuration on {main.system} at {isl:.0f}/{osl:.0f} tokens under "
                                      "its SLO", field="devices.offload_model", value=res.offload_model, fix="relax the workload's SLO",
                                      check="devices")])
        return specs[0]

    def load(aware: bool) -> tuple[float, float, float, float]:
        dev, other = _peak_hour(res, aware)
        dev_rps = dev / res.cloud_mean_output_tokens if res.cloud_mean_output_tokens else 0.0
        other_rps = other / wl.osl_tokens
        rps = dev_rps + other_rps
        isl = (dev_rps * res.cloud_input_tokens_per_output * res.cloud_mean_output_tokens + other_rps * wl.isl_tokens) / rps
        osl = (dev_rps * res.cloud_mean_output_tokens + other_rps * wl.osl_tokens) / rps
        return rps, isl, osl, dev_rps / rps if rps else 0.0

    bases: dict[bool, object] = {}

    def simulate(units: int, aware: bool, name: str, sized_for: bool | None = None) -> PeakCase:
        rps, isl, osl, share = load(aware)
        key = aware if sized_for is None else sized_for
        if key not in bases:
            bases[key] = pool_for(*load(key)[1:3])
        base = bases[key]
        spec = dataclasses.replace(base, units_total=units, rate_rps=rps, isl=isl, osl=osl, target_ci=None, adaptive=False,
                                   name=f"{base.name}/devices-peak")
        size_group(spec, duration_s)
        block, _ = run_pool(cat, spec, None, duration_s)
        return PeakCase(case=name, layout=_label(spec), units=units, gpus=units * spec.gpus_per_unit, rate_rps=rps, device_share=share,
                        slo_attainment=float(block["slo_attainment"] or 0.0), ttft_p99_s=block["ttft_s"]["p99"], tpot_p99_s=block["tpot_s"]["p99"],
                        requests_simulated=int(block["arrived"]))

    def smallest(aware: bool, name: str, start: int) -> PeakCase:
        lo, hi = 0, max(1, start)
        best = simulate(hi, aware, name)
        while best.slo_attainment < target:
            if hi >= MAX_UNITS:
                return best
            lo, hi = hi, min(MAX_UNITS, hi * 2)
            best = simulate(hi, aware, name)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            trial = simulate(mid, aware, name)
            if trial.slo_attainment >= target:
                hi, best = mid, trial
            else:
                lo = mid
        return best

    a = res.fleet_aware
    static = smallest(False, "static peak: fewest units meeting the SLO", a.static_units)
    aware = smallest(True, "fleet-aware peak: fewest units meeting the SLO", a.aware_units)
    cross = simulate(aware.units, False, "static peak on the fleet-aware sizing", sized_for=True)
    return [static, aware, cross]
