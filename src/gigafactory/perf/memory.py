"""Memory fit: weight bytes per GPU, KV-cache bytes per token, KV capacity -> max batch.

Precision conventions (as served by TensorRT-LLM / vLLM / SGLang):
- ``bf16``: everything 16-bit, KV cache 16-bit.
- ``fp8``: linear weights 8-bit (block scales negligible), KV cache FP8, embeddings 16-bit.
- ``fp4``: MLP / expert weights NVFP4 (4-bit values + one FP8 scale per 16 = 0.5625 B), attention
  projections FP8, KV cache FP8, embeddings 16-bit (NVIDIA's DeepSeek-R1-FP4 and gpt-oss MXFP4
  checkpoints quantise only the MLP / MoE weights).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gigafactory.perf.architecture import ParamCounts, kv_cache_bytes_per_token
from gigafactory.perf.hardware import Hardware
from gigafactory.perf.layout import Layout

MLP_BYTES = {"bf16": 2.0, "fp8": 1.0, "fp4": 0.5 + 1.0 / 16}
ATTN_BYTES = {"bf16": 2.0, "fp8": 1.0, "fp4": 1.0}
ATTN_PRECISION = {"bf16": "bf16", "fp8": "fp8", "fp4": "fp8"}
KV_BYTES = {"bf16": 2.0, "fp8": 1.0, "fp4": 1.0}
EMBED_BYTES = 2.0
#: share of the memory left after weights and activations that the runtime hands to the KV
#: cache (vLLM gpu_memory_utilization and TRT-LLM free_gpu_memory_fraction both default to 0.9).
KV_FRACTION = 0.9
#: tokens per forward step the runtime sizes its activation buffers for (TRT-LLM max_num_tokens default 8192).
MAX_TOKENS_PER_STEP = 8192
#: activation buffers per token, in units of hidden_size x 2 B (residual, norms, QKV, MLP intermediates).
ACTIVATION_BUFFERS = 12


@dataclass(frozen=True)
class MemoryFit:
    weights_bytes_per_gpu: float
    activation_bytes_per_gpu: float
    kv_bytes_per_gpu: float  # memory given to the KV cache on each GPU
    kv_bytes_per_token_per_gpu: float  # what one token of one sequence costs on the GPU holding it
    kv_capacity_tokens: float  # tokens of KV the whole instance holds
    fits: bool

    def max_concurrency(self, tokens_per_sequence: float) -> int:
        """Sequences of ``tokens_per_sequence`` the instance can hold at once [count]."""
        if not self.fits or tokens_per_sequence <= 0:
            return 0
        return int(self.kv_capacity_tokens // tokens_per_sequence)


def attention_shards(m: Any, layout: Layout) -> int:
    """How many ways one sequence's KV cache is split within a pipeline stage."""
    if layout.dp_attention or m.attention == "mla":
        return 1  # MLA's latent is replicated across tensor-parallel ranks
    return min(layout.tp, m.num_kv_heads)


def weights_bytes_per_gpu(pc: ParamCounts, m: Any, layout: Layout, precision: str) -> float:
    tp, pp = layout.tp, layout.pp
    attn_shard = 1 if layout.dp_attention else tp
    attn = pc.attention * ATTN_BYTES[precision] / (attn_shard * pp)
    mlp = (pc.dense_mlp + pc.experts_total + pc.shared) * MLP_BYTES[precision] / (tp * pp)
    emb = pc.embedding * EMBED_BYTES / (tp * min(pp, 2))
    return attn + mlp + emb + pc.norms * 2.0 / pp


def memory_fit(m: Any, pc: ParamCounts, hw: Hardware, layout: Layout, precision: str, context_tokens: int | None = None) -> MemoryFit:
    w = weights_bytes_per_gpu(pc, m, layout, precision)
    act_shard = 1 if layout.dp_attention else layout.tp
    act = MAX_TOKENS_PER_STEP * m.hidden_size * 2.0 * ACTIVATION_BUFFERS / act_shard
    free = hw.hbm_bytes - w - act
    kv_budget = KV_FRACTION * free
    kv_tok = kv_cache_bytes_per_token(m, KV_BYTES[precision], context_tokens) / (layout.pp * attention_shards(m, layout))
    fits = kv_budget > 0
    if not fits:
        return MemoryFit(w, act, 0.0, kv_tok, 0.0, False)
    # Tokens each GPU holds; with dp_attention every GPU holds its own sequences, otherwise
    # the tp GPUs of a stage hold slices of the same tokens.
    per_gpu_tokens = kv_budget / kv_tok
    instance_tokens = per_gpu_tokens * (layout.tp if layout.dp_attention else 1)
    return MemoryFit(w, act, kv_budget, kv_tok, instance_tokens, True)
