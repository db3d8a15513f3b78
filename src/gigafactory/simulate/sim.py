"""The simulation loop: arrivals from a workload (open loop) or a fixed number of requests
in flight (closed loop), routed to per-model pools of replicas, run on the event queue.

Arrivals are not put on the heap: they are read in time order from the workload's arrays and
merged with the heap, which keeps the heap as small as the number of busy replicas.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from gigafactory.simulate.engine import FRESH, Pool
from gigafactory.simulate.kernel import PRIORITY_ARRIVAL, PRIORITY_INTERRUPT, PRIORITY_SAMPLE, EventQueue, Interrupt

NAN = float("nan")


class Requests:
    """Per-request state as Python lists (fast scalar access in the event loop)."""

    def __init__(self, arrival: list[float], inp: list[int], out: list[int], model: list[int],
                 hashes: Any = None, hash_block_tokens: int = 0) -> None:
        n = len(arrival)
        self.arrival, self.inp, self.out, self.model = arrival, inp, out, model
        self.hashes = hashes
        self.hash_block_tokens = hash_block_tokens
        self.first = [NAN] * n
        self.finish = [NAN] * n
        self.replica = [-1] * n
        self.state = [FRESH] * n
        self.steps_left = [0] * n
        self.ctx = [0.0] * n
        self.cached = [0] * n
        self.preemptions = [0] * n
        self.order = [0] * n
        self.dropped = [False] * n
        self.failed = [False] * n  # lost to a replica failure with no retry left (or no healthy replica)
        self.retries = [0] * n  # times sent again after its replica failed
        self.aborted = [NAN] * n  # when its client went away before it finished (Simulation.abort) [s]; NaN: it did not

    def __len__(self) -> int:
        return len(self.arrival)

    def append(self, arrival: float, inp: int, out: int, model: int, hashes: Any = None) -> int:
        for name, v in (("arrival", arrival), ("inp", inp), ("out", out), ("model", model), ("first", NAN), ("finish", NAN),
                        ("replica", -1), ("state", FRESH), ("steps_left", 0), ("ctx", 0.0), ("cached", 0),
                        ("preemptions", 0), ("order", 0), ("dropped", False), ("failed", False), ("retries", 0), ("aborted", NAN)):
            getattr(self, name).append(v)
        if self.hashes is not None:
            self.hashes.append(hashes or ())
        return len(self.arrival) - 1


@dataclass
class Sample:
    """Fleet state at one instant, per pool."""

    t_s: float
    pools: dict[str, dict[str, float]] = field(default_factory=dict)


class Simulation:
    """Requests -> pools -> replicas on one event queue.

    ``pool_of_model[i]`` is the pool serving model index ``i``.  Open loop: ``requests``
    holds every arrival (all before ``duration_s``).  Closed loop (``concurrency``): that
    many requests are in flight from t = 0, and each completion sends the next one, taking
    lengths in turn from ``lengths`` until ``duration_s``.
    """

    def __init__(self, requests: Requests, duration_s: float, drain_s: float | None = None,
                 concurrency: int | None = None, lengths: tuple[list[int], list[int]] | None = None,
                 sample_interval_s: float | None = None) -> None:
        self.req = requests
        self.duration_s = duration_s
        self.horizon_s = duration_s + (duration_s if drain_s is None else drain_s)
        self.queue = EventQueue()
        self.pools: list[Pool] = []
        self.pool_of_model: list[Pool] = []
        self.concurrency = concurrency
        self.lengths = lengths
        self._next_len = 0
        self._order = 0
        self.completed = 0
        self.dropped = 0
        self.end_s = 0.0
        self.samples: list[Sample] = []
        self.sample_interval_s = sample_interval_s
        self.stopped_early = False
        self.listener: Any = None  # live driver (the emulator): told of first tokens and finishes
        self.failed = 0  # requests lost to failures (no retry left, or no healthy replica)
        self.aborted = 0  # requests whose client went away before they finished (abort)
        #: observers of interrupts: ``hook(now, interrupt, lost_request_ids)`` after each one is applied
        self.interrupt_hooks: list[Callable[[float, Interrupt, list[int]], None]] = []

    def next_order(self) -> int:
        self._order += 1
        return self._order

    def add_pool(self, pool: Pool, models: list[int]) -> None:
        self.pools.append(pool)
        for mi in models:
            while len(self.pool_of_model) <= mi:
                self.pool_of_model.append(pool)
            self.pool_of_model[mi] = pool

    # ----- callbacks -------------------------------------------------------------------------
    def on_finish(self, rid: int, now: float, dropped: bool = False) -> None:
        if dropped:
            self.dropped += 1
        else:
            self.completed += 1
        if self.listener is not None:
            self.listener.finished(rid, now, dropped)
        if self.concurrency and now < self.duration_s:
            self._closed_loop_next(now)

    def on_fail(self, rid: int, now: float) -> None:
        """``rid`` failed at ``now``: its replica died and it has no retry left (the client sees an error)."""
        self.req.failed[rid] = True
        self.failed += 1
        if self.listener is not None and hasattr(self.listener, "failed"):
            self.listener.failed(rid, now)
        if self.concurrency and now < self.duration_s:
            self._closed_loop_next(now)

    def abort(self, rid: int, now: float) -> bool:
        """The client of ``rid`` went away at ``now``: the request leaves the engine wherever it is
        (queued, prefilling, decoding, in a KV transfer) and its KV cache is freed (vLLM aborts a
        request whose client disconnects).  It is recorded as aborted (``req.aborted[rid] = now``):
        neither completed nor dropped nor failed, and no hook is called for it.  False (nothing
        done) when it had already ended.  The batch simulator never calls this; the emulator does."""
        req = self.req
        if req.finish[rid] == req.finish[rid] or req.dropped[rid] or req.failed[rid] or not math.isnan(req.aborted[rid]):
            return False
        req.aborted[rid] = now
        self.aborted += 1
        self.pool_of_model[req.model[rid]].abort(rid, now)
        if self.concurrency and now < self.duration_s:
            self._closed_loop_next(now)  # a closed-loop client that gives up sends its next request
        return True

    # ----- interrupts: failures and repairs of replicas ---------------------------------------
    def schedule_interrupt(self, time_s: float, intr: Interrupt) -> None:
        """Put ``intr`` on the event queue at ``time_s`` [s]; a failure with ``down_s`` also
        schedules its repair that much later."""
        self.queue.push(time_s, PRIORITY_INTERRUPT, self._interrupt_event, intr)

    def _interrupt_event(self, now: float, intr: Interrupt) -> None:
        pool = next(p for p in self.pools if p.name == intr.pool)
        was_up = pool.members()[intr.replica].up
        lost = pool.interrupt(now, intr)
        if not intr.up and was_up and intr.down_s is not None and now + intr.down_s <= self.horizon_s:
            # a repair past the horizon would only mark the run as stopped early: the replica stays down
            self.queue.push(now + intr.down_s, PRIORITY_INTERRUPT, self._interrupt_event,
                            Interrupt("repaired", intr.pool, intr.replica, up=True))
        for hook in self.interrupt_hooks:
            hook(now, intr, lost)

    def on_first_token(self, rid: int, now: float) -> None:
        """``rid``'s first output token reached the user at ``now`` (a hook: the batch loop needs none)."""
        if self.listener is not None:
            self.listener.first_token(rid, now)

    def _closed_loop_next(self, now: float) -> None:
        inp, out = self.lengths
        j = self._next_len % len(inp)
        self._next_len += 1
        rid = self.req.append(now, inp[j], out[j], 0)
        self.queue.push(now, PRIORITY_ARRIVAL, self._arrive_event, rid)

    def _arrive_event(self, now: float, rid: int) -> None:
        if not math.isnan(self.req.aborted[rid]):
            return  # aborted before it arrived
        self.pool_of_model[self.req.model[rid]].arrive(rid, now)

    def _sample(self, now: float, _: Any) -> None:
        s = Sample(now)
        for pool in self.pools:
            reps = pool.all_replicas()
            caps = [r.cap for r in reps]
            s.pools[pool.name] = {
                "queued": float(sum(len(r.waiting) for r in reps) + len(pool.queue)),
                "running": float(sum(r.running() for r in reps)),
                "kv_used_fraction": float(np.mean([r.kv_used() / c if math.isfinite(c) and c > 0 else 0.0 for r, c in zip(reps, caps)])),
            }
        self.samples.append(s)
        nxt = now + self.sample_interval_s
        if nxt <= self.duration_s:
            self.queue.push(nxt, PRIORITY_SAMPLE, self._sample, None)

    # ----- incremental driving (the emulator) -------------------------------------------------
    def add_request(self, now: float, inp: int, out: int, model: int = 0, hashes: Any = None) -> int:
        """A request arriving at ``now`` (not before the last event run): routed at once; its id."""
        rid = self.req.append(now, inp, out, model, hashes)
        self.pool_of_model[model].arrive(rid, now)
        return rid

    def run_until(self, t_s: float) -> None:
        """Run every event due at or before ``t_s``; arrivals are added with :meth:`add_request`."""
        q = self.queue
        while q.next_key()[0] <= t_s:
            q.pop_and_run()

    def next_event_s(self) -> float:
        """Time of the next scheduled event [s]; inf when idle."""
        return self.queue.next_key()[0]

    # ----- loop ------------------------------------------------------------------------------
    def run(self, progress: Callable[[float], None] | None = None) -> "Simulation":
        req, q = self.req, self.queue
        if self.sample_interval_s:
            q.push(0.0, PRIORITY_SAMPLE, self._sample, None)
        if self.concurrency:
            for _ in range(self.concurrency):
                self._closed_loop_next(0.0)
            arrivals: list[float] = []
        else:
            arrivals = req.arrival
        n = len(arrivals)
        i = 0
        pools = self.pool_of_model
        models = req.model
        inf = float("inf")
        horizon = self.horizon_s
        tick = 0
        now = 0.0
        while True:
            ta = arrivals[i] if i < n else inf
            tq, pq = q.next_key()
            if ta < tq or (ta == tq and PRIORITY_ARRIVAL < pq):
                if ta >= self.duration_s:
                    i = n
                    continue
                now = ta
                pools[models[i]].arrive(i, ta)
                i += 1
            elif tq == inf:
                break
            else:
                if tq > horizon:
                    self.stopped_early = True
                    break
                now = tq
                q.pop_and_run()
            tick += 1
            if progress is not None and tick % 4096 == 0:
                progress(min(now / horizon, 1.0))
        self.end_s = max(now, self.duration_s)
        if progress is not None:
            progress(1.0)
        return self
