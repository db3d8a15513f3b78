"""The serving simulator with failures (issue 20): typed interrupts of replicas, retries, routing
around the dead replica, conservation, and goodput that failures never raise."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from gigafactory.operations.catalog import load_failures
from gigafactory.operations.serving import (
    failure_schedule,
    inject,
    replica_failure_model,
)
from gigafactory.pipeline.streams import stream
from gigafactory.simulate.cost import TokenLinearCost
from gigafactory.simulate.engine import EngineConfig, Pool, Replica
from gigafactory.simulate.kernel import Interrupt
from gigafactory.simulate.metrics import SLO, latency_metrics, request_arrays
from gigafactory.simulate.router import make_router
from gigafactory.simulate.sim import Requests, Simulation


def _sim(n=400, rate=20.0, replicas=3, seed=0, router="least-outstanding", duration=None):
    rng = np.random.default_rng(seed)
    arr = np.cumsum(rng.exponential(1 / rate, n))
    inp = rng.integers(50, 200, n).tolist()
    out = rng.integers(20, 80, n).tolist()
    req = Requests(arr.tolist(), inp, out, [0] * n)
    sim = Simulation(req, duration or float(arr[-1]) + 1e-9)
    pool = Pool(sim, "p", None, make_router(router))
    cost = TokenLinearCost(s_per_prefill_token=2e-4, s_per_decode_step=0.01, kv_capacity_tokens=1e6)
    pool.replicas = [Replica(sim, pool, i, cost, EngineConfig(max_seqs=8)) for i in range(replicas)]
    sim.add_pool(pool, [0])
    return sim, pool


def _conserved(sim):
    """arrived = completed + failed + dropped + in flight; in flight only when the run hit its horizon."""
    a = request_arrays(sim)
    done = np.isfinite(a["finish"]) & ~a["failed"]
    in_flight = len(a["arrival"]) - int(done.sum()) - int(a["failed"].sum()) - int(a["dropped"].sum())
    assert in_flight >= 0 and (in_flight == 0 or sim.stopped_early)
    assert sim.completed + sim.failed + sim.dropped + in_flight == len(a["arrival"])
    assert not (a["failed"] & np.isfinite(a["finish"])).any()
    return a


@pytest.mark.parametrize("router", ["least-outstanding", "round-robin", "central-queue"])
def test_requests_on_failed_replica_are_retried_and_routing_avoids_it(router):
    """A replica fails at 5 s and is repaired at 12 s: the requests it held are sent again and
    finish elsewhere (one retry each); no request is routed to it while it is down; it serves
    again after its repair; every request is accounted for."""
    sim, pool = _sim(router=router)
    seen = []
    sim.interrupt_hooks.append(lambda now, intr, lost: seen.append((now, intr.cause, intr.up, list(lost))))
    sim.schedule_interrupt(5.0, Interrupt("gpu", "p", 1, up=False, down_s=7.0))
    assigned = []
    orig = pool.members()[1].assign
    pool.members()[1].assign = lambda rid, now, state=0: (assigned.append(now), orig(rid, now, state))[1]
    sim.run()
    assert [(t, c, u) for t, c, u, _ in seen] == [(5.0, "gpu", False), (12.0, "repaired", True)]
    lost = seen[0][3]
    assert lost, "the failed replica held requests"
    a = _conserved(sim)
    assert sim.failed == 0 and pool.retried == len(lost)
    assert all(a["retries"][r] == 1 and np.isfinite(a["finish"][r]) and a["finish"][r] > 5.0 for r in lost)
    assert not any(5.0 <= t < 12.0 for t in assigned), "routing chose the dead replica"
    if router != "central-queue":
        assert any(t >= 12.0 for t in assigned), "the repaired replica serves again"


def test_without_retries_requests_fail_and_with_all_replicas_down_arrivals_fail():
    """max_retries 0: the failed replica's requests fail.  Every replica down: arrivals get an
    error at once (a gateway with no healthy upstream), until a repair."""
    sim, pool = _sim(replicas=2)
    pool.max_retries = 0
    sim.schedule_interrupt(3.0, Interrupt("hbm", "p", 0, down_s=100.0))
    sim.schedule_interrupt(4.0, Interrupt("software", "p", 1, down_s=2.0))
    sim.run()
    a = _conserved(sim)
    failed_at = a["arrival"][a["failed"]]
    assert sim.failed > 0
    arrivals_4_6 = (a["arrival"] >= 4.0) & (a["arrival"] < 6.0)
    assert a["failed"][arrivals_4_6].all()  # nothing healthy between 4 s and 6 s
    assert (a["arrival"][~a["failed"]] >= 6.0).any() and np.isfinite(a["finish"][a["arrival"] > 7.0]).all()
    assert failed_at.min() < 4.0  # requests in flight at 3 s failed (no retries)


def test_disaggregated_decode_failure_recomputes_and_continues():
    """A decode replica of a disaggregated pool fails: its sequences (first token already sent)
    are recomputed on the other decode replica and finish; TTFT is unchanged, e2e grows."""
    rng = np.random.default_rng(3)
    n = 200
    arr = np.cumsum(rng.exponential(1 / 10, n))
    req = Requests(arr.tolist(), rng.integers(50, 200, n).tolist(), rng.integers(100, 200, n).tolist(), [0] * n)
    sim = Simulation(req, float(arr[-1]) + 1e-9)
    pool = Pool(sim, "p", None, make_router("least-outstanding"), decode_router=make_router("least-outstanding"), transfer_s_per_token=1e-6)
    cost = TokenLinearCost(s_per_prefill_token=1e-4, s_per_decode_step=0.01, kv_capacity_tokens=1e6)
    pool.replicas = [Replica(sim, pool, 0, cost, EngineConfig(max_seqs=16), "prefill")]
    pool.decode_replicas = [Replica(sim, pool, i, cost, EngineConfig(max_seqs=16), "decode") for i in range(2)]
    sim.add_pool(pool, [0])
    lost_ids = []
    sim.interrupt_hooks.append(lambda now, intr, lost: lost_ids.extend(lost))
    sim.schedule_interrupt(8.0, Interrupt("gpu", "p", 1, down_s=5.0))  # members(): [prefill0, decode0, decode1]
    sim.run()
    a = _conserved(sim)
    assert lost_ids and sim.failed == 0
    for r in lost_ids:
        assert a["first"][r] < 8.0 < a["finish"][r]


def test_no_failures_leave_results_unchanged():
    """An empty failure schedule (rate 0) adds no event: identical request records."""
    s1, _ = _sim(seed=5)
    s1.run()
    s2, _ = _sim(seed=5)
    inject(s2, [])
    s2.run()
    assert s1.req.finish == s2.req.finish and s1.req.first == s2.req.first and s1.queue.processed == s2.queue.processed


def test_more_failures_never_raise_goodput():
    """Failure schedules from the catalog's per-replica model at growing time compression (same
    arrivals): goodput (requests meeting a TTFT/TPOT SLO per second) does not rise.  Each level's
    failures are a superset in rate; pathwise anomalies are possible in queues, so 0.5 % slack."""
    fc = load_failures()
    model = replica_failure_model(fc, 8, 4, 0, 600.0)
    slo = SLO(ttft_s=2.0, tpot_s=0.05)
    good = []
    for comp in (0.0, 1e6, 3e6, 1e7):
        sim, _ = _sim(n=1500, rate=30.0, replicas=4, seed=11)
        dur = sim.duration_s
        sched = failure_schedule(model, "p", 4, dur, stream(7, "test.ops.failures"), comp) if comp else []
        inject(sim, sched)
        sim.run()
        a = _conserved(sim)
        good.append(latency_metrics(a, a["arrival"] < dur, slo, dur)["goodput_rps"])
    assert all(b <= a * 1.005 for a, b in itertools.pairwise(good)), good
    assert good[-1] < good[0]


def test_schedule_is_deterministic_and_typed():
    fc = load_failures()
    model = replica_failure_model(fc, 64, 4, 2, 3 * 3600.0)
    s1 = failure_schedule(model, "p", 10, 3600.0, stream(1, "operations.failures.p"), 1e4)
    s2 = failure_schedule(model, "p", 10, 3600.0, stream(1, "operations.failures.p"), 1e4)
    assert s1 == s2 and s1
    assert all(isinstance(i, Interrupt) and i.cause in fc.classes and not i.up for _, i in s1)
    # DEP64 with 2 trays of in-rack slack re-forms after detection + restart
    assert set(model.down_s.values()) <= {360.0, 1860.0}
