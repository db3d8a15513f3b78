"""Spares and technicians against lost goodput: build -> solve -> apply.

Decision per site: spares ``S_f`` per field-replaceable unit and technician positions ``c``
(each staffed around the clock).  Yearly cost:

    sum_f carrying x price_f x S_f                          (spares held)
  + c x coverage x loaded cost per FTE                      (crews)
  + value per GPU-second x sum_f g_f x EBO_f(S_f) x year    (GPUs idle waiting for parts)
  + value per GPU-second x sum_f g_f x rate_f x W(c) x year (GPUs idle waiting for a technician)

``g_f`` is the serving GPUs one failure of FRU ``f`` keeps idle while it waits, the marginal of
the site availability model (``model.py``) at the operating point: 0 for parts whose failure costs
no capacity (twin-plane optics, redundant PSUs), a rack's worth for an NVLink switch tray, a
tray's worth or less (in-rack slack) for a compute tray.  With the marginals fixed the cost is
separable, convex in each ``S_f`` (backorders are convex, Sherbrooke 2004) and convex decreasing
in ``c`` (Erlang C wait), so the search below is exact for it: each ``S_f`` rises from its
fill-rate floor while a spare saves more than it costs; ``c`` rises from the crew-utilisation
floor while a technician saves more than they cost.  ``apply`` then evaluates the full
(non-linear) availability model at the chosen decision.

Constraints carry names, so an infeasible plan says which rule failed:
``spares-fill-rate:<fru>`` (S_f at least the Poisson quantile for the target fill rate) and
``crew-utilisation`` (swap work / technicians at most ``max_utilisation``; at most ``max_technicians``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from gigafactory.errors import InputError, Problem
from gigafactory.operations.catalog import FailureCatalog
from gigafactory.operations.model import (
    Decision,
    SiteAvailability,
    SiteFleet,
    class_events_per_s,
    fru_events_per_s,
    site_availability,
)
from gigafactory.operations.reliability import (
    SECONDS_PER_YEAR,
    expected_backorders,
    mmc_wait_s,
    spares_for_fill_rate,
)

#: extra outage per failure used for the marginal GPUs lost (one hour: small against the
#: days a missing part can take, large against float noise)
MARGINAL_PROBE_S = 3600.0
#: at most this many technicians are tried above the utilisation floor
MAX_EXTRA_TECHNICIANS = 500


@dataclass(frozen=True)
class FruTerm:
    """One FRU's part of the problem."""

    fru: str
    rate_per_s: float  # failures needing this part at the site [1/s]
    pipeline_mean: float  # parts in repair / RMA on average, rate x lead time [count]
    unit_cost_usd: float | None
    gpus_idle_per_failure: float  # g_f [GPUs]
    min_spares: int  # spares-fill-rate floor [count]


@dataclass(frozen=True)
class SparesProblem:
    site: str
    terms: tuple[FruTerm, ...]
    swap_rate_per_s: float
    mean_swap_s: float
    min_technicians: int
    max_technicians: int
    value_usd_per_gpu_s: float
    technician_usd_per_year: float  # one position around the clock: coverage x loaded cost per FTE
    carrying_per_year: float  # carrying cost per USD of spares per year [1/year]
    constraints: tuple[str, ...]


@dataclass(frozen=True)
class SparesSolution:
    site: str
    technicians: int
    spares: dict[str, int]
    spares_cost_usd: float  # capex of the spares pool (priced FRUs) [USD]
    spares_carrying_usd_per_year: float
    technicians_usd_per_year: float
    waiting_cost_usd_per_year: float  # value of GPUs idle waiting for parts or technicians
    binding: tuple[str, ...]  # constraints at their bound


def _fill_floor(fru: str, pipeline_mean: float, target: float) -> int:
    return spares_for_fill_rate(pipeline_mean, target)


def build(fc: FailureCatalog, fleet: SiteFleet, value_usd_per_gpu_hour: float, loaded_cost_usd_per_fte_year: float,
          fill_target: float | None = None, max_utilisation: float = 0.85, max_technicians: int | None = None) -> SparesProblem:
    """The problem of one site (module docstring)."""
    h = fc.handling
    target = float(h["fill_rate"].value) if fill_target is None else fill_target
    events = class_events_per_s(fc, fleet)
    fru_ev = fru_events_per_s(fc, events)
    swap_rate = sum(fru_ev.values())
    mean_swap = sum(fru_ev[f] * fc.frus[f].swap.value for f in fru_ev) / swap_rate if swap_rate else 1.0
    c_min = max(1, math.ceil(swap_rate * mean_swap / max_utilisation))
    # marginal GPUs idle per failure waiting, at an ample decision (no queue, parts in stock)
    ample = Decision(c_min + 50, {f: _fill_floor(f, fru_ev[f] * fc.frus[f].lead.value, 0.999) for f in fru_ev})
    base = site_availability(fc, fleet, ample).availability
    terms = []
    for f, e in fru_ev.items():
        if e <= 0:
            continue
        bumped = site_availability(fc, fleet, ample, extra_down_s={f: MARGINAL_PROBE_S}).availability
        g = max(0.0, (base - bumped) * fleet.gpus / (e * MARGINAL_PROBE_S))
        m = e * fc.frus[f].lead.value
        terms.append(FruTerm(f, e, m, fc.frus[f].unit_cost.value, g, _fill_floor(f, m, target)))
    cons = tuple(f"spares-fill-rate:{t.fru}" for t in terms) + ("crew-utilisation",)
    return SparesProblem(fleet.name, tuple(terms), swap_rate, mean_swap, c_min,
                         max_technicians if max_technicians is not None else c_min + MAX_EXTRA_TECHNICIANS,
                         value_usd_per_gpu_hour / 3600.0, h["technician_coverage"].value * loaded_cost_usd_per_fte_year,
                         h["carrying_cost"].value * SECONDS_PER_YEAR, cons)


def solve(p: SparesProblem) -> SparesSolution:
    """Exact minimum of the separable convex cost (module docstring)."""
    if p.max_technicians < p.min_technicians:
        raise InputError([Problem(f"site {p.site}: the swap work needs at least {p.min_technicians} technicians on duty, "
                                  f"more than the {p.max_technicians} allowed", field="operations.max_technicians",
                                  value=p.max_technicians, expected=f">= {p.min_technicians}",
                                  fix="allow more technicians or a higher utilisation", check="crew-utilisation")])
    year = SECONDS_PER_YEAR
    spares: dict[str, int] = {}
    binding = []
    carry_usd = capex = wait_parts = 0.0
    for t in p.terms:
        s = t.min_spares
        if t.unit_cost_usd is not None and t.gpus_idle_per_failure > 0:
            hold = p.carrying_per_year * t.unit_cost_usd  # [USD/year] per spare
            while True:
                gain = p.value_usd_per_gpu_s * t.gpus_idle_per_failure * year * float(
                    expected_backorders(s, t.pipeline_mean) - expected_backorders(s + 1, t.pipeline_mean))
                if gain <= hold:
                    break
                s += 1
        if s == t.min_spares:
            binding.append(f"spares-fill-rate:{t.fru}")
        spares[t.fru] = s
        if t.unit_cost_usd is not None:
            capex += s * t.unit_cost_usd
            carry_usd += s * t.unit_cost_usd * p.carrying_per_year
        wait_parts += p.value_usd_per_gpu_s * t.gpus_idle_per_failure * float(expected_backorders(s, t.pipeline_mean)) * year
    idle_rate = sum(t.gpus_idle_per_failure * t.rate_per_s for t in p.terms)  # GPU-s idle per second of technician wait

    def crew_cost(c: int) -> float:
        return c * p.technician_usd_per_year + p.value_usd_per_gpu_s * idle_rate * mmc_wait_s(c, p.swap_rate_per_s, p.mean_swap_s) * year

    best_c, best = p.min_technicians, crew_cost(p.min_technicians)
    for c in range(p.min_technicians + 1, p.max_technicians + 1):
        cost = crew_cost(c)
        if cost < best:
            best_c, best = c, cost
        elif cost - best > p.technician_usd_per_year:
            break  # convex: past the minimum by more than one step, never coming back
    if best_c == p.min_technicians:
        binding.append("crew-utilisation")
    tech_wait_cost = best - best_c * p.technician_usd_per_year
    return SparesSolution(p.site, best_c, spares, capex, carry_usd, best_c * p.technician_usd_per_year,
                          wait_parts + tech_wait_cost, tuple(binding))


def apply(fc: FailureCatalog, fleet: SiteFleet, sol: SparesSolution) -> SiteAvailability:
    """The site's availability under the solution (full model)."""
    return site_availability(fc, fleet, Decision(sol.technicians, sol.spares))
