"""Parameter and KV-cache counts from a model's published architecture.

Pure functions over the catalog's model attributes (config.json names).  Used to check
the catalog against developers' published parameter counts, and by the performance
model for weight and KV-cache bytes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ParamCounts:
    """Parameters of a model, split the way serving needs them [count]."""

    embedding: float  # input embedding (+ untied output head)
    attention: float  # all layers
    dense_mlp: float  # dense MLP layers
    experts_total: float  # all routed experts of all MoE layers
    experts_active: float  # routed experts a token activates, all MoE layers
    shared: float  # shared experts + routers of all MoE layers
    norms: float

    @property
    def total(self) -> float:
        return self.embedding + self.attention + self.dense_mlp + self.experts_total + self.shared + self.norms

    @property
    def active(self) -> float:
        """Parameters touched per token, counting the embedding table as developers do."""
        return self.embedding + self.attention + self.dense_mlp + self.experts_active + self.shared + self.norms

    def active_without_input_embedding(self, m: Any) -> float:
        """Active parameters without the input embedding table (a lookup, not a matmul),
        the convention of OpenAI's gpt-oss model card [count]."""
        return self.active - m.vocab_size * m.hidden_size


def attention_params_per_layer(m: Any) -> float:
    """Projection weights of one attention layer [count] (biases ignored)."""
    h = m.hidden_size
    if m.attention == "mla":
        heads = m.num_attention_heads
        qk_dim = m.qk_nope_head_dim + m.qk_rope_head_dim
        q = (h * m.q_lora_rank + m.q_lora_rank + m.q_lora_rank * heads * qk_dim) if m.q_lora_rank else h * heads * qk_dim
        kv = h * (m.kv_lora_rank + m.qk_rope_head_dim) + m.kv_lora_rank + m.kv_lora_rank * heads * (m.qk_nope_head_dim + m.v_head_dim)
        o = heads * m.v_head_dim * h
        return float(q + kv + o)
    d = m.head_dim
    q = h * m.num_attention_heads * d
    kv = 2 * h * m.num_kv_heads * d
    o = m.num_attention_heads * d * h
    return float(q + kv + o)


def param_counts(m: Any) -> ParamCounts:
    """Count parameters of a catalog model entry (gated MLPs: three matrices each)."""
    h = m.hidden_size
    layers = m.num_layers
    embedding = m.vocab_size * h * (1 if m.tie_word_embeddings else 2)
    attention = layers * attention_params_per_layer(m)
    norms = layers * 2 * h + h
    if m.architecture == "moe":
        dense_layers = m.num_dense_layers or 0
        moe_layers = layers - dense_layers
        expert = 3 * h * m.moe_intermediate_size
        dense_mlp = dense_layers * 3 * h * (m.intermediate_size or 0)
        experts_total = moe_layers * m.num_experts * expert
        experts_active = moe_layers * m.experts_per_token * expert
        shared = moe_layers * ((m.num_shared_experts or 0) * expert + h * m.num_experts)
    else:
        dense_mlp = layers * 3 * h * m.intermediate_size
        experts_total = experts_active = shared = 0.0
    return ParamCounts(float(embedding), float(attention), float(dense_mlp), float(experts_total), float(experts_active), float(shared), float(norms))


def dense_mlp_width(m: Any) -> float:
    """Intermediate width of the dense (not routed) gated MLPs summed over all layers: the dense
    layers' MLPs and the MoE layers' shared experts [1]."""
    if m.architecture == "moe":
        dense_layers = m.num_dense_layers or 0
        return float(dense_layers * (m.intermediate_size or 0) + (m.num_layers - dense_layers) * (m.num_shared_experts or 0) * m.moe_intermediate_size)
    return float(m.num_layers * m.intermediate_size)


def kv_cache_bytes_per_token(m: Any, bytes_per_element: float, context_tokens: int | None = None) -> float:
    """KV-cache bytes one token adds across all layers [B].

    GQA/MHA cache K and V per KV head; MLA caches one compressed latent plus the RoPE key.
    Sliding-window layers stop growing at their window: with ``context_tokens`` given, their
    share is averaged over that context.
    """
    if m.attention == "mla":
        per_layer = (m.kv_lora_rank + m.qk_rope_head_dim) * bytes_per_element
        return float(m.num_layers * per_layer)
    per_layer = 2 * m.num_kv_heads * m.head_dim * bytes_per_element
    window_layers = m.sliding_window_layers or 0
    full_layers = m.num_layers - window_layers
    total = full_layers * per_layer
    if window_layers:
        frac = 1.0 if context_tokens is None else min(1.0, (m.sliding_window_tokens or 0) / max(context_tokens, 1))
        total += window_layers * per_layer * frac
    return float(total)


#: Kernels one decoder layer launches in a decode step, counted from the operator graph of the
#: published architecture as TensorRT-LLM's and SGLang's PyTorch back-ends run it (one kernel
#: per GEMM, normalisation, activation, routing or permutation step, attention and collective;
#: a norm fused into the preceding all-reduce counted once).
#: GQA/MHA attention block: input norm, QKV GEMM, RoPE + KV-cache append, attention, O GEMM.
#: MLA (weight-absorbed decode, DeepSeek-V3 report sec. 2.1): input norm, fused q_a/kv_a GEMM,
#: q_a norm, kv_a norm, q_b GEMM, K-absorb BMM, RoPE + latent-cache append, attention, V-absorb
#: BMM, O GEMM.
KERNELS_ATTENTION = {"gqa": 5, "mha": 5, "mla": 10}
#: dense MLP block: post-attention norm (+ all-reduce), gate/up GEMM, SwiGLU, down GEMM, all-reduce.
KERNELS_DENSE_MLP = 5
#: routed-expert block: post-attention norm (+ all-reduce), router GEMM, top-k, permute/expand,
#: FC1 grouped GEMM, SwiGLU, FC2 grouped GEMM, finalize/unpermute, all-reduce or combine;
#: each shared expert adds gate/up GEMM, SwiGLU and down GEMM.
KERNELS_MOE_MLP = 9
KERNELS_PER_SHARED_EXPERT = 3
#: a dense GQA layer (Llama): the unit the step overhead is calibrated per (80 of them).
KERNELS_REFERENCE_LAYER = KERNELS_ATTENTION["gqa"] + KERNELS_DENSE_MLP


def kernels_per_step(m: Any) -> float:
    """Kernels of one decode step over all decoder layers [count] (see KERNELS_ATTENTION)."""
    attn = KERNELS_ATTENTION.get(m.attention, KERNELS_ATTENTION["gqa"])
    if m.architecture != "moe":
        return float(m.num_layers * (attn + KERNELS_DENSE_MLP))
    dense_layers = m.num_dense_layers or 0
    moe = KERNELS_MOE_MLP + KERNELS_PER_SHARED_EXPERT * (m.num_shared_experts or 0)
    return float(dense_layers * (attn + KERNELS_DENSE_MLP) + (m.num_layers - dense_layers) * (attn + moe))
