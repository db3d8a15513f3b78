"""Replica engine: continuous batching with chunked prefill, KV-cache admission and
preemption, prefix caching, and prefill/decode disaggregation.

One :class:`Replica` is one engine instance (``layout.gpus`` GPUs).  Each step it runs every
decoding sequence for one token (``1 + draft`` with speculation) and fills the rest of its
token budget with prefill chunks: first the prompts already being prefilled, then new
requests in arrival order (first come, first served, as vLLM and TensorRT-LLM schedule).

Speed: a run of steps with no prefill work has a constant batch whose context grows by
``n x tokens_per_step`` per step, so its step times form an arithmetic series.  Such a run is
one event that lasts until the next sequence finishes (or the KV cache fills); an arrival
cuts it short at the next step boundary.  Per request the engine therefore handles a few
events, not one per generated token.

KV accounting is in tokens: a decoding sequence holds its context plus one block of
rounding slack, a prefilling one holds its whole prompt (reserved at admission, as vLLM's
watermark-free V1 scheduler allocates chunk by chunk; reserving up front avoids thrashing).
"""
from __future__ import annotations

import heapq
import math
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gigafactory.simulate.cost import StepCost
from gigafactory.simulate.kernel import PRIORITY_STEP, PRIORITY_TRANSFER

if TYPE_CHECKING:
    from gigafactory.simulate.kernel import Interrupt
    from gigafactory.simulate.router import Router
    from gigafactory.simulate.sim import Simulation

#: request states while waiting for a replica
FRESH, RECOMPUTE, PREFILLED, SWAPPED = 0, 1, 2, 3

#: PCIe 5.0 x16: 32 GT/s x 16 lanes = 64 GB/s per direction (PCI-SIG PCIe 5.0 specification, 2019).
PCIE5_X16_BYTES_PER_S = 64e9
#: NVLink-C2C between Grace and its Blackwell GPUs: 900 GB/s both directions per Grace
#: (NVIDIA GB200 NVL72 product page, 2024), shared by two GPUs -> 225 GB/s per GPU per direction.
GRACE_C2C_BYTES_PER_S_PER_GPU = 225e9


@dataclass(frozen=True)
class EngineConfig:
    """Serving-engine settings of one replica."""

    max_seqs: int = 256  # sequences in flight (vLLM max_num_seqs default 256)
    max_batched_tokens: int | None = None  # token budget per step; None = the perf model's 8192 (x DP ranks)
    block_tokens: int = 16  # KV block (vLLM block_size default 16)
    preemption: str = "recompute"  # "recompute" (vLLM V1 default) or "swap" to host memory
    prefix_caching: bool = True
    host_bw_bytes_per_s: float = PCIE5_X16_BYTES_PER_S  # per GPU, for swapping


class Replica:
    """One engine instance.  ``role`` is "mixed" (aggregated), "prefill" or "decode"."""

    def __init__(self, sim: "Simulation", pool: "Pool", index: int, cost: StepCost, cfg: EngineConfig, role: str = "mixed") -> None:
        self.sim, self.pool, self.index, self.cost, self.cfg, self.role = sim, pool, index, cost, cfg, role
        self.max_seqs = cfg.max_seqs
        self.budget = cfg.max_batched_tokens or getattr(cost, "max_tokens_per_step", 8192)
        self.cap = cost.kv_capacity_tokens
        self.slack = float(cfg.block_tokens)
        self.acc = cost.tokens_per_step
        self.width = cost.decode_width
        self.swap_s_per_token = cost.kv_bytes_per_token_per_gpu / cfg.host_bw_bytes_per_s
        self.waiting: deque[int] = deque()
        self.prefill: dict[int, list[float]] = {}  # rid -> [done, total], admission order
        self.pf_reserved = 0.0
        self.dec: dict[int, tuple[int, float, int]] = {}  # rid -> (join_k, ctx0, end_k), admission order
        self.fin: list[tuple[int, int]] = []  # (end_k, rid), lazily cleaned
        self.n_dec = 0
        self.ctx_off = 0.0  # total decode context = ctx_off + n_dec * acc * k
        self.k = 0  # decode steps run so far
        self.version = 0
        self.busy = False
        self.t_start = 0.0
        self.phase: tuple[float, int, float, float, float] | None = None  # (t0, K, alpha, beta, stall)
        self.chunks: list[tuple[int, float]] = []
        self.stall_s = 0.0
        self.outstanding = 0.0  # tokens of work routed here and not yet done (router signal)
        self.in_system = 0
        self.busy_s = 0.0
        self.busy_prefill_s = 0.0
        self.cache: OrderedDict[int, None] = OrderedDict()
        self.cache_blocks = 0
        self.up = True  # False between a failure interrupt and its repair (Pool.interrupt)

    # ----- state -------------------------------------------------------------------------
    def kv_used(self) -> float:
        return self.pf_reserved + self.ctx_off + self.n_dec * (self.acc * self.k + self.slack)

    def running(self) -> int:
        return self.n_dec + len(self.prefill)

    def cached_prefix_tokens(self, rid: int) -> int:
        """Prompt tokens of ``rid`` already in this replica's prefix cache."""
        hashes = self.sim.req.hashes
        if hashes is None or not self.cfg.prefix_caching:
            return 0
        cache, n = self.cache, 0
        for h in hashes[rid]:
            if h not in cache:
                break
            n += 1
        return n * self.sim.req.hash_block_tokens

    # ----- entry points --------------------------------------------------------------------
    def assign(self, rid: int, now: float, state: int = FRESH) -> None:
        req = self.sim.req
        req.state[rid] = state
        req.replica[rid] = self.index
        self.in_system += 1
        self.waiting.append(rid)
        self._kick(now)

    def _kick(self, now: float) -> None:
        """New work: start a step if idle, or end a decode run at its next step boundary."""
        if not self.busy:
            self._next_step(now)
            return
        ph = self.phase
        if ph is None or ph[1] <= 1 or self.running() >= self.max_seqs:
            return
        self._cut_run(now)

    def _cut_run(self, now: float) -> None:
        """End the decode run in progress at the boundary of the step running at ``now``: the batch
        changes from the next step on (an arrival to admit, or a sequence aborted), so it is re-planned."""
        t0, k_run, alpha, beta, stall = self.phase
        e = now - t0 - stall
        if e < 0:
            j = 0
        elif beta > 0:
            half = beta / 2
            j = int((-(alpha - half) + math.sqrt((alpha - half) ** 2 + 4 * half * e)) / (2 * half))
        else:
            j = int(e / alpha) if alpha > 0 else k_run
        k_new = min(k_run, j + 1)
        while k_new > 1 and t0 + stall + alpha * (k_new - 1) + beta * (k_new - 1) * (k_new - 2) / 2 > now + 1e-12:
            k_new -= 1  # guard the float root
        if k_new >= k_run:
            return
        end = t0 + stall + alpha * k_new + beta * k_new * (k_new - 1) / 2
        self.phase = (t0, k_new, alpha, beta, stall)
        self.version += 1
        self.sim.queue.push(end, PRIORITY_STEP, self._on_step_end, self.version)

    # ----- scheduling ----------------------------------------------------------------------
    def _preempt_one(self) -> bool:
        """Evict the most recently admitted sequence; False when none can be evicted."""
        req = self.sim.req
        last_d = next(reversed(self.dec), None) if self.dec else None
        last_p = next(reversed(self.prefill), None) if self.prefill else None
        if last_d is None and last_p is None:
            return False
        if last_p is not None and (last_d is None or req.order[last_p] > req.order[last_d]):
            done_total = self.prefill.pop(last_p)
            self.pf_reserved -= done_total[1]
            req.preemptions[last_p] += 1
            self.waiting.appendleft(last_p)
            return True
        join_k, ctx0, end_k = self.dec.pop(last_d)
        self.n_dec -= 1
        self.ctx_off -= ctx0 - self.acc * join_k
        ctx = ctx0 + self.acc * (self.k - join_k)
        req.steps_left[last_d] = end_k - self.k
        req.ctx[last_d] = ctx
        req.preemptions[last_d] += 1
        if self.cfg.preemption == "swap":
            req.state[last_d] = SWAPPED
            self.stall_s += ctx * self.swap_s_per_token
        else:
            req.state[last_d] = RECOMPUTE
        self.waiting.appendleft(last_d)
        return True

    def _join_decode(self, rid: int, ctx: float, steps: int) -> None:
        end_k = self.k + steps
        self.dec[rid] = (self.k, ctx, end_k)
        self.n_dec += 1
        self.ctx_off += ctx - self.acc * self.k
        heapq.heappush(self.fin, (end_k, rid))

    def _admit(self, budget: float) -> float:
        """Admit waiting requests while slots, KV and token budget allow; returns the budget left."""
        req = self.sim.req
        pool = self.pool
        while budget > 0 and self.running() < self.max_seqs:
            if self.waiting:
                rid = self.waiting[0]
                from_pool = False
            elif pool.central and pool.queue:
                rid = pool.queue[0]
                from_pool = True
            else:
                break
            state = req.state[rid]
            used = self.kv_used()
            if state == PREFILLED or state == SWAPPED:
                ctx = req.ctx[rid]
                if used + ctx + self.slack > self.cap:
                    break
                self._pop(from_pool, rid)
                if state == SWAPPED:
                    self.stall_s += ctx * self.swap_s_per_token
                    steps = req.steps_left[rid]
                else:  # arrived from a prefill replica: steps at this replica's tokens per step
                    steps = math.ceil((req.out[rid] - 1) / self.acc)
                self._join_decode(rid, ctx, steps)
                budget -= self.width
                continue
            total = float(req.inp[rid]) if state == FRESH else req.ctx[rid]
            if used + total + self.slack > self.cap:
                break
            self._pop(from_pool, rid)
            done = 0.0
            if state == FRESH:
                hit = min(self.cached_prefix_tokens(rid), req.inp[rid] - 1)
                if hit > 0:
                    req.cached[rid] = hit
                    done = float(hit)
            req.order[rid] = self.sim.next_order()
            self.prefill[rid] = [done, total]
            self.pf_reserved += total
            budget -= min(total - done, budget)
        return budget

    def _pop(self, from_pool: bool, rid: int) -> None:
        if from_pool:
            self.pool.queue.popleft()
            self.sim.req.replica[rid] = self.index
            self.in_system += 1
        else:
            self.waiting.popleft()

    def _next_step(self, now: float) -> None:
        self.busy = False
        self.phase = None
        while self.n_dec and self.kv_used() + self.n_dec * self.acc > self.cap:
            if not self._preempt_one():
                break
        budget = self.budget - self.n_dec * self.width
        # prompts already being prefilled get their next chunk first (chunked prefill)
        chunks = []
        pf_tokens = 0.0
        ctx_weighted = 0.0
        for rid, dt in self.prefill.items():
            if budget <= 0:
                break
            c = min(dt[1] - dt[0], budget)
            chunks.append((rid, c))
            budget -= c
            pf_tokens += c
            ctx_weighted += c * (dt[0] + c / 2)
        n_before = len(self.prefill)
        if budget > 0:
            self._admit(budget)  # admitting may add decoders (transferred / swapped-in sequences)
            budget = self.budget - self.n_dec * self.width - pf_tokens
            for rid in list(self.prefill)[n_before:]:
                dt = self.prefill[rid]
                c = min(dt[1] - dt[0], budget)
                if c <= 0:
                    break
                chunks.append((rid, c))
                budget -= c
                pf_tokens += c
                ctx_weighted += c * (dt[0] + c / 2)
        stall, self.stall_s = self.stall_s, 0.0
        n = self.n_dec
        ctx_total = self.ctx_off + n * self.acc * self.k
        if pf_tokens > 0:
            dur = self.cost.step_s(n, ctx_total, pf_tokens, ctx_weighted / pf_tokens) + stall
            self.chunks = chunks
            self.busy = True
            self.t_start = now
            self.version += 1
            self.sim.queue.push(now + dur, PRIORITY_STEP, self._on_step_end, self.version)
            return
        if not n:
            return  # idle
        # a run of pure decode steps, until the next sequence finishes or the KV cache fills
        fin = self.fin
        dec = self.dec
        while True:
            end_k, rid = fin[0]
            d = dec.get(rid)
            if d is not None and d[2] == end_k:
                break
            heapq.heappop(fin)
        k_run = max(1, end_k - self.k)
        free = self.cap - self.kv_used()
        # unlimited KV (TokenLinearCost): inf // x is NaN in Python, so the cache never cuts the run short
        k_kv = int(free // (n * self.acc)) if self.acc > 0 and free != float("inf") else k_run
        k_run = max(1, min(k_run, k_kv))
        a, b = self.cost.decode_affine(n, ctx_total / n)
        alpha = a + b * ctx_total
        beta = b * n * self.acc
        dur = stall + alpha * k_run + beta * k_run * (k_run - 1) / 2
        self.chunks = []
        self.phase = (now, k_run, alpha, beta, stall)
        self.busy = True
        self.t_start = now
        self.version += 1
        self.sim.queue.push(now + dur, PRIORITY_STEP, self._on_step_end, self.version)

    def _on_step_end(self, now: float, version: int) -> None:
        if version != self.version:
            return  # superseded: the run was cut short
        dur = now - self.t_start
        self.busy_s += dur
        chunks = self.chunks
        if chunks:
            self.busy_prefill_s += dur
            self.k += 1 if self.n_dec else 0
        else:
            self.k += self.phase[1]
        # sequences that generated their last token
        fin, dec, k = self.fin, self.dec, self.k
        while fin and fin[0][0] <= k:
            end_k, rid = heapq.heappop(fin)
            d = dec.get(rid)
            if d is None or d[2] != end_k:
                continue
            del dec[rid]
            self.n_dec -= 1
            self.ctx_off -= d[1] - self.acc * d[0]
            self._finish(rid, now)
        # prompts that completed their prefill
        for rid, c in chunks:
            dt = self.prefill.get(rid)
            if dt is None:
                continue
            dt[0] += c
            if dt[0] < dt[1] - 1e-9:
                continue
            del self.prefill[rid]
            self.pf_reserved -= dt[1]
            self._prefilled(rid, now, dt[1])
        self._next_step(now)

    def _prefilled(self, rid: int, now: float, ctx: float) -> None:
        req = self.sim.req
        fresh = req.state[rid] == FRESH
        if fresh:
            req.steps_left[rid] = math.ceil((req.out[rid] - 1) / self.acc) if req.out[rid] > 1 else 0
            if req.hashes is not None and self.cfg.prefix_caching:
                self._cache_insert(req.hashes[rid])
        if self.role == "prefill":
            self.in_system -= 1
            self.outstanding -= req.inp[rid]
            req.ctx[rid] = ctx
            self.pool.handoff(rid, now)
            return
        if fresh:
            req.first[rid] = now
            self.sim.on_first_token(rid, now)
        if req.steps_left[rid] <= 0:
            self._finish(rid, now)
        else:
            self._join_decode(rid, ctx, req.steps_left[rid])

    def _cache_insert(self, hashes: tuple[int, ...]) -> None:
        cache = self.cache
        for h in hashes:
            if h in cache:
                cache.move_to_end(h)
            else:
                cache[h] = None
        limit = int(self.cap // self.sim.req.hash_block_tokens) if self.cap < float("inf") else len(cache)
        while len(cache) > limit:
            cache.popitem(last=False)

    # ----- live view (the emulator streams tokens from it; the batch simulator never calls it) ----
    def steps_done(self, now: float) -> int:
        """Decode steps completed by ``now``, counting the finished steps of a run in progress."""
        ph = self.phase
        if ph is None:
            return self.k
        t0, k_run, alpha, beta, stall = ph
        e = now - t0 - stall
        j = 0
        if e > 0:
            if beta > 0:
                half = beta / 2
                j = int((-(alpha - half) + math.sqrt((alpha - half) ** 2 + 4 * half * e)) / (2 * half))
            elif alpha > 0:
                j = int(e / alpha)
            else:
                j = k_run
            j = min(j, k_run)
            while j > 0 and t0 + stall + alpha * j + beta * j * (j - 1) / 2 > now + 1e-12:
                j -= 1  # guard the float root
        return self.k + j

    def next_step_s(self, now: float) -> float:
        """End of the next decode step after ``now`` within a run in progress [s]; inf when none.
        (A run's last step, and every prefill step, is an event on the queue already.)"""
        ph = self.phase
        if ph is None:
            return math.inf
        t0, k_run, alpha, beta, stall = ph
        j = self.steps_done(now) - self.k + 1
        return t0 + stall + alpha * j + beta * j * (j - 1) / 2 if j < k_run else math.inf

    def decode_progress(self, now: float) -> list[tuple[int, int]]:
        """(rid, output tokens generated by ``now``) of every sequence decoding here."""
        k, acc, out = self.steps_done(now), self.acc, self.sim.req.out
        res = []
        for rid, d in self.dec.items():
            o = out[rid]
            left = d[2] - k
            res.append((rid, o if left <= 0 else max(1, o - math.ceil(left * acc - 1e-9))))
        return res

    def fail(self, now: float | None = None) -> list[int]:
        """The replica fails: every request on it is lost (ids returned) and its state is cleared.
        The caller keeps it out of its pool's routing until it recovers.

        With ``now`` [s] each lost request's progress is recorded for a retry elsewhere, as a
        gateway that migrates requests (NVIDIA Dynamo's request migration) does: a decoding
        sequence keeps its context (prompt + tokens generated by ``now``) and remaining steps and is
        recomputed (state RECOMPUTE); a sequence whose KV cache lived here (swapped to this host,
        or delivered by a prefill replica) is recomputed too; a prompt still being prefilled starts
        again.  The step in progress counts as busy time up to ``now`` (the GPUs worked on it).
        Without ``now`` (the emulator) the requests' records are left as they were."""
        if now is not None:
            req = self.sim.req
            if self.busy:
                run = max(0.0, now - self.t_start)
                self.busy_s += run
                if self.chunks:
                    self.busy_prefill_s += run
            k_now = self.steps_done(now)
            for rid, (join_k, ctx0, end_k) in self.dec.items():
                req.ctx[rid] = ctx0 + self.acc * (min(k_now, end_k) - join_k)
                req.steps_left[rid] = max(1, end_k - k_now)
                req.state[rid] = RECOMPUTE
            for rid in list(self.waiting) + list(self.prefill):
                st = req.state[rid]
                if st == SWAPPED:
                    req.state[rid] = RECOMPUTE
                elif st == PREFILLED:
                    req.steps_left[rid] = max(1, math.ceil((req.out[rid] - 1) / self.acc))
                    req.state[rid] = RECOMPUTE
        lost = list(self.waiting) + list(self.prefill) + list(self.dec)
        self.waiting.clear()
        self.prefill.clear()
        self.dec.clear()
        self.fin.clear()
        self.pf_reserved = self.ctx_off = self.outstanding = 0.0
        self.n_dec = self.k = self.in_system = 0
        self.busy, self.phase, self.chunks, self.stall_s = False, None, [], 0.0
        self.version += 1  # the pending step event is stale
        self.cache.clear()
        return lost

    def abort(self, rid: int, now: float) -> str | None:
        """Remove ``rid`` from this replica at ``now`` (its client went away): out of the waiting
        queue, or out of the batch with its KV cache freed.  Returns where it was ("waiting",
        "prefill", "decode"), None when it is not here.

        As vLLM's scheduler does between steps, the step already running completes as planned
        (its chunk of an aborted prompt is discarded at the step's end); a decode run, planned as
        one event for its batch, is cut at the end of its current step and re-planned without the
        sequence, so the others step faster from then on."""
        req = self.sim.req
        if rid in self.prefill:
            self.pf_reserved -= self.prefill.pop(rid)[1]
            where = "prefill"
        elif rid in self.dec:
            join_k, ctx0, _ = self.dec.pop(rid)  # its entry in ``fin`` is skipped lazily
            self.n_dec -= 1
            self.ctx_off -= ctx0 - self.acc * join_k
            where = "decode"
            if self.phase is not None and self.phase[1] > 1:
                self._cut_run(now)
        else:
            try:
                self.waiting.remove(rid)
            except ValueError:
                return None
            where = "waiting"
        self.in_system -= 1
        # the work the router counted for it here (what _finish / _prefilled would have taken off)
        self.outstanding -= (req.inp[rid] if self.role != "decode" else 0) + (req.out[rid] if self.role != "prefill" else 0)
        if not self.busy:
            self._next_step(now)  # idle with work waiting (e.g. for KV space): the freed space may admit it
        return where

    def _finish(self, rid: int, now: float) -> None:
        req = self.sim.req
        req.finish[rid] = now
        self.in_system -= 1
        self.outstanding -= req.out[rid] + (0 if self.role == "decode" else req.inp[rid])
        self.sim.on_finish(rid, now)


class Pool:
    """The replicas serving one model: one group (aggregated) or a prefill and a decode group."""

    def __init__(self, sim: "Simulation", name: str, replicas: list[Replica] | None, router: "Router",
                 decode_replicas: list[Replica] | None = None, decode_router: "Router | None" = None,
                 transfer_s_per_token: float = 0.0, gpus_per_replica: int = 1, scale: float = 1.0) -> None:
        self.sim, self.name, self.router = sim, name, router
        self.replicas: list[Replica] = replicas or []
        self.decode_replicas: list[Replica] = decode_replicas or []
        self._limits_key: tuple | None = None  # see _limits
        self._limits_value: tuple[float, float] = (0.0, 0.0)
        self.decode_router = decode_router
        self.transfer_s_per_token = transfer_s_per_token
        self.central = bool(getattr(router, "central", False))
        self.queue: deque[int] = deque()
        self.scale = scale  # real replicas represented by each simulated one
        self.arrived = 0
        self.dropped = 0
        self.aborted = 0  # requests whose client went away before they finished (Pool.abort)
        # failures (Pool.interrupt): replicas down, the live groups routing sees, retries allowed
        self.max_retries = 1
        self.failed = 0
        self.retried = 0
        self._down: set[int] = set()
        self._live: list[Replica] = []
        self._live_decode: list[Replica] = []

    @property
    def disaggregated(self) -> bool:
        return bool(self.decode_replicas)

    def all_replicas(self) -> list[Replica]:
        return self.replicas + self.decode_replicas

    def members(self) -> list[Replica]:
        """Every replica, failed ones included; an :class:`Interrupt` addresses one by position here."""
        return self.replicas + self.decode_replicas

    def live(self) -> list[Replica]:
        """The (prefill or aggregated) replicas routing may choose: all of them unless some are down."""
        return self._live if self._down else self.replicas

    def live_decode(self) -> list[Replica]:
        return self._live_decode if self._down else self.decode_replicas

    # ----- failures and repairs (typed interrupts from the kernel) --------------------------
    def interrupt(self, now: float, intr: Interrupt) -> list[int]:
        """Apply a failure (``intr.up`` False) or a repair to replica ``intr.replica``; returns the
        ids of the requests the failure took off it (retried or failed), empty for a repair."""
        rep = self.members()[intr.replica]
        if intr.up:
            if rep.up:
                return []
            rep.up = True
            self._down.discard(intr.replica)
            self._regroup()
            if self.central and self.queue and rep in self.replicas:
                rep._next_step(now)
            return []
        if not rep.up:
            return []  # already out: the first failure's repair brings it back
        rep.up = False
        self._down.add(intr.replica)
        self._regroup()
        lost = rep.fail(now)
        for rid in lost:
            self._retry(rid, now)
        return lost

    def _regroup(self) -> None:
        self._live = [r for r in self.replicas if r.up]
        self._live_decode = [r for r in self.decode_replicas if r.up]

    def _fail_request(self, rid: int, now: float) -> None:
        self.failed += 1
        self.sim.on_fail(rid, now)

    def _retry(self, rid: int, now: float) -> None:
        """A request lost with its replica: sent again (keeping its arrival time, so its latency
        counts the loss) while it has retries left, else it fails, as a client sees an error."""
        req = self.sim.req
        req.retries[rid] += 1
        if req.retries[rid] > self.max_retries:
            self._fail_request(rid, now)
            return
        self.retried += 1
        if req.state[rid] == RECOMPUTE and math.isfinite(req.first[rid]):
            # already streaming: recomputed and continued on a live decode (or aggregated) replica
            group = self.live_decode() if self.disaggregated else self.live()
            if not group:
                self._fail_request(rid, now)
                return
            if self.central and not self.disaggregated:
                self.queue.appendleft(rid)
                self._pull(now)
                return
            rep = (self.decode_router if self.disaggregated else self.router).choose(group, rid, req)
            rep.outstanding += req.out[rid] + (0 if self.disaggregated else req.inp[rid])
            rep.assign(rid, now, RECOMPUTE)
            return
        req.state[rid] = FRESH
        self._route(rid, now)

    def _pull(self, now: float) -> None:
        for rep in self.live():
            if not rep.busy:
                rep._next_step(now)
                if not self.queue:
                    break

    def max_request_tokens(self) -> float:
        return self._limits()[0]

    def _limits(self) -> tuple[float, float]:
        """(most tokens a request may need on its (decode) replica, most prompt tokens on a prefill
        replica): the smallest KV capacity less the block slack, fixed per replica, so computed
        once per set of replicas rather than per arrival."""
        key = (id(self.replicas), len(self.replicas), id(self.decode_replicas), len(self.decode_replicas))
        if self._limits_key != key:
            first = min(r.cap for r in self.replicas) - self.replicas[0].slack
            total = min(r.cap for r in self.decode_replicas) - self.decode_replicas[0].slack if self.disaggregated else first
            self._limits_key, self._limits_value = key, (total, first)
        return self._limits_value

    def arrive(self, rid: int, now: float) -> None:
        req = self.sim.req
        self.arrived += 1
        total, prompt = self._limits()
        if req.inp[rid] + req.out[rid] > total or (self.disaggregated and req.inp[rid] > prompt):
            req.dropped[rid] = True  # can never fit in this replica's KV cache
            self.dropped += 1
            self.sim.on_finish(rid, now, dropped=True)
            return
        self._route(rid, now)

    def _route(self, rid: int, now: float) -> None:
        req = self.sim.req
        if self._down and not self._live:
            self._fail_request(rid, now)  # no healthy replica: the gateway answers with an error (HTTP 503)
            return
        if self.central:
            req.state[rid] = FRESH
            self.queue.append(rid)
            for rep in self.live():
                if not rep.busy:
                    rep._next_step(now)
                    if not self.queue:
                        break
            return
        rep = self.router.choose(self.live(), rid, req)
        rep.outstanding += req.inp[rid] + (0 if self.disaggregated else req.out[rid])
        rep.assign(rid, now)

    def handoff(self, rid: int, now: float) -> None:
        """A prefill replica finished ``rid``: ship its KV cache to the decode group."""
        req = self.sim.req
        self.sim.queue.push(now + req.ctx[rid] * self.transfer_s_per_token, PRIORITY_TRANSFER, self._deliver, rid)

    def abort(self, rid: int, now: float) -> str:
        """Take ``rid`` out of the pool at ``now`` wherever it is: the central queue, a replica
        (:meth:`Replica.abort`), or in flight between the groups, where the caller's abort mark
        (``Requests.aborted``) makes the delivery of its KV cache a no-op.  Returns where it was
        ("queue", "waiting", "prefill", "decode", "transfer", or "arrival" for a closed-loop
        arrival not yet run).  The caller (:meth:`Simulation.abort`) checked that it is unfinished."""
        if self.central and rid in self.queue:
            self.queue.remove(rid)
            where: str | None = "queue"
        else:
            where = next((w for w in (rep.abort(rid, now) for rep in self.members()) if w is not None), None)
        if where is None:
            if not (self.disaggregated and self.sim.req.replica[rid] >= 0):
                return "arrival"  # never reached the pool: not counted here
            where = "transfer"
        self.aborted += 1
        return where

    def _deliver(self, now: float, rid: int) -> None:
        req = self.sim.req
        if not math.isnan(req.aborted[rid]):
            return  # aborted during the transfer: the decode side never takes it (its KV cache is dropped)
        req.first[rid] = now  # the first token reaches the user once the decode side has the KV cache
        self.sim.on_first_token(rid, now)
        if req.out[rid] <= 1:
            req.finish[rid] = now
            self.sim.on_finish(rid, now)
            return
        group = self.live_decode()
        if not group:
            self._fail_request(rid, now)  # every decode replica is down: the KV cache has nowhere to go
            return
        rep = self.decode_router.choose(group, rid, req)
        rep.outstanding += req.out[rid]
        rep.assign(rid, now, PREFILLED)


def host_bandwidth_per_gpu(cpu_model: str | None) -> float:
    """Host-memory bandwidth one GPU swaps KV over [B/s, one direction]."""
    return GRACE_C2C_BYTES_PER_S_PER_GPU if cpu_model and "Grace" in cpu_model else PCIE5_X16_BYTES_PER_S

