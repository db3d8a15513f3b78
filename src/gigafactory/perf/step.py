"""Step time of one forward pass: compute and memory rooflines per operator group, plus
collectives and a fixed per-step overhead.

All functions are pure; times are per pipeline stage [s].  A step processes ``n_decode``
sequences generating one token each (reading ``ctx_decode`` tokens of KV on average) and
``n_prefill`` prompt tokens whose attention spans ``ctx_prefill`` tokens on average.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist
from typing import Any

from gigafactory.perf.architecture import KERNELS_REFERENCE_LAYER, ParamCounts, dense_mlp_width, kernels_per_step, kv_cache_bytes_per_token
from gigafactory.perf.efficiency import COMM_EFFICIENCY, Efficiency
from gigafactory.perf.hardware import Hardware
from gigafactory.perf.layout import Layout
from gigafactory.perf.memory import ATTN_BYTES, ATTN_PRECISION, EMBED_BYTES, KV_BYTES, MLP_BYTES, attention_shards
from gigafactory.perf.moe_width import REFERENCE_WIDTH, half_width, width_factor

ACT_BYTES = 2.0  # activations exchanged in collectives are 16-bit
#: Tensor-core precision of decode attention where it is compute-bound.  Weight-absorbed MLA
#: decode does 2 h (d_k + d_v) FLOPs per cached latent (d_k = 576, d_v = 512): ~2 h FLOP/B,
#: compute-bound from 64-128 query heads x tokens (FlashMLA deep-dive, DeepSeek, 2025-04).  Its
#: kernels compute in BF16; an FP8 latent cache is dequantised to BF16 before the MMA (FlashMLA's
#: FP8 decoding-kernel write-up, 2025-09).  GQA decode is memory-bound (~16 FLOP/B) and keeps the
#: serving precision's attention peak (ATTN_PRECISION).
DECODE_ATTN_PRECISION = {"mla": "bf16"}


#: Exponent of the blended roofline (roofline_s), measured: 120 BF16 and FP8 GEMMs on an H200 (Llama-3.1
#: 8B and 70B weight shapes, 1-8,192 tokens) are timed within 4.4 % (median) by a fixed cost per
#: kernel (8.3 µs) plus (t_c^p + t_m^p)^(1/p) with p = 4.4 (bench/device_h200_probe.py,
#: bench/results/h200_probe_vs_model.json "gemm_blend").  The step model carries the fixed cost
#: per kernel as its step overhead (kernel_overhead_s).  Without that fixed cost the best exponent
#: is 3.2 and p = 2 leaves a 12 % median error: a blend of 2 made up for the missing fixed cost.
ROOFLINE_EXPONENT = 4.4


def roofline_s(compute_s: float, memory_s: float) -> float:
    """Time of an operator group that needs ``compute_s`` at its compute roof and
    ``memory_s`` at its memory roof [s].

    A blended roofline: a kernel near the ridge point reaches neither roof, because loads and
    math overlap only partly.  (t_c^p + t_m^p)^(1/p) is the max() roofline far from the ridge
    and 2^(1/p) x it at the ridge (p = ROOFLINE_EXPONENT = 4.4: 85 % of the max() roofline's
    throughput where the two are equal), as measured on an H200's GEMMs.
    """
    if compute_s <= 0.0 or memory_s <= 0.0:
        return max(compute_s, memory_s, 0.0)
    hi = max(compute_s, memory_s)
    return hi * (1.0 + (min(compute_s, memory_s) / hi) ** ROOFLINE_EXPONENT) ** (1.0 / ROOFLINE_EXPONENT)


@lru_cache(maxsize=256)
def expected_max_normal(n: int) -> float:
    """Expected largest of ``n`` independent standard normal draws (Blom's approximation:
    4.5 % high at n = 2, within 1 % for 8 <= n <= 1000) [1]; 0 for n <= 1."""
    if n <= 1:
        return 0.0
    return NormalDist().inv_cdf((n - 0.375) / (n + 0.25))


def busiest_rank_factor(mean: float, var: float, ranks: int, cap: float | None = None) -> float:
    """E[max over ``ranks``] / mean of a per-rank load with the given mean and variance
    (normal approximation), at most ``cap`` / mean [1].  The expert-parallel step waits for
    the busiest rank: the a2a synchronises all ranks at every MoE layer."""
    if mean <= 0 or ranks <= 1:
        return 1.0
    top = mean + expected_max_normal(ranks) * math.sqrt(max(var, 0.0))
    if cap is not None:
        top = min(top, cap)
    return max(1.0, top / mean)


#: bytes of an activation element fed to a routed-expert GEMM: quantised to the weights'
#: precision (NVFP4: a 4-bit value plus one FP8 scale per 16 elements, NVIDIA's NVFP4 format)
MLP_ACT_BYTES = {"bf16": 2.0, "fp8": 1.0, "fp4": 0.5 + 1.0 / 16}


def mlp_intermediate_bytes(intermediate: float, act_bytes: float) -> float:
    """HBM bytes one token moves through a gated MLP's intermediate activations outside the GEMMs'
    operand reads [B]: the gate/up GEMM writes gate and up in 16 bits (2 I 2), SwiGLU reads them
    and writes the product quantised for the down GEMM (4 I + I a), which reads it (I a).
    ``intermediate`` is the share of the intermediate dimension one GPU holds."""
    return intermediate * (8.0 + 2.0 * act_bytes)


def routed_pair_bytes(hidden: float, intermediate: float, act_bytes: float) -> float:
    """HBM bytes one routed (token, expert) pair moves outside the weight reads [B].

    The MoE pipeline as TensorRT-LLM runs it (expandInputRows -> FC1 -> doActivation -> FC2 ->
    finalizeMoeRouting, the auxiliary kernels named in NVIDIA's "Scaling Expert Parallelism in
    TensorRT-LLM, part 2" blog, 2025; vLLM's and SGLang's fused MoE have the same stages): the
    permute kernel reads and writes the quantised hidden vector (2 h a), FC1 reads it (h a) and writes gate and up in
    16 bits (2 I 2), SwiGLU reads those and writes the quantised product (4 I + I a), FC2 reads
    it (I a) and writes 16 bits (2 h), finalize reads that back (2 h).  ``intermediate`` is the
    share of the expert's intermediate dimension one GPU holds [B].
    """
    return hidden * (3.0 * act_bytes + 4.0) + mlp_intermediate_bytes(intermediate, act_bytes)


def routed_expert_layer(hidden: float, intermediate: float, n_experts: int, top_k: int, tokens: float,
                        ep_ranks: int, expert_tp: float, precision: str) -> tuple[float, float, float]:
    """FLOPs and HBM bytes of one MoE layer on the busiest GPU, and the routed-token imbalance
    (busiest rank's pairs / mean) [FLOP, B, 1].

    Only experts that receive a token this step are read.  With experts placed whole on
    ``ep_ranks`` ranks the step waits for the busiest rank, which holds more hit experts and
    receives more routed tokens than the mean; computed for routing independent across tokens and
    uniform over experts (the balanced ideal DeepSeek-V3's bias balancing aims at).  TP-sharded
    experts (``expert_tp`` GPUs share one expert's intermediate dimension) are balanced by
    construction.  Routing moves every routed (token, expert) pair's activations through HBM several
    times (routed_pair_bytes).
    """
    p_hit = 1.0 - (1.0 - top_k / n_experts) ** tokens
    hit_imbalance = tok_imbalance = 1.0
    if ep_ranks > 1:
        per_rank = n_experts / ep_ranks  # experts held by one rank
        hit_imbalance = busiest_rank_factor(per_rank * p_hit, per_rank * p_hit * (1 - p_hit), ep_ranks, cap=per_rank)
        pairs = tokens * top_k  # routed (token, expert) pairs of the whole EP group
        tok_imbalance = busiest_rank_factor(pairs / ep_ranks, pairs * (1 / ep_ranks) * (1 - 1 / ep_ranks), ep_ranks)
    pairs_rank = tokens * top_k / ep_ranks * tok_imbalance  # pairs the busiest rank processes
    inter_gpu = intermediate / expert_tp
    weight_bytes = n_experts / ep_ranks * 3.0 * hidden * inter_gpu * MLP_BYTES[precision] * p_hit * hit_imbalance
    pair_bytes = pairs_rank * routed_pair_bytes(hidden, inter_gpu, MLP_ACT_BYTES[precision])
    return 2.0 * 3.0 * hidden * inter_gpu * pairs_rank, weight_bytes + pair_bytes, tok_imbalance


def routed_experts_s(flops: float, bytes_: float, hw: Hardware, eff: Efficiency, precision: str, width: float = REFERENCE_WIDTH) -> float:
    """Time of routed-expert work [s]: its weights stream at the memory roof like any GEMM's;
    ``eff.expert`` derates only the math (grouped GEMMs over small per-expert batches), as fitted
    on experts up to REFERENCE_WIDTH wide per GPU; wider experts' math runs faster by the law
    measured on NVIDIA's MoE layers (perf/moe_width.py: ``width`` = intermediate size / expert-TP
    degree)."""
    speed = width_factor(width, half_width(hw.generation, precision, hw.accelerator_id))
    return roofline_s(flops / (hw.flop_per_s[precision] * eff.compute * eff.expert * speed), bytes_ / (hw.hbm_bw_bytes_per_s * eff.memory))


def kernel_overhead_s(eff: Efficiency, kernels: float, pp: int = 1) -> float:
    """Step overhead of ``kernels`` kernels launched, on one of ``pp`` pipeline stages [s]:
    ``step_overhead_s`` is per 80 dense GQA layers (Llama-3 70B), KERNELS_REFERENCE_LAYER kernels each."""
    return eff.step_overhead_s * kernels / (pp * 80.0 * KERNELS_REFERENCE_LAYER)


@dataclass(frozen=True)
class StepTime:
    total_s: float
    dense_s: float
    experts_s: float
    attention_s: float
    comm_s: float
    overhead_s: float


def _attn_flops_per_key(m: Any, decode: bool) -> float:
    """FLOPs of QK^T and AV for one query token against one cached key in one layer, all heads."""
    h = m.num_attention_heads
    if m.attention == "mla":
        if decode:  # weight-absorbed MLA attends in the latent space
            return 2.0 * h * (m.kv_lora_rank + m.qk_rope_head_dim) + 2.0 * h * m.kv_lora_rank
        return 2.0 * h * (m.qk_nope_head_dim + m.qk_rope_head_dim) + 2.0 * h * m.v_head_dim
    return 4.0 * h * m.head_dim


def _effective_ctx(m: Any, ctx: float) -> float:
    """Average keys attended per layer, with sliding-window layers capped at their window."""
    win_layers = m.sliding_window_layers or 0
    if not win_layers:
        return ctx
    full = m.num_layers - win_layers
    return (full * ctx + win_layers * min(ctx, m.sliding_window_tokens)) / m.num_layers


def step_time(
    m: Any,
    pc: ParamCounts,
    hw: Hardware,
    eff: Efficiency,
    layout: Layout,
    precision: str,
    n_decode: float,
    ctx_decode: float,
    n_prefill: float = 0.0,
    ctx_prefill: float = 0.0,
    decode_tokens_per_seq: float = 1.0,
) -> StepTime:
    """Time of one step of one pipeline stage [s].

    ``decode_tokens_per_seq`` > 1 models speculative verification (1 + draft tokens per sequence).
    """
    tp, pp = layout.tp, layout.pp
    gpus = tp * pp
    layers = m.num_layers
    t_dec = n_decode * decode_tokens_per_seq
    tokens = t_dec + n_prefill
    if tokens <= 0:
        return StepTime(eff.step_overhead_s, 0, 0, 0, 0, eff.step_overhead_s)
    bw = hw.hbm_bw_bytes_per_s * eff.memory
    peak_mlp = hw.flop_per_s[precision] * eff.compute
    peak_attn = hw.flop_per_s[ATTN_PRECISION[precision]] * eff.compute

    # Dense operator group: attention projections, dense MLPs, shared experts, routers, LM head.
    lm_head = m.vocab_size * m.hidden_size
    lm_tokens = n_decode * decode_tokens_per_seq + (1.0 if n_prefill else 0.0)
    attn_shard = 1 if layout.dp_attention else tp
    dense_flops = (2.0 * (pc.attention + pc.dense_mlp + pc.shared) * tokens + 2.0 * lm_head * lm_tokens) / gpus
    dense_bytes = (
        pc.attention * ATTN_BYTES[precision] / attn_shard + (pc.dense_mlp + pc.shared) * MLP_BYTES[precision] / tp + lm_head * EMBED_BYTES / tp
    ) / pp
    attn_proj_share = pc.attention / max(pc.attention + pc.dense_mlp + pc.shared, 1.0)
    dense_peak = attn_proj_share * peak_attn + (1 - attn_proj_share) * peak_mlp
    # The dense MLPs' and shared experts' intermediate activations make the same trip through
    # HBM as a routed pair's (mlp_intermediate_bytes), in kernels of their own between the GEMMs
    # (SwiGLU, quantisation): memory-bound work added to the GEMMs', not overlapped with it.
    # Every GPU holds 1/tp of the intermediate dimension for all of the step's tokens.
    mlp_act_bytes = tokens * mlp_intermediate_bytes(dense_mlp_width(m) / tp, MLP_ACT_BYTES[precision]) / pp
    dense_s = roofline_s(dense_flops / dense_peak, dense_bytes / bw) + mlp_act_bytes / bw

    # Routed experts, on the busiest expert-parallel rank (routed_expert_layer).  Their weights
    # stream at the memory roof like any GEMM's; ``eff.expert`` derates only the math and the
    # all-to-all (grouped GEMMs over small per-expert batches, routing kernels, skew beyond
    # random routing).
    experts_s = 0.0
    tok_imbalance = 1.0
    if pc.experts_total:
        ep_ranks = max(layout.ep, tp if layout.dp_attention else 1)
        expert_tp = max(1.0, gpus / pp / ep_ranks)  # GPUs sharing one expert's intermediate dimension
        layer_flops, layer_bytes, tok_imbalance = routed_expert_layer(
            m.hidden_size, m.moe_intermediate_size, m.num_experts, m.experts_per_token, tokens, ep_ranks, expert_tp, precision)
        moe_layers = (layers - (m.num_dense_layers or 0)) / pp
        experts_s = routed_experts_s(moe_layers * layer_flops, moe_layers * layer_bytes, hw, eff, precision, m.moe_intermediate_size / expert_tp)

    # Attention over the KV cache.
    kv_tok = kv_cache_bytes_per_token(m, KV_BYTES[precision]) / (pp * attention_shards(m, layout))
    share = 1.0 / tp if layout.dp_attention else 1.0  # sequences per GPU
    ctx_d = _effective_ctx(m, ctx_decode)
    # every layer has the same KV width, so reading ctx_d keys per layer costs ctx_d x kv_tok
    kv_read = n_decode * share * ctx_d * kv_tok
    decode_flops = layers * t_dec * ctx_d * _attn_flops_per_key(m, True) / gpus
    prefill_flops = layers * n_prefill * _effective_ctx(m, ctx_prefill) * _attn_flops_per_key(m, False) / gpus
    attention_s = roofline_s(decode_flops / (hw.flop_per_s[DECODE_ATTN_PRECISION.get(m.attention, ATTN_PRECISION[precision])] * eff.compute)
                             + prefill_flops / peak_attn, kv_read / bw)

    # Collectives over NVLink (or the scale-out fabric when the instance spans domains).
    link = hw.link_bw(gpus) * COMM_EFFICIENCY
    stage_layers = layers / pp
    comm_s = 0.0
    if tp > 1 and not layout.dp_attention:
        msg = tokens * m.hidden_size * ACT_BYTES
        comm_s += stage_layers * 2 * (2.0 * (tp - 1) / tp * msg / link + eff.collective_latency_s)
    # Tokens reach the experts' ranks by all-to-all only when attention holds each rank's own
    # sequences (attention DP).  With tensor-parallel attention every rank already holds every
    # token after the all-reduce, each runs its own experts on them, and the MLP's all-reduce
    # above combines the outputs: no dispatch (TensorRT-LLM enables its MoE all-to-all only with
    # attention DP; vLLM's and SGLang's expert parallelism without DP all-reduce likewise).
    if pc.experts_total and layout.dp_attention:
        ep = max(layout.ep, tp)
        moe_layers = (layers - (m.num_dense_layers or 0)) / pp
        per_gpu_tokens = tokens / tp
        # dispatch in FP8 (1 B) and combine in 16-bit (2 B), (ep-1)/ep of it leaves the GPU
        a2a = per_gpu_tokens * m.experts_per_token * m.hidden_size * (1.0 + 2.0) * (ep - 1) / ep * tok_imbalance
        comm_s += moe_layers * (a2a / (link * eff.expert) + 2 * eff.collective_latency_s)
    if pp > 1:
        comm_s += tokens * m.hidden_size * ACT_BYTES / (hw.link_bw(gpus) * COMM_EFFICIENCY) + eff.collective_latency_s

    # Kernel launches and host work grow with the kernels a stage runs: ``step_overhead_s`` is
    # per 80 dense GQA layers (Llama-3 70B), and an MLA + routed-expert layer launches about
    # twice a dense layer's kernels (architecture.KERNELS_*).
    overhead = kernel_overhead_s(eff, kernels_per_step(m), pp)
    total = dense_s + experts_s + attention_s + comm_s + overhead
    return StepTime(total, dense_s, experts_s, attention_s, comm_s, overhead)
