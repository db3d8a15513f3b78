"""The operations stage, ``run_operations``: per site the fleet (design), its serving layouts
(serving), the failure model and blast radius, the spares and crews optimisation
(build -> solve -> apply), availability per month over the horizon (rollout acceptances, early
life) and the goodput lost; optionally the serving simulator with failures injected."""
from __future__ import annotations

import dataclasses
import datetime as dt
import math
from typing import Any

import numpy as np

from gigafactory.catalog import Catalog
from gigafactory.operations import optimize
from gigafactory.operations.availability import monthly_capacity
from gigafactory.operations.blast import ServingLayout
from gigafactory.operations.catalog import FailureCatalog, load_failures
from gigafactory.operations.model import (
    Decision,
    SiteFleet,
    scaled_catalog,
    site_availability,
)
from gigafactory.operations.reliability import SECONDS_PER_YEAR
from gigafactory.results.design import DesignResult, SiteResult
from gigafactory.results.operations import (
    FailureClassInfo,
    FailureSimulation,
    Llama3Check,
    MonthCapacity,
    OperationsResult,
    OperationsTotal,
    SiteOperations,
    SparePool,
)
from gigafactory.results.rollout import RolloutResult
from gigafactory.results.serving import ServingResult

#: GPU-hour value when the scenario names none: the default scenario's take-or-pay contract price
#: (B300-class reserved, demand/data/market.yaml gpu_hour_prices) [USD/GPU-h].
DEFAULT_GPU_HOUR_VALUE_USD = 3.5
#: Llama 3 pre-training (Meta, "The Llama 3 Herd of Models", arXiv 2407.21783, 2024, table 5)
LLAMA3_GPUS, LLAMA3_NODES, LLAMA3_DAYS, LLAMA3_INTERRUPTIONS = 16_384, 2_048, 54, 419


@dataclasses.dataclass(frozen=True)
class OperationsSpec:
    """Operations settings (proposed scenario section ``operations``).

    gpu_hour_value_usd: value of a serving GPU-hour for the optimisation; None = the first
        contract's price, else finance.gpu_hour_price_usd, else 3.5 [USD/GPU-h].
    fill_rate: target share of failures met from stock; None = the data file's 0.95 [1].
    max_utilisation: most swap work per technician on duty [1].
    max_technicians: most technicians on duty per site; None = no limit [count].
    failure_rate_scale: multiplier on every failure rate (sensitivity) [1].
    max_retries: times a request is re-sent after its replica fails [count].
    """

    gpu_hour_value_usd: float | None = None
    fill_rate: float | None = None
    max_utilisation: float = 0.85
    max_technicians: int | None = None
    failure_rate_scale: float = 1.0
    max_retries: int = 1

    def __post_init__(self) -> None:
        if not 0 < self.max_utilisation < 1 or self.failure_rate_scale < 0 or self.max_retries < 0:
            raise ValueError(f"invalid operations settings {self}")
        if self.fill_rate is not None and not 0 < self.fill_rate < 1:
            raise ValueError("fill_rate must be in (0, 1)")


def gpu_hour_value(scn: Any, spec: OperationsSpec) -> float:
    if spec.gpu_hour_value_usd is not None:
        return spec.gpu_hour_value_usd
    for c in scn.demand.contracts:
        if c.price_usd_per_gpu_hour is not None:
            return float(c.price_usd_per_gpu_hour)
    if scn.finance.gpu_hour_price_usd is not None:
        return float(scn.finance.gpu_hour_price_usd)
    return DEFAULT_GPU_HOUR_VALUE_USD


def site_layouts(cat: Catalog, fc: FailureCatalog, site: SiteResult, serving: ServingResult) -> tuple[tuple[ServingLayout, float], ...]:
    """The serving layouts on the site's system, weighted by the share of GPUs each serves."""
    from gigafactory.perf.hardware import hardware_from_catalog

    domain = int(hardware_from_catalog(cat, site.system).domain_gpus)
    nvl = domain >= int(fc.rack_value("gpus_per_tray")) * int(fc.rack_value("compute_trays"))
    per_tray = int(fc.rack_value("gpus_per_tray")) if nvl else domain
    cordon = int(fc.rack_value("cordon_trays_out")) if nvl else 0

    def lay(g: int) -> ServingLayout:
        return ServingLayout(int(g), domain, per_tray, cordon)

    out: list[tuple[ServingLayout, float]] = []
    for w in serving.systems.get(site.system, []):
        cfg = w.config
        if cfg is None or w.share <= 0:
            continue
        if cfg.mode == "disaggregated":
            pf = cfg.prefill_instances * cfg.prefill_parallel.gpus
            dec = cfg.decode_instances * cfg.parallel.gpus
            out.append((lay(cfg.prefill_parallel.gpus), w.share * pf / (pf + dec)))
            out.append((lay(cfg.parallel.gpus), w.share * dec / (pf + dec)))
        else:
            out.append((lay(cfg.parallel.gpus), w.share))
    if not out:
        out = [(lay(min(8, domain)), 1.0)]
    total = sum(x for _, x in out)
    return tuple((lay_, x / total) for lay_, x in out)


def site_fleet(cat: Catalog, fc: FailureCatalog, site: SiteResult, serving: ServingResult) -> SiteFleet:
    racks = site.compute_racks
    layouts = site_layouts(cat, fc, site, serving)
    nvl = layouts[0][0].domain_gpus >= 72
    cdus = sum(e.count for e in site.cooling_plant.equipment if "cdu" in e.id)
    per_cdu = fc.rack_value("racks_per_cdu")
    units = {"gpu": float(site.gpus), "tray": float(racks * (fc.rack_value("compute_trays") if nvl else 1)), "rack": float(racks),
             "fabric_gpu": float(site.gpus), "shelf": float(racks * (fc.rack_value("power_shelves") if nvl else 1)),
             "switch_tray": float(racks * fc.rack_value("nvlink_switch_trays") if nvl else 0.0),
             "cdu": float(cdus) if cdus else math.ceil(racks / per_cdu)}
    return SiteFleet(site.name, units, layouts, racks / units["cdu"] if units["cdu"] else per_cdu)


def llama3_check(fc: FailureCatalog) -> Llama3Check:
    """The model's rates on the Llama 3 cluster (one NIC and one fabric port per GPU, one host per node)."""
    units = {"gpu": LLAMA3_GPUS, "fabric_gpu": LLAMA3_GPUS, "tray": LLAMA3_NODES, "shelf": LLAMA3_NODES}
    dur = LLAMA3_DAYS * 86400.0
    n = sum(c.rate_per_s * units[c.per] * dur for c in fc.classes.values() if c.llama3_causes)
    return Llama3Check(predicted_interruptions=n, published_interruptions=LLAMA3_INTERRUPTIONS, predicted_mtbf_h=LLAMA3_DAYS * 24 / n)


def run_operations(cat: Catalog, scn: Any, design: DesignResult, serving: ServingResult, rollout: RolloutResult,
                   spec: OperationsSpec | None = None) -> OperationsResult:
    """The operations stage (module docstring).  Reads from the scenario: finance.cost_profile,
    finance.horizon_years, finance.gpu_hour_price_usd, demand.contracts (their prices), and the
    site names through the design."""
    from gigafactory.design.choice import mix_tok_s_per_gpu

    spec = spec or OperationsSpec()
    fc = load_failures()
    if spec.failure_rate_scale != 1.0:
        fc = scaled_catalog(fc, spec.failure_rate_scale)
    cost = cat.get("costs", scn.finance.cost_profile)
    fte_cost = float(cost.staff_loaded_cost_usd_per_year)
    value = gpu_hour_value(scn, spec)
    tok_gpu = mix_tok_s_per_gpu(design, serving)
    start = dt.date.fromisoformat(rollout.start_date)
    months = int(scn.finance.horizon_years) * 12
    k = fc.lifecycle["infant_multiplier"].value
    tau_d = fc.lifecycle["infant_decay"].value / 86400.0
    sites = []
    for site in design.sites:
        fleet = site_fleet(cat, fc, site, serving)
        prob = optimize.build(fc, fleet, value, fte_cost, spec.fill_rate, spec.max_utilisation, spec.max_technicians)
        sol = optimize.solve(prob)
        av = optimize.apply(fc, fleet, sol)
        decision = Decision(sol.technicians, sol.spares)
        su_gpus = site.gpus / site.scalable_units if site.scalable_units else 0.0
        accepts = sorted(t.end_day for t in rollout.gantt if t.kind == "accept" and t.site == site.name)
        monthly = monthly_capacity(accepts, [su_gpus] * len(accepts), start, months,
                                   lambda m, f=fleet, d=decision, a=av: site_availability(fc, f, d, multiplier=m, technician_wait_s=a.technician_wait_s,
                                                                             part_wait_s=a.part_wait_s).availability, k, tau_d)
        lost_share = 1.0 - av.availability
        spares = []
        for t in prob.terms:
            s = sol.spares[t.fru]
            spares.append(SparePool(fru=t.fru, spares=s, failures_per_year=t.rate_per_s * SECONDS_PER_YEAR, pipeline_mean=t.pipeline_mean,
                                    fill_rate=av.fill_rate[t.fru], part_wait_s=av.part_wait_s[t.fru], unit_cost_usd=t.unit_cost_usd,
                                    capex_usd=s * t.unit_cost_usd if t.unit_cost_usd is not None else 0.0))
        lost_h = lost_share * site.gpus * SECONDS_PER_YEAR / 3600.0
        sites.append(SiteOperations(
            site=site.name, system=site.system, gpus=site.gpus, compute_racks=site.compute_racks, availability=av.availability,
            lost_trays=av.lost_trays, lost_racks=av.lost_racks, lost_maintenance=av.lost_maintenance, lost_restarts=av.lost_restarts,
            tray_down_share=av.tray_down_share, cordon_probability=av.cordon_probability, failures_per_year=av.events_per_year,
            technicians_on_duty=sol.technicians, technician_fte=sol.technicians * fc.handling["technician_coverage"].value,
            technician_utilisation=av.technician_utilisation, technician_wait_s=av.technician_wait_s, spares=spares,
            spares_capex_usd=sol.spares_cost_usd, technicians_usd_per_year=sol.technicians_usd_per_year,
            waiting_cost_usd_per_year=sol.waiting_cost_usd_per_year, lost_gpu_hours_per_year=lost_h,
            lost_goodput_tok_s=lost_share * site.gpus * tok_gpu.get(site.name, 0.0), lost_value_usd_per_year=lost_h * value,
            binding_constraints=list(sol.binding), monthly=[MonthCapacity(**m) for m in monthly]))
    gpus = sum(s.gpus for s in sites)
    gpu_capex = sum(s.capex_breakdown_usd.get("gpu_systems", 0.0) for s in design.sites)
    total = OperationsTotal(
        availability=sum(s.availability * s.gpus for s in sites) / gpus if gpus else 0.0, gpus=gpus,
        failures_per_day=sum(sum(s.failures_per_year.values()) for s in sites) / 365.25,
        spares_capex_usd=sum(s.spares_capex_usd for s in sites),
        spares_share_of_it_capex=sum(s.spares_capex_usd for s in sites) / gpu_capex if gpu_capex else 0.0,
        technicians_on_duty=sum(s.technicians_on_duty for s in sites), technician_fte=sum(s.technician_fte for s in sites),
        technicians_usd_per_year=sum(s.technicians_usd_per_year for s in sites),
        lost_gpu_hours_per_year=sum(s.lost_gpu_hours_per_year for s in sites), lost_goodput_tok_s=sum(s.lost_goodput_tok_s for s in sites),
        lost_value_usd_per_year=sum(s.lost_value_usd_per_year for s in sites))
    classes = [FailureClassInfo(name=c.name, description=c.description, per=c.per, rate_per_year=c.rate.value * SECONDS_PER_YEAR,
                                rate_low_per_year=c.rate.low * SECONDS_PER_YEAR, rate_high_per_year=c.rate.high * SECONDS_PER_YEAR,
                                fru=c.fru, blast=c.blast, source=c.rate.source, date=c.rate.date, confidence=c.rate.confidence)
               for c in fc.classes.values()]
    notes = [
        ("Rates of GPU, HBM, NIC, host, PSU, network and software faults are Meta's Llama 3 counts per H100 GPU- or node-year "
        "(arXiv 2407.21783), applied to Blackwell Ultra unchanged; NVLink switch tray and CDU rates are assumptions (failures.yaml)."),
        ("Spares and technicians minimise carrying cost + crew cost + the value of GPU-hours idle waiting, at "
        f"{value:.2f} USD per GPU-hour; spares never fall below the fill-rate floor."),
        "The technician count covers hardware swaps only; the cost profile's staff_fte_per_mw already counts all on-site staff.",
    ]
    return OperationsResult(gpu_hour_value_usd=value, sites=sites, total=total, classes=classes, llama3_check=llama3_check(fc),
                            notes=notes)


def simulate_failures(cat: Catalog, scn: Any, design: DesignResult, serving: ServingResult, spec: OperationsSpec | None = None,
                      duration_s: float = 600.0, time_compression: float = 2e4, pool_index: int = 0) -> FailureSimulation:
    """The serving simulator on one pool of the scenario, with and without injected failures
    (same arrivals), and the loss per failure scaled to the real rate (``operations/serving.py``)."""
    from gigafactory.operations.serving import (
        failure_schedule,
        inject,
        replica_failure_model,
    )
    from gigafactory.pipeline.streams import stream
    from gigafactory.simulate.metrics import latency_metrics, request_arrays
    from gigafactory.simulate.run import (
        build_pool_sim,
        plan_pools,
        pool_workload,
        size_group,
    )

    spec = spec or OperationsSpec()
    fc = load_failures()
    pools = plan_pools(cat, scn, design, serving, duration_s=duration_s)
    ps = dataclasses.replace(pools[pool_index], target_ci=None, adaptive=False)
    size_group(ps, duration_s, budget=6000)
    site = next(s for s in design.sites if s.system == ps.system_id)
    fleet = site_fleet(cat, fc, site, serving)
    inst = int(ps.layout["tp"]) * int(ps.layout.get("pp", 1))
    lay = ServingLayout(inst, fleet.layouts[0][0].domain_gpus, fleet.layouts[0][0].gpus_per_tray, fleet.layouts[0][0].cordon_trays_out)
    av = site_availability(fc, fleet, Decision(10_000, {}))  # swap outage without queueing or stock-outs
    swap_down = fc.handling["detect"].value + fc.handling["restart"].value + fc.frus["compute_tray"].swap.value
    model = replica_failure_model(fc, inst, lay.gpus_per_tray, lay.slack_trays, swap_down + av.technician_wait_s)
    n_rep = ps.decode_sim + (ps.prefill_sim if ps.mode == "disaggregated" else 0)

    def run(with_failures: bool) -> tuple[dict[str, Any], int, int, int, int, float]:
        rng = np.random.default_rng(ps.seed)
        wl = pool_workload(None, ps.rate_rps * ps.decode_sim / ps.decode_total, duration_s, ps.isl, ps.osl, rng)
        sim, _ = build_pool_sim(cat, ps, wl, duration_s)
        fails, down_s = 0, 0.0
        if with_failures:
            sched = failure_schedule(model, ps.name, n_rep, duration_s, stream(scn.seed, f"operations.failures.{ps.name}"), time_compression)
            inject(sim, sched, spec.max_retries)
            fails = len(sched)
            down_s = sum(min(i.down_s, duration_s - t) for t, i in sched)
        sim.run()
        a = request_arrays(sim)
        mask = a["arrival"] < duration_s
        lm = latency_metrics(a, mask, ps.slo, duration_s)
        pool = sim.pools[0]
        return lm, fails, int(mask.sum()), pool.retried, pool.failed, down_s

    base, _, n, _, _, _ = run(False)
    hit, fails, _, retried, failed, down_s = run(True)
    # SLO-meeting requests lost per replica-second out (outages cut at the run's end), then at the real rate
    per_down_s = (base["goodput_rps"] - hit["goodput_rps"]) * duration_s / down_s if down_s else 0.0
    real_down = n_rep * sum(model.rate_per_s[c] * model.down_s[c] for c in model.rate_per_s)  # replica-s out per s
    real_share = per_down_s * real_down / base["goodput_rps"] if base["goodput_rps"] else 0.0
    return FailureSimulation(pool=ps.name, failures=fails, time_compression=time_compression, requests=n, retried=retried, failed=failed,
                             goodput_rps_without=base["goodput_rps"], goodput_rps_with=hit["goodput_rps"],
                             ttft_p99_s_without=base["ttft_s"]["p99"], ttft_p99_s_with=hit["ttft_s"]["p99"],
                             goodput_lost_per_replica_down_s=per_down_s, real_goodput_loss_share=real_share)
