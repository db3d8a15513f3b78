"""Kernel and step timings on one lent GPU, for the step model's physics (docs/accuracy.md, "Measured on an H200").

Runs on the device machine only (PyTorch with CUDA; no gigafactory import).  Each section writes
what it measured to ``$OUT/h200_probe.json`` as soon as it finishes, so a failure later keeps the
rest; a section that raises records its error instead of stopping the script.

Sections (sizes chosen to run in ~2 minutes of device time):
  ceilings  device-to-device copy bandwidth; 8192^3 BF16 and FP8 (per-tensor scaled) GEMM rates
  gemm      GEMM time against tokens M for Llama-3.1 8B / 70B weight shapes, BF16 and FP8: the
            blended roofline's exponent is fitted to these points at home
  gemm_heldout  the same sweep over shapes the fit does not see (TP8 shards of 70B, 405B, DeepSeek-V3)
  grouped   routed-expert grouped GEMM (torch._grouped_mm, DeepSeek-V3 expert shapes, 32 local
            experts) against one dense GEMM of the same tokens and FLOPs
  launch    GPU time per kernel of 1,000 tiny kernels replayed from a CUDA graph, and per eager launch
  attention decode attention over a BF16 KV cache (GQA 32/8 heads, d 128) at batch x context
  decode    whole decode steps of a random-weight Llama-3.1-8B-shaped model (BF16 and FP8 W8A8
            linears, BF16 KV cache), captured as CUDA graphs: time per step at batch x context
  prefill   whole prefill steps of the same model, one sequence of T tokens, eager and as a CUDA graph
  decode_70b_fp8  decode steps of a Llama-3.1-70B-shaped model in FP8 W8A8 (68 GB of weights) on one GPU

Timing: CUDA events around each call, L2 flushed (a 512 MiB write) before each timed call of the
kernel sections, median of the repeats after warm-ups.  Inputs are random normal, never zeros.

Run (device machine):  python3 bench/device_h200_probe.py
"""
# The timed lambdas run inside the loop that binds their variables (B023), and every section records
# whatever it raised and goes on (BLE001).
# ruff: noqa: B023, BLE001
from __future__ import annotations

import json
import math
import os
import platform
import statistics
import sys
import time
import traceback
from pathlib import Path

import torch
import torch.nn.attention
import torch.nn.functional as F
import torch.profiler

OUT = Path(os.environ.get("OUT", "/tmp/probe_out"))
OUT.mkdir(parents=True, exist_ok=True)
RESULT_PATH = OUT / "h200_probe.json"
DEV = "cuda"
BF16 = torch.bfloat16
FP8 = torch.float8_e4m3fn
results: dict = {"meta": {}, "errors": {}}
_flush = None


def save() -> None:
    RESULT_PATH.write_text(json.dumps(results, indent=1))


def flush_l2() -> None:
    global _flush
    if _flush is None:
        _flush = torch.empty(512 * 2**20, dtype=torch.uint8, device=DEV)
    _flush.zero_()


def time_ms(fn, reps: int = 20, warmup: int = 3, flush: bool = True, budget_s: float = 1.5) -> float:
    """Median GPU time of ``fn()`` [ms] over ``reps`` calls (fewer if the budget runs out)."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    t0 = time.perf_counter()
    for _ in range(reps):
        if flush:
            flush_l2()
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
        if time.perf_counter() - t0 > budget_s and len(times) >= 5:
            break
    return statistics.median(times)


def section(name: str):
    def deco(f):
        def run():
            t0 = time.perf_counter()
            print(f"== {name}", flush=True)
            try:
                results[name] = f()
            except Exception as e:  # record and go on: the other sections still measure
                results["errors"][name] = f"{type(e).__name__}: {e}\n{traceback.format_exc()[-1500:]}"
                print(f"!! {name}: {type(e).__name__}: {e}", flush=True)
            results["meta"].setdefault("section_s", {})[name] = round(time.perf_counter() - t0, 2)
            save()
            torch.cuda.empty_cache()
        return run
    return deco


def randn(*shape, dtype=BF16):
    return torch.randn(*shape, device=DEV, dtype=torch.float32).to(dtype)


def fp8_weight(n: int, k: int):
    """[K, N] column-major FP8 operand for torch._scaled_mm (the transpose of a contiguous [N, K]),
    scaled by k^-1/2 so that activations stay in E4M3's range through the layers."""
    return (torch.randn(n, k, device=DEV) * k ** -0.5).to(FP8).t()


ONE = None


def scaled_mm(a8, w8t):
    return torch._scaled_mm(a8, w8t, ONE, ONE, out_dtype=BF16, use_fast_accum=True)


@section("ceilings")
def ceilings():
    n = 2 * 2**30  # 2 GiB each way
    src = torch.empty(n, dtype=torch.uint8, device=DEV).random_(0, 255)
    dst = torch.empty_like(src)
    t = time_ms(lambda: dst.copy_(src), reps=10, flush=False)
    copy_bw = 2 * n / (t * 1e-3)
    s = 8192
    a, b = randn(s, s), randn(s, s)
    t_bf16 = time_ms(lambda: a @ b, reps=10, flush=False)
    a8, b8t = a.to(FP8), randn(s, s, dtype=FP8).t()
    t_fp8 = time_ms(lambda: scaled_mm(a8, b8t), reps=10, flush=False)
    return {"copy_bytes_per_s": copy_bw, "bf16_flop_per_s": 2 * s**3 / (t_bf16 * 1e-3), "fp8_flop_per_s": 2 * s**3 / (t_fp8 * 1e-3),
            "gemm_size": s, "copy_bytes_each_way": n}


# Weight shapes [N, K] of one GPU's linears (TP1): Llama-3.1 8B and 70B.
GEMM_SHAPES = {
    "8b_qkv": (6144, 4096), "8b_gate_up": (28672, 4096), "8b_down": (4096, 14336),
    "70b_gate_up": (57344, 8192), "70b_down": (8192, 28672),
}
GEMM_M = [1, 4, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192]
# Shapes the blend is not fitted on: one GPU's shard of TP8 layers (Llama-3.1 70B and 405B,
# DeepSeek-V3's dense MLP) and gpt-oss-120b's attention projection.
GEMM_SHAPES_HELDOUT = {
    "70b_tp8_qkv": (1280, 8192), "70b_tp8_gate_up": (7168, 8192), "70b_tp8_down": (8192, 3584),
    "405b_tp8_gate_up": (13312, 16384), "405b_tp8_down": (16384, 6656),
    "dsv3_tp8_dense_gate_up": (4608, 7168), "gptoss_qkv": (5120, 2880),
}


@section("gemm")
def gemm():
    return gemm_sweep(GEMM_SHAPES)


@section("gemm_heldout")
def gemm_heldout():
    return gemm_sweep(GEMM_SHAPES_HELDOUT)


def gemm_sweep(shapes: dict) -> list:
    rows = []
    for name, (n, k) in shapes.items():
        w = randn(n, k)
        w8t = fp8_weight(n, k)
        for m in GEMM_M:
            x = randn(m, k)
            t = time_ms(lambda: F.linear(x, w))
            rows.append({"shape": name, "dtype": "bf16", "m": m, "n": n, "k": k, "ms": t})
            x8 = x.to(FP8)
            try:
                t8 = time_ms(lambda: scaled_mm(x8, w8t))
                rows.append({"shape": name, "dtype": "fp8", "m": m, "n": n, "k": k, "ms": t8})
            except RuntimeError as e:
                rows.append({"shape": name, "dtype": "fp8", "m": m, "n": n, "k": k, "error": str(e)[:200]})
        print(f"   {name} done", flush=True)
    return rows


# DeepSeek-V3 routed expert: hidden 7168, expert intermediate 2048 (gate+up 4096); 256 experts, EP8 -> 32 local.
EXPERT = {"hidden": 7168, "inter": 2048, "local_experts": 32}
TOKENS_PER_EXPERT = [8, 16, 32, 64, 128, 256, 512, 1024]


@section("grouped")
def grouped():
    e, h, i = EXPERT["local_experts"], EXPERT["hidden"], EXPERT["inter"]
    rows = []
    for name, (k, n) in {"gate_up": (h, 2 * i), "down": (i, h)}.items():
        w_kn = randn(e, n, k).transpose(-2, -1)  # [E, K, N] view of [E, N, K]: the layout CUTLASS wants for B
        w_dense = randn(n, k)
        w8 = randn(e, n, k, dtype=FP8).transpose(-2, -1)
        for tpe in TOKENS_PER_EXPERT:
            m = tpe * e
            x = randn(m, k)
            offs = torch.arange(1, e + 1, device=DEV, dtype=torch.int32) * tpe
            row = {"proj": name, "tokens_per_expert": tpe, "experts": e, "m": m, "n": n, "k": k}
            try:
                row["grouped_bf16_ms"] = time_ms(lambda: torch._grouped_mm(x, w_kn, offs=offs, out_dtype=BF16))
            except Exception as ex:
                row["grouped_bf16_error"] = str(ex)[:200]
            row["dense_bf16_ms"] = time_ms(lambda: F.linear(x, w_dense))
            # the same FLOPs and one expert's weights per token, as 32 separate GEMMs (a loop of launches)
            xs = x.view(e, tpe, k)
            row["loop_bf16_ms"] = time_ms(lambda: [xs[j] @ w_kn[j] for j in range(e)])
            try:
                x8 = x.to(FP8)
                sa = torch.ones(m, device=DEV, dtype=torch.float32)
                sb = torch.ones(e, n, device=DEV, dtype=torch.float32)
                row["grouped_fp8_ms"] = time_ms(lambda: torch._scaled_grouped_mm(x8, w8, sa, sb, offs=offs, out_dtype=BF16, use_fast_accum=True))
            except Exception as ex:
                row["grouped_fp8_error"] = str(ex)[:200]
            rows.append(row)
    return rows


@section("launch")
def launch():
    y = torch.zeros(1, device=DEV)
    n = 1000
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3):
            y.add_(1.0)
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for _ in range(n):
            y.add_(1.0)
    graph_ms = time_ms(g.replay, reps=20, flush=False)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(n):
        y.add_(1.0)
    host_ms = (time.perf_counter() - t0) * 1e3
    torch.cuda.synchronize()
    eager_ms = (time.perf_counter() - t0) * 1e3
    return {"kernels": n, "graph_us_per_kernel": graph_ms * 1e3 / n, "eager_host_us_per_kernel": host_ms * 1e3 / n,
            "eager_total_us_per_kernel": eager_ms * 1e3 / n}


# Llama-3.1 8B (config.json of meta-llama/Llama-3.1-8B): 32 layers, hidden 4096, 32 / 8 heads of 128, MLP 14336, vocab 128256.
LLAMA8B = {"layers": 32, "hidden": 4096, "heads": 32, "kv_heads": 8, "head_dim": 128, "inter": 14336, "vocab": 128256}


def attend_decode(q, kc, vc, how: str):
    """One query token per sequence against its cache: q [B, H, D], cache [B, KVH, L, D] -> [B, H * D]."""
    b, hq, d = q.shape
    kvh = kc.shape[1]
    qg = q.view(b, kvh, hq // kvh, d)  # the query heads sharing a KV head as rows of one tile (exact for one token)
    if how == "sdpa":
        o = F.scaled_dot_product_attention(qg, kc, vc)
    else:  # two batched GEMMs through cuBLAS and a softmax: reads K and V once
        s = torch.matmul(qg, kc.transpose(-2, -1)) * (d ** -0.5)
        o = torch.matmul(torch.softmax(s.float(), dim=-1).to(q.dtype), vc)
    return o.reshape(b, hq * d)


ATTN_POINTS = [(1, 1024), (1, 8192), (8, 4096), (32, 2048), (64, 4096), (128, 2048), (256, 1024), (16, 16384)]


@section("attention")
def attention():
    c = LLAMA8B
    rows = []
    for b, ctx in ATTN_POINTS:
        q = randn(b, c["heads"], c["head_dim"])
        kc, vc = randn(b, c["kv_heads"], ctx, c["head_dim"]), randn(b, c["kv_heads"], ctx, c["head_dim"])
        row = {"batch": b, "ctx": ctx, "kv_bytes": 2 * kc.numel() * 2}
        ref, alt = attend_decode(q, kc, vc, "matmul").float(), attend_decode(q, kc, vc, "sdpa").float()
        row["sdpa_vs_matmul_rel_diff"] = float((alt - ref).norm() / ref.norm())
        for how in ("sdpa", "matmul"):
            try:
                row[f"{how}_ms"] = time_ms(lambda: attend_decode(q, kc, vc, how))
            except Exception as ex:
                row[f"{how}_error"] = str(ex)[:200]
        rows.append(row)
    return rows


class Model:
    """Random-weight Llama-3.1-8B-shaped decoder; linears in BF16 or FP8 (static per-tensor scale 1)."""

    def __init__(self, c: dict, linear: str):
        self.c, self.linear = c, linear
        h, d = c["hidden"], c["head_dim"]
        qkv = (c["heads"] + 2 * c["kv_heads"]) * d

        def w(n, k):
            return fp8_weight(n, k) if linear == "fp8" else randn(n, k) * (k ** -0.5)
        self.layers = [{"qkv": w(qkv, h), "o": w(h, c["heads"] * d), "gu": w(2 * c["inter"], h), "down": w(h, c["inter"]),
                        "n1": torch.ones(h, device=DEV, dtype=BF16), "n2": torch.ones(h, device=DEV, dtype=BF16)}
                       for _ in range(c["layers"])]
        self.lm = randn(c["vocab"], h) * (h ** -0.5)
        self.gqa_prefill = True
        self.norm = torch.ones(h, device=DEV, dtype=BF16)

    def lin(self, x, w):
        if self.linear == "fp8":
            return scaled_mm(x.to(FP8), w)
        return F.linear(x, w)

    @staticmethod
    def rope(x, cos, sin):
        x1, x2 = x.chunk(2, dim=-1)
        return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1)

    def decode(self, x, caches, pos: int, cos, sin, attn: str):
        c = self.c
        b, d, hq, hk = x.shape[0], c["head_dim"], c["heads"], c["kv_heads"]
        for layer, (kc, vc) in zip(self.layers, caches):
            hn = F.rms_norm(x, (c["hidden"],), layer["n1"], 1e-5)
            qkv = self.lin(hn, layer["qkv"])
            q, k, v = qkv.split([hq * d, hk * d, hk * d], dim=-1)
            q = self.rope(q.view(b, hq, d), cos, sin)
            k = self.rope(k.view(b, hk, d), cos, sin)
            kc[:, :, pos] = k
            vc[:, :, pos] = v.view(b, hk, d)
            x = x + self.lin(attend_decode(q, kc, vc, attn), layer["o"])
            hn = F.rms_norm(x, (c["hidden"],), layer["n2"], 1e-5)
            gu = self.lin(hn, layer["gu"])
            g, u = gu.chunk(2, dim=-1)
            x = x + self.lin(F.silu(g) * u, layer["down"])
        return F.linear(F.rms_norm(x, (c["hidden"],), self.norm, 1e-5), self.lm)

    def prefill(self, x, cos, sin):
        c = self.c
        t, d, hq, hk = x.shape[0], c["head_dim"], c["heads"], c["kv_heads"]
        for layer in self.layers:
            hn = F.rms_norm(x, (c["hidden"],), layer["n1"], 1e-5)
            qkv = self.lin(hn, layer["qkv"])
            q, k, v = qkv.split([hq * d, hk * d, hk * d], dim=-1)
            q = self.rope(q.view(t, hq, d), cos, sin).transpose(0, 1)[None]
            k = self.rope(k.view(t, hk, d), cos, sin).transpose(0, 1)[None]
            v = v.view(t, hk, d).transpose(0, 1)[None]
            if self.gqa_prefill:
                o = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
            else:  # the engine's kernels read each KV head once; expanding costs one copy of K and V
                o = F.scaled_dot_product_attention(q, k.repeat_interleave(hq // hk, 1), v.repeat_interleave(hq // hk, 1), is_causal=True)
            x = x + self.lin(o[0].transpose(0, 1).reshape(t, hq * d), layer["o"])
            hn = F.rms_norm(x, (c["hidden"],), layer["n2"], 1e-5)
            gu = self.lin(hn, layer["gu"])
            g, u = gu.chunk(2, dim=-1)
            x = x + self.lin(F.silu(g) * u, layer["down"])
        return F.linear(F.rms_norm(x[-1:], (c["hidden"],), self.norm, 1e-5), self.lm)


def graph_time_ms(fn, reps: int = 15) -> float:
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(2):
            fn()
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        fn()
    ms = time_ms(g.replay, reps=reps, warmup=2, flush=False, budget_s=3.0)
    return ms


DECODE_POINTS = [(1, 1024), (1, 8192), (8, 2048), (32, 2048), (64, 1024), (64, 4096), (128, 2048), (256, 1024)]


def best_attention(b: int, ctx: int) -> str:
    """The faster decode attention measured in the attention section at the nearest point."""
    rows = [r for r in results.get("attention", []) if "sdpa_ms" in r or "matmul_ms" in r]
    if not rows:
        return "matmul"
    r = min(rows, key=lambda r: abs(math.log(r["batch"] * r["ctx"] / (b * ctx))) + abs(math.log(r["batch"] / b)))
    return min(("sdpa", "matmul"), key=lambda h: r.get(f"{h}_ms", float("inf")))


def count_kernels(fn) -> int | str:
    """GPU kernels one call launches (PyTorch's profiler), or why it could not count them."""
    try:
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
            fn()
            torch.cuda.synchronize()
        return sum(1 for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA)
    except Exception as ex:
        return f"{type(ex).__name__}: {str(ex)[:200]}"


def decode_section(linear: str, c: dict = LLAMA8B, points: list = DECODE_POINTS):
    model = Model(c, linear)
    rows = []
    caches = None
    for b, ctx in points:
        caches = None  # the last point's cache goes before this one's is allocated
        torch.cuda.empty_cache()
        caches = [(randn(b, c["kv_heads"], ctx, c["head_dim"]), randn(b, c["kv_heads"], ctx, c["head_dim"])) for _ in range(c["layers"])]
        x = randn(b, c["hidden"])
        cos, sin = randn(b, 1, c["head_dim"] // 2), randn(b, 1, c["head_dim"] // 2)
        attn = best_attention(b, ctx)
        row = {"linear": linear, "batch": b, "ctx": ctx, "attention": attn}
        if (b, ctx) == points[0]:
            row["kernels_per_step"] = count_kernels(lambda: model.decode(x, caches, ctx - 1, cos, sin, attn))
        try:
            row["graph_ms"] = graph_time_ms(lambda: model.decode(x, caches, ctx - 1, cos, sin, attn))
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            for _ in range(3):
                model.decode(x, caches, ctx - 1, cos, sin, attn)
            torch.cuda.synchronize()
            row["eager_ms"] = (time.perf_counter() - t0) * 1e3 / 3
        except Exception as ex:
            row["error"] = f"{type(ex).__name__}: {str(ex)[:300]}"
        rows.append(row)
        print(f"   decode {linear} b={b} ctx={ctx} {row.get('graph_ms', row.get('error'))}", flush=True)
        torch.cuda.empty_cache()
    return rows


decode_bf16 = section("decode_bf16")(lambda: decode_section("bf16"))
decode_fp8 = section("decode_fp8")(lambda: decode_section("fp8"))


# Llama-3.1 70B (config.json of meta-llama/Llama-3.1-70B): 80 layers, hidden 8192, 64 / 8 heads of 128, MLP 28672.
LLAMA70B = {"layers": 80, "hidden": 8192, "heads": 64, "kv_heads": 8, "head_dim": 128, "inter": 28672, "vocab": 128256}
DECODE_70B_POINTS = [(1, 1024), (16, 2048), (64, 2048), (128, 1024)]


@section("decode_70b_fp8")
def decode_70b_fp8():
    """70B in FP8 W8A8 (68 GB of weights) on one GPU: the weights stream as in an 8-GPU row's shard x 8."""
    return decode_section("fp8", LLAMA70B, DECODE_70B_POINTS)


PREFILL_TOKENS = [512, 2048, 8192]


def prefill_section(linear: str):
    c = LLAMA8B
    model = Model(c, linear)
    # GQA inside the flash kernel where this PyTorch has it; else K and V are expanded first
    q, kv = randn(1, c["heads"], 256, c["head_dim"]), randn(1, c["kv_heads"], 256, c["head_dim"])
    try:
        with torch.nn.attention.sdpa_kernel([torch.nn.attention.SDPBackend.FLASH_ATTENTION]):
            F.scaled_dot_product_attention(q, kv, kv, is_causal=True, enable_gqa=True)
    except RuntimeError:
        model.gqa_prefill = False
    rows = []
    for t in PREFILL_TOKENS:
        x = randn(t, c["hidden"])
        cos, sin = randn(t, 1, c["head_dim"] // 2), randn(t, 1, c["head_dim"] // 2)
        row = {"linear": linear, "tokens": t, "gqa_in_kernel": model.gqa_prefill}
        try:
            row["ms"] = time_ms(lambda: model.prefill(x, cos, sin), reps=8, warmup=2, flush=False, budget_s=3.0)
            row["graph_ms"] = graph_time_ms(lambda: model.prefill(x, cos, sin), reps=8)
        except Exception as ex:
            row["error"] = f"{type(ex).__name__}: {str(ex)[:300]}"
        rows.append(row)
        print(f"   prefill {linear} T={t} {row.get('ms', row.get('error'))}", flush=True)
    return rows


prefill_bf16 = section("prefill_bf16")(lambda: prefill_section("bf16"))
prefill_fp8 = section("prefill_fp8")(lambda: prefill_section("fp8"))


def main() -> None:
    global ONE
    t0 = time.perf_counter()
    torch.manual_seed(0)
    props = torch.cuda.get_device_properties(0)
    results["meta"] |= {"device": props.name, "sms": props.multi_processor_count, "memory_bytes": props.total_memory,
                        "torch": torch.__version__, "cuda": torch.version.cuda, "python": platform.python_version(),
                        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    ONE = torch.ones((), device=DEV, dtype=torch.float32)
    only = set(sys.argv[1:])
    for name, fn in [("ceilings", ceilings), ("launch", launch), ("gemm", gemm), ("grouped", grouped), ("attention", attention),
                     ("decode_bf16", decode_bf16), ("decode_fp8", decode_fp8), ("prefill_bf16", prefill_bf16), ("prefill_fp8", prefill_fp8),
                     ("decode_70b_fp8", decode_70b_fp8),
                     ("gemm_heldout", gemm_heldout)]:
        if not only or name in only:
            fn()
    results["meta"]["total_s"] = round(time.perf_counter() - t0, 1)
    save()
    ce = results.get("ceilings", {})
    print(f"copy {ce.get('copy_bytes_per_s', 0) / 1e12:.2f} TB/s, bf16 {ce.get('bf16_flop_per_s', 0) / 1e12:.0f} TFLOP/s, "
          f"fp8 {ce.get('fp8_flop_per_s', 0) / 1e12:.0f} TFLOP/s; launch {results.get('launch')}")
    for r in results.get("decode_bf16", []) + results.get("decode_fp8", []) + results.get("decode_70b_fp8", []):
        print("decode", r)
    for r in results.get("prefill_bf16", []) + results.get("prefill_fp8", []):
        print("prefill", r)
    print("errors:", {k: v.splitlines()[0] for k, v in results["errors"].items()})
    print(f"total {results['meta']['total_s']} s")


if __name__ == "__main__":
    main()
