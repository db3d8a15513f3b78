"""Power is a task, not a flag: how each site gets its power, as rollout tasks and as a report.

A site either has its grid connection at programme start (``grid_ready: true``, a powered
shell, or the powered-shell method) and needs no power task, or it must get power by one of
three paths (data, sources and assumptions: ``rollout/data/power_paths.yaml``):

- ``grid``: wait for the utility interconnection.  One ``<site>/grid-connection`` task (kind
  ``grid``): the large-power-transformer floor (80-210 weeks, mode 120), stretched to the
  region's interconnection wait (catalog, else the file's market default).  It gates every
  energisation phase.  This is the planner's behaviour before this module, unchanged.
- ``onsite-gas``: an owned behind-the-meter gas plant (aeroderivative turbines or engines)
  sized for the design's facility power.  One ``<site>/power-onsite-gas`` task (kind
  ``power``, 12-15-24 months) gates every phase; capex USD/kW x facility kW; the energy
  premium is fuel (gas price x heat rate) plus carbon where priced, minus the grid price.
- ``temporary-then-grid``: rented trailer-mounted turbines as a bridge.  Two tasks,
  ``<site>/power-temporary`` (kind ``power``, 1-2.5-6 months) and ``<site>/grid-connection``.
  The first energisation phase runs on the bridge, up to the bridge's MW (the site's
  ``temporary_power_mw``, else the first phase capped at the largest realised bridge fleet,
  ~420 MW); scalable units beyond it, and later phases, wait for the grid, so first token
  comes on temporary power and full capacity on the permanent path (when the bridge covers
  the whole site, the grid only replaces it).  No capex (rented); the premium is the rental
  and O&M plus fuel and carbon minus the grid price, paid on the bridged MW until the grid
  arrives (``bridge_days``).

``power_path: auto`` (the default) picks, for a site without a grid connection, what a
capacity planner does: the path with the earliest first token, unless its energy premium is
above ``auto.max_premium_usd_per_mwh`` (200 USD/MWh over the region's grid price).  Among
paths whose first token lands within ``auto.tie_days`` (14 days) of the earliest, the one
with the lowest cost over the finance horizon wins (capex + premium x energy; grid 0), then
the order grid, temporary-then-grid, onsite-gas.  First tokens are compared on a
resource-free estimate: the site's phase-0 energisation cannot start before its fit-out and
long-lead procurement (mode durations) nor before the power that feeds its first scalable
unit.  Every path's estimate, cost and eligibility is reported (``options``), so a planner
who wants the grid anyway sees what waiting costs, and sets ``power_path`` to force a path.

With the data as sourced, ``auto`` changes the plan of a greenfield site without a grid
connection (``grid_ready: false``): in the US it bridges on mobile turbines (or builds an
owned plant when construction is slow enough that the bridge would run for years) instead of
waiting ~4-5.5 years for the interconnection.  That is what the anchor campuses did
(Colossus 1 and 2, Abilene, Prometheus, Vineland: docs/rollout-anchors.md); the previous
behaviour (always wait) is ``power_path: grid``.  Sites with a grid connection at start (the
default scenario's) are unchanged.

Functions here are pure: `plan_site_power` chooses a site's path from its scenario entry,
design, region and a ready-time estimate; `power_gates` says which power task gates each
energisation phase and scalable-unit install (rollout/tasks.py builds the tasks from both);
`power_report` turns the scheduled base plan into the per-site ``power`` block of the rollout
result.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

Tri = tuple[float, float, float]

#: the paths a site without a grid connection can take, in tie-break order
PATHS = ("grid", "temporary-then-grid", "onsite-gas")
#: task kinds of power tasks (gate energisation)
POWER_KINDS = ("grid", "power")
DAYS_PER_YEAR = 365.25
_MW_EPS = 1e-6


# --- data ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PowerData:
    """The figures of rollout/data/power_paths.yaml, in the units the planner uses."""

    grid_floor_days: Tri
    market_wait_years: dict[str, float]
    europe_default_wait_years: float
    europe_countries: frozenset[str]
    gas_lead_days: Tri
    gas_capex_usd_per_kw: float  # mode
    heat_rate_mmbtu_per_mwh: float
    gas_om_usd_per_mwh: float
    temp_lead_days: Tri
    temp_rental_usd_per_mwh: float
    max_bridge_mw: float
    gas_usd_per_mmbtu: dict[str, float]  # "US", "europe"
    co2_kg_per_mmbtu: float
    carbon_usd_per_t: dict[str, float]  # "europe"
    max_premium_usd_per_mwh: float
    tie_days: float


def _tri(v: dict[str, Any]) -> Tri:
    return (float(v["low"]), float(v["mode"]), float(v["high"]))


@lru_cache(maxsize=1)
def power_data() -> PowerData:
    text = resources.files("gigafactory.rollout").joinpath("data/power_paths.yaml").read_text(encoding="utf-8")
    d = yaml.safe_load(text)
    g, gas, tmp, fuel, auto = d["grid"], d["onsite_gas"], d["temporary_mobile"], d["fuel"], d["auto"]
    waits = g["market_waits"]
    return PowerData(
        grid_floor_days=_tri(g["equipment_floor_days"]["value"]),
        market_wait_years={k: float(v["value"]) for k, v in waits.items() if isinstance(v, dict) and k != "europe_default"},
        europe_default_wait_years=float(waits["europe_default"]["value"]),
        europe_countries=frozenset(waits["europe_countries"]),
        gas_lead_days=_tri(gas["lead_time_days"]["value"]),
        gas_capex_usd_per_kw=float(gas["capex_usd_per_kw"]["value"]["mode"]),
        heat_rate_mmbtu_per_mwh=float(gas["heat_rate_btu_per_kwh"]["value"]) / 1000.0,
        gas_om_usd_per_mwh=float(gas["om_usd_per_mwh"]["value"]),
        temp_lead_days=_tri(tmp["lead_time_days"]["value"]),
        temp_rental_usd_per_mwh=float(tmp["rental_and_om_usd_per_mwh"]["value"]),
        max_bridge_mw=float(tmp["max_bridge_mw"]["value"]),
        gas_usd_per_mmbtu={k: float(v["value"]) for k, v in fuel["gas_price_usd_per_mmbtu"].items()},
        co2_kg_per_mmbtu=float(fuel["co2_kg_per_mmbtu"]["value"]),
        carbon_usd_per_t={k: float(v["value"]) for k, v in fuel["carbon_price_usd_per_t"].items()},
        max_premium_usd_per_mwh=float(auto["max_premium_usd_per_mwh"]["value"]),
        tie_days=float(auto["tie_days"]["value"]),
    )


# --- the market a site sits in ------------------------------------------------------------------


@dataclass(frozen=True)
class Market:
    """What a site's region says about its power: grid price and wait, gas and carbon prices."""

    region: str
    country: str
    grid_price_usd_per_mwh: float
    grid_carbon_kg_per_mwh: float
    grid_wait_days: float | None
    grid_wait_source: str  # 'catalog', 'power_paths:<region>', 'power_paths:europe_default', 'none'
    gas_usd_per_mmbtu: float
    carbon_usd_per_t: float

    @property
    def europe(self) -> bool:
        return self.country in power_data().europe_countries


def market(region: Any, data: PowerData | None = None) -> Market:
    """The power market of a catalog region entry."""
    data = data or power_data()
    country = ((getattr(region, "country", None) or "").split() or [""])[0]
    europe = country in data.europe_countries
    wait_s = getattr(region, "grid_interconnection_wait_s", None)
    if wait_s:
        wait, source = wait_s / 86400.0, "catalog"
    elif region.id in data.market_wait_years:
        wait, source = data.market_wait_years[region.id] * DAYS_PER_YEAR, f"power_paths:{region.id}"
    elif europe:
        wait, source = data.europe_default_wait_years * DAYS_PER_YEAR, "power_paths:europe_default"
    else:
        wait, source = None, "none"
    return Market(
        region=region.id, country=country,
        grid_price_usd_per_mwh=float(region.electricity_price_usd_per_mwh),
        grid_carbon_kg_per_mwh=float(getattr(region, "grid_carbon_intensity_kg_per_mwh", 0.0) or 0.0),
        grid_wait_days=wait, grid_wait_source=source,
        gas_usd_per_mmbtu=data.gas_usd_per_mmbtu["US"] if country == "US" else data.gas_usd_per_mmbtu["europe"],
        carbon_usd_per_t=data.carbon_usd_per_t.get("europe", 0.0) if europe else 0.0,
    )


def grid_duration_days(m: Market, data: PowerData | None = None) -> Tri:
    """Triangular duration of a new grid connection [days]: the transformer floor stretched to
    the region's interconnection wait (mode = max(floor, wait), high = max(floor, 1.5 x mode))."""
    data = data or power_data()
    lo, mode, hi = data.grid_floor_days
    if m.grid_wait_days:
        mode = max(mode, m.grid_wait_days)
        hi = max(hi, mode * 1.5)
    return (lo, mode, hi)


def onsite_emissions_kg_per_mwh(data: PowerData | None = None) -> float:
    data = data or power_data()
    return data.co2_kg_per_mmbtu * data.heat_rate_mmbtu_per_mwh


def fuel_usd_per_mwh(m: Market, data: PowerData | None = None) -> float:
    """Fuel and carbon cost of on-site gas power [USD/MWh]: gas price x heat rate + carbon price x
    CO2 per MWh."""
    data = data or power_data()
    return m.gas_usd_per_mmbtu * data.heat_rate_mmbtu_per_mwh + m.carbon_usd_per_t * onsite_emissions_kg_per_mwh(data) / 1000.0


def premium_usd_per_mwh(path: str, m: Market, data: PowerData | None = None) -> float:
    """Energy cost of the path's on-site supply over the region's grid price [USD/MWh]; 0 for the
    grid.  For temporary-then-grid it is the bridge's premium (paid while bridging)."""
    data = data or power_data()
    if path == "onsite-gas":
        return fuel_usd_per_mwh(m, data) + data.gas_om_usd_per_mwh - m.grid_price_usd_per_mwh
    if path == "temporary-then-grid":
        return data.temp_rental_usd_per_mwh + fuel_usd_per_mwh(m, data) - m.grid_price_usd_per_mwh
    return 0.0


def tri_median(t: Tri) -> float:
    """P50 of a triangular (low, mode, high) distribution."""
    a, c, b = t
    if b - a <= 1e-12:
        return c
    if c >= (a + b) / 2:
        return a + math.sqrt((b - a) * (c - a) / 2)
    return b - math.sqrt((b - a) * (b - c) / 2)


# --- one site's plan ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PowerTaskSpec:
    """A power task for rollout/tasks.py to build (durations in days)."""

    id: str
    kind: str  # 'grid' | 'power'
    supply: str  # 'grid' | 'onsite-gas' | 'temporary'
    duration_days: Tri


@dataclass(frozen=True)
class PathOption:
    """One path considered for a site, with the figures 'auto' compares."""

    path: str
    first_power_days: float  # resource-free estimate of the start of the site's first energisation [days]; first token
    # follows it by the same span whatever the path
    gate_days: float  # mode of the power task feeding the first scalable unit [days]
    capex_usd: float
    energy_premium_usd_per_mwh: float
    horizon_cost_usd: float  # capex + premium x energy over the finance horizon (bridge only while bridging)
    eligible: bool  # premium within auto.max_premium_usd_per_mwh (the grid always)


@dataclass(frozen=True)
class SitePowerPlan:
    """How one site gets its power."""

    site: str
    requested: str  # the scenario's power_path
    path: str  # 'grid' | 'onsite-gas' | 'temporary-then-grid'
    grid_existing: bool
    tasks: tuple[PowerTaskSpec, ...]
    bridge_mw: float  # MW on temporary power (temporary-then-grid), else 0
    capex_usd: float
    energy_premium_usd_per_mwh: float
    premium_mw: float  # MW the premium applies to
    onsite_emissions_kg_per_mwh: float | None
    market: Market
    options: tuple[PathOption, ...]
    reason: str

    def task(self, supply: str) -> PowerTaskSpec | None:
        return next((t for t in self.tasks if t.supply == supply), None)

    @property
    def permanent_task(self) -> PowerTaskSpec | None:
        return self.task("onsite-gas") or self.task("grid")


def method_family(rollout: Any) -> str:
    """The bundled preset the scenario's method is or is built from (a scenario's own method
    based on powered-shell has the grid of a powered shell)."""
    from gigafactory.rollout.presets import method_presets  # presets is imported by tasks, which imports this module

    m = method_presets(rollout).get(rollout.method)
    return m.family if m is not None else rollout.method


def grid_exists(site_spec: Any, method: str) -> bool:
    """Whether the site has its grid connection at programme start."""
    return bool(site_spec.grid_ready or site_spec.powered_shell or method == "powered-shell")


def bridge_mw(site_spec: Any, phases: list[float], data: PowerData | None = None) -> float:
    """MW a temporary bridge carries: the site's temporary_power_mw, else its first phase capped
    at the largest bridge fleet seen at one site."""
    data = data or power_data()
    given = getattr(site_spec, "temporary_power_mw", None)
    mw = given if given is not None else min(phases[0] if phases else site_spec.power_mw, data.max_bridge_mw)
    return max(0.0, min(mw, site_spec.power_mw))


def _path_tasks(path: str, s: str, m: Market, data: PowerData) -> tuple[PowerTaskSpec, ...]:
    grid = PowerTaskSpec(f"{s}/grid-connection", "grid", "grid", grid_duration_days(m, data))
    if path == "grid":
        return (grid,)
    if path == "onsite-gas":
        return (PowerTaskSpec(f"{s}/power-onsite-gas", "power", "onsite-gas", data.gas_lead_days),)
    return (PowerTaskSpec(f"{s}/power-temporary", "power", "temporary", data.temp_lead_days), grid)


def plan_site_power(site_spec: Any, design_site: Any, region: Any, *, method: str, ready_days: float, phases: list[float],
                    su_mw: float, horizon_years: float, data: PowerData | None = None) -> SitePowerPlan:
    """Choose a site's power path and its tasks.

    ``ready_days`` is the resource-free earliest time the site's first energisation could start
    but for power (fit-out and long-lead procurement at mode durations); ``phases`` the site's
    energisation phases [MW]; ``su_mw`` the facility MW of one scalable unit (as su_phases);
    ``horizon_years`` the finance horizon over which 'auto' compares costs.
    """
    data = data or power_data()
    s = site_spec.name
    m = market(region, data)
    requested = getattr(site_spec, "power_path", "auto") or "auto"
    facility_mw = float(getattr(design_site, "facility_power_mw", None) or site_spec.power_mw)
    if grid_exists(site_spec, method):
        why = "the grid connection exists at programme start (grid_ready, powered shell or the powered-shell method)"
        if requested not in ("auto", "grid"):
            why += f"; power_path '{requested}' does not apply (the power-path check refuses it in a scenario file)"
        return SitePowerPlan(s, requested, "grid", True, (), 0.0, 0.0, 0.0, 0.0, None, m, (), why)
    annual_mwh = float(getattr(design_site, "annual_energy_mwh", None) or facility_mw * 8760.0)
    bmw = bridge_mw(site_spec, phases, data)
    bridged_sus = math.floor(bmw / su_mw + _MW_EPS) if su_mw > 0 else 0
    grid_mode = grid_duration_days(m, data)[1]
    options = []
    for path in PATHS:
        prem = premium_usd_per_mwh(path, m, data)
        if path == "grid":
            gate, capex, cost = grid_mode, 0.0, 0.0
        elif path == "onsite-gas":
            gate = data.gas_lead_days[1]
            capex = facility_mw * 1000.0 * data.gas_capex_usd_per_kw
            cost = capex + prem * annual_mwh * horizon_years
        else:
            gate = data.temp_lead_days[1] if bridged_sus >= 1 else grid_mode
            capex = 0.0
            start = max(ready_days, data.temp_lead_days[1])
            bridge_years = min(max(0.0, grid_mode - start) / DAYS_PER_YEAR, horizon_years)
            cost = prem * annual_mwh * (min(bmw, facility_mw) / facility_mw if facility_mw else 0.0) * bridge_years
        options.append(PathOption(path, max(ready_days, gate), gate, capex, prem, cost,
                                  path == "grid" or prem <= data.max_premium_usd_per_mwh))
    by_path = {o.path: o for o in options}
    if requested in PATHS:
        chosen = by_path[requested]
        why = f"power_path: {requested} (requested)"
    else:
        eligible = [o for o in options if o.eligible]
        best = min(o.first_power_days for o in eligible)
        near = [o for o in eligible if o.first_power_days <= best + data.tie_days]
        chosen = min(near, key=lambda o: (o.horizon_cost_usd, PATHS.index(o.path)))
        parts = [f"{o.path} day {o.first_power_days:.0f}" + ("" if o.eligible else f" (premium {o.energy_premium_usd_per_mwh:.0f} USD/MWh over the {data.max_premium_usd_per_mwh:.0f} limit)")
                 for o in options]
        why = f"auto: earliest first token (resource-free estimate of the first energisation: {', '.join(parts)})"
        if len(near) > 1:
            why += f"; within {data.tie_days:.0f} days of each other: {', '.join(o.path for o in near)}, the cheapest over {horizon_years:g} years wins"
    path = chosen.path
    premium_mw = {"grid": 0.0, "onsite-gas": facility_mw, "temporary-then-grid": min(bmw, facility_mw)}[path]
    return SitePowerPlan(
        site=s, requested=requested, path=path, grid_existing=False, tasks=_path_tasks(path, s, m, data),
        bridge_mw=bmw if path == "temporary-then-grid" else 0.0, capex_usd=chosen.capex_usd,
        energy_premium_usd_per_mwh=chosen.energy_premium_usd_per_mwh, premium_mw=premium_mw,
        onsite_emissions_kg_per_mwh=None if path == "grid" else onsite_emissions_kg_per_mwh(data),
        market=m, options=tuple(options), reason=why,
    )


def power_gates(plan: SitePowerPlan, phases: list[float], phase_of: list[int], su_mw: float) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    """(gates of each energisation phase, extra gates of each scalable unit's install): the
    power task ids each must wait for."""
    n_ph = len(phases)
    if not plan.tasks:
        return [() for _ in range(n_ph)], [() for _ in phase_of]
    if plan.path != "temporary-then-grid":
        gate = (plan.tasks[0].id,)
        return [gate for _ in range(n_ph)], [() for _ in phase_of]
    temp, grid = plan.task("temporary"), plan.task("grid")
    assert temp is not None and grid is not None
    bridged = math.floor(plan.bridge_mw / su_mw + _MW_EPS) if su_mw > 0 else 0
    energise: list[tuple[str, ...]] = []
    acc = 0.0
    for k, mw in enumerate(phases):
        sus = [j for j, p in enumerate(phase_of) if p == k]
        on_temp = (sus[0] < bridged) if sus else (acc < plan.bridge_mw - _MW_EPS)
        energise.append((temp.id,) if on_temp else (grid.id,))
        acc += mw
    install = [(grid.id,) if j >= bridged and energise[phase_of[j]] == (temp.id,) else () for j in range(len(phase_of))]
    return energise, install


# --- schedules ----------------------------------------------------------------------------------


def earliest_finish_h(tasks: Iterable[Any]) -> dict[str, float]:
    """Resource-free earliest finish of every task at mode durations [h] (tasks in any order)."""
    by = {t.id: t for t in tasks}
    ef: dict[str, float] = {}

    def finish(tid: str) -> float:
        stack = [tid]
        while stack:
            cur = stack[-1]
            if cur in ef:
                stack.pop()
                continue
            pending = [p for p in by[cur].preds if p not in ef and p in by]
            if pending:
                stack.extend(pending)
                continue
            start = max((ef[p] for p in by[cur].preds if p in ef), default=0.0)
            ef[cur] = start + by[cur].duration[1]
            stack.pop()
        return ef[tid]

    for tid in by:
        finish(tid)
    return ef


def ready_days(tasks: Iterable[Any], pred_ids: Iterable[str]) -> float:
    """Resource-free earliest time all ``pred_ids`` are done [days]."""
    ef = earliest_finish_h(tasks)
    return max((ef[p] for p in pred_ids if p in ef), default=0.0) / 24.0


def _tight_ancestors(tasks: list[Any], plan: Any, target: str) -> set[str]:
    """Tasks on a binding chain to ``target`` in a schedule: a predecessor, or the previous task
    on the same resource, that ends exactly when the task starts."""
    by = {t.id: t for t in tasks}
    on_res: dict[tuple[str, int], list[str]] = {}
    for t in tasks:
        if t.resource:
            on_res.setdefault((t.resource, plan.end_h[t.id]), []).append(t.id)
    seen = {target}
    stack = [target]
    while stack:
        cur = by[stack.pop()]
        s = plan.start_h[cur.id]
        if s <= 0:
            continue
        cands = [p for p in cur.preds if plan.end_h[p] == s]
        if cur.resource:
            cands += [i for i in on_res.get((cur.resource, s), []) if i != cur.id]
        for p in cands:
            if p not in seen:
                seen.add(p)
                stack.append(p)
    return seen


def site_power_plans(scn: Any, design: Any, cat: Any, tasks: list[Any]) -> list[SitePowerPlan]:
    """Each site's plan again, from the built tasks (the same choice build_tasks made)."""
    from gigafactory.rollout.tasks import phases_for  # tasks imports this module

    by = {t.id: t for t in tasks}
    plans = []
    for site_spec, site in zip(scn.sites, design.sites):
        s = site_spec.name
        phases = phases_for(site_spec.power_mw, site_spec.energisation_phases_mw)
        n_su = site.scalable_units
        su_mw = site.facility_power_mw / max(n_su, 1)
        e0 = by.get(f"{s}/energise-0")
        preds = [p for p in (e0.preds if e0 else ()) if by[p].kind not in POWER_KINDS]
        site_tasks = [t for t in tasks if t.site == s and t.su is None]
        plans.append(plan_site_power(site_spec, site, cat.region(site_spec.region), method=method_family(scn.rollout),
                                     ready_days=ready_days(site_tasks, preds), phases=phases, su_mw=su_mw,
                                     horizon_years=scn.finance.horizon_years))
    return plans


def _first_su_supply(by: dict[str, Any], p: SitePowerPlan) -> PowerTaskSpec | None:
    """The power task that feeds the site's first scalable unit (its install's own power gate,
    else its energisation's), None with an existing grid."""
    specs = {t.id: t for t in p.tasks}
    if not specs:
        return None
    install = by.get(f"{p.site}/su0000/install")
    preds = list(install.preds) if install else [f"{p.site}/energise-0"]
    own = [i for i in preds if i in specs]
    if own:
        return specs[own[0]]
    for e in (i for i in preds if i in by and by[i].kind == "energise"):
        gate = [i for i in by[e].preds if i in specs]
        if gate:
            return specs[gate[0]]
    return p.tasks[0]


def power_report(scn: Any, design: Any, cat: Any, tasks: list[Any], plan: Any) -> list[dict[str, Any]]:
    """The ``power`` block of the rollout result: per site, its path, lead time (P50 of the task
    powering its first scalable unit), capex, energy premium, bridge and whether the path lies on
    the base plan's critical path to first token."""
    by = {t.id: t for t in tasks}
    softs = sorted((plan.end_h[t.id], t.id) for t in tasks if t.kind == "software")
    programme_chain = _tight_ancestors(tasks, plan, softs[0][1]) if softs else set()
    out = []
    for p in site_power_plans(scn, design, cat, tasks):
        ids = [t.id for t in p.tasks]
        own = f"{p.site}/software"
        site_chain = _tight_ancestors(tasks, plan, own) if own in plan.end_h else set()
        first = _first_su_supply(by, p)
        perm = p.permanent_task
        bridge_days = None
        if p.path == "temporary-then-grid":
            temp, grid = p.task("temporary"), p.task("grid")
            bridge_days = max(0, plan.end_h[grid.id] - plan.end_h[temp.id]) / 24.0  # type: ignore[union-attr]
        out.append({
            "site": p.site,
            "requested": p.requested,
            "path": p.path,
            "grid_existing": p.grid_existing,
            "first_token_supply": "existing-grid" if first is None else first.supply,
            "lead_time_days": tri_median(first.duration_days) if first else 0.0,
            "permanent_lead_time_days": tri_median(perm.duration_days) if perm else 0.0,
            "capex_usd": p.capex_usd,
            "energy_premium_usd_per_mwh": p.energy_premium_usd_per_mwh,
            "premium_mw": p.premium_mw,
            "bridge_days": bridge_days,
            "grid_price_usd_per_mwh": p.market.grid_price_usd_per_mwh,
            "onsite_emissions_kg_co2_per_mwh": p.onsite_emissions_kg_per_mwh,
            "on_critical_path": any(i in programme_chain for i in ids),
            "on_site_critical_path": any(i in site_chain for i in ids),
            "tasks": ids,
            "options": [{"path": o.path, "first_power_days": o.first_power_days, "capex_usd": o.capex_usd,
                         "energy_premium_usd_per_mwh": o.energy_premium_usd_per_mwh, "horizon_cost_usd": o.horizon_cost_usd,
                         "eligible": o.eligible} for o in p.options],
            "reason": p.reason,
        })
    return out
