"""The live driver: the simulator's replica engine advanced in wall-clock time.

The engine is a discrete-event simulation in simulated seconds.  The driver keeps it at
``now = (wall - start) x speedup``: before a request is added it runs every event due by now
(``Simulation.run_until``), adds the request at now (``Simulation.add_request``), and a single
asyncio task sleeps until the next thing that can emit a token (an event on a pool's queue, or
the next step boundary of a decode run in progress, ``Replica.next_step_s``), then advances the
engines and hands the new tokens to the requests' streams.

Tokens: a request's first token comes from the engine's ``on_first_token`` hook, its last from
``on_finish``; in between, ``Replica.decode_progress`` says how many tokens each decoding
sequence has at the current instant (a decode run is one event in the engine, its step
boundaries a closed form).  So the HTTP side never sets a delay: it waits on its stream.

A client that goes away has its request aborted (``Driver.abort`` -> ``Simulation.abort``): it
leaves the engine with its KV cache, and the batch it was in steps without it.

Everything runs on the server's event loop (one thread): the engine needs no locks.
"""
from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from typing import Any, Callable

from gigafactory.emulator.fleet import LivePool
from gigafactory.simulate.engine import Replica
from gigafactory.simulate.kernel import EventQueue

#: longest sleep of the driver's loop [s wall]: it wakes at least this often to stay current.
MAX_SLEEP_S = 0.5


class Stream:
    """One request's progress as the engine reports it, read by its HTTP handler."""

    __slots__ = ("pool", "rid", "prompt_tokens", "output_tokens", "arrival_s", "first_s", "finish_s", "done", "error",
                 "_event", "last_token_s", "cached_tokens", "aborted_s")

    def __init__(self, pool: int, rid: int, prompt_tokens: int, output_tokens: int, arrival_s: float) -> None:
        self.pool, self.rid = pool, rid
        self.prompt_tokens, self.output_tokens = prompt_tokens, output_tokens
        self.arrival_s = arrival_s  # simulated time of arrival [s]
        self.first_s = math.nan  # simulated time of the first token [s]
        self.finish_s = math.nan
        self.last_token_s = math.nan
        self.done = 0  # output tokens generated so far
        self.cached_tokens = 0
        self.error: str | None = None  # set when the replica serving it failed
        self.aborted_s = math.nan  # simulated time the engine aborted it (its client went away) [s]
        self._event = asyncio.Event()

    @property
    def aborted(self) -> bool:
        return self.aborted_s == self.aborted_s

    @property
    def finished(self) -> bool:
        return self.error is not None or self.finish_s == self.finish_s or self.aborted

    def _notify(self) -> None:
        self._event.set()

    async def wait(self) -> None:
        """Until the stream has news (tokens, an end or an error)."""
        await self._event.wait()
        self._event.clear()


class SlowedCost:
    """A replica's step times times ``factor`` (an injected slowdown: throttling, a bad link)."""

    def __init__(self, inner: Any, factor: float) -> None:
        self.inner, self.factor = inner, factor

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def step_s(self, *args: Any) -> float:
        return self.inner.step_s(*args) * self.factor

    def decode_affine(self, *args: Any) -> tuple[float, float]:
        a, b = self.inner.decode_affine(*args)
        return a * self.factor, b * self.factor


@dataclass
class Observer:
    """What the driver reports to (the metrics): called with simulated times [s]."""

    first_token: Callable[[LivePool, Stream], None] = lambda lp, s: None
    tokens: Callable[[LivePool, Stream, int, float], None] = lambda lp, s, k, gap: None
    finished: Callable[[LivePool, Stream], None] = lambda lp, s: None
    aborted: Callable[[LivePool, Stream], None] = lambda lp, s: None


class _Listener:
    """The engine's hooks for one pool (``Simulation.listener``)."""

    def __init__(self, driver: "Driver", index: int) -> None:
        self.driver, self.index = driver, index
        self.streams: dict[int, Stream] = {}

    def first_token(self, rid: int, now: float) -> None:
        s = self.streams.get(rid)
        if s is None:
            return
        s.first_s = s.last_token_s = now
        s.done = max(s.done, 1)
        s.cached_tokens = self.driver.pools[self.index].sim.req.cached[rid]
        self.driver.observer.first_token(self.driver.pools[self.index], s)
        s._notify()

    def finished(self, rid: int, now: float, dropped: bool) -> None:
        s = self.streams.pop(rid, None)
        if s is None:
            return
        if dropped:
            s.error = "the request does not fit in a replica's KV cache"
        else:
            k = s.output_tokens - s.done
            if k > 0 and s.done > 0:
                self.driver.observer.tokens(self.driver.pools[self.index], s, k, (now - s.last_token_s) / k)
            s.done, s.finish_s, s.last_token_s = s.output_tokens, now, now
            self.driver.observer.finished(self.driver.pools[self.index], s)
        s._notify()


class Driver:
    """Live pools advanced in wall-clock time x ``speedup``."""

    def __init__(self, pools: list[LivePool], speedup: float = 1.0, observer: Observer | None = None) -> None:
        if not speedup > 0:
            raise ValueError("speedup must be > 0")
        self.pools = pools
        self.speedup = speedup
        self.observer = observer or Observer()
        self.listeners = [_Listener(self, i) for i in range(len(pools))]
        for lp, li in zip(pools, self.listeners):
            lp.sim.listener = li
        self.down: list[set[int]] = [set() for _ in pools]  # failed replicas, by position in all_replicas()
        self._slowed: dict[int, Any] = {}  # id(replica) -> its own cost while slowed
        self._groups = [(list(lp.pool.replicas), list(lp.pool.decode_replicas)) for lp in pools]
        self._t0 = time.perf_counter()
        self.now = 0.0  # simulated time the engines have been advanced to [s]
        self._wake: asyncio.Future | None = None
        self._task: asyncio.Task | None = None
        self._last_steps: dict[int, int] = {}
        self.tokens_emitted = 0
        self.loop_iterations = 0

    # ----- clock -------------------------------------------------------------------------------
    def sim_now(self) -> float:
        """Simulated time now [s] (never before the engines' current time)."""
        return max(self.now, (time.perf_counter() - self._t0) * self.speedup)

    # ----- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        self._t0 = time.perf_counter() - self.now / self.speedup
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    # ----- requests ----------------------------------------------------------------------------
    def available(self, index: int) -> bool:
        """Whether pool ``index`` has a live replica in each of its groups."""
        lp = self.pools[index]
        pool = lp.pool
        return bool(pool.replicas) and (not self._groups[index][1] or bool(pool.decode_replicas))

    def waiting(self, index: int) -> int:
        pool = self.pools[index].pool
        return sum(len(r.waiting) for r in pool.all_replicas()) + len(pool.queue)

    def running(self, index: int) -> int:
        return sum(r.running() for r in self.pools[index].pool.all_replicas())

    def submit(self, index: int, prompt_tokens: int, output_tokens: int, hashes: tuple[int, ...] = ()) -> Stream:
        """Add a request to pool ``index`` now; its stream.  The caller checked ``available``."""
        now = self._advance()
        lp = self.pools[index]
        rid = lp.sim.add_request(now, prompt_tokens, output_tokens, 0, hashes)
        s = Stream(index, rid, prompt_tokens, output_tokens, now)
        if lp.sim.req.dropped[rid]:
            s.error = "the request does not fit in a replica's KV cache"
            s._notify()
        else:
            self.listeners[index].streams[rid] = s
        self._kick()
        return s

    def abort(self, s: Stream) -> bool:
        """The client of ``s`` went away: the engine aborts its request now (``Simulation.abort``: out
        of the queue or the batch, KV cache freed, the batch re-planned without it), as vLLM does on a
        client disconnect.  False when the request had already ended (finished, failed, aborted)."""
        if s.finished:
            return False
        now = self._advance()  # it may have finished by now
        if s.finished:
            return False
        self._emit(now)  # the tokens it generated up to now count (vllm:generation_tokens_total), as vLLM's do
        lp = self.pools[s.pool]
        self.listeners[s.pool].streams.pop(s.rid, None)
        lp.sim.abort(s.rid, now)
        s.aborted_s = now
        self.observer.aborted(lp, s)
        s._notify()
        self._kick()  # the next step boundary moved (the decode run was cut)
        return True

    # ----- faults ------------------------------------------------------------------------------
    def all_replicas(self, index: int) -> list[Replica]:
        """Pool ``index``'s replicas, failed ones included (fault injection addresses them by position here)."""
        mixed, decode = self._groups[index]
        return mixed + decode

    def fail(self, index: int, replica: int, message: str) -> int:
        """Replica ``replica`` of pool ``index`` fails: its requests get ``message``; returns how many."""
        self._advance()
        lp = self.pools[index]
        rep = self.all_replicas(index)[replica]
        self.down[index].add(replica)
        self._regroup(index)
        lost = rep.fail()
        if not self.available(index):  # a whole group is down: so is the pool, and all it holds
            lost = [rid for r in self.all_replicas(index) for rid in r.fail()] + lost + list(lp.pool.queue)
            lp.pool.queue.clear()
            lp.sim.queue = EventQueue()  # pending steps and KV transfers die with the pool
        streams = self.listeners[index].streams
        for rid in lost:
            s = streams.pop(rid, None)
            if s is not None:
                s.error = message
                s._notify()
        if not self.available(index):
            for s in list(streams.values()):  # in a KV transfer between groups
                s.error = message
                s._notify()
            streams.clear()
        self._kick()
        return len(lost)

    def slow(self, index: int, replica: int, factor: float) -> None:
        """Replica ``replica`` of pool ``index`` runs its steps ``factor`` times slower (1 = normal)."""
        rep = self.all_replicas(index)[replica]
        own = self._slowed.pop(id(rep), rep.cost)
        rep.cost = own if factor == 1 else SlowedCost(own, factor)
        if factor != 1:
            self._slowed[id(rep)] = own

    def recover(self, index: int, replica: int) -> None:
        """Replica ``replica`` of pool ``index`` is back, empty and at normal speed."""
        self._advance()
        self.slow(index, replica, 1.0)
        self.down[index].discard(replica)
        self._regroup(index)
        self._kick()

    def _regroup(self, index: int) -> None:
        pool = self.pools[index].pool
        mixed, decode = self._groups[index]
        n = len(mixed)
        down = self.down[index]
        pool.replicas = [r for i, r in enumerate(mixed) if i not in down]
        pool.decode_replicas = [r for i, r in enumerate(decode) if n + i not in down]

    # ----- the loop ----------------------------------------------------------------------------
    def _kick(self) -> None:
        w = self._wake
        if w is not None and not w.done():
            w.set_result(None)

    def _advance(self) -> float:
        now = self.sim_now()
        for lp in self.pools:
            lp.sim.run_until(now)
        self.now = now
        return now

    def _emit(self, now: float) -> None:
        last = self._last_steps
        tokens = self.observer.tokens
        for lp, li in zip(self.pools, self.listeners):
            streams = li.streams
            if not streams:
                continue
            for rep in lp.pool.decode_replicas or lp.pool.replicas:
                if not rep.n_dec:
                    continue
                k = rep.steps_done(now)
                key = id(rep)
                if last.get(key) == k:
                    continue
                last[key] = k
                for rid, n in rep.decode_progress(now):
                    s = streams.get(rid)
                    if s is None or n <= s.done:
                        continue
                    new = n - s.done
                    tokens(lp, s, new, (now - s.last_token_s) / new)
                    s.done, s.last_token_s = n, now
                    self.tokens_emitted += new
                    s._notify()

    def _next_s(self, now: float) -> float:
        t = math.inf
        for lp, li in zip(self.pools, self.listeners):
            t = min(t, lp.sim.next_event_s())
            if li.streams:
                for rep in lp.pool.decode_replicas or lp.pool.replicas:
                    if rep.n_dec:
                        t = min(t, rep.next_step_s(now))
        return t

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self.loop_iterations += 1
            now = self._advance()
            self._emit(now)
            delay = min(MAX_SLEEP_S, (self._next_s(now) - self.sim_now()) / self.speedup)
            if delay <= 0:
                await asyncio.sleep(0)  # let the handlers run before the next round
                continue
            self._wake = fut = loop.create_future()
            handle = loop.call_later(delay, _wake_up, fut)
            await fut
            handle.cancel()
            self._wake = None


def _wake_up(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_result(None)
