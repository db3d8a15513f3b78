"""The demand stage: demand against capacity under SLO, hour by hour over the horizon.

Capacity comes from the rollout (each scalable unit serves from its acceptance) and the serving
stage (tokens/s per GPU of each model on each site's system, under its SLO).  Contracts take
their share of every GPU as it comes online, for their term, paid whether used or not; the rest
is the token pool, split between models by the workloads' shares.  Each model's demand is the sum
of its segments (tokens/day at the start x yearly growth x an hour-of-week shape from real
traces); served = min(demand, capacity) in every hour, shared between segments in proportion to
their demand.  Prices: the scenario's, else the providers' median (demand/data/prices.yaml),
declining by `finance.price_decline_per_year` (a number, or the next generation's cost per
token: demand/decline.py) but never below what a buyer would pay to rent
GPUs and serve the same tokens (the floor).

Without demand segments or contracts the old assumption stands, flagged: `finance.utilisation`
of capacity sold at the workloads' list prices.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from gigafactory.catalog import Catalog
from gigafactory.errors import InputError, Problem
from gigafactory.results.demand import DemandMonth, DemandResult, ModelDemand, SegmentResult
from gigafactory.results.design import DesignResult
from gigafactory.results.devices import DevicesResult
from gigafactory.results.operations import OperationsResult
from gigafactory.results.rollout import RolloutResult
from gigafactory.results.serving import ServingResult
from gigafactory.scenario.model import Scenario

HOURS_PER_DAY = 24.0
HOURS_PER_YEAR = 365.25 * 24
HOURS_PER_MONTH = HOURS_PER_YEAR / 12
HOURS_PER_WEEK = 168


def online_gpus(design: DesignResult, rollout: RolloutResult, hours: int) -> dict[str, np.ndarray]:
    """Per site: GPUs in service in each hour (each scalable unit from its acceptance)."""
    out: dict[str, np.ndarray] = {}
    for site in design.sites:
        accepts = sorted(t.end_day for t in rollout.gantt if t.site == site.name and t.kind == "accept")
        series = np.zeros(hours)
        per_su = site.gpus / max(len(accepts), 1)
        for day in accepts:
            h = int(np.ceil(day * HOURS_PER_DAY))
            if h < hours:
                series[h:] += per_su
        out[site.name] = series
    return out


def availability_series(operations: OperationsResult | None, site: str, hours: int) -> np.ndarray:
    """Per hour, the share of a site's installed GPUs that serve (the operations stage's month by
    month figure; its steady state in a month with nothing installed yet); 1 without operations."""
    if operations is None:
        return np.ones(hours)
    so = next((s for s in operations.sites if s.site == site), None)
    if so is None:
        return np.ones(hours)
    per_month = np.array([m.availability if m.installed_gpus > 0 else so.availability for m in so.monthly] or [so.availability])
    idx = np.minimum((np.arange(hours) / HOURS_PER_MONTH).astype(int), per_month.size - 1)
    return per_month[idx]


def hour_of_week(start_weekday: int, hours: int) -> np.ndarray:
    """Hour-of-week index (0 = Monday 00:00) of each hour from a start on ``start_weekday`` (Monday 0)."""
    return (start_weekday * 24 + np.arange(hours)) % HOURS_PER_WEEK


def price_path(list_price: float, decline_per_year: float, floor: float, hours: int) -> np.ndarray:
    """Price in each hour: the list price declining yearly, never below the floor [USD/Mtok]."""
    t = np.arange(hours) / HOURS_PER_YEAR
    return np.maximum(list_price * (1.0 - decline_per_year) ** t, floor)


def monthly(series: np.ndarray, months: int) -> np.ndarray:
    """Sum of an hourly series over each month."""
    idx = np.minimum((np.arange(series.size) / HOURS_PER_MONTH).astype(int), months - 1)
    return np.bincount(idx, weights=series, minlength=months)[:months]


def _profile(name: str, where: str) -> np.ndarray:
    from gigafactory.demand.profiles import hourly_profile

    try:
        return np.asarray(hourly_profile(name), dtype=float)
    except InputError as exc:  # name the scenario field
        raise InputError([dataclasses.replace(p, field=where, check="demand-profile") for p in exc.problems]) from None


def _list_prices(model_id: str, wl, seg, where: str) -> tuple[float, float, str]:
    """(input, output) list price [USD/Mtok] and where it comes from: the segment's, the workload's,
    else the providers' median."""
    p_in = seg.price_input_usd_per_mtok if seg is not None else None
    p_out = seg.price_output_usd_per_mtok if seg is not None else None
    if p_out is not None:
        return (p_in if p_in is not None else 0.0), p_out, "scenario (demand segment)"
    if wl.price_output_usd_per_mtok is not None:
        return (wl.price_input_usd_per_mtok or 0.0), wl.price_output_usd_per_mtok, "scenario (workload list price)"
    from gigafactory.demand.market import price_summary

    try:
        s = price_summary(model_id)
    except KeyError:
        raise InputError([Problem(f"no price for {model_id}: the scenario gives none and demand/data/prices.yaml has no provider for it",
                                  field=where, value=model_id, expected="a price in USD per million output tokens",
                                  fix="set price_output_usd_per_mtok (and price_input_usd_per_mtok) on the segment", check="demand-price")]) from None
    return s.median_input, s.median_output, f"median of {s.n_providers} providers (demand/data/prices.yaml)"


def rental_price_usd_per_gpu_hour(cat: Catalog, scn: Scenario, system_id: str) -> tuple[float, str]:
    """What renting one GPU of this system costs a buyer (reserved), and the source."""
    from gigafactory.economics.build import reference_gpu_hour_price

    cost = cat.get("costs", scn.finance.cost_profile)
    return reference_gpu_hour_price(cat, cost, system_id), f"cost profile {cost.id} reserved GPU-hour price"


def token_revenue_usd(output_tokens, input_per_output: float, price_in, price_out, cache_hit_share: float = 0.0,
                      cache_price_ratio: float = 1.0, free_share: float = 0.0, discount: float = 0.0):
    """Revenue of served output tokens [USD]: output x output price + their input tokens x input
    price, cache hits at the cache-hit price, less the free share and the discount.  Prices in USD
    per million tokens (scalars or per-hour arrays)."""
    input_price = price_in * (1.0 - cache_hit_share * (1.0 - cache_price_ratio))
    return output_tokens / 1e6 * (1.0 - free_share) * (1.0 - discount) * (price_out + input_per_output * input_price)


def run_demand(cat: Catalog, scn: Scenario, design: DesignResult, serving: ServingResult, rollout: RolloutResult,
               devices: DevicesResult | None = None, operations: OperationsResult | None = None,
               successor: ServingResult | None = None) -> DemandResult:
    """The demand stage (see the module docstring).  The device fleets' offloaded requests, when
    there are any, are one more segment of the offload model: their tokens per day, growth and
    hour-of-week shape from the devices stage, priced at the model's list price less the device
    maker's discount.  With the operations stage's result, capacity (tokens and the GPU-hours
    contracts are delivered) is what the installed GPUs give at each site's monthly availability
    (failures, early life, maintenance); utilisation stays sold over installed GPU-hours."""
    months = scn.finance.horizon_years * 12
    hours = int(round(months * HOURS_PER_MONTH))
    from gigafactory.demand.decline import resolve_price_decline

    price_decline = resolve_price_decline(cat, scn, design, serving, successor)  # the scenario's rate, or the next generation's
    decline = price_decline.per_year
    installed = online_gpus(design, rollout, hours)
    total_online = sum(installed.values()) if installed else np.zeros(hours)
    sites = {name: series * availability_series(operations, name, hours) for name, series in installed.items()}  # serving GPUs
    first_on = int(np.argmax(total_online > 0)) if total_online.any() else hours
    how = hour_of_week(scn.rollout.start_date.weekday(), hours)
    notes: list[str] = []
    workloads = {cat.model(w.model).id: w for w in scn.workloads}
    device_seg = devices is not None and devices.offload_model is not None and devices.cloud_output_tokens_per_day > 0
    modelled = bool(scn.demand.tokens or scn.demand.contracts or device_seg)

    # contracts: their share of every GPU as it comes online, for their term from the first GPU
    contract_share = np.zeros(hours)
    segments: list[SegmentResult] = []
    contract_revenue = np.zeros(hours)
    contract_gpus = np.zeros(hours)
    main_system = max(design.sites, key=lambda s: s.gpus).system
    rent, rent_source = rental_price_usd_per_gpu_hour(cat, scn, main_system)  # contract default and price floor
    for i, c in enumerate(scn.demand.contracts):
        active = np.zeros(hours)
        end = min(hours, first_on + int(round(c.term_years * HOURS_PER_YEAR)))
        active[first_on:end] = c.share_of_gpus
        contract_share += active
        if c.price_usd_per_gpu_hour is not None:
            price, source = c.price_usd_per_gpu_hour, "scenario"
        else:
            price, source = rent, rent_source
        gpus = sum(sites.values()) * active if sites else np.zeros(hours)  # delivered: what serves, not what is installed
        contract_gpus += gpus
        contract_revenue += gpus * price
        segments.append(SegmentResult(name=c.name, kind="contract", model=None, demand_tokens=0.0, served_tokens=0.0, unserved_share=0.0,
                                      gpu_hours=float(gpus.sum()), revenue_usd=float((gpus * price).sum()), price_output_usd_per_mtok=None,
                                      price_input_usd_per_mtok=None, price_usd_per_gpu_hour=price, price_source=source))
    if (contract_share > 1 + 1e-9).any():
        raise InputError([Problem("the contracts take more than all the GPUs at once", field="demand.contracts",
                                  value=round(float(contract_share.max()), 3), expected="shares of GPUs summing to at most 1",
                                  fix="lower share_of_gpus", check="demand-contracts")])
    pool = 1.0 - contract_share

    # token capacity per model: its share of each site's pool GPUs x tokens/s per GPU on that system, per hour
    capacity: dict[str, np.ndarray] = {}
    gpus_per_model: dict[str, np.ndarray] = {}
    tok_s: dict[str, float] = {}
    for site in design.sites:
        rows = {r.model: r for r in serving.systems[site.system]}
        for model_id, wl in workloads.items():
            rate = rows[model_id].tok_s_gpu if model_id in rows else 0.0
            g = sites[site.name] * pool * wl.share
            capacity[model_id] = capacity.get(model_id, np.zeros(hours)) + g * rate * 3600.0
            gpus_per_model[model_id] = gpus_per_model.get(model_id, np.zeros(hours)) + g
            tok_s[model_id] = max(tok_s.get(model_id, 0.0), rate)

    # demand per model: the sum of its segments
    seg_demand: dict[int, np.ndarray] = {}
    t_years = np.arange(hours) / HOURS_PER_YEAR
    for i, seg in enumerate(scn.demand.tokens):
        where = f"demand.tokens[{i}]"
        mid = cat.model(seg.model).id
        if mid not in workloads:
            raise InputError([Problem(f"demand segment '{seg.name}' asks for {mid}, which no workload serves", field=f"{where}.model",
                                      value=seg.model, expected=f"one of the workloads' models: {', '.join(workloads)}",
                                      fix="add a workload for it or change the segment's model", check="demand-model")])
        shape = _profile(seg.profile, f"{where}.profile")[how]
        seg_demand[i] = seg.output_tokens_per_day / HOURS_PER_DAY * (1.0 + seg.growth_per_year) ** t_years * shape
    device_demand = None
    if device_seg:
        shape = np.asarray(devices.hour_of_week_profile, dtype=float)[how]
        device_demand = devices.cloud_output_tokens_per_day / HOURS_PER_DAY * (1.0 + devices.growth_per_year) ** t_years * shape

    token_revenue = np.zeros(hours)
    served_total = np.zeros(hours)
    demand_total = np.zeros(hours)
    sold_pool_gpu_h = np.zeros(hours)
    models: dict[str, ModelDemand] = {}
    served_by_model: dict[str, np.ndarray] = {}
    full_on = int(np.argmax(total_online >= total_online.max() - 1e-9)) if total_online.any() else hours
    for model_id, wl in workloads.items():
        cap = capacity[model_id]
        idx = [i for i, s in enumerate(scn.demand.tokens) if cat.model(s.model).id == model_id]
        own_devices = device_demand is not None and devices.offload_model == model_id
        # capacity is in the workload's output tokens; a device token (long chat context) takes
        # devices.capacity_cost_ratio of them, so demand meets capacity in those units
        dev_cost = devices.capacity_cost_ratio if own_devices else 1.0
        if modelled:
            segs = [(scn.demand.tokens[i], seg_demand[i], f"demand.tokens[{i}]", 1.0) for i in idx]
            if own_devices:
                segs.append(("devices", device_demand, "devices", dev_cost))
        else:  # the old assumption: a fixed share of capacity sold
            segs = [(None, cap * scn.finance.utilisation, "workloads", 1.0)]
        dem_units = sum((d * c for _, d, _, c in segs), np.zeros(hours))
        served_units = np.minimum(dem_units, cap)
        dem = sum((d for _, d, _, _ in segs), np.zeros(hours))
        served = np.zeros(hours)
        in_service = cap > 0
        util_h = np.divide(served_units, cap, out=np.zeros(hours), where=in_service)
        sold_pool_gpu_h += gpus_per_model[model_id] * util_h
        floor = 0.0
        if tok_s.get(model_id):
            floor = rent / (tok_s[model_id] * 3600.0 / 1e6)  # what a buyer pays to rent GPUs and serve a Mtok himself
        ratio = wl.isl_tokens / wl.osl_tokens  # input tokens per output token
        for seg, d, where, cost in segs:
            share = np.divide(d * cost, dem_units, out=np.zeros(hours), where=dem_units > 0)  # its share of the capacity used
            s_served = served_units * share / cost
            served += s_served
            gpu_hours = float((gpus_per_model[model_id] * util_h * share).sum())
            if seg == "devices":  # the fleets' offloaded requests: their own context per output token, the device maker's discount
                p_in, p_out, source = _list_prices(model_id, wl, None, "devices.offload_model")
                rev = token_revenue_usd(s_served, devices.cloud_input_tokens_per_output, price_path(p_in, decline, 0.0, hours),
                                        price_path(p_out, decline, floor, hours), discount=scn.devices.price_discount)
                token_revenue += rev
                segments.append(SegmentResult(
                    name="device fleets (offload)", kind="devices", model=model_id, demand_tokens=float(d.sum()), served_tokens=float(s_served.sum()),
                    unserved_share=float(1 - s_served.sum() / d.sum()) if d.sum() > 0 else 0.0, gpu_hours=gpu_hours,
                    revenue_usd=float(rev.sum()), price_output_usd_per_mtok=p_out * (1 - scn.devices.price_discount),
                    price_input_usd_per_mtok=p_in * (1 - scn.devices.price_discount), price_usd_per_gpu_hour=None,
                    price_source=f"{source}, less the device maker's discount of {scn.devices.price_discount:.0%}"))
                continue
            p_in, p_out, source = _list_prices(model_id, wl, seg, f"{where}.price_output_usd_per_mtok")
            cache = seg.cache_hit_share if seg is not None else 0.0
            free = seg.free_share if seg is not None else 0.0
            disc = seg.discount if seg is not None else 0.0
            cache_ratio = _cache_hit_price_ratio(model_id)
            path_out = price_path(p_out, decline, floor, hours)
            path_in = price_path(p_in, decline, 0.0, hours)
            rev = token_revenue_usd(s_served, ratio, path_in, path_out, cache, cache_ratio, free, disc)
            token_revenue += rev
            name = seg.name if seg is not None else f"{model_id} at finance.utilisation"
            segments.append(SegmentResult(
                name=name, kind="tokens" if seg is not None else "utilisation", model=model_id, demand_tokens=float(d.sum()),
                served_tokens=float(s_served.sum()), unserved_share=float(1 - s_served.sum() / d.sum()) if d.sum() > 0 else 0.0,
                gpu_hours=gpu_hours, revenue_usd=float(rev.sum()),
                price_output_usd_per_mtok=p_out, price_input_usd_per_mtok=p_in, price_usd_per_gpu_hour=None, price_source=source))
        served_total += served
        demand_total += dem
        served_by_model[model_id] = monthly(served, months)
        steady = slice(full_on, hours) if full_on < hours else slice(0, 0)
        models[model_id] = ModelDemand(
            demand_tokens=float(dem.sum()), capacity_tokens=float(cap.sum()), served_tokens=float(served.sum()),
            peak_hour_utilisation=float(util_h[steady].max()) if util_h[steady].size else 0.0,
            hours_short=float(np.mean(dem_units[in_service] > cap[in_service] + 1e-9)) if in_service.any() else 0.0)

    sold_gpu_h = contract_gpus + sold_pool_gpu_h
    m_online = monthly(total_online, months)
    m_sold = monthly(sold_gpu_h, months)
    m_rev_tok = monthly(token_revenue, months)
    m_rev_con = monthly(contract_revenue, months)
    m_dem, m_cap, m_srv = monthly(demand_total, months), monthly(sum(capacity.values(), np.zeros(hours)), months), monthly(served_total, months)
    m_con = monthly(contract_gpus, months)
    rows = [DemandMonth(month=m, gpus_online=float(m_online[m] / HOURS_PER_MONTH), contract_gpus=float(m_con[m] / HOURS_PER_MONTH),
                        demand_tokens=float(m_dem[m]), capacity_tokens=float(m_cap[m]), served_tokens=float(m_srv[m]),
                        served_tokens_by_model={k: float(v[m]) for k, v in served_by_model.items()},
                        revenue_tokens_usd=float(m_rev_tok[m]), revenue_contracts_usd=float(m_rev_con[m]),
                        utilisation=float(m_sold[m] / m_online[m]) if m_online[m] > 0 else 0.0) for m in range(months)]
    years = scn.finance.horizon_years
    rev_year = [float((m_rev_tok + m_rev_con)[12 * y:12 * (y + 1)].sum()) for y in range(years)]
    util_year = [float(m_sold[12 * y:12 * (y + 1)].sum() / m_online[12 * y:12 * (y + 1)].sum()) if m_online[12 * y:12 * (y + 1)].sum() > 0
                 else 0.0 for y in range(years)]
    total_rev = float(token_revenue.sum() + contract_revenue.sum())
    gw = design.total.facility_power_mw / 1e3
    if not modelled:
        notes.append("no demand segments or contracts in the scenario: finance.utilisation of capacity is assumed sold at list prices "
                     "(add a demand section to model who buys what)")
    return DemandResult(
        mode="modelled" if modelled else "utilisation", horizon_months=months, segments=segments, models=models, monthly=rows,
        utilisation=float(sold_gpu_h.sum() / total_online.sum()) if total_online.sum() > 0 else 0.0, utilisation_by_year=util_year,
        unserved_share=float(1 - served_total.sum() / demand_total.sum()) if demand_total.sum() > 0 else 0.0,
        revenue_usd=total_rev, revenue_by_year_usd=rev_year,
        revenue_mix={"tokens": float(token_revenue.sum() / total_rev) if total_rev else 0.0,
                     "contracts": float(contract_revenue.sum() / total_rev) if total_rev else 0.0},
        revenue_per_gw_year_usd=rev_year[-1] / gw if gw > 0 and rev_year else None,
        price_decline_per_year=decline, price_decline_source=price_decline.source, notes=notes)


def _cache_hit_price_ratio(model_id: str) -> float:
    """Cache-hit input price over cache-miss input price for the model (providers' data), else 1."""
    try:
        from gigafactory.demand.market import cache_hit_ratio

        return float(cache_hit_ratio(model_id))
    except KeyError:
        return 1.0
