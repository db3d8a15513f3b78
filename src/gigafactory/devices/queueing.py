"""Closed forms for the offload path's queue at the factory: M/M/c (Erlang C).

The offloaded requests of a region reach a pool of ``c`` serving slots (sequences in flight over
the offload model's replicas); with Poisson arrivals and exponential service the wait is
Erlang-C: P(wait > 0) = C(c, a), P(wait > t) = C(c, a) exp(-(c mu - lambda) t), mean wait
C / (c mu - lambda).  Large pools at moderate load wait almost never; the form shows where the
knee is.  Reference values: Kleinrock, Queueing Systems vol. 1 (1975), eq. 3.40; the
textbook check C(2, 1) = 1/3.
"""
from __future__ import annotations

import math


def erlang_b(servers: int, offered_erlangs: float) -> float:
    """Blocking probability B(c, a) of M/M/c/c.

    Small pools: the stable recursion B(0) = 1, B(k) = a B(k-1) / (k + a B(k-1)).  Large pools
    (thousands to millions of sequence slots in a factory): the same quantity as a ratio of
    Poisson terms, B = pmf(c; a) / cdf(c; a), in O(1) through the log-gamma function.
    """
    a = offered_erlangs
    if servers <= 2000:
        b = 1.0
        for k in range(1, servers + 1):
            b = a * b / (k + a * b)
        return b
    from scipy.special import gammaln, pdtr

    log_pmf = servers * math.log(a) - a - float(gammaln(servers + 1.0))
    return math.exp(log_pmf - math.log(float(pdtr(servers, a))))


def erlang_c(servers: int, offered_erlangs: float) -> float:
    """Probability an arrival waits, C(c, a), with a = lambda / mu < c; 1 when saturated:
    C = c B / (c - a (1 - B)) with B the Erlang-B blocking probability."""
    if servers < 1:
        raise ValueError("servers must be >= 1")
    a = offered_erlangs
    if a <= 0:
        return 0.0
    if a >= servers:
        return 1.0
    b = erlang_b(servers, a)
    return servers * b / (servers - a * (1.0 - b))


def mmc_mean_wait_s(servers: int, arrival_per_s: float, service_s: float) -> float:
    """Mean time in queue of M/M/c [s]; inf when the load reaches the servers."""
    a = arrival_per_s * service_s
    if a >= servers:
        return math.inf
    return erlang_c(servers, a) * service_s / (servers - a)


def mmc_wait_quantile_s(servers: int, arrival_per_s: float, service_s: float, q: float) -> float:
    """q-quantile of the time in queue of M/M/c [s] (0 when P(wait > 0) <= 1 - q)."""
    a = arrival_per_s * service_s
    if a >= servers:
        return math.inf
    c_prob = erlang_c(servers, a)
    if c_prob <= 1.0 - q:
        return 0.0
    rate = (servers - a) / service_s  # c mu - lambda
    return math.log(c_prob / (1.0 - q)) / rate
