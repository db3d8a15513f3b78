"""Price decline tied to the next generation's performance per dollar (issue 14, item 2).

A served token's market price falls because the next GPU generation serves the same token for
less: once it ships, a buyer can rent or build it instead.  So the yearly decline is the yearly
rate at which the cost per token falls from the factory's system to its successor:

    decline/yr = 1 - (cost_per_token_next / cost_per_token_now) ** (1 / years_between)

with the cost of a GPU-hour = (system price per GPU x capital recovery factor over the GPU's
economic life + facility cost per W x W per GPU x capital recovery factor over the facility's
life + IT energy x PUE x power price) / hours per year, and cost per token = cost of a
GPU-hour / tokens per GPU-hour at the workload's SLO (the perf search).  A GPU-hour of this
system is worth the tokens it makes at the market's price per token, so a GPU-hour's price
falls at the same rate.  The workloads form a basket weighted by their shares (geometric mean
of the per-model cost ratios, over the models both systems can serve).  Successors, generation
dates and the fallback for the newest system (no successor: the historical decline of GPU
price-performance) are sourced in ``demand/data/generations.yaml``.

Pure functions first (numbers or arrays), then the loader of the data file, then the resolver
the demand and economics stages call.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from gigafactory.demand.market import (
    Sourced,
    _data_path,
    _Errors,
    _read,
    _sources_table,
    parse_sourced,
)
from gigafactory.economics.finance import capital_recovery_factor

if TYPE_CHECKING:
    from gigafactory.catalog import Catalog
    from gigafactory.results.design import DesignResult
    from gigafactory.results.serving import ServingResult
    from gigafactory.scenario.model import Scenario

HOURS_PER_YEAR = 365.25 * 24
NEXT_GENERATION = "next-generation"
SCENARIO_SOURCE = "scenario (finance.price_decline_per_year)"


# ---------------------------------------------------------------------------------------------
# pure functions


def gpu_cost_usd_per_hour(system_capex_per_gpu_usd: ArrayLike, it_power_w_per_gpu: ArrayLike, facility_usd_per_w: ArrayLike,
                          crf_it_per_year: ArrayLike, crf_facility_per_year: ArrayLike, energy_usd_per_it_mwh: ArrayLike) -> np.ndarray:
    """Levelised cost of one GPU-hour: its system capex and its share of the facility (per W of
    IT load) annualised by their capital recovery factors, plus its energy [USD/GPU-h].

    ``system_capex_per_gpu_usd`` [USD], ``it_power_w_per_gpu`` typical IT power [W],
    ``facility_usd_per_w`` [USD/W of IT], ``crf_*_per_year`` [1/year], ``energy_usd_per_it_mwh``
    power price x PUE [USD/MWh of IT energy]."""
    w = np.asarray(it_power_w_per_gpu, dtype=float)
    per_year = (np.asarray(system_capex_per_gpu_usd, dtype=float) * crf_it_per_year
                + np.asarray(facility_usd_per_w, dtype=float) * w * crf_facility_per_year
                + w / 1e6 * HOURS_PER_YEAR * np.asarray(energy_usd_per_it_mwh, dtype=float))
    return per_year / HOURS_PER_YEAR


def cost_per_mtok_usd(gpu_cost_usd_per_hour: ArrayLike, tok_s_gpu: ArrayLike) -> np.ndarray:
    """Cost of a million output tokens at ``tok_s_gpu`` [tokens/s per GPU] [USD/Mtok]; inf at 0 tokens/s."""
    tok_h = np.asarray(tok_s_gpu, dtype=float) * 3600.0 / 1e6
    with np.errstate(divide="ignore"):
        return np.where(tok_h > 0, np.asarray(gpu_cost_usd_per_hour, dtype=float) / np.where(tok_h > 0, tok_h, 1.0), np.inf)


def decline_per_year(cost_now: ArrayLike, cost_next: ArrayLike, years_between: ArrayLike) -> np.ndarray:
    """Yearly price decline implied by the cost per token falling from ``cost_now`` to
    ``cost_next`` over ``years_between`` [years]: 1 - (next / now)^(1 / years) [1/year].
    Negative when the successor's tokens cost more (the caller decides what that means)."""
    ratio = np.asarray(cost_next, dtype=float) / np.asarray(cost_now, dtype=float)
    return 1.0 - ratio ** (1.0 / np.asarray(years_between, dtype=float))


def basket_ratio(ratios: ArrayLike, weights: ArrayLike) -> float:
    """Share-weighted geometric mean of per-model cost ratios (next / now) [1]: the cost ratio of
    the workload basket, independent of the models' very different tokens per GPU-hour."""
    r, w = np.asarray(ratios, dtype=float), np.asarray(weights, dtype=float)
    return float(np.exp(np.sum(w * np.log(r)) / np.sum(w)))


# ---------------------------------------------------------------------------------------------
# data: demand/data/generations.yaml


@dataclass(frozen=True)
class Generation:
    name: str
    available: Sourced  # first production shipments [decimal year]
    successor: str | None


@dataclass(frozen=True)
class Generations:
    file: str
    generations: Mapping[str, Generation]
    systems: Mapping[str, tuple[str, str | None]]  # system id -> (generation, successor system id)
    fallback: Sourced  # decline of the newest system [1/year]
    cross_check: Mapping[str, Sourced]


def parse_generations(doc: Any, file: str, bundled: bool = True) -> Generations:
    """Validate the generations file; problems name the file, entry and field."""
    err = _Errors(file, bundled)
    if not isinstance(doc, dict):
        err.add("expected a mapping with generations, systems and fallback", "file")
        err.raise_if_any()
    sources = _sources_table(doc, err)
    gens: dict[str, Generation] = {}
    for name, raw in (doc.get("generations") or {}).items():
        if not isinstance(raw, dict):
            err.add("expected {available, successor}", f"generations.{name}")
            continue
        avail = parse_sourced(raw.get("available"), f"generations.{name}.available", err, sources)
        if avail is not None:
            gens[str(name)] = Generation(str(name), avail, raw.get("successor"))
    for g in gens.values():
        if g.successor is not None and g.successor not in gens:
            err.add(f"unknown successor generation '{g.successor}'", f"generations.{g.name}", "successor", fix=f"one of {', '.join(gens)}")
        elif g.successor is not None and not g.available.value < gens[g.successor].available.value:
            err.add("a successor must ship after its predecessor", f"generations.{g.name}", "successor", g.successor)
    systems: dict[str, tuple[str, str | None]] = {}
    for sid, raw in (doc.get("systems") or {}).items():
        if not isinstance(raw, dict) or raw.get("generation") not in gens:
            err.add("expected {generation: <a generation above>, successor: <system id or null>}", f"systems.{sid}", value=raw)
            continue
        systems[str(sid)] = (raw["generation"], raw.get("successor"))
    for sid, (gen, succ) in systems.items():
        if succ is not None and (succ not in systems or systems[succ][0] != gens[gen].successor):
            err.add(f"successor '{succ}' is not a system of the next generation ({gens[gen].successor})", f"systems.{sid}", "successor", succ)
    fb = doc.get("fallback") or {}
    fallback = parse_sourced(fb.get("decline_per_year"), "fallback.decline_per_year", err, sources)
    checks = {k: s for k, v in fb.items() if k != "decline_per_year" and (s := parse_sourced(v, f"fallback.{k}", err, sources)) is not None}
    if fallback is not None and not 0 <= float(fallback.value) < 1:  # type: ignore[arg-type]
        err.add("the fallback decline must be in [0, 1)", "fallback.decline_per_year", "value", fallback.value)
    err.raise_if_any()
    return Generations(file, MappingProxyType(gens), MappingProxyType(systems), fallback, MappingProxyType(checks))  # type: ignore[arg-type]


@lru_cache(maxsize=1)
def load_generations() -> Generations:
    """The bundled generations file (cached)."""
    label = "demand/data/generations.yaml"
    return parse_generations(_read(_data_path("generations.yaml"), label, True), label, bundled=True)


# ---------------------------------------------------------------------------------------------
# resolver


@dataclass(frozen=True)
class PriceDecline:
    """The yearly price decline a run uses and where it comes from."""

    per_year: float  # [1/year]
    source: str
    system: str | None = None
    successor: str | None = None
    years_between: float | None = None  # [years]
    cost_now_usd_per_mtok: float | None = None  # basket (geometric mean over the workloads)
    cost_next_usd_per_mtok: float | None = None


def _gpu_cost(cat: Catalog, cost: Any, system_id: str, energy_usd_per_it_mwh: float) -> float:
    s = cat.system(system_id)
    gpus = float(s.gpus)
    crf_it = float(capital_recovery_factor(cost.wacc_fraction, cost.economic_life_gpu_years))
    crf_fac = float(capital_recovery_factor(cost.wacc_fraction, cost.economic_life_facility_years))
    return float(gpu_cost_usd_per_hour(float(s.price_usd) / gpus, float(s.typical_power_w) / gpus, cost.construction_usd_per_w,
                                       crf_it, crf_fac, energy_usd_per_it_mwh))


def next_generation_decline(cat: Catalog, cost: Any, system_id: str, rates_now: Mapping[str, float], rates_next: Mapping[str, float],
                            shares: Mapping[str, float], energy_usd_per_it_mwh: float, gens: Generations | None = None,
                            successor: str | None = None) -> PriceDecline:
    """The decline of ``system_id``'s token prices from its successor's cost per token.

    ``rates_now`` / ``rates_next``: tokens/s per GPU per model id under the SLO on this system and
    on its successor; ``shares``: the workloads' shares; ``cost``: the catalog cost profile (WACC,
    economic lives, facility cost per W: the market's, not this investor's); ``successor``
    overrides the data file's (tests, what-ifs)."""
    gens = gens or load_generations()
    sid = cat.system(system_id).id
    fb = gens.fallback
    if sid not in gens.systems:
        return PriceDecline(float(fb.value), f"{sid} has no generation in {gens.file}: historical GPU price-performance decline "  # type: ignore[arg-type]
                            f"({fb.source[0]})", system=sid)
    gen, succ = gens.systems[sid]
    succ = successor or succ
    if succ is None:
        return PriceDecline(float(fb.value), f"newest generation ({gen}), no successor: historical GPU price-performance decline "  # type: ignore[arg-type]
                            f"({fb.note.split(':')[0] if fb.note else fb.source[0]}; {fb.source[0]})", system=sid)
    models = [m for m in shares if rates_now.get(m, 0.0) > 0 and rates_next.get(m, 0.0) > 0 and shares[m] > 0]
    years = round(gens.generations[gens.systems[succ][0]].available.value - gens.generations[gen].available.value, 4)  # type: ignore[operator]
    if not models or years <= 0:
        return PriceDecline(float(fb.value), f"no workload served on both {sid} and {succ}: historical GPU price-performance decline "  # type: ignore[arg-type]
                            f"({fb.source[0]})", system=sid, successor=succ)
    c_now, c_next = _gpu_cost(cat, cost, sid, energy_usd_per_it_mwh), _gpu_cost(cat, cost, succ, energy_usd_per_it_mwh)
    now = np.array([cost_per_mtok_usd(c_now, rates_now[m]) for m in models])
    nxt = np.array([cost_per_mtok_usd(c_next, rates_next[m]) for m in models])
    w = np.array([shares[m] for m in models])
    ratio = basket_ratio(nxt / now, w)
    raw = float(decline_per_year(1.0, ratio, years))
    # a successor whose tokens cost more does not raise prices: this system still serves at its own cost
    value = min(max(raw, 0.0), 0.99)
    g_now, g_next = basket_ratio(now, w), basket_ratio(nxt, w)
    src = (f"next generation: {sid} ({gen}) -> {succ} ({gens.systems[succ][0]}), {years:.2f} years apart; cost per Mtok of the workload "
           f"basket {g_now:.3f} -> {g_next:.3f} USD (system price, facility per W, energy; perf search at the SLOs); "
           f"{gens.file}")
    return PriceDecline(value, src, sid, succ, float(years), g_now, g_next)


def energy_usd_per_it_mwh(cat: Catalog, design: DesignResult) -> float:
    """The design's power price x PUE, weighted by each site's IT load [USD/MWh of IT energy]."""
    num = den = 0.0
    for s in design.sites:
        num += s.it_typical_mw * s.pue * cat.region(s.region).electricity_price_usd_per_mwh
        den += s.it_typical_mw
    return num / den if den > 0 else 0.0


#: the successor's serving rates per (catalog, system, workloads), for callers without the
#: pipeline's successor stage (``resolve_price_decline`` with ``successor=None``)
_SUCCESSOR_RATES: dict[tuple[int, str, str, str], dict[str, float]] = {}


def _successor_rates(cat: Catalog, scn: Scenario, system_id: str) -> dict[str, float]:
    from gigafactory.design.choice import serving_for_system

    key = (id(cat), str(cat.version), system_id, "|".join(w.model_dump_json() for w in scn.workloads))
    if key not in _SUCCESSOR_RATES:
        if len(_SUCCESSOR_RATES) >= 32:
            _SUCCESSOR_RATES.clear()
        _SUCCESSOR_RATES[key] = {r["model"]: r["tok_s_gpu"] for r in serving_for_system(cat, scn, system_id)}
    return _SUCCESSOR_RATES[key]


def main_system(design: DesignResult) -> str:
    """The system of the site with the most GPUs: the one whose successor prices the decline."""
    return max(design.sites, key=lambda s: s.gpus).system


def successor_system(cat: Catalog, design: DesignResult) -> str | None:
    """Catalog id of the main system's successor (demand/data/generations.yaml); None if it has none."""
    return load_generations().systems.get(cat.system(main_system(design)).id, (None, None))[1]


def resolve_price_decline(cat: Catalog, scn: Scenario, design: DesignResult, serving: ServingResult,
                          successor: ServingResult | None = None) -> PriceDecline:
    """The decline a run uses: the scenario's number, or with ``"next-generation"`` the decline
    from the main system's successor (the system of the site with the most GPUs), served with
    the scenario's workloads: the rows of the pipeline's successor stage (``successor``), else a
    perf search now (~1 s per model)."""
    value = scn.finance.price_decline_per_year
    if not isinstance(value, str):
        return PriceDecline(float(value), SCENARIO_SOURCE)
    main = main_system(design)
    gens = load_generations()
    succ = successor_system(cat, design)
    rates_now = {r.model: r.tok_s_gpu for r in serving.systems[main]}
    if not succ:
        rates_next: dict[str, float] = {}
    elif successor is not None and succ in successor.systems:
        rates_next = {r.model: r.tok_s_gpu for r in successor.systems[succ]}
    else:
        rates_next = _successor_rates(cat, scn, succ)
    shares = {cat.model(w.model).id: w.share for w in scn.workloads}
    cost = cat.get("costs", scn.finance.cost_profile)
    return next_generation_decline(cat, cost, main, rates_now, rates_next, shares, energy_usd_per_it_mwh(cat, design), gens)
