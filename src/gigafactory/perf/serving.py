"""Steady-state serving metrics of one configuration: aggregated or disaggregated.

Aggregated (continuous batching, chunked prefill): ``concurrency`` sequences per instance
share every step; each step also carries the prompt tokens of the sequences that joined,
amortised over their output (``isl / osl`` prompt tokens per generated token).
Disaggregated: prefill instances process prompts, ship the KV cache to decode instances,
and the ratio of the two pools balances their request rates.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from gigafactory.perf.architecture import ParamCounts, kv_cache_bytes_per_token
from gigafactory.perf.efficiency import COMM_EFFICIENCY, Efficiency
from gigafactory.perf.hardware import Hardware
from gigafactory.perf.layout import Layout
from gigafactory.perf.memory import KV_BYTES, MAX_TOKENS_PER_STEP, memory_fit
from gigafactory.perf.step import step_time

#: DeepSeek-V3 technical report (arXiv 2412.19437, section 5.4.3): the second token predicted
#: by MTP is accepted 85-90 % of the time; 0.85 is used for one draft token.
DEFAULT_ACCEPTANCE = 0.85


@dataclass(frozen=True)
class Speculation:
    draft_tokens: int = 0
    acceptance: float = DEFAULT_ACCEPTANCE

    @property
    def tokens_per_step(self) -> float:
        """Expected tokens emitted per sequence per verification step [1]."""
        a, k = self.acceptance, self.draft_tokens
        return float(k + 1) if a >= 1 else (1 - a ** (k + 1)) / (1 - a)


@dataclass(frozen=True)
class ServingPoint:
    mode: str  # "aggregated" | "disaggregated"
    layout: Layout  # the (decode) instance layout
    concurrency: int  # sequences in flight per (decode) instance
    tok_s_gpu: float  # output tokens/s per GPU, all GPUs counted
    tok_s_user: float  # output tokens/s per sequence (1 / TPOT)
    ttft_s: float  # time to first token without queueing [s]
    tpot_s: float  # time per output token [s]
    gpus: int  # GPUs of one serving unit (instance, or prefill + decode pools)
    prefill_layout: Layout | None = None
    prefill_instances: int = 0
    decode_instances: int = 1
    weights_gb_per_gpu: float = 0.0
    details: dict = field(default_factory=dict, compare=False)

    def as_dict(self) -> dict[str, Any]:
        out = {
            "mode": self.mode,
            "layout": self.layout.label(),
            "parallel": self.layout.as_dict(),
            "concurrency_per_instance": self.concurrency,
            "tok_s_gpu": self.tok_s_gpu,
            "tok_s_user": self.tok_s_user,
            "ttft_s": self.ttft_s,
            "tpot_s": self.tpot_s,
            "gpus": self.gpus,
            "weights_gb_per_gpu": self.weights_gb_per_gpu,
        }
        if self.prefill_layout is not None:
            out.update(prefill_layout=self.prefill_layout.label(), prefill_parallel=self.prefill_layout.as_dict(), prefill_instances=self.prefill_instances, decode_instances=self.decode_instances)
        return out


def decode_context(isl: float, osl: float, osl_cv: float = 0.0) -> float:
    """Mean KV context of the sequences in a steady-state decode batch [tokens].

    A request stays in the batch for as many steps as it has output tokens, so the batch
    over-represents long outputs (length-biased sampling): a request of output length o spends
    o steps there, at contexts isl .. isl + o, and the step-weighted mean context is
    isl + E[o^2] / (2 E[o]) = isl + osl (1 + cv^2) / 2, with cv the coefficient of variation of
    the output length (0 for fixed lengths, giving isl + osl / 2)."""
    return isl + osl * (1.0 + osl_cv * osl_cv) / 2.0


def _mtp_cost(m: Any, spec: Speculation) -> float:
    # The MTP / draft module is about one transformer layer per draft token.
    return 1.0 + spec.draft_tokens / m.num_layers


def aggregated_point(
    m: Any, pc: ParamCounts, hw: Hardware, eff: Efficiency, layout: Layout, precision: str,
    isl: float, osl: float, concurrency: int, spec: Speculation = Speculation(), osl_cv: float = 0.0,
) -> ServingPoint | None:
    """Steady state of one aggregated instance at ``concurrency`` sequences; None if it does not
    fit.  ``osl_cv`` is the output length's coefficient of variation (see :func:`decode_context`)."""
    fit = memory_fit(m, pc, hw, layout, precision, int(isl + osl))
    if concurrency < 1 or concurrency > fit.max_concurrency(isl + osl):
        return None
    pp = layout.pp
    acc = spec.tokens_per_step
    per_mb = concurrency / pp  # sequences per pipeline micro-batch
    # One cycle = the life of a micro-batch's sequences: osl / acc decode steps, of which
    # n_mixed also carry a prefill chunk (the prompts of the sequences that replace them,
    # per_mb x isl tokens, in chunks of at most the per-step token budget).
    budget = MAX_TOKENS_PER_STEP * (layout.tp if layout.dp_attention else 1)
    prompt_tokens = per_mb * isl
    n_mixed = max(1, math.ceil(prompt_tokens / budget))
    dec_steps = max(osl / acc, float(n_mixed))
    ctx = decode_context(isl, osl, osl_cv)
    st_mixed = step_time(m, pc, hw, eff, layout, precision, per_mb, ctx, prompt_tokens / n_mixed, isl / 2, 1 + spec.draft_tokens)
    st = step_time(m, pc, hw, eff, layout, precision, per_mb, ctx, 0.0, 0.0, 1 + spec.draft_tokens)
    t_cycle = (n_mixed * st_mixed.total_s + (dec_steps - n_mixed) * st.total_s) * _mtp_cost(m, spec)
    tpot = pp * t_cycle / osl
    rate = concurrency * osl / (pp * t_cycle)  # output tokens/s of the instance
    chunks = math.ceil(isl / MAX_TOKENS_PER_STEP)
    chunk_tokens = isl / chunks
    st_chunk = step_time(m, pc, hw, eff, layout, precision, per_mb, ctx, chunk_tokens, chunk_tokens / 2, 1 + spec.draft_tokens)
    ttft = chunks * pp * st_chunk.total_s * _mtp_cost(m, spec)
    return ServingPoint(
        mode="aggregated", layout=layout, concurrency=concurrency, tok_s_gpu=rate / layout.gpus, tok_s_user=1.0 / tpot,
        ttft_s=ttft, tpot_s=tpot, gpus=layout.gpus, weights_gb_per_gpu=fit.weights_bytes_per_gpu / 1e9,
        details={"step": st, "kv_capacity_tokens": fit.kv_capacity_tokens},
    )


def prefill_rate(m: Any, pc: ParamCounts, hw: Hardware, eff: Efficiency, layout: Layout, precision: str, isl: float) -> tuple[float, float]:
    """(requests/s of one prefill instance, latency of one prompt [s])."""
    per_step = max(1, int(MAX_TOKENS_PER_STEP // isl)) * layout.pp
    per_mb = per_step / layout.pp
    st = step_time(m, pc, hw, eff, layout, precision, 0, 0, per_mb * isl, isl / 2)
    return per_mb / st.total_s, layout.pp * st.total_s


def kv_transfer_s(m: Any, hw: Hardware, precision: str, isl: float, same_domain: bool) -> float:
    """Time to move one prompt's KV cache from a prefill to a decode instance [s]."""
    bytes_ = kv_cache_bytes_per_token(m, KV_BYTES[precision]) * isl
    bw = (hw.nvlink_bw_bytes_per_s if same_domain else hw.scaleout_bw_bytes_per_s) * COMM_EFFICIENCY
    return bytes_ / bw


def disaggregated_point(
    m: Any, pc: ParamCounts, hw: Hardware, eff: Efficiency, prefill: Layout, decode: Layout, precision: str,
    isl: float, osl: float, concurrency: int, spec: Speculation = Speculation(),
    prefill_instances: int | None = None, decode_instances: int | None = None, max_gpus: int = 512, osl_cv: float = 0.0,
) -> ServingPoint | None:
    """A prefill pool and a decode pool; the pool sizes are given or chosen to balance rates."""
    if memory_fit(m, pc, hw, prefill, precision, int(isl)).max_concurrency(isl) < 1:
        return None
    fit = memory_fit(m, pc, hw, decode, precision, int(isl + osl))
    if concurrency < 1 or concurrency > fit.max_concurrency(isl + osl):
        return None
    acc = spec.tokens_per_step
    per_mb = concurrency / decode.pp
    st = step_time(m, pc, hw, eff, decode, precision, per_mb, decode_context(isl, osl, osl_cv), 0, 0, 1 + spec.draft_tokens)
    t_stage = st.total_s * _mtp_cost(m, spec)
    tpot = decode.pp * t_stage / acc
    out_rate_d = concurrency * acc / (decode.pp * t_stage)  # tokens/s per decode instance
    req_rate_d = out_rate_d / osl
    req_rate_p, prefill_latency = prefill_rate(m, pc, hw, eff, prefill, precision, isl)
    if prefill_instances is None or decode_instances is None:
        best = None
        for n_d in range(1, 65):
            n_p_exact = n_d * req_rate_d / req_rate_p
            for n_p in {max(1, math.floor(n_p_exact)), max(1, math.ceil(n_p_exact))}:
                gpus = n_p * prefill.gpus + n_d * decode.gpus
                if gpus > max_gpus:
                    continue
                tok = min(n_d * out_rate_d, n_p * req_rate_p * osl)
                if best is None or tok / gpus > best[0]:
                    best = (tok / gpus, n_p, n_d)
        if best is None:
            return None
        _, prefill_instances, decode_instances = best
    gpus = prefill_instances * prefill.gpus + decode_instances * decode.gpus
    tok = min(decode_instances * out_rate_d, prefill_instances * req_rate_p * osl)
    # When prefill limits the system, decode runs below the assumed concurrency; tokens/s
    # per user stays set by the decode step at that concurrency (an upper bound).
    same_domain = gpus <= hw.domain_gpus
    ttft = prefill_latency + kv_transfer_s(m, hw, precision, isl, same_domain)
    return ServingPoint(
        mode="disaggregated", layout=decode, concurrency=concurrency, tok_s_gpu=tok / gpus, tok_s_user=1.0 / tpot,
        ttft_s=ttft, tpot_s=tpot, gpus=gpus, prefill_layout=prefill, prefill_instances=prefill_instances,
        decode_instances=decode_instances, weights_gb_per_gpu=fit.weights_bytes_per_gpu / 1e9,
        details={"step": st, "prefill_req_s": req_rate_p, "decode_req_s": req_rate_d},
    )
