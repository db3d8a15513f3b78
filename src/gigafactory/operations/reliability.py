"""Pure reliability math: failure counts, spares depth, repair queues.

- Failures are Poisson processes: ``rate x units x time`` expected events.
- Spares (Sherbrooke, *Optimal Inventory Modeling of Systems: Multi-Echelon Techniques*, 2nd ed.,
  2004, ch. 2, the METRIC base-stock model): each failure sends a part to repair/RMA and takes a
  spare; by Palm's theorem the parts in the pipeline are Poisson with mean ``rate x lead time``.
  With ``S`` spares a failure is met from stock when fewer than ``S`` are in the pipeline
  (fill rate ``P(D <= S - 1)``); expected backorders ``E[(D - S)+]``; by Little's law a failure
  waits ``EBO / rate`` for a part on average.
- Technicians: an M/M/c queue (Erlang C) for the swap work of a large fleet, and the finite-source
  machine-repairman model with cold spares (Gross & Harris, *Fundamentals of Queueing Theory*,
  3rd ed., 1998, sec. 2.7-2.8) with its event simulation, which the tests compare.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import special, stats

SECONDS_PER_YEAR = 365.25 * 86400.0


def expected_events(rate_per_s: float, units: float, duration_s: float) -> float:
    """Expected failures of ``units`` units at ``rate_per_s`` each over ``duration_s`` [count]."""
    return rate_per_s * units * duration_s


def fill_rate(spares: int | np.ndarray, pipeline_mean: float) -> float | np.ndarray:
    """Share of failures met from stock at once with ``spares`` on the shelf and a Poisson
    replenishment pipeline of mean ``pipeline_mean`` (rate x lead time) [1]."""
    s = np.asarray(spares)
    out = np.where(s > 0, stats.poisson.cdf(s - 1, pipeline_mean), 0.0)
    return float(out) if out.ndim == 0 else out


def spares_for_fill_rate(pipeline_mean: float, target: float) -> int:
    """Fewest spares whose fill rate reaches ``target`` [count]."""
    if pipeline_mean <= 0:
        return 0
    return int(stats.poisson.ppf(target, pipeline_mean)) + 1


def expected_backorders(spares: int | np.ndarray, pipeline_mean: float) -> float | np.ndarray:
    """E[(D - S)+] for D ~ Poisson(``pipeline_mean``) [count]; convex and decreasing in S."""
    s = np.atleast_1d(np.asarray(spares, dtype=float))
    m = pipeline_mean
    # E[(D-S)+] = m P(D >= S) - S P(D >= S + 1)
    out = m * stats.poisson.sf(s - 1, m) - s * stats.poisson.sf(s, m)
    out = np.maximum(out, 0.0)
    return float(out[0]) if np.ndim(spares) == 0 else out


def erlang_c(servers: int, offered_load: float) -> float:
    """Probability an arrival waits in an M/M/c queue with ``offered_load`` = arrival rate / service rate [1]."""
    c, a = int(servers), float(offered_load)
    if a <= 0:
        return 0.0
    if a >= c:
        return 1.0
    # log-space Erlang B recursion is unstable for large c; use the regularised gamma form
    log_term = c * math.log(a) - a - special.gammaln(c + 1)
    top = math.exp(log_term) * c / (c - a)
    cdf_below = special.gammaincc(c, a)  # P(Poisson(a) <= c - 1)
    return float(top / (cdf_below + top))


def mmc_wait_s(servers: int, arrival_per_s: float, service_s: float) -> float:
    """Mean wait before service in an M/M/c queue [s]; inf when unstable."""
    if arrival_per_s <= 0:
        return 0.0
    mu = 1.0 / service_s
    if servers * mu <= arrival_per_s:
        return math.inf
    return erlang_c(servers, arrival_per_s * service_s) / (servers * mu - arrival_per_s)


def machine_repairman(machines: int, fail_per_s: float, repair_per_s: float, repairmen: int, spares: int = 0) -> dict[str, float]:
    """Finite-source M/M/c//N with cold spares: ``machines`` must run, ``spares`` stand by (they do
    not fail), each running machine fails at ``fail_per_s``, ``repairmen`` repair at ``repair_per_s`` each.

    Returns ``availability`` (mean running / machines) [1], ``mean_failed`` [count] and
    ``mean_wait_s`` (before a repair starts, by Little's law) [s].  Stationary distribution of the
    birth-death chain in the number failed k: birth rate ``min(machines, machines + spares - k) x fail``,
    death rate ``min(k, repairmen) x repair``; log-space products, so it holds for large fleets.
    """
    n, s, c = int(machines), int(spares), int(repairmen)
    kmax = n + s
    k = np.arange(kmax + 1)
    birth = np.minimum(n, n + s - k) * fail_per_s  # rate k -> k+1
    death = np.minimum(k, c) * repair_per_s  # rate k -> k-1
    logp = np.zeros(kmax + 1)
    with np.errstate(divide="ignore"):
        logp[1:] = np.cumsum(np.log(birth[:-1]) - np.log(death[1:]))
    p = np.exp(logp - logp.max())
    p /= p.sum()
    running = np.minimum(n, n + s - k)
    mean_failed = float(np.sum(k * p))
    waiting = np.maximum(k - c, 0)
    lam_eff = float(np.sum(birth * p))
    return {"availability": float(np.sum(running * p) / n), "mean_failed": mean_failed,
            "mean_wait_s": float(np.sum(waiting * p) / lam_eff) if lam_eff > 0 else 0.0}


def simulate_repairman(machines: int, fail_per_s: float, repair_per_s: float, repairmen: int, spares: int, horizon_s: float,
                       rng: np.random.Generator) -> dict[str, float]:
    """Event simulation of :func:`machine_repairman`'s process (exponential times from ``rng``):
    time-averaged running machines / ``machines`` over ``horizon_s``, and the failures seen."""
    n, s, c = int(machines), int(spares), int(repairmen)
    t, k, area, failures = 0.0, 0, 0.0, 0
    while t < horizon_s:
        running = min(n, n + s - k)
        up = running * fail_per_s
        down = min(k, c) * repair_per_s
        total = up + down
        dt = rng.exponential(1.0 / total)
        step = min(dt, horizon_s - t)
        area += running * step
        t += dt
        if t >= horizon_s:
            break
        if rng.random() * total < up:
            k += 1
            failures += 1
        else:
            k -= 1
    return {"availability": area / (n * horizon_s), "failures": float(failures)}


def alternating_down_share(rate_per_s: float, down_s: float) -> float:
    """Long-run share of time a unit that fails at ``rate_per_s`` and stays down ``down_s`` is
    down (alternating renewal: mean down / (mean up + mean down)) [1]."""
    x = rate_per_s * down_s
    return x / (1.0 + x)
