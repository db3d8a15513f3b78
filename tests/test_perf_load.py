"""Latency under load (perf.load): queueing pieces against exact references, behaviour in the
arrival rate, and agreement with the serving simulator.  The serving search judges p99 SLOs with
it (tests/test_serving_p99.py), and so does `validate` by default (its "load" latency rule;
docs/accuracy.md, eighteenth round)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import bench_module

from gigafactory.perf.layout import Layout
from gigafactory.perf.load import (
    AdpBalance,
    Lengths,
    adp_hold_cdf,
    aggregated_load,
    busy_fraction_variance,
    count_peakedness,
    cv_within_max,
    halfin_whitt_wait_probability,
    latency_under_load,
    lognormal_nodes,
    quantiles_from_cdf,
    split_arrival_scv,
    ttft_distribution,
)


def test_length_nodes_keep_the_mean_and_the_cap():
    x = lognormal_nodes(1000.0, 1.0, None, 1024)
    assert x.mean() == pytest.approx(1000.0, rel=1e-6)
    assert x.std() / x.mean() == pytest.approx(1.0, abs=0.05)  # the top node sits at the 99.95th percentile
    capped = lognormal_nodes(870.7, 1.0, 2540.0)
    assert capped.mean() == pytest.approx(870.7, rel=1e-6) and capped.max() <= 2540.0
    assert np.all(lognormal_nodes(129.0, 1.0, 128.0) == 128.0)  # a maximum below the mean: outputs truncated


def test_cv_puts_a_published_maximum_at_a_high_quantile():
    assert cv_within_max(100.0, 1.0, None) == 1.0
    assert cv_within_max(100.0, 1.0, 1e6) == 1.0  # far maximum: the default CV
    cv = cv_within_max(9428.6, 1.0, 19988.0)  # MLPerf llama3.1-405b prompts
    s = math.sqrt(math.log1p(cv * cv))
    q = 0.5 * math.erfc(-(math.log(19988.0 / 9428.6) + s * s / 2) / s / math.sqrt(2))
    assert q == pytest.approx(0.999, abs=1e-6)


def test_halfin_whitt_limits():
    assert halfin_whitt_wait_probability(0.0) == 1.0
    assert halfin_whitt_wait_probability(40.0) == 0.0
    p = [halfin_whitt_wait_probability(b) for b in (0.1, 0.5, 1.0, 2.0, 3.0)]
    assert all(a > b for a, b in zip(p, p[1:]))


def test_prefill_wait_is_mm1_exact_for_exponential_service():
    """M/M/1: P(W > t) = rho exp(-(mu - lambda) t), so the p99 wait is ln(100 rho) / (mu - lambda)."""
    mean_s, rho = 0.2, 0.7
    service = -mean_s * np.log1p(-(np.arange(4096) + 0.5) / 4096)  # exponential quantile nodes
    grid, cdf = ttft_distribution(rho / mean_s, service, np.zeros_like(service), 0.0)
    p99 = quantiles_from_cdf(grid, cdf, (0.99,))[0]
    assert p99 == pytest.approx(math.log(100 * rho) / (1 / mean_s - rho / mean_s), rel=0.02)


@pytest.mark.parametrize("rho", [0.3, 0.7])
def test_prefill_wait_matches_a_lindley_recursion(rho):
    """M/G/1 with lognormal (CV 1) service: the FFT Pollaczek-Khinchine wait against Lindley's
    recursion over 200,000 customers.  Tolerance 15 % at p99: the 1,024 nodes stop at the 99.95th
    percentile of the service, and the recursion's own p99 moves a few % with the seed."""
    rng = np.random.default_rng(7)
    n, s2 = 200_000, math.log(2.0)
    s = np.exp(rng.normal(-s2 / 2, math.sqrt(s2), n))
    a = rng.exponential(1 / rho, n)
    w = np.empty(n)
    acc = 0.0
    for i in range(n):
        w[i] = acc
        acc = max(0.0, acc + s[i] - a[i])
    nodes = lognormal_nodes(1000.0, 1.0, None, 1024) / 1000.0
    grid, cdf = ttft_distribution(rho, nodes, np.zeros_like(nodes), 0.0)
    p50, p99 = quantiles_from_cdf(grid, cdf)
    assert p99 == pytest.approx(float(np.percentile(w, 99)), rel=0.15)
    assert abs(p50 - float(np.percentile(w, 50))) < 0.1


def _core(rate: float) -> object:
    # a 70B-class instance: 30 ms decode step, 8,192-token budget taking 0.5 s when full
    step_d, step_f, room = 0.030, 0.5, 8000.0
    lengths = Lengths(1024.0, 256.0)
    step = step_d / (1 - rate * 1024.0 * (step_f - step_d) / room)  # mean step with this prefill load
    return latency_under_load(rate, lengths, 1.0, step, step_d, step_f, room, 2e6, 0.3)


def test_busy_share_variance_is_takacs_for_poisson_and_shrinks_with_smoother_arrivals():
    """Poisson arrivals: the variance rate of the prefill server's busy share equals the long-window
    variance of the alternating renewal of M/G/1 busy and idle periods, (i^2 var_B + b^2 var_I) /
    (b + i)^3 with Takacs' busy-period moments E[B] = E[S] / (1 - rho), E[B^2] = E[S^2] / (1 - rho)^3.
    Renewal arrivals with gap SCV c_a^2 carry lambda (var S + c_a^2 E[S]^2) of it."""
    service = np.array([0.05, 0.1, 0.2, 0.4, 0.8])
    rate = 1.5
    es, es2 = service.mean(), (service ** 2).mean()
    rho = rate * es
    b, i = es / (1 - rho), 1 / rate
    takacs = (i * i * (es2 / (1 - rho) ** 3 - b * b) + b * b * i * i) / (b + i) ** 3
    r, c = busy_fraction_variance(rate, service)
    assert r == pytest.approx(rho) and c == pytest.approx(takacs, rel=1e-12)
    for n in (2, 8, 18):
        _, cn = busy_fraction_variance(rate, service, split_arrival_scv(n))
        assert cn == pytest.approx(rate * (service.var() + es * es / n), rel=1e-12) and cn < c
    assert split_arrival_scv(1) == 1.0 and split_arrival_scv(18) == pytest.approx(1 / 18)


def test_count_peakedness_of_an_infinite_server_queue():
    """Whitt's peakedness z = 1 + (c_a^2 - 1) E[min(L1, L2)] / E[L]: 1 for Poisson arrivals,
    c_a^2 for fixed lifetimes, (1 + c_a^2) / 2 for exponential lifetimes."""
    nodes = -np.log(1 - (np.arange(4096) + 0.5) / 4096)  # exponential quantiles
    assert count_peakedness(1.0, nodes) == 1.0
    assert count_peakedness(0.25, np.full(64, 3.0)) == pytest.approx(0.25)
    assert count_peakedness(0.25, nodes) == pytest.approx((1 + 0.25) / 2, rel=0.01)


def test_a_router_narrows_each_replicas_tpot_spread_as_in_the_simulator(row8b):
    """Long prompts (8,000 / 650 tokens, the shape of MLPerf's Llama-3.1-405B rows) on Llama-3.1-8B,
    32 sequences per replica at the model's rate: a router dealing the requests out over 8
    replicas leaves each fewer bursts of prompts than Poisson arrivals into one, so its decode
    steps are slowed more evenly.  The simulator (least-outstanding router, 6,000 requests)
    measures TPOT p99 / p50 2.3 with one replica and 1.6 with eight; the model narrows too
    (1.79 to 1.66) and at eight replicas is within 20 % of the simulator.  MLPerf's multi-instance
    405B rows measured the same (docs/accuracy.md, eighteenth round)."""
    _, s = row8b
    lay, lengths = Layout(tp=1), Lengths(8000.0, 650.0)
    spreads = {}
    for replicas in (1, 8):
        _, lp = aggregated_load(s["m"], s["pc"], s["hw"], s["eff"], lay, s["precision"], lengths, 32, s["spec"], instances=replicas)
        _, (o50, o99) = _simulate(s, lay, replicas, lp.rate_rps * replicas, 8000.0, 650.0, 6000)
        spreads[replicas] = (lp.tpot_p99_s / lp.tpot_p50_s, o99 / o50)
    assert spreads[8][1] < 0.8 * spreads[1][1]  # the simulator
    assert spreads[8][0] < spreads[1][0]  # the model
    assert 0.8 < spreads[8][0] / spreads[8][1] < 1.25


def test_latencies_grow_with_the_rate_and_p99_exceeds_p50():
    pts = [_core(r) for r in (1.0, 4.0, 8.0, 12.0, 14.0)]
    assert all(p.stable for p in pts)
    for p in pts:
        assert p.ttft_p99_s >= p.ttft_p50_s > 0 and p.tpot_p99_s >= p.tpot_p50_s > 0
    for a, b in zip(pts, pts[1:]):
        assert b.ttft_p99_s > a.ttft_p99_s and b.tpot_p99_s > a.tpot_p99_s
    assert not _core(16.5).stable  # prefill budget full: the queue grows without bound
    assert math.isinf(_core(16.5).ttft_p99_s)


def _adp_scheduler_waits(q: float, ranks: int, timeout: int, wait: int, steps: int, seed: int = 1) -> np.ndarray:
    """Steps each prompt is held by attention-DP balancing, the scheduler's rule run step by step
    as TensorRT-LLM's PyExecutor._balance_adp_requests runs it: when every rank holds a prompt,
    the waiting counter restarts and the batching counter holds them ``wait`` more steps; otherwise
    the waiting counter advances, and at ``timeout`` it restarts and everything waiting runs.
    Prompts arrive at each rank as a Poisson stream of ``q`` per step, seen at the next step."""
    rng = np.random.default_rng(seed)
    arrivals = rng.poisson(q, size=(steps, ranks))
    queues: list[list[int]] = [[] for _ in range(ranks)]
    waiting = batching = 0
    out: list[int] = []
    for it in range(steps):
        for r in range(ranks):
            queues[r].extend([it] * int(arrivals[it, r]))
        release = False
        if all(queues):
            waiting = 0
            if batching < wait:
                batching += 1
            else:
                batching, release = 0, True
        else:
            waiting += 1
            if waiting >= timeout:
                waiting, release = 0, True
        if release:
            for queue in queues:
                out.extend(it - a for a in queue)
                queue.clear()
    return np.array(out)


@pytest.mark.parametrize(("q", "timeout", "wait"), [(0.09, 9, 3), (0.5, 9, 3), (2.0, 9, 3), (0.09, 6, 2)])
def test_adp_hold_matches_the_schedulers_rule_run_step_by_step(q, timeout, wait):
    """The hold of attention-DP balancing (8 ranks), in closed form, against the scheduler's own
    rule run for 60,000 steps: the distribution of whole steps held within 0.04 in total variation
    and the mean within 0.15 steps, from MLPerf's sparse arrivals (q = 0.09 prompts per rank per
    step: uniform on 0 .. T - 1) to dense ones (q = 2: every rank holds one at once, then W)."""
    held = _adp_scheduler_waits(q, 8, timeout, wait, 60_000)
    k = np.arange(timeout + wait + 1)
    model = np.diff(adp_hold_cdf(k.astype(float), 1.0, AdpBalance(timeout, wait), q, 8), prepend=0.0)
    simulated = np.array([(held == j).mean() for j in k])
    assert model.sum() == pytest.approx(1.0) and simulated.sum() == pytest.approx(1.0)
    assert 0.5 * np.abs(model - simulated).sum() < 0.04
    assert (model * k).sum() == pytest.approx(held.mean(), abs=0.15)
    if q < 0.1:
        assert (model * k).sum() == pytest.approx((timeout - 1) / 2, abs=0.15)


def test_adp_hold_degenerate_inputs():
    """No step, no hold; no arrivals (or an unknown rate), the timeout's uniform hold."""
    t = np.array([0.0, 0.05, 1.0])
    assert np.all(adp_hold_cdf(t, 0.0, AdpBalance(9, 3), 1.0, 8) == 1.0)
    for rate in (0.0, float("nan")):
        cdf = adp_hold_cdf(np.arange(12.0), 1.0, AdpBalance(9, 3), rate, 8)
        assert cdf[0] == pytest.approx(1 / 9) and cdf[8] == pytest.approx(1.0)


def test_sustainable_fraction_scans_when_the_hold_makes_the_ttft_fall_with_the_rate(monkeypatch):
    """With a balancing hold the p99 TTFT can fall as the rate rises (every rank holds a prompt
    sooner) while the TPOT rises: here the TTFT limit fails below f = 0.7 and the TPOT limit above
    f = 0.9.  Bisection from f = 0.5 would give up; the scan finds the largest f that meets both."""
    from gigafactory.perf import search
    from gigafactory.perf.load import LoadPoint

    def fake(*args, rate_scale=1.0, adp=None, **kwargs):
        f = rate_scale
        return LoadPoint(f, 1.0, 2.0 - f, 0.05, 0.05 + 0.1 * f, 0.5, 0.0, True)

    monkeypatch.setattr(search, "load_at", fake)
    none = (None,) * 6
    f, lp = search.sustainable_fraction(None, *none, 1.3, 0.14, adp=AdpBalance(50, 10))
    assert f == pytest.approx(0.9, abs=1 / 512) and lp.meets(1.3, 0.14)
    f, _ = search.sustainable_fraction(None, *none, 1.3, 0.14)  # without the hold: bisection from 0.5
    assert f == 0.0


def test_adp_hold_adds_its_steps_to_the_ttft_only():
    """The hold delays the first token by about its mean ((T - 1) / 2 steps at sparse arrivals) and
    leaves the TPOT alone; without attention-DP ranks to balance (one rank) there is no hold."""
    step_d, step_f, room, rate = 0.060, 0.3, 4000.0, 1.5
    lengths = Lengths(800.0, 3700.0)
    step = step_d / (1 - rate * 800.0 * (step_f - step_d) / room)
    plain = latency_under_load(rate, lengths, 1.0, step, step_d, step_f, room, 2e6, 0.3, schedulers=8)
    held = latency_under_load(rate, lengths, 1.0, step, step_d, step_f, room, 2e6, 0.3, schedulers=8,
                              adp=AdpBalance(9, 3), adp_ranks=8)
    one = latency_under_load(rate, lengths, 1.0, step, step_d, step_f, room, 2e6, 0.3, schedulers=8, adp=AdpBalance(9, 3), adp_ranks=1)
    assert held.ttft_p50_s - plain.ttft_p50_s == pytest.approx(4 * step, rel=0.25)
    assert held.ttft_p99_s - plain.ttft_p99_s == pytest.approx(8 * step, rel=0.3)
    assert (held.tpot_p50_s, held.tpot_p99_s) == (plain.tpot_p50_s, plain.tpot_p99_s)
    assert one == plain


@pytest.fixture(scope="module")
def row8b(catalog):
    from gigafactory.simulate.replay import _row_setup
    row = {"id": "t", "model": "meta-llama/Llama-3.1-8B-Instruct", "hardware": "h200-sxm", "precision": "fp8", "framework": "trtllm", "mtp": "0"}
    return row, _row_setup(row, catalog)


def _simulate(setup, layout, replicas, rate_rps, isl, osl, n_requests, seed=0):
    from gigafactory.simulate import workload as wlmod
    from gigafactory.simulate.cost import PerfStepCost
    from gigafactory.simulate.engine import EngineConfig, Pool, Replica
    from gigafactory.simulate.router import make_router
    from gigafactory.simulate.sim import Requests, Simulation
    rng = np.random.default_rng(seed)
    dur = n_requests / rate_rps
    wl = wlmod.synthetic(wlmod.poisson_arrivals(rate_rps, dur, rng), rng, isl=isl, osl=osl, cv_len=1.0, duration_s=dur)
    req = Requests(wl.arrival_s.tolist(), wl.input_tokens.tolist(), wl.output_tokens.tolist(), [0] * len(wl))
    sim = Simulation(req, dur, drain_s=10 * dur)
    s = setup
    cost = PerfStepCost(s["m"], s["pc"], s["hw"], s["eff"], layout, s["precision"], s["spec"])
    pool = Pool(sim, "p", None, make_router("least-outstanding"))
    pool.replicas = [Replica(sim, pool, i, cost, EngineConfig(max_seqs=1 << 20)) for i in range(replicas)]
    sim.add_pool(pool, [0])
    sim.run()
    arr, first, fin, out = map(np.array, (req.arrival, req.first, req.finish, req.out))
    scored = (np.arange(len(arr)) >= len(arr) // 10) & np.isfinite(fin)
    multi = scored & (out > 1)
    ttft = first[scored] - arr[scored]
    tpot = (fin[multi] - first[multi]) / (out[multi] - 1)
    return np.percentile(ttft, [50, 99]), np.percentile(tpot, [50, 99])


@pytest.mark.parametrize("replicas, concurrency", [(1, 64), (1, 128), (4, 128)])
def test_agrees_with_the_simulator(row8b, replicas, concurrency):
    """Llama-3.1-8B on H200 (MLPerf interactive lengths, 871 / 129 tokens, lognormal CV 1):
    the model's p99s against the discrete-event engine at the model's own rate, 12,000 requests.

    Tolerances: the ranges measured over 25 configurations, 8B to 405B, one and four replicas
    (docs/accuracy.md, "Latency under load"): the model's p99 TPOT is 0.51-1.85x the simulator's
    and its p99 TTFT 0.60-1.18x (the simulator's router balances outstanding tokens, not prefill
    work, so it queues prompts more than the M/G/c the model assumes).  With the roofline exponent
    measured on an H200 (4.4, twelfth round) four replicas at 128 sequences give 0.59x, so the
    TTFT bound is 0.55.  The ranges are wide: that is the model's measured accuracy against the
    simulator; against MLPerf's measured TPOTs it does better (the next tests)."""
    row, s = row8b
    lay = Layout(tp=1)
    lengths = Lengths(870.7, 129.0)
    p, lp = aggregated_load(s["m"], s["pc"], s["hw"], s["eff"], lay, s["precision"], lengths, concurrency, s["spec"], instances=replicas)
    assert lp.stable
    (t50, t99), (o50, o99) = _simulate(s, lay, replicas, lp.rate_rps * replicas, 870.7, 129.0, 12000)
    assert 0.5 < lp.tpot_p99_s / o99 < 1.9
    assert 0.55 < lp.ttft_p99_s / t99 < 1.2


def test_tpot_under_load_matches_mlperf_servers_at_their_operating_point(catalog):
    """The queue against measured reality (bench/bench_load_vs_measured.py; LoadGen's own p50/p99
    of 27 trust 1-2 MLPerf Server / Interactive rows, v4.1-v6.0, H100 to GB300, 8B to 671B).  At
    each row's operating point (sequences in flight by Little's law: rate x p50 TPOT) and its
    measured arrival rate, the model's p50 and p99 TPOT are a median 0.96x and 0.94x the
    measured, within a factor 1.12 (both), and the spread p99 / p50 within a factor 1.06 (1.09
    before the router's share of the arrivals was modelled: the multi-instance Llama-3.1-405B
    rows' spread came out 1.13-1.53x the measured, now 1.00-1.18x; docs/accuracy.md, eighteenth
    round).  Its TTFTs are 0.58x (p50) and 0.34x (p99) the measured: real servers' TTFT carries
    delays the queue does not have, so this test holds the TPOT, and the TTFT's sign.

    The TTFT gap of the attention-DP DeepSeek-R1 rows is the engine's balancing hold: with the
    settings their submissions' configurations name (bench/data/mlperf_v6_deepseek_configs.csv:
    timeout 9, batching wait 3) the v6.0 rows' TTFT p50 is 0.75-0.84x the measured, against
    0.30-0.32x without (nineteenth round), and over all rows 0.78x (p50) and 0.56x (p99).  The hold
    is counted in steps, so a row whose step the model makes too fast (v5.1 GB200: TPOT p50 0.62x)
    keeps that share of the gap (0.21x -> 0.46x)."""
    from gigafactory.perf.validate import read_measured_csv

    b = bench_module("bench_load_vs_measured")
    rows = read_measured_csv(b.MEASURED)
    recs = b.evaluate(b.with_engine_settings(rows), catalog)
    s = b.summary(recs, "at_real_point")
    assert s["n"] >= 25
    for key in ("tpot_p50_ms", "tpot_p99_ms"):
        assert 0.9 < s["median_ratio"][key] < 1.1 and s["error_factor"][key] < 1.15
    spread = np.array([math.log((x["at_real_point"][3] / x["at_real_point"][2]) / (x["measured"][3] / x["measured"][2])) for x in recs])
    assert math.exp(np.median(np.abs(spread))) < 1.07
    assert s["median_ratio"]["ttft_p99_ms"] < 1  # under-predicted: the known gap, stated
    held = [x for x in recs if x["adp_balance"]]
    stepped = [x for x in held if 0.8 < x["at_real_point"][2] / x["measured"][2] < 1.25]  # the step within 20 %
    assert len(held) >= 6 and len(stepped) >= 5
    assert all(0.7 < x["at_real_point"][0] / x["measured"][0] < 1.1 for x in stepped)
    assert s["median_ratio"]["ttft_p50_ms"] > 0.7
    without = {x["id"]: x for x in b.evaluate(rows, catalog)}
    assert all(without[x["id"]]["at_real_point"][0] / x["measured"][0] < 0.4 for x in held)
    assert all(x["at_real_point"][0] > 2 * without[x["id"]]["at_real_point"][0] for x in held)


def _mmc_wait_tail(servers: int, load: float, service_s: float, budget_s: float, n: int = 200_000, seed: int = 7) -> float:
    """P(wait > budget) of an M/M/c FCFS queue, simulated: each arrival takes the server that
    frees first (a heap of the servers' free times)."""
    import heapq

    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(service_s / load, n))
    services = rng.exponential(service_s, n)
    free = [0.0] * servers
    late = 0
    for t, s in zip(arrivals, services):
        start = max(t, heapq.heappop(free))
        late += start - t > budget_s
        heapq.heappush(free, start + s)
    return late / n


@pytest.mark.parametrize("slots,budget_s", [(32, 0.05), (128, 0.02)])
def test_admission_utilisation_meets_the_p99_wait_in_a_simulated_queue(slots, budget_s):
    """At the utilisation admission_utilisation returns, an M/M/c queue with the slots as servers
    keeps about 99 % of waits within the budget (98.5-98.8 %: Halfin-Whitt is a large-c
    approximation), and 8 % more load breaks it (200,000 simulated
    arrivals, lifetime 1 s; budgets a few % of the lifetime, as a 2 s TTFT limit is of a 40-200 s
    sequence)."""
    from gigafactory.perf.load import admission_utilisation

    u = admission_utilisation(slots, 1.0, budget_s)
    assert 0.5 < u < 0.97
    tail = _mmc_wait_tail(slots, u * slots, 1.0, budget_s)
    assert 0.005 < tail < 0.02
    assert _mmc_wait_tail(slots, min(0.995, u * 1.08) * slots, 1.0, budget_s) > 0.03


def test_admission_utilisation_limits():
    """More slots or a longer budget allow more load; no budget, none; a budget long against the
    lifetime, nearly all (the Halfin-Whitt regime: spare slots grow as sqrt(slots), not slots)."""
    from gigafactory.perf.load import admission_utilisation

    assert admission_utilisation(64, 10.0, 0.0) == 0.0
    assert admission_utilisation(64, 10.0, 1.0) < admission_utilisation(64, 10.0, 2.0) < admission_utilisation(640, 10.0, 2.0)
    assert admission_utilisation(10_000, 1.0, 10.0) > 0.99


def test_a_server_row_runs_below_the_same_systems_offline_rate(catalog):
    """MLPerf v4.1 H100 Llama-2-70B (4 x TP2): the server run sustained 0.88 of the offline one
    (2,700.72 against 3,065.61 tok/s/GPU, calibration.csv).  Under the "ratios" rule the model's
    server rate is its offline point fed at the share that keeps the p99 wait for a batch slot
    inside the 2 s TTFT limit: below the offline rate (0.98 x; before the admission headroom, the
    same rate).  It explains a part of the measured gap only (docs/accuracy.md, eleventh round).
    The queueing rule (the default) finds the largest batch's p99s inside both limits at its full
    rate, so it predicts the offline rate for this row."""
    from conftest import SHARED

    from gigafactory.perf.efficiency import load_efficiencies
    from gigafactory.perf.validate import predict_row, read_measured_csv

    measured = SHARED / "data" / "measured" / "calibration.csv"
    if not measured.exists():
        pytest.skip("shared/data/measured not present")
    rows = {r["id"]: r for r in read_measured_csv(measured)}
    off, srv = (predict_row(rows[f"mlperf-v4.1-nvidia-h100x8-llama2-70b-{s}"], catalog, load_efficiencies(), latency_rule="ratios")
                for s in ("offline", "server"))
    assert off.status == srv.status == "ok"
    assert 0.75 < srv.predicted_tok_s_gpu / off.predicted_tok_s_gpu < 0.995


def _limited_rows():
    from conftest import SHARED

    from gigafactory.perf.validate import read_measured_csv

    measured = SHARED / "data" / "measured" / "calibration.csv"
    if not measured.exists():
        pytest.skip("shared/data/measured not present")
    return {r["id"]: r for r in read_measured_csv(measured)}


@pytest.mark.parametrize("rid", ["mlperf-v4.1-nvidia-h100x8-llama2-70b-server", "mlperf-v5.1-nebius-h200x8-llama3.1-405b-server",
                                 "mlperf-v6.0-nvidia-gb200x72-deepseek-r1-interactive"])
def test_the_load_rule_meets_the_rows_limits_with_the_queues_p99s(catalog, rid):
    """validate's "load" rule (aggregated, a long-prompt row, a disaggregated one): the prediction
    is its point's steady rate times the share of saturation found, that share is at least
    search.MIN_LOAD_FRACTION, and the queueing model's p99s there meet the row's limits."""
    from gigafactory.perf.search import MIN_LOAD_FRACTION
    from gigafactory.perf.validate import predict_row

    row = _limited_rows()[rid]
    p = predict_row(row, catalog, latency_rule="load")
    assert p.status == "ok", p.reason
    d = p.config
    assert MIN_LOAD_FRACTION <= d["load_fraction"] <= 1
    assert p.predicted_tok_s_gpu == pytest.approx(p.config["tok_s_gpu"])
    assert d["ttft_p99_s"] * 1e3 <= float(row["ttft_p99_limit_ms"]) and d["tpot_p99_s"] * 1e3 <= float(row["tpot_p99_limit_ms"])
    assert d["ttft_p99_s"] >= p.predicted_ttft_s and d["tpot_p99_s"] >= p.predicted_tpot_s * 0.999  # a p99 is not below the steady value


def test_the_load_rule_follows_the_limits(catalog):
    """Tighter limits, less served: halving the TTFT limit of the long-prompt 405B row, or the
    TPOT limit of the H100 Llama-2-70B row, lowers the load rule's prediction; a limit no point
    can meet leaves the row unsupported with the reason."""
    from gigafactory.perf.validate import predict_row

    rows = _limited_rows()
    for rid, col in (("mlperf-v5.1-nebius-h200x8-llama3.1-405b-server", "ttft_p99_limit_ms"),
                     ("mlperf-v4.1-nvidia-h100x8-llama2-70b-server", "tpot_p99_limit_ms")):
        row = rows[rid]
        base = predict_row(row, catalog, latency_rule="load").predicted_tok_s_gpu
        tight = predict_row({**row, col: str(float(row[col]) / 2)}, catalog, latency_rule="load")
        assert tight.status == "ok" and tight.predicted_tok_s_gpu < base
        none = predict_row({**row, col: "1"}, catalog, latency_rule="load")
        assert none.status == "unsupported" and "latency limits" in none.reason
    with pytest.raises(ValueError, match="latency_rule"):
        predict_row(row, catalog, latency_rule="p99")
