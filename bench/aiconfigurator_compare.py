#!/usr/bin/env python3
"""Run NVIDIA AIConfigurator on the measured-results table and record its predictions.

This produces *AIConfigurator's* side of a comparison against
``shared/data/measured/calibration.csv``; it does not touch gigafactory's own model.

Requirements
------------
AIConfigurator (PyPI ``aiconfigurator``, Apache-2.0, CPU only) must live in its
*own* virtual environment, never in the project's ``.venv``::

    python3 -m venv /tmp/aic-venv
    /tmp/aic-venv/bin/pip install aiconfigurator        # tested with 0.12.0

The venv is found via ``--venv`` or the ``AIC_VENV`` environment variable
(default ``/tmp/aic-venv``).  If the interpreter running this script cannot
import ``aiconfigurator``, the script re-executes itself with
``<venv>/bin/python``.  Nothing from AIConfigurator is copied into this repo;
its numbers only go into the output JSON.

Usage (from the repository root)::

    python bench/aiconfigurator_compare.py \
        --measured ../shared/data/measured/calibration.csv \
        --out bench/results/aiconfigurator_predictions.json

How rows are mapped (details and caveats in bench/AICONFIGURATOR.md)
------------------------------------------------------------------
* hardware -> AIC system (h100_sxm, h200_sxm, b200_sxm, b300_sxm, gb200, gb300);
  framework -> AIC backend (trtllm / sglang / vllm; dynamo-X -> X), latest
  perf-database version AIC ships for that system/backend.
* model/precision -> AIC model path + quant modes (see MODEL_MAP / quant_kwargs).
* Layout: the row's tp/ep/pp/dp_attention (attention-DP "DEPn" -> AIC
  tp=1, attention_dp=n, moe_ep=ep).  Aggregated rows run
  num_gpus/(tp*pp) identical replicas, so per-GPU throughput is that of one
  instance.  Disaggregated rows use the prefill/decode layouts parsed from
  ``notes``.  Rows without a layout get a small layout sweep.
* Scenario:
    offline            -> max tokens/s/GPU over batch size (memory/KV-limited).
    server/interactive -> max tokens/s/GPU with AIC's TTFT <= ttft_p99_limit_ms
                          and TPOT <= tpot_p99_limit_ms (AIC latencies are
                          steady-state averages, not p99).
    fixed-concurrency  -> the row's layout at per-rank batch =
                          concurrency / replicas / attention-DP (agg) or
                          concurrency / decode workers / attention-DP (disagg).
    decode-only        -> AIC static decode-only (static_gen) at max batch.
* MTP rows use nextn=3 with an assumed 2.0 accepted draft tokens per step
  (AIC requires an explicit acceptance; override with --mtp-accepted).
* predicted_tok_s_gpu = output tokens/s divided by ALL GPUs (prefill + decode),
  i.e. the same normalisation as the table's tok_s_gpu.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import sys
import tempfile
import time

DEFAULT_VENV = "/tmp/aic-venv"


# --------------------------------------------------------------------------------------
# Re-exec inside the AIConfigurator venv if needed
# --------------------------------------------------------------------------------------
def _ensure_aic(argv: list[str]) -> None:
    try:
        import aiconfigurator  # noqa: F401

        return
    except ImportError:
        pass
    venv = None
    for i, a in enumerate(argv):
        if a == "--venv" and i + 1 < len(argv):
            venv = argv[i + 1]
        elif a.startswith("--venv="):
            venv = a.split("=", 1)[1]
    venv = venv or os.environ.get("AIC_VENV", DEFAULT_VENV)
    py = os.path.join(venv, "bin", "python")
    if os.environ.get("_AIC_REEXEC") or not os.path.exists(py):
        sys.exit(
            f"aiconfigurator is not importable and no usable venv python at {py}.\n"
            f"Create it: python3 -m venv {venv} && {venv}/bin/pip install aiconfigurator"
        )
    os.environ["_AIC_REEXEC"] = "1"
    os.execv(py, [py, os.path.abspath(__file__), *argv])


# --------------------------------------------------------------------------------------
# Static mappings
# --------------------------------------------------------------------------------------
SYSTEM_MAP = {
    "h100-sxm": "h100_sxm",
    "h200-sxm": "h200_sxm",
    "b200": "b200_sxm",
    "b300": "b300_sxm",
    "gb200-nvl72": "gb200",
    "gb300-nvl72": "gb300",
}
HOPPER = {"h100_sxm", "h200_sxm"}

BACKEND_MAP = {
    "trtllm": "trtllm",
    "dynamo-trtllm": "trtllm",
    "sglang": "sglang",
    "dynamo-sglang": "sglang",
    "vllm": "vllm",
}

# Public Hugging Face config.json values of meta-llama/Llama-2-70b-chat-hf (AIC ships no
# Llama-2 config; it accepts a local directory containing config.json).
LLAMA2_70B_CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 8192,
    "intermediate_size": 28672,
    "num_attention_heads": 64,
    "num_hidden_layers": 80,
    "num_key_value_heads": 8,
    "vocab_size": 32000,
    "max_position_embeddings": 4096,
    "rms_norm_eps": 1e-05,
    "rope_theta": 10000.0,
    "hidden_act": "silu",
    "tie_word_embeddings": False,
    "torch_dtype": "float16",
    "bos_token_id": 1,
    "eos_token_id": 2,
}
_LLAMA2_DIR = None


def _llama2_dir() -> str:
    global _LLAMA2_DIR
    if _LLAMA2_DIR is None:
        d = os.path.join(tempfile.gettempdir(), "aic-compare-llama2-70b")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(LLAMA2_70B_CONFIG, f)
        _LLAMA2_DIR = d
    return _LLAMA2_DIR


def map_model(hf_id: str, precision: str):
    """Return (aic_model_path, is_moe, note) or raise Unsupported."""
    if hf_id in ("deepseek-ai/DeepSeek-R1", "deepseek-ai/DeepSeek-R1-0528", "deepseek-ai/DeepSeek-V3"):
        if precision == "fp4":
            # AIC's own NVFP4 DeepSeek checkpoint config (same 671B MLA/MoE architecture;
            # MoE + dense GEMMs in NVFP4, MLA projections kept higher precision, FP8 KV).
            return "nvidia/DeepSeek-V3.1-NVFP4", True, "fp4 DeepSeek mapped to nvidia/DeepSeek-V3.1-NVFP4 config"
        if precision == "fp8":
            base = "deepseek-ai/DeepSeek-V3" if hf_id.endswith("V3") else "deepseek-ai/DeepSeek-R1"
            return base, True, ""
        raise Unsupported(f"precision {precision} for DeepSeek not mapped")
    if hf_id == "meta-llama/Llama-3.1-405B-Instruct":
        return "meta-llama/Meta-Llama-3.1-405B", False, ""
    if hf_id == "meta-llama/Llama-3.1-8B-Instruct":
        return "meta-llama/Meta-Llama-3.1-8B", False, ""
    if hf_id == "meta-llama/Llama-3.3-70B-Instruct":
        return "meta-llama/Meta-Llama-3.1-70B", False, "Llama-3.3-70B uses the Llama-3.1-70B architecture config"
    if hf_id == "meta-llama/Llama-2-70b-chat-hf":
        return _llama2_dir(), False, "Llama-2-70B via local config.json (public HF config values)"
    raise Unsupported(f"model {hf_id} not in AIConfigurator's model set / not mapped")


def quant_kwargs(aic_model: str, precision: str, system: str, is_moe: bool) -> dict:
    if precision == "fp4" and system in HOPPER:
        raise Unsupported("fp4 on Hopper has no kernel data in AIC")
    if is_moe:
        # DeepSeek: GEMM/MoE/KV quant inferred from the checkpoint config (fp8_block or
        # nvfp4, FP8 KV).  Context attention (FMHA) pinned to bf16: that is what AIC's agg
        # path resolves to, and its disagg path otherwise asks for fp8-FMHA MLA data that
        # some databases (e.g. gb200 trtllm) lack.
        return dict(fmha_quant_mode="bfloat16")
    if precision == "fp8":
        return dict(gemm_quant_mode="fp8", kvcache_quant_mode="fp8", fmha_quant_mode="fp8")
    if precision == "fp4":
        return dict(gemm_quant_mode="nvfp4", kvcache_quant_mode="fp8", fmha_quant_mode="fp8")
    if precision == "bf16":
        return dict(gemm_quant_mode="bfloat16", kvcache_quant_mode="bfloat16", fmha_quant_mode="bfloat16")
    raise Unsupported(f"precision {precision} not mapped")


class Unsupported(Exception):
    pass


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------
def _int(x):
    x = (x or "").strip()
    return int(float(x)) if x else None


def _float(x):
    x = (x or "").strip()
    return float(x) if x else None


_DISAGG_RE = re.compile(
    r"prefill (\d+) GPU = (\d+) x TP(\d+)/EP(\d+)( DPattn)?; decode (\d+) GPU = (\d+) x TP(\d+)/EP(\d+)( DPattn)?"
)
_DISAGG_RE2 = re.compile(
    r"(\d+) prefill workers x (\d+) GPU \((DEP|TP)(\d+)\) \+ (\d+) decode workers x (\d+) GPU \((DEP|TP)(\d+)\)"
)


def parse_disagg(notes: str):
    """Return dict(p_workers, p_size, p_ep, p_dp, d_workers, d_size, d_ep, d_dp) or None."""
    m = _DISAGG_RE.search(notes)
    if m:
        pw, ptp, pep, pdp = int(m.group(2)), int(m.group(3)), int(m.group(4)), bool(m.group(5))
        dw, dtp, dep, ddp = int(m.group(7)), int(m.group(8)), int(m.group(9)), bool(m.group(10))
        return dict(p_workers=pw, p_size=ptp, p_ep=pep, p_dp=pdp, d_workers=dw, d_size=dtp, d_ep=dep, d_dp=ddp)
    m = _DISAGG_RE2.search(notes)
    if m:
        pw, psz, pk = int(m.group(1)), int(m.group(4)), m.group(3)
        dw, dsz, dk = int(m.group(5)), int(m.group(8)), m.group(7)
        return dict(
            p_workers=pw, p_size=psz, p_ep=psz if pk == "DEP" else 1, p_dp=pk == "DEP",
            d_workers=dw, d_size=dsz, d_ep=dsz if dk == "DEP" else 1, d_dp=dk == "DEP",
        )
    return None


def aic_layout(size: int, ep: int | None, dp: bool, is_moe: bool, pp: int = 1) -> dict:
    """Table layout (instance size, ep, attention-DP) -> AIC parallel kwargs."""
    if dp:
        kw = dict(tp_size=1, attention_dp_size=size, pp_size=pp)
    else:
        kw = dict(tp_size=size, attention_dp_size=1, pp_size=pp)
    if is_moe:
        e = ep or (size if dp else 1)
        if size % e:
            raise Unsupported(f"ep={e} does not divide instance size {size}")
        kw.update(moe_ep_size=e, moe_tp_size=size // e)
    return kw


def bs_ladder(max_bs: int, start: int = 1) -> list[int]:
    out, b = [], start
    while b <= max_bs:
        out.append(b)
        b *= 2
    return out


# --------------------------------------------------------------------------------------
# AIC evaluation with caching
# --------------------------------------------------------------------------------------
_CACHE: dict = {}


def estimate(**kw):
    """cli_estimate wrapper; returns dict(raw metrics) or dict(error=...)."""
    from aiconfigurator.cli.api import cli_estimate

    key = json.dumps(kw, sort_keys=True, default=str)
    if key in _CACHE:
        return _CACHE[key]
    model = kw.pop("model_path")
    system = kw.pop("system_name")
    try:
        r = cli_estimate(model, system, **kw)
        raw = r.raw
        out = {
            "tok_s_gpu": float(raw.get("tokens/s/gpu") or 0.0),
            "tok_s_user": float(raw.get("tokens/s/user") or 0.0),
            "ttft_ms": float(raw.get("ttft") or 0.0),
            "tpot_ms": float(raw.get("tpot") or 0.0),
            "num_total_gpus": int(raw.get("num_total_gpus") or 0),
            "backend_version": r.backend_version,
            "kv_oom": bool(r.kv_cache_warning) if r.mode == "agg" else False,
            "quant": {k: raw.get(k) for k in ("gemm", "kvcache", "fmha", "moe") if raw.get(k) is not None},
        }
        if r.mode == "static_gen":
            try:
                out["kv_oom"] = bool(r.summary.check_kv_cache_oom())
            except Exception:
                pass
    except Exception as e:  # AIC raises on OOM, missing perf data, invalid layouts
        out = {"error": f"{type(e).__name__}: {str(e)[:300]}"}
    _CACHE[key] = out
    return out


def sweep_batch(make_kw, max_bs, feasible=lambda r: True, refine=True, start=1):
    """Evaluate per-rank batch sizes 1,2,4,..; keep max tok/s/gpu among feasible points.

    Stops at OOM / KV-cache overflow, or (for latency-bounded scenarios) once TPOT bound
    is exceeded (TPOT grows with batch).  One refinement point between the best
    feasible batch and the first infeasible one.
    """
    best, best_bs, first_bad, last_err, n_infeasible = None, None, None, None, 0
    for b in bs_ladder(max_bs, start):
        r = estimate(**make_kw(b))
        if "error" in r:
            last_err = r["error"]
            if best is None and n_infeasible:
                last_err = f"no batch size meets the latency limits (and at batch {b}: {last_err[:120]})"
            first_bad = b
            break
        if r["kv_oom"]:
            first_bad = b
            break
        if feasible(r):
            if best is None or r["tok_s_gpu"] > best["tok_s_gpu"]:
                best, best_bs = r, b
        elif best is not None:
            first_bad = b
            break
        else:
            n_infeasible += 1
    if refine and best is not None and first_bad is not None and first_bad > best_bs + 1:
        b = (best_bs + first_bad) // 2
        r = estimate(**make_kw(b))
        if "error" not in r and not r["kv_oom"] and feasible(r) and r["tok_s_gpu"] > best["tok_s_gpu"]:
            best, best_bs = r, b
    return best, best_bs, last_err


def fit_batch(make_kw, bs_req):
    """Evaluate at bs_req; if AIC reports OOM / KV-cache overflow, shrink the batch (x0.7)
    until it fits -- the serving engine would queue the excess requests, so throughput is
    that of the largest batch the KV cache holds.  Returns (result, bs_eff, error)."""
    bs, err = bs_req, None
    for _ in range(40):
        r = estimate(**make_kw(bs))
        oom = ("error" in r and "OOM" in r["error"]) or ("error" not in r and r["kv_oom"])
        if "error" in r and not oom:
            return None, bs, r["error"]
        if not oom:
            return r, bs, None
        err = r.get("error") or "KV-cache capacity exceeded"
        if bs == 1:
            break
        bs = max(1, int(bs * 0.7))
    return None, bs, err


# --------------------------------------------------------------------------------------
# Per-row evaluation
# --------------------------------------------------------------------------------------
def evaluate_row(row: dict, mtp_nextn: int, mtp_accepted: float) -> dict:
    rid = row["id"]
    meas = _float(row["tok_s_gpu"])
    out = {
        "id": rid,
        "trust": _int(row["trust"]),
        "scenario": row["scenario"],
        "status": "unsupported",
        "reason": "",
        "predicted_tok_s_gpu": None,
        "predicted_tok_s_user": None,
        "measured_tok_s_gpu": meas,
        "ape": None,
        "aic_mode": None,
        "aic_config": None,
    }
    t0 = time.time()
    try:
        res = _evaluate(row, mtp_nextn, mtp_accepted)
        out.update(res)
        out["status"] = "ok"
        if meas:
            out["ape"] = abs(out["predicted_tok_s_gpu"] - meas) / meas
    except Unsupported as e:
        out["reason"] = str(e)
    except Exception as e:  # never drop a row
        out["reason"] = f"error: {type(e).__name__}: {str(e)[:300]}"
    out["eval_s"] = round(time.time() - t0, 2)
    return out


def _evaluate(row, mtp_nextn, mtp_accepted):
    hw = row["hardware"]
    system = SYSTEM_MAP.get(hw)
    if system is None:
        raise Unsupported(f"hardware {hw} not mapped")
    backend = BACKEND_MAP.get(row["framework"])
    if backend is None:
        raise Unsupported(f"framework {row['framework']} not supported by AIC")
    precision = row["precision"]
    model, is_moe, model_note = map_model(row["model"], precision)
    qkw = quant_kwargs(model, precision, system, is_moe)
    if backend != "trtllm" and not is_moe:
        qkw.pop("fmha_quant_mode", None)  # fp8 context-FMHA data exists only for trtllm
    scen = row["scenario"]
    isl = round(_float(row["isl_mean"]) or 0)
    osl = round(_float(row["osl_mean"]) or 0)
    if isl <= 0:
        raise Unsupported("isl_mean missing")
    if osl <= 0:
        if scen == "decode-only":
            osl = 256  # decode throughput at context ~isl; OSL only sets the KV horizon
        else:
            raise Unsupported("osl_mean missing")
    num_gpus = _int(row["num_gpus"])
    tp, ep, pp = _int(row["tp"]), _int(row["ep"]), _int(row["pp"]) or 1
    dp = _int(row["dp_attention"]) == 1
    mtp = _int(row["mtp"]) == 1
    disagg = _int(row["disaggregated"]) == 1
    notes = row["notes"] or ""

    base = dict(model_path=model, system_name=system, backend_name=backend, isl=isl, osl=osl, **qkw)
    assumptions = [model_note] if model_note else []
    if mtp:
        if not is_moe:
            raise Unsupported("MTP/speculative decoding only modelled for DeepSeek (MTP heads) in AIC")
        base.update(nextn=mtp_nextn, nextn_accepted=mtp_accepted)
        assumptions.append(f"MTP nextn={mtp_nextn}, assumed accepted={mtp_accepted}/step")

    ttft_lim = _float(row["ttft_p99_limit_ms"])
    tpot_lim = _float(row["tpot_p99_limit_ms"])

    # ---------------- decode-only ----------------
    if scen == "decode-only":
        dgpus = _int(row["decode_gpus"]) or num_gpus
        if not dgpus:
            raise Unsupported("decode GPU count / layout not stated")
        lay = aic_layout(dgpus, dgpus if is_moe else None, True, is_moe)
        assumptions.append(f"decode pool assumed one DEP{dgpus} instance")
        best, bs, err = sweep_batch(lambda b: dict(base, mode="static_gen", batch_size=b, **lay), 1024)
        if best is None:
            raise Unsupported(f"AIC failed: {err}")
        return dict(
            predicted_tok_s_gpu=best["tok_s_gpu"], predicted_tok_s_user=best["tok_s_user"],
            aic_mode="static_gen (decode-only)",
            aic_config=_cfg(best, system, backend, model, lay, bs, assumptions),
        )

    if not num_gpus:
        raise Unsupported("num_gpus not stated; cannot normalise per GPU")

    # ---------------- disaggregated ----------------
    if disagg:
        lay = parse_disagg(notes)
        if lay is None:
            raise Unsupported("disaggregated row without parseable prefill/decode layout in notes")
        if lay["p_workers"] == 0 or lay["d_workers"] == 0:
            raise Unsupported("early-schema disagg entry with 0 workers (layout unknown)")
        pk = aic_layout(lay["p_size"], lay["p_ep"] if is_moe else None, lay["p_dp"], is_moe)
        dk = aic_layout(lay["d_size"], lay["d_ep"] if is_moe else None, lay["d_dp"], is_moe)
        total = lay["p_workers"] * lay["p_size"] + lay["d_workers"] * lay["d_size"]
        if total != num_gpus:
            assumptions.append(f"layout GPUs {total} != num_gpus {num_gpus}; normalised by num_gpus")
        kw = dict(base, mode="disagg", prefill_num_workers=lay["p_workers"], decode_num_workers=lay["d_workers"])
        kw.update({"prefill_" + k: v for k, v in pk.items()})
        kw.update({"decode_" + k: v for k, v in dk.items()})
        d_adp = dk["attention_dp_size"]
        p_bs_opts = [b for b in (1, 4) if b == 1 or b * isl <= 16384]

        def run_disagg(dbs, feasible):
            best, best_pbs = None, None
            for pbs in p_bs_opts:
                r = estimate(**dict(kw, prefill_batch_size=pbs, decode_batch_size=dbs))
                if "error" in r:
                    if pbs == 1:
                        return None, None, r["error"]
                    break
                if feasible(r) and (best is None or r["tok_s_gpu"] > best["tok_s_gpu"]):
                    best, best_pbs = r, pbs
            return best, best_pbs, None

        if scen == "fixed-concurrency":
            conc = _int(row["concurrency"])
            if not conc:
                raise Unsupported("concurrency missing")
            dbs_req = max(1, round(conc / lay["d_workers"] / d_adp))
            dbs, best, pbs, err = dbs_req, None, None, None
            for _ in range(40):
                best, pbs, err = run_disagg(dbs, lambda r: True)
                if best is not None or not err or "OOM" not in err or dbs == 1:
                    break
                dbs = max(1, int(dbs * 0.7))
            if best is None:
                raise Unsupported(f"AIC failed: {err or 'no feasible prefill batch'}")
            if dbs != dbs_req:
                assumptions.append(f"decode batch {dbs_req}/rank exceeds AIC memory/KV capacity; capped at {dbs}")
                scale = 1.0
            else:
                scale = conc / (dbs * d_adp * lay["d_workers"])
            pred = best["tok_s_gpu"] * scale * best["num_total_gpus"] / num_gpus
            mode = "disagg estimate (given layout, decode batch = concurrency)"
        elif scen in ("server", "interactive", "offline"):
            def feas(r):
                if scen == "offline":
                    return True
                return (ttft_lim is None or r["ttft_ms"] <= ttft_lim) and (tpot_lim is None or r["tpot_ms"] <= tpot_lim)

            best, dbs, pbs, err = None, None, None, None
            for b in bs_ladder(1024, 1 if scen != "offline" else 8):
                r, p, e = run_disagg(b, feas)
                if r is None:
                    if e:
                        err = e
                    if best is not None or e:
                        break
                    continue
                if best is None or r["tok_s_gpu"] > best["tok_s_gpu"]:
                    best, dbs, pbs = r, b, p
            if best is None:
                raise Unsupported(f"AIC found no config meeting limits: {err or 'latency bounds'}")
            scale = 1.0
            pred = best["tok_s_gpu"] * best["num_total_gpus"] / num_gpus
            mode = f"disagg estimate (given layout), decode-batch sweep, {scen} limits" if scen != "offline" else "disagg estimate, max throughput"
        else:
            raise Unsupported(f"scenario {scen} not mapped")
        cfg = _cfg(best, system, backend, model, {"prefill": pk, "decode": dk, **{k: lay[k] for k in ("p_workers", "d_workers")}},
                   None, assumptions)
        cfg.update(prefill_batch_size=pbs, decode_batch_size_per_rank=dbs, concurrency_scale=round(scale, 4))
        return dict(predicted_tok_s_gpu=pred, predicted_tok_s_user=best["tok_s_user"], aic_mode=mode, aic_config=cfg)

    # ---------------- aggregated ----------------
    if row["disaggregated"].strip() == "" and row["framework"].startswith("dynamo"):
        assumptions.append("disaggregation unknown; modelled aggregated")
    if tp:
        layouts = [(tp, ep, dp)]
    else:
        if scen == "fixed-concurrency":
            raise Unsupported("fixed-concurrency row without parallel layout")
        assumptions.append("layout not stated: best of a small layout sweep")
        if is_moe:
            layouts = [(s, s, True) for s in (4, 8) if num_gpus % s == 0] + ([(8, 8, False)] if num_gpus % 8 == 0 else [])
        else:
            layouts = [(s, None, False) for s in (1, 2, 4, 8) if num_gpus % s == 0]
    best_all = None
    errs = []
    for (ltp, lep, ldp) in layouts:
        inst = ltp * pp
        if num_gpus % inst:
            assumptions.append(f"num_gpus {num_gpus} not a multiple of instance size {inst}")
        replicas = num_gpus / inst
        lay = aic_layout(ltp, lep if is_moe else None, ldp, is_moe, pp)
        adp = lay["attention_dp_size"]
        if scen == "fixed-concurrency":
            conc = _int(row["concurrency"])
            if not conc:
                raise Unsupported("concurrency missing")
            bs_req = max(1, round(conc / replicas / adp))
            r, bs, err = fit_batch(lambda b: dict(base, mode="agg", batch_size=b, **lay), bs_req)
            if r is None:
                errs.append(err)
                continue
            if bs != bs_req:
                assumptions.append(f"batch {bs_req}/rank exceeds AIC memory/KV capacity; capped at {bs}")
                scale = 1.0
            else:
                scale = conc / (replicas * adp * bs)
            cand = dict(r=r, bs=bs, lay=lay, scale=scale, ctx=None)
        else:
            if scen == "offline":
                feas = lambda r: True
                ctx_opts, start = [max(isl, 8192)], 8
            elif scen in ("server", "interactive"):
                feas = lambda r: (ttft_lim is None or r["ttft_ms"] <= ttft_lim) and (tpot_lim is None or r["tpot_ms"] <= tpot_lim)
                # AIC's TTFT grows with the per-step context-token budget, so try both the
                # request's own ISL and a 2048-token budget.
                ctx_opts, start = sorted({isl, max(isl, 2048)}), 1
            else:
                raise Unsupported(f"scenario {scen} not mapped")
            cand = None
            for ctx in ctx_opts:
                best, bs, err = sweep_batch(lambda b: dict(base, mode="agg", batch_size=b, ctx_tokens=ctx, **lay), 2048, feas,
                                            start=start)
                if err and best is None:
                    errs.append(err)
                if best is not None and (cand is None or best["tok_s_gpu"] > cand["r"]["tok_s_gpu"]):
                    cand = dict(r=best, bs=bs, lay=lay, scale=1.0, ctx=ctx)
            if cand is None:
                if not errs:
                    errs.append("no batch size meets the latency limits")
                continue
        if best_all is None or cand["r"]["tok_s_gpu"] * cand["scale"] > best_all["r"]["tok_s_gpu"] * best_all["scale"]:
            best_all = cand
    if best_all is None:
        raise Unsupported(f"AIC failed: {errs[0] if errs else 'no result'}")
    r = best_all["r"]
    pred = r["tok_s_gpu"] * best_all["scale"]
    mode = {
        "offline": "agg estimate, batch sweep for max tok/s/GPU",
        "server": "agg estimate, batch sweep under TTFT/TPOT limits",
        "interactive": "agg estimate, batch sweep under TTFT/TPOT limits",
        "fixed-concurrency": "agg estimate at row concurrency",
    }[scen]
    cfg = _cfg(r, system, backend, model, best_all["lay"], best_all["bs"], assumptions)
    cfg.update(ctx_tokens=best_all["ctx"], concurrency_scale=round(best_all["scale"], 4))
    return dict(predicted_tok_s_gpu=pred, predicted_tok_s_user=r["tok_s_user"], aic_mode=mode, aic_config=cfg)


def _cfg(r, system, backend, model, layout, bs, assumptions):
    model_disp = "meta-llama/Llama-2-70b-chat-hf (local config)" if model == _LLAMA2_DIR else model
    return {
        "system": system,
        "backend": backend,
        "backend_version": r.get("backend_version"),
        "model": model_disp,
        "layout": layout,
        "batch_size_per_rank": bs,
        "quant": r.get("quant"),
        "aic_ttft_ms": round(r["ttft_ms"], 2),
        "aic_tpot_ms": round(r["tpot_ms"], 3),
        "assumptions": [a for a in assumptions if a],
    }


# --------------------------------------------------------------------------------------
def _pct(vals, q):
    if not vals:
        return None
    v = sorted(vals)
    k = (len(v) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def _stats(rows):
    apes = [r["ape"] for r in rows if r["status"] == "ok" and r["ape"] is not None]
    return {"n": len(apes), "median_ape": _pct(apes, 0.5), "p90_ape": _pct(apes, 0.9)}


def _worker(args):
    row, nextn, acc = args
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    return evaluate_row(row, nextn, acc)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    _ensure_aic(argv)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--measured", required=True, help="path to calibration.csv")
    ap.add_argument("--out", required=True, help="output JSON path")
    ap.add_argument("--venv", default=os.environ.get("AIC_VENV", DEFAULT_VENV),
                    help="venv with aiconfigurator installed (default $AIC_VENV or /tmp/aic-venv)")
    ap.add_argument("--jobs", type=int, default=max(1, min(2, os.cpu_count() or 1)), help="parallel worker processes")
    ap.add_argument("--ids", default="", help="comma-separated row ids (default: all rows)")
    ap.add_argument("--mtp-nextn", type=int, default=3)
    ap.add_argument("--mtp-accepted", type=float, default=2.0)
    args = ap.parse_args(argv)

    import logging
    import warnings

    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    import aiconfigurator

    try:
        from importlib.metadata import version

        aic_version = version("aiconfigurator")
        core_version = version("aiconfigurator-core")
    except Exception:
        aic_version = getattr(aiconfigurator, "__version__", "unknown")
        core_version = "unknown"

    with open(args.measured, newline="") as f:
        rows = list(csv.DictReader(f))
    if args.ids:
        want = set(args.ids.split(","))
        rows = [r for r in rows if r["id"] in want]

    t0 = time.time()
    work = [(r, args.mtp_nextn, args.mtp_accepted) for r in rows]
    if args.jobs > 1:
        import multiprocessing as mp

        with mp.get_context("fork").Pool(args.jobs) as pool:
            results = []
            for i, res in enumerate(pool.imap(_worker, work, chunksize=1)):
                results.append(res)
                print(f"[{i + 1}/{len(rows)}] {res['id']}: {res['status']} "
                      f"{'' if res['predicted_tok_s_gpu'] is None else round(res['predicted_tok_s_gpu'], 1)} "
                      f"(meas {res['measured_tok_s_gpu']}) {res['reason'][:100]}", flush=True)
    else:
        results = []
        for i, w in enumerate(work):
            res = _worker(w)
            results.append(res)
            print(f"[{i + 1}/{len(rows)}] {res['id']}: {res['status']} {res['predicted_tok_s_gpu']} {res['reason'][:100]}", flush=True)
    wall = time.time() - t0

    ok = [r for r in results if r["status"] == "ok"]
    reasons: dict = {}
    for r in results:
        if r["status"] != "ok":
            key = re.sub(r"\d+", "N", r["reason"])[:140]
            reasons[key] = reasons.get(key, 0) + 1
    by_scen = {}
    for s in sorted({r["scenario"] for r in results}):
        by_scen[s] = _stats([r for r in results if r["scenario"] == s])
    summary = {
        "n_rows": len(results),
        "n_ok": len(ok),
        "n_unsupported": len(results) - len(ok),
        "all_ok": _stats(results),
        "trust_1_2": _stats([r for r in results if r.get("trust") in (1, 2)]),
        "by_scenario": by_scen,
        "unsupported_reasons": dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
        "wall_time_s": round(wall, 1),
    }
    doc = {
        "tool": "NVIDIA AIConfigurator",
        "aiconfigurator_version": aic_version,
        "aiconfigurator_core_version": core_version,
        "database_mode": "SILICON",
        "measured_file": os.path.relpath(args.measured),
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host_cpus": os.cpu_count(),
        "jobs": args.jobs,
        "mtp_assumption": {"nextn": args.mtp_nextn, "nextn_accepted": args.mtp_accepted},
        "normalisation": "predicted_tok_s_gpu = output tokens/s / all GPUs (prefill+decode); decode-only rows: per decode GPU",
        "summary": summary,
        "rows": results,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=1, default=float)
    print(json.dumps(summary, indent=1, default=float))


if __name__ == "__main__":
    main()
