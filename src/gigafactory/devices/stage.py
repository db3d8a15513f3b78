"""The devices stage: route each fleet's requests between the device and the factory, and turn
the offloaded ones into load on the factory (a demand segment of the offload model).

Steps: the on-device model gives each fleet's local rates (thermally derated at a few minutes of
use); a sample of requests gets both routes' latencies (`fleet.py`); the policy's threshold is
calibrated to the fleet's target offload share; the routed sample gives shares, latency
percentiles and energy; the fleet's rate by region and hour of the week gives the hourly load;
the queue at the factory comes from the M/M/c closed form at the peak hour.  The fleet-aware
comparison water-fills the same weekly offloaded tokens under the factory's other load of the
offload model and reports the GPUs that saves.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from gigafactory.catalog import Catalog
from gigafactory.devices import fleet as fl
from gigafactory.devices.network import load_network
from gigafactory.devices.queueing import mmc_mean_wait_s, mmc_wait_quantile_s
from gigafactory.devices.routing import POLICIES, PolicyContext, calibrate_threshold, route
from gigafactory.errors import InputError, Problem
from gigafactory.pipeline.streams import stream
from gigafactory.results.design import DesignResult
from gigafactory.results.devices import DevicesResult, FleetAwareComparison, FleetDevices, LatencyPercentiles
from gigafactory.results.rollout import RolloutResult
from gigafactory.results.serving import ServingResult
from gigafactory.scenario.model import Scenario

GRID = np.linspace(0.0, 1.0, 101)
#: Context the device answers locally: every measured on-device build in the Qualcomm AI Hub
#: table is compiled for 4,096 tokens (devices/data/qaihub_llm_perf.csv, context_length).
DEVICE_CONTEXT_TOKENS = 4096


def _percentiles(mask: np.ndarray, ttft: np.ndarray, e2e: np.ndarray) -> LatencyPercentiles:
    if not mask.any():
        return LatencyPercentiles(requests_share=0.0, ttft_p50_s=None, ttft_p90_s=None, ttft_p99_s=None, e2e_p50_s=None, e2e_p90_s=None, e2e_p99_s=None)
    t = np.percentile(ttft[mask], [50, 90, 99])
    e = np.percentile(e2e[mask], [50, 90, 99])
    return LatencyPercentiles(requests_share=float(mask.mean()), ttft_p50_s=float(t[0]), ttft_p90_s=float(t[1]), ttft_p99_s=float(t[2]),
                              e2e_p50_s=float(e[0]), e2e_p90_s=float(e[1]), e2e_p99_s=float(e[2]))


def _empty(scn: Scenario, note: str) -> DevicesResult:
    return DevicesResult(policy=scn.devices.policy, offload_model=None, fleets=[], devices=0, requests_per_day=0.0, cloud_share=0.0,
                         cloud_output_tokens_per_day=0.0, cloud_input_tokens_per_output=0.0, cloud_mean_output_tokens=0.0,
                         other_output_tok_s=[0.0] * fl.HOURS_PER_WEEK, growth_per_year=0.0,
                         hour_of_week_profile=[1.0] * fl.HOURS_PER_WEEK, peak_to_mean=1.0, offload_capacity_tok_s=0.0, peak_utilisation=0.0,
                         queue_wait_p99_s=0.0, devices_per_gw=0.0, device_tok_s_gpu=0.0, capacity_cost_ratio=1.0, factory_j_per_output_token=0.0, cloud_cost_usd_per_mtok=0.0,
                         fleet_aware=None, rtt_model="", notes=[note])


def _bad(message: str, field: str, value, expected: str, fix: str, check: str = "devices") -> InputError:
    return InputError([Problem(message, field=field, value=value, expected=expected, fix=fix, check=check)])


def fleet_local_performance(dev_cat, f, i: int):
    """(LocalPerf, local window [tokens]) of fleet ``f``; InputError naming the fleet's field."""
    from gigafactory.devices.perf import local_performance

    where = f"devices.fleets[{i}]"
    try:
        window = min(dev_cat.model(f.local_model).max_context_tokens, DEVICE_CONTEXT_TOKENS)
        perf = local_performance(f.device, f.local_model, f.precision, context_tokens=window, sustained_s=fl.SUSTAINED_USE_S, cat=dev_cat)
    except InputError as exc:
        raise InputError([dataclasses.replace(p, field=f"{where}.{_field_of(p)}", check=p.check or "devices") for p in exc.problems]) from None
    if not perf.fits:
        raise _bad(f"{f.local_model} ({perf.precision}) with a {window}-token context needs {perf.memory_needed_gb:.1f} GB but {f.device} "
                   f"has {perf.memory_available_gb:.1f} GB for it", f"{where}.local_model", f.local_model, "a model that fits the device's memory",
                   "pick a smaller model or a lower precision", "device-model-fits")
    return perf, window


def _field_of(p: Problem) -> str:
    """Which fleet field a device-catalog problem is about."""
    text = f"{p.message} {p.field or ''}".lower()
    if "precision" in text:
        return "precision"
    if "model" in text:
        return "local_model"
    return "device"


def _rate_at(cat: Catalog, wl, system_id: str, isl: float, osl: float) -> float | None:
    """Best output tokens/s per GPU of the workload's model at other lengths, under its SLO."""
    from gigafactory.design.choice import serving_for_system

    variant = Scenario.model_construct(workloads=[wl.model_copy(update={"isl_tokens": max(1, int(round(isl))),
                                                                         "osl_tokens": max(1, int(round(osl))), "share": 1.0})])
    rows = serving_for_system(cat, variant, system_id)
    return rows[0]["tok_s_gpu"] or None


def run_devices(cat: Catalog, scn: Scenario, design: DesignResult, serving: ServingResult, rollout: RolloutResult | None = None) -> DevicesResult:
    """The devices stage (see the module docstring)."""
    spec = scn.devices
    if not spec.fleets:
        return _empty(scn, "no device fleets in the scenario")
    if spec.policy not in POLICIES:
        raise _bad(f"unknown routing policy '{spec.policy}'", "devices.policy", spec.policy, "one of " + ", ".join(POLICIES),
                   "pick a registered policy (gigafactory devices --policies)", "device-policy")
    if not spec.offload_model:
        raise _bad("device fleets but no offload model", "devices.offload_model", None, "a workload's model id",
                   "set devices.offload_model to one of the workloads' models", "device-offload-model")
    from gigafactory.demand.profiles import hourly_profile
    from gigafactory.demand.serve import rental_price_usd_per_gpu_hour
    from gigafactory.devices.catalog import load_device_catalog
    from gigafactory.devices.network import check_region

    net = load_network()
    dev_cat = load_device_catalog()
    model_id = cat.model(spec.offload_model).id
    wl = next((w for w in scn.workloads if cat.model(w.model).id == model_id), None)
    if wl is None:
        raise _bad(f"offload model {model_id} is not served by any workload", "devices.offload_model", spec.offload_model,
                   "one of the workloads' models", "add a workload for it or pick a served model", "device-offload-model")
    main = max(design.sites, key=lambda s: s.gpus)
    row = next((r for r in serving.systems[main.system] if r.model == model_id), None)
    if row is None or row.config is None or row.tok_s_gpu <= 0:
        raise _bad(f"{model_id} has no serving configuration on {main.system} under its SLO, so the factory cannot take offloaded requests",
                   "devices.offload_model", spec.offload_model, "a model the factory serves under its SLO", "relax the workload's SLO or pick another model",
                   "device-offload-model")
    cfg = row.config
    contract_share = sum(c.share_of_gpus for c in scn.demand.contracts)
    capacity = 0.0
    for site in design.sites:
        r = next((x for x in serving.systems[site.system] if x.model == model_id), None)
        capacity += site.gpus * (1.0 - contract_share) * wl.share * (r.tok_s_gpu if r else 0.0)
    coords = tuple((cat.get("regions", s.region).latitude_deg, cat.get("regions", s.region).longitude_deg) for s in scn.sites)
    cloud = fl.CloudPath(ttft_s=cfg.ttft_s, isl_tokens=float(wl.isl_tokens), tpot_s=cfg.tpot_s, site_coords=coords)

    # the factory's other load on the offload model, per UTC hour of the week [output tokens/s]
    other = np.zeros(fl.HOURS_PER_WEEK)
    for seg in scn.demand.tokens:
        if cat.model(seg.model).id == model_id:
            other += seg.output_tokens_per_day / 86400.0 * np.asarray(hourly_profile(seg.profile), dtype=float)

    samples: list[fl.FleetSample] = []
    perfs, thetas, rates, attrs_all, windows = [], [], [], [], []
    for i, f in enumerate(spec.fleets):
        for r in f.regions:
            check_region(r, f"devices.fleets[{i}].regions")
        try:
            profile = np.asarray(hourly_profile(f.profile), dtype=float)
        except InputError as exc:
            p0 = exc.problems[0]
            raise _bad(p0.message, f"devices.fleets[{i}].profile", f.profile, p0.expected or "a profile name", p0.fix or "pick a listed profile") from None
        perf, window = fleet_local_performance(dev_cat, f, i)
        region_names = list(f.regions)
        attrs = fl.sample_requests(spec.sample_requests, stream(scn.seed, f"devices.fleet.{f.name}"), turns_mean=f.turns_per_conversation,
                                   privacy_local=f.privacy_local_share, privacy_attested=f.privacy_attested_share,
                                   connectivity=dict(f.connectivity or net.connectivity_shares), battery_low=f.battery_low_share,
                                   regions=[f.regions[r] for r in region_names])
        perfs.append(perf)
        windows.append(window)
        attrs_all.append(attrs)
        rates.append(fl.weekly_rate(f.count * f.requests_per_device_per_day, profile, f.regions, net) / 3600.0)  # requests/s per hour

    # two passes: route without queueing, size the queue at the peak hour, route again with it
    wait_mean, wait_p99, peak_util = 0.0, 0.0, 0.0
    for _ in range(2):
        samples, thetas = [], []
        for i, f in enumerate(spec.fleets):
            fs = fl.build_sample(f.name, attrs_all[i], perfs[i].prefill_tok_s, perfs[i].decode_tok_s, windows[i], net, list(f.regions), cloud, wait_mean)
            theta = calibrate_threshold(fs.req, spec.policy, f.offload_fraction, spec.factory_attested)
            samples.append(fs)
            thetas.append(theta)
        cloud_masks = [route(fs.req, spec.policy, PolicyContext(th), spec.factory_attested) for fs, th in zip(samples, thetas)]
        dev_load = sum(rates[i] * float((samples[i].req.output_tokens * cloud_masks[i]).mean()) for i in range(len(samples)))
        req_rate = sum(rates[i] * float(cloud_masks[i].mean()) for i in range(len(samples)))
        off_mask = np.concatenate(cloud_masks)
        service = float(np.concatenate([fs.cloud_service_s for fs in samples])[off_mask].mean()) if off_mask.any() else cfg.ttft_s
        h = int(np.argmax(dev_load + other))  # (refined below in workload-equivalent tokens for sizing)
        lam = float(req_rate[h] + other[h] / wl.osl_tokens)
        servers = max(1, int(round(capacity * cfg.tpot_s)))  # sequences in flight the offload pool holds
        peak_util = float((dev_load[h] + other[h]) / capacity) if capacity > 0 else float("inf")
        wait_mean = mmc_mean_wait_s(servers, lam, service)
        wait_p99 = mmc_wait_quantile_s(servers, lam, service, 0.99)
        if not np.isfinite(wait_mean):
            wait_mean = wait_p99 = float("inf")
            break
    notes: list[str] = []
    if not np.isfinite(wait_mean):
        notes.append(f"the peak hour's load on {model_id} exceeds its capacity under SLO ({peak_util:.0%}): offloaded requests queue without bound")
        wait_mean_used = 0.0
    else:
        wait_mean_used = wait_mean

    # device requests carry a chat history: their serving rate under the same SLO, at their own
    # lengths, prices their tokens in the factory's capacity (workload-equivalent tokens)
    masks_all = np.concatenate(cloud_masks)
    ctx_all = np.concatenate([fs.req.context_tokens for fs in samples])[masks_all]
    out_all = np.concatenate([fs.req.output_tokens for fs in samples])[masks_all]
    dev_isl = float(ctx_all.mean()) if ctx_all.size else float(wl.isl_tokens)
    dev_osl = float(out_all.mean()) if out_all.size else float(wl.osl_tokens)
    dev_rate = _rate_at(cat, wl, main.system, dev_isl, dev_osl) or row.tok_s_gpu
    cost_ratio = row.tok_s_gpu / dev_rate
    if capacity > 0:
        peak_util = float((cost_ratio * dev_load + other).max() / capacity)

    # fleet-aware: the same weekly offloaded tokens, water-filled under the factory's other load
    util = spec.max_factory_utilisation
    aware = None
    weekly_dev = dev_load
    if spec.policy in ("quality-threshold", "fleet-aware") and float(dev_load.sum()) > 0:
        curves = [fl.cloud_tokens_curve(fs, "fleet-aware", PolicyContext(0.5), spec.factory_attested, GRID) for fs in samples]
        rate_mat = np.stack(rates, axis=1)  # hours x fleets
        toks_mat = np.stack([c[0] for c in curves], axis=0)  # fleets x grid
        load_grid = rate_mat @ toks_mat  # hours x grid: device load at each threshold
        # in workload-equivalent tokens/s: a device token costs cost_ratio of the workload's
        aware_eq, aware_peak = fl.water_fill(other, cost_ratio * load_grid[:, -1], cost_ratio * load_grid[:, 0], cost_ratio * float(dev_load.sum()))
        aware_dev = aware_eq / cost_ratio
        theta_h = np.array([np.interp(aware_dev[k], load_grid[k, ::-1], GRID[::-1]) for k in range(fl.HOURS_PER_WEEK)])
        static_peak = float((cost_ratio * dev_load + other).max())
        gpus_static = static_peak / (row.tok_s_gpu * util)
        gpus_aware = aware_peak / (row.tok_s_gpu * util)
        aware = FleetAwareComparison(
            static_peak_tok_s=static_peak, aware_peak_tok_s=aware_peak, static_gpus=gpus_static, aware_gpus=gpus_aware,
            gpus_saved=gpus_static - gpus_aware, gpus_saved_share=(gpus_static - gpus_aware) / gpus_static if gpus_static else 0.0,
            unit_gpus=cfg.gpus, static_units=int(np.ceil(gpus_static / cfg.gpus - 1e-9)), aware_units=int(np.ceil(gpus_aware / cfg.gpus - 1e-9)),
            static_device_tok_s=dev_load.tolist(), aware_device_tok_s=aware_dev.tolist(),
            threshold_min=float(theta_h.min()), threshold_max=float(theta_h.max()))
        if spec.policy == "fleet-aware":
            weekly_dev = aware_dev

    # per fleet figures
    gpus_total = design.total.gpus
    j_per_tok = design.total.facility_power_mw * 1e6 / gpus_total / dev_rate
    rent, _ = rental_price_usd_per_gpu_hour(cat, scn, main.system)
    usd_per_mtok = rent / (dev_rate * 3600.0 / 1e6)
    fleets: list[FleetDevices] = []
    in_tok = out_tok = cloud_req = 0.0
    total_req = 0.0
    for i, (f, fs, th, mask, perf) in enumerate(zip(spec.fleets, samples, thetas, cloud_masks, perfs)):
        req = fs.req
        if spec.policy == "fleet-aware" and aware is not None:  # the week's request-weighted mean share at the hourly thresholds
            share_h = np.interp(theta_h, GRID, curves[i][1])
            cloud_share = float((rates[i] * share_h).sum() / rates[i].sum()) if rates[i].sum() > 0 else 0.0
            tok_per_req = float((rates[i] * np.interp(theta_h, GRID, curves[i][0])).sum() / rates[i].sum()) if rates[i].sum() > 0 else 0.0
        else:
            cloud_share = float(mask.mean())
            tok_per_req = float((req.output_tokens * mask).mean())
        local_mask = ~mask
        forced_local = req.offline | (req.privacy == 2) | ((req.privacy == 1) & (not spec.factory_attested))
        per_day = f.count * f.requests_per_device_per_day
        cloud_tokens_day = per_day * tok_per_req
        e_dev = np.array([perf.energy_j(int(c), int(o)) for c, o in zip(req.context_tokens[local_mask][:2000], req.output_tokens[local_mask][:2000])])
        e_dev_mean = float(e_dev.mean()) * float(local_mask.mean()) if e_dev.size else 0.0
        e_fac = tok_per_req * j_per_tok
        local_e2e = req.local_e2e_s
        cloud_e2e = fs.rtt_s + wait_mean_used + fs.cloud_service_s
        fleets.append(FleetDevices(
            name=f.name, device=f.device, local_model=perf.model, precision=perf.precision, devices=f.count, requests_per_day=per_day, threshold=th,
            cloud_share=cloud_share, forced_local_share=float(forced_local.mean()), forced_cloud_share=float((~req.local_fits & ~forced_local).mean()),
            local_prefill_tok_s=perf.prefill_tok_s, local_decode_tok_s=perf.decode_tok_s, local_window_tokens=windows[i],
            local=_percentiles(local_mask, fs.local_ttft_s, local_e2e), cloud=_percentiles(mask, fs.cloud_ttft_s, cloud_e2e),
            energy_device_j_per_request=e_dev_mean, energy_factory_j_per_request=e_fac, cloud_output_tokens_per_day=cloud_tokens_day,
            cloud_cost_usd_per_user_month=(cloud_tokens_day / max(f.count, 1)) * 365.25 / 12 / 1e6 * usd_per_mtok))
        in_tok += per_day * float((req.context_tokens * mask).mean())
        out_tok += per_day * float((req.output_tokens * mask).mean())
        total_req += per_day
        cloud_req += per_day * float(mask.mean())
    devices = sum(f.count for f in spec.fleets)
    cloud_day = sum(x.cloud_output_tokens_per_day for x in fleets)
    mean_dev = float(weekly_dev.mean())
    profile = (weekly_dev / mean_dev).tolist() if mean_dev > 0 else [1.0] * fl.HOURS_PER_WEEK
    per_device_peak = float(weekly_dev.max()) / devices if devices else 0.0
    gpus_per_gw = gpus_total / (design.total.facility_power_mw / 1e3)
    growth = sum(f.growth_per_year * f.count * f.requests_per_device_per_day for f in spec.fleets) / total_req if total_req else 0.0
    if peak_util > util:
        notes.append(f"peak-hour load on {model_id} is {peak_util:.0%} of its capacity under SLO, above max_factory_utilisation {util:.0%}")
    notes.append("device energy counts the model's compute only (radio energy of offloaded requests is not modelled)")
    return DevicesResult(
        policy=spec.policy, offload_model=model_id, fleets=fleets, devices=devices, requests_per_day=total_req,
        cloud_share=sum(x.cloud_share * x.requests_per_day for x in fleets) / total_req if total_req else 0.0,
        cloud_output_tokens_per_day=cloud_day, cloud_input_tokens_per_output=in_tok / out_tok if out_tok else 0.0,
        cloud_mean_output_tokens=out_tok / cloud_req if cloud_req else 0.0, other_output_tok_s=other.tolist(), growth_per_year=growth,
        hour_of_week_profile=profile, peak_to_mean=float(weekly_dev.max() / mean_dev) if mean_dev > 0 else 1.0,
        offload_capacity_tok_s=capacity, peak_utilisation=peak_util, queue_wait_p99_s=wait_p99,
        devices_per_gw=gpus_per_gw * dev_rate * util / per_device_peak if per_device_peak > 0 else 0.0,
        device_tok_s_gpu=dev_rate, capacity_cost_ratio=cost_ratio,
        factory_j_per_output_token=j_per_tok, cloud_cost_usd_per_mtok=usd_per_mtok, fleet_aware=aware,
        rtt_model=(f"access RTT by connectivity (Ofcom 2024) + {net.wan_ms_per_km * 100:.2f} ms per 100 km great-circle to the nearest site "
                   f"(fit on measured pings, median error {net.wan_fit_median_ape:.0%})"),
        notes=notes)

