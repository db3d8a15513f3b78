"""Step times of one replica for the batch it actually runs, from the performance model.

The simulator asks two questions: how long one mixed step takes (decode tokens plus prefill
chunks), and how a run of pure decode steps grows with context.  The second is answered as
an affine law ``a + b x total_context`` per decode batch size, which is exact for full
attention (attention time is linear in keys read) and a secant for sliding-window layers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

from gigafactory.perf.architecture import ParamCounts, kv_cache_bytes_per_token
from gigafactory.perf.efficiency import COMM_EFFICIENCY, Efficiency
from gigafactory.perf.hardware import Hardware
from gigafactory.perf.layout import Layout
from gigafactory.perf.memory import KV_BYTES, MAX_TOKENS_PER_STEP, memory_fit
from gigafactory.perf.serving import Speculation, _mtp_cost
from gigafactory.perf.step import step_time


class StepCost(Protocol):
    """What a replica needs to know about its step times and memory."""

    tokens_per_step: float  # expected output tokens per sequence per decode step [1]
    decode_width: int  # tokens each decoding sequence puts into a step (1 + draft tokens)
    kv_capacity_tokens: float  # KV cache the replica holds [tokens]
    kv_bytes_per_token_per_gpu: float  # [B]
    gpus: int

    def step_s(self, n_decode: int, ctx_decode_total: float, prefill_tokens: float, ctx_prefill_mean: float) -> float: ...

    def decode_affine(self, n_decode: int, ctx_mean: float) -> tuple[float, float]: ...


#: prefill-only step times a PerfStepCost remembers at most
PREFILL_STEP_MEMO = 100_000


@dataclass
class PerfStepCost:
    """Step times of one engine instance from :func:`gigafactory.perf.step.step_time`.

    A pipeline-parallel instance runs its batch as ``pp`` micro-batches through ``pp``
    stages, so one full step takes ``pp`` stage times at ``1/pp`` of the batch (the same
    convention as ``perf.serving.aggregated_point``).
    """

    m: Any
    pc: ParamCounts
    hw: Hardware
    eff: Efficiency
    layout: Layout
    precision: str
    spec: Speculation = Speculation()
    context_tokens: int | None = None

    def __post_init__(self) -> None:
        fit = memory_fit(self.m, self.pc, self.hw, self.layout, self.precision, self.context_tokens)
        self.kv_capacity_tokens = fit.kv_capacity_tokens if fit.fits else 0.0
        self.kv_bytes_per_token_per_gpu = fit.kv_bytes_per_token_per_gpu
        self.kv_bytes_per_token = kv_cache_bytes_per_token(self.m, KV_BYTES[self.precision], self.context_tokens)
        self.gpus = self.layout.gpus
        self.tokens_per_step = self.spec.tokens_per_step
        self.decode_width = 1 + self.spec.draft_tokens
        self.max_tokens_per_step = MAX_TOKENS_PER_STEP * (self.layout.tp if self.layout.dp_attention else 1)
        self._mtp = _mtp_cost(self.m, self.spec)
        self._pp = self.layout.pp
        self._affine: dict[tuple[int, int], tuple[float, float]] = {}
        self._prefill_steps: dict[tuple[float, float], float] = {}
        self._full_attention = not (getattr(self.m, "sliding_window_layers", 0) or 0)

    def step_s(self, n_decode: int, ctx_decode_total: float, prefill_tokens: float, ctx_prefill_mean: float) -> float:
        if n_decode == 0:
            # a prefill replica's step: one prompt (or a few) of a trace whose lengths repeat, so the
            # same step recurs; memoised on its exact arguments (same value, no rounding)
            key = (prefill_tokens, ctx_prefill_mean)
            hit = self._prefill_steps.get(key)
            if hit is None:
                if len(self._prefill_steps) >= PREFILL_STEP_MEMO:
                    self._prefill_steps.clear()  # bound the memory of a long run
                hit = self._prefill_steps[key] = self._step_s(0, 0.0, prefill_tokens, ctx_prefill_mean)
            return hit
        return self._step_s(n_decode, ctx_decode_total, prefill_tokens, ctx_prefill_mean)

    def _step_s(self, n_decode: int, ctx_decode_total: float, prefill_tokens: float, ctx_prefill_mean: float) -> float:
        pp = self._pp
        ctx = ctx_decode_total / n_decode if n_decode else 0.0
        st = step_time(self.m, self.pc, self.hw, self.eff, self.layout, self.precision, n_decode / pp, ctx,
                       prefill_tokens / pp, ctx_prefill_mean, self.decode_width)
        return pp * st.total_s * self._mtp

    def decode_affine(self, n_decode: int, ctx_mean: float) -> tuple[float, float]:
        """(a, b): a decode step of ``n_decode`` sequences holding C context tokens in all takes a + b C [s]."""
        bucket = 0 if self._full_attention else max(0, int(round(2 * math.log2(max(ctx_mean, 1.0)))))
        key = (n_decode, bucket)
        hit = self._affine.get(key)
        if hit is None:
            a = self.step_s(n_decode, 0.0, 0.0, 0.0)
            ref = 2048.0 if self._full_attention else 2.0 ** (bucket / 2)
            b = (self.step_s(n_decode, n_decode * ref, 0.0, 0.0) - a) / (n_decode * ref)
            hit = self._affine[key] = (a, b)
        return hit


@dataclass
class TokenLinearCost:
    """A degenerate service for queueing checks: a step takes ``s_per_prefill_token`` per
    prompt token plus ``s_per_decode_step`` when any sequence decodes; memory is unlimited.

    With one request per replica (``max_seqs = 1``), output length 1 and a token budget
    larger than any prompt, a request's service time is exactly its prompt length times
    ``s_per_prefill_token``: the M/G/1 and M/M/c checks use this.
    """

    s_per_prefill_token: float = 1e-3
    s_per_decode_step: float = 0.0
    kv_capacity_tokens: float = float("inf")
    kv_bytes_per_token_per_gpu: float = 0.0
    kv_bytes_per_token: float = 0.0
    gpus: int = 1
    tokens_per_step: float = 1.0
    decode_width: int = 1
    max_tokens_per_step: int = 1 << 40

    def step_s(self, n_decode: int, ctx_decode_total: float, prefill_tokens: float, ctx_prefill_mean: float) -> float:
        return prefill_tokens * self.s_per_prefill_token + (self.s_per_decode_step if n_decode else 0.0)

    def decode_affine(self, n_decode: int, ctx_mean: float) -> tuple[float, float]:
        return (self.s_per_decode_step, 0.0)


@dataclass
class RankCost:
    """One attention-data-parallel rank of a DP-attention instance (TRT-LLM 'DEP', SGLang
    DP-attention), simulated on its own: each rank schedules its own sequences, and every step
    is synchronised across the ``ranks`` by the expert all-to-all.  Mean-field: the step time
    is the whole instance's with every rank carrying this rank's batch, so load imbalance
    between ranks (a straggler rank slows the step) is not modelled.
    """

    inner: PerfStepCost
    ranks: int

    def __post_init__(self) -> None:
        d = self.ranks
        self.kv_capacity_tokens = self.inner.kv_capacity_tokens / d
        self.kv_bytes_per_token_per_gpu = self.inner.kv_bytes_per_token_per_gpu
        self.kv_bytes_per_token = self.inner.kv_bytes_per_token
        self.gpus = max(1, self.inner.gpus // d)
        self.tokens_per_step = self.inner.tokens_per_step
        self.decode_width = self.inner.decode_width
        self.max_tokens_per_step = self.inner.max_tokens_per_step // d

    def step_s(self, n_decode: int, ctx_decode_total: float, prefill_tokens: float, ctx_prefill_mean: float) -> float:
        d = self.ranks
        return self.inner.step_s(n_decode * d, ctx_decode_total * d, prefill_tokens * d, ctx_prefill_mean)

    def decode_affine(self, n_decode: int, ctx_mean: float) -> tuple[float, float]:
        a, b = self.inner.decode_affine(n_decode * self.ranks, ctx_mean)
        return a, b * self.ranks


#: sequences a disaggregated pool's prefill instance batches at most
PREFILL_MAX_SEQS = 256


def kv_transfer_s_per_token(kv_bytes_per_token: float, hw: Hardware, same_domain: bool) -> float:
    """Seconds to send one token's KV cache from a prefill to a decode instance [s]: over NVLink
    within the scale-up domain, the scale-out network beyond it, at COMM_EFFICIENCY of the link."""
    link = (hw.nvlink_bw_bytes_per_s if same_domain else hw.scaleout_bw_bytes_per_s) * COMM_EFFICIENCY
    return kv_bytes_per_token / link
