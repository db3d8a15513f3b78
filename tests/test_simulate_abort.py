"""Aborting a request in the replica engine (``Simulation.abort``, the emulator's client disconnect):
at each place a request can be (waiting, prefilling, decoding, the central queue; disaggregated:
prefill side, KV transfer, decode side) it leaves with its KV cache, counters stay consistent, the
step timing stays causal, and the batch left behind steps faster.  All times are simulated."""
from __future__ import annotations

import math

import numpy as np
import pytest

from gigafactory.catalog import load_catalog
from gigafactory.perf.architecture import param_counts
from gigafactory.perf.efficiency import efficiency_for
from gigafactory.perf.hardware import hardware_from_catalog
from gigafactory.perf.layout import Layout
from gigafactory.simulate.cost import PerfStepCost
from gigafactory.simulate.engine import EngineConfig, Pool, Replica
from gigafactory.simulate.kernel import EventQueue
from gigafactory.simulate.metrics import pool_summary, request_arrays
from gigafactory.simulate.router import make_router
from gigafactory.simulate.sim import Requests, Simulation

END = 1e9  # run_until past every event


@pytest.fixture(scope="module")
def cost():
    cat = load_catalog()
    m = cat.model("meta-llama/Llama-3.1-70B-Instruct")
    hw = hardware_from_catalog(cat, "h100-sxm")
    return PerfStepCost(m, param_counts(m), hw, efficiency_for(hw.generation, "trtllm"), Layout(tp=4), "fp8")


class _CheckedQueue(EventQueue):
    """Asserts that time never goes backwards."""

    def __init__(self):
        super().__init__()
        self.last = 0.0

    def pop_and_run(self):
        t = self._heap[0][0]
        assert t >= self.last - 1e-12
        self.last = t
        return super().pop_and_run()


class _Hooks:
    """A listener recording the engine's hooks (as the emulator's driver does)."""

    def __init__(self):
        self.first, self.done = {}, {}

    def first_token(self, rid, now):
        self.first[rid] = now

    def finished(self, rid, now, dropped):
        self.done[rid] = now


def _sim(cost, replicas=1, cfg=None, router="least-outstanding"):
    cfg = cfg or EngineConfig(max_seqs=64, max_batched_tokens=2048)
    sim = Simulation(Requests([], [], [], []), math.inf)
    sim.queue = _CheckedQueue()
    sim.listener = _Hooks()
    pool = Pool(sim, "p", None, make_router(router))
    pool.replicas = [Replica(sim, pool, i, cost, cfg) for i in range(replicas)]
    sim.add_pool(pool, [0])
    return sim, pool


def _disagg(cost, transfer_s_per_token=1e-5):
    sim = Simulation(Requests([], [], [], []), math.inf)
    sim.queue = _CheckedQueue()
    sim.listener = _Hooks()
    pool = Pool(sim, "p", None, make_router("least-outstanding"), decode_router=make_router("least-outstanding"),
                transfer_s_per_token=transfer_s_per_token)
    cfg = EngineConfig(max_batched_tokens=2048)
    pool.replicas = [Replica(sim, pool, 0, cost, cfg, "prefill")]
    pool.decode_replicas = [Replica(sim, pool, 0, cost, cfg, "decode")]
    sim.add_pool(pool, [0])
    return sim, pool


def _empty(pool):
    """Every replica holds nothing: no request, no KV, no routed work."""
    for r in pool.all_replicas():
        assert not r.waiting and not r.prefill and not r.dec and r.n_dec == 0 and r.in_system == 0
        assert r.kv_used() == pytest.approx(0, abs=1e-6)
        # routed work returns to zero (the central queue's routing never adds to it: not checked there)
        assert pool.central or r.outstanding == pytest.approx(0, abs=1e-6)
    assert not pool.queue


def _conserved(sim):
    req = sim.req
    n = len(req)
    finished = sum(1 for i in range(n) if req.finish[i] == req.finish[i])
    aborted = sum(1 for i in range(n) if not math.isnan(req.aborted[i]))
    assert sim.completed == finished and sim.aborted == aborted == sum(p.aborted for p in sim.pools)
    assert finished + aborted + sim.dropped + sim.failed == n
    assert all(not (req.finish[i] == req.finish[i] and not math.isnan(req.aborted[i])) for i in range(n))  # never both


def test_abort_while_waiting(cost):
    sim, pool = _sim(cost, cfg=EngineConfig(max_seqs=1))
    a = sim.add_request(0.0, 500, 100)
    b = sim.add_request(0.0, 500, 100)
    rep = pool.replicas[0]
    assert list(rep.waiting) == [b]
    before = (rep.kv_used(), rep.running())
    assert sim.abort(b, 0.0)
    assert not rep.waiting and (rep.kv_used(), rep.running()) == before  # a waiting request holds no KV
    assert not sim.abort(b, 0.0)  # once only
    sim.run_until(END)
    assert b not in sim.listener.first and b not in sim.listener.done and math.isnan(sim.req.first[b])
    assert sim.req.aborted[b] == 0.0 and a in sim.listener.done
    _empty(pool)
    _conserved(sim)


def test_abort_while_prefilling_frees_the_prompt_and_idles(cost):
    sim, pool = _sim(cost)
    rid = sim.add_request(0.0, 20_000, 50)  # ten 2,048-token chunks
    rep = pool.replicas[0]
    t = sim.next_event_s()  # end of the first chunk
    sim.run_until(t)
    assert rep.prefill[rid][0] == 2048 and rep.kv_used() == pytest.approx(20_000)
    mid = t + 0.5 * (sim.next_event_s() - t)  # during the second chunk
    sim.run_until(mid)
    assert sim.abort(rid, mid)
    assert rep.kv_used() == pytest.approx(0) and rep.running() == 0
    assert rep.busy  # the chunk on the GPU completes (as vLLM aborts between steps) ...
    sim.run_until(END)
    assert not rep.busy and rep.k == 0 and not rep.cache  # ... and nothing follows; no prefix cached
    assert math.isnan(sim.req.first[rid]) and rid not in sim.listener.first
    _empty(pool)
    _conserved(sim)


def test_abort_while_decoding_speeds_up_the_rest(cost):
    """Two sequences decode together; one is aborted mid-run.  The other keeps every token it had,
    its steps stay causal, and it finishes between the two-sequence and the one-sequence runs."""
    def run(abort_at: float | None, with_b: bool = True):
        sim, pool = _sim(cost)
        a = sim.add_request(0.0, 1000, 400)
        b = sim.add_request(0.0, 1000, 400) if with_b else None
        rep = pool.replicas[0]
        if abort_at is not None:
            sim.run_until(abort_at)
            assert rep.phase is not None and rep.phase[1] > 1  # inside a decode run
            assert rep.dec[a][0] == 0
            k0, prog0, kv0 = rep.steps_done(abort_at), dict(rep.decode_progress(abort_at)), rep.kv_used()
            assert sim.abort(b, abort_at)
            # the live view is continuous: same steps, same tokens for the one left; B's KV freed
            assert rep.steps_done(abort_at) == k0 and dict(rep.decode_progress(abort_at)) == {a: prog0[a]}
            assert rep.kv_used() < kv0 and rep.running() == 1
            assert rep.kv_used() == pytest.approx(1000 + rep.acc * rep.k + rep.slack)  # A's prompt + tokens, A joined at k = 0
            t0, k_run, alpha, beta, stall = rep.phase
            assert sim.next_event_s() == pytest.approx(t0 + stall + alpha * k_run + beta * k_run * (k_run - 1) / 2)
            assert k_run == k0 - rep.k + 1 and sim.next_event_s() >= abort_at  # the run now ends with the step in progress
        sim.run_until(END)
        _empty(pool)
        _conserved(sim)
        return sim.req.finish[a], sim.req.first[a]

    both, first = run(None)
    alone, _ = run(None, with_b=False)
    mid = first + 0.3 * (both - first)
    aborted, first2 = run(mid)
    assert first2 == first
    assert alone < aborted < both


def test_abort_in_the_central_queue(cost):
    sim, pool = _sim(cost, cfg=EngineConfig(max_seqs=1), router="central-queue")
    a = sim.add_request(0.0, 300, 20)
    b = sim.add_request(0.0, 300, 20)
    assert list(pool.queue) == [b]
    assert sim.abort(b, 0.0)
    assert not pool.queue
    sim.run_until(END)
    assert a in sim.listener.done and b not in sim.listener.first
    _empty(pool)
    _conserved(sim)


@pytest.mark.parametrize("phase", ["prefill", "transfer", "decode"])
def test_abort_disaggregated(cost, phase):
    sim, pool = _disagg(cost, transfer_s_per_token=1e-4)  # 0.4 s for 4,000 tokens: room to abort in flight
    keep = sim.add_request(0.0, 4000, 200)
    rid = sim.add_request(0.0, 4000, 200)
    pf, dec = pool.replicas[0], pool.decode_replicas[0]
    where = {"prefill": lambda: rid in pf.prefill, "decode": lambda: rid in dec.dec,
             "transfer": lambda: pf.running() == 0 and not pf.waiting and rid not in dec.waiting and rid not in dec.dec}[phase]
    while not where():
        sim.run_until(sim.next_event_s())
    t = sim.queue.last + 0.5 * (sim.next_event_s() - sim.queue.last)  # inside the step (or the transfer) in progress
    sim.run_until(t)
    assert where()
    kv, running = pf.kv_used() + dec.kv_used(), pf.running() + dec.running()
    assert sim.abort(rid, t)
    if phase == "prefill":
        assert pf.kv_used() + dec.kv_used() == pytest.approx(kv - 4000) and pf.running() + dec.running() == running - 1
    elif phase == "decode":
        assert dec.kv_used() < kv - pf.kv_used() and pf.running() + dec.running() == running - 1
    sim.run_until(END)
    assert keep in sim.listener.done and rid not in sim.listener.done
    if phase != "decode":
        assert math.isnan(sim.req.first[rid]) and rid not in sim.listener.first  # never delivered
    _empty(pool)
    _conserved(sim)


def test_random_aborts_keep_invariants_and_determinism(cost):
    """Poisson arrivals on two replicas with a quarter of the requests aborted at random times:
    causal time, every request accounted for exactly once, empty replicas at the end, the same
    results on a second run, and the batch metrics leave aborted requests out."""
    def run(seed):
        rng = np.random.default_rng(seed)
        n = 120
        arr = np.cumsum(rng.exponential(0.05, n))
        inp, out = rng.integers(50, 3000, n), rng.integers(1, 300, n)
        cut = {int(i): float(arr[i] + rng.exponential(1.0)) for i in rng.choice(n, n // 4, replace=False)}
        cfg = EngineConfig(max_seqs=16, max_batched_tokens=2048)
        sim, pool = _sim(cost, replicas=2, cfg=cfg)
        actions = sorted([(float(t), 0, i) for i, t in enumerate(arr)] + [(t, 1, i) for i, t in cut.items()])
        for t, kind, i in actions:
            sim.run_until(t)
            if kind == 0:
                assert sim.add_request(t, int(inp[i]), int(out[i])) == i
            else:
                sim.abort(i, t)
        sim.run_until(END)
        _empty(pool)
        _conserved(sim)
        assert 0 < sim.aborted <= len(cut)
        return sim, pool

    sim = run(5)[0]
    again = run(5)[0]
    assert sim.req.first == again.req.first and sim.req.finish == again.req.finish and sim.req.aborted == again.req.aborted
    a = request_arrays(sim)
    assert a["aborted"].sum() == sim.aborted and not np.isfinite(a["finish"][a["aborted"]]).any()
    info = {"model_indices": [0], "power": _NoPower(), "window": (0.0, float(max(sim.req.arrival)) + 1e-9)}
    block, _ = pool_summary(sim, info, ("m",), None)
    assert block["arrived"] == len(sim.req) - sim.aborted and block["in_flight"] == 0
    assert block["completed"] + block["dropped"] == block["arrived"]


class _NoPower:
    def energy_j(self, *a):
        return 0.0
