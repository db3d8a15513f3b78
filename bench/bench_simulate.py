"""Speed of the serving simulator (issue 7 targets), recorded in docs/benchmarks.md.

    python bench/bench_simulate.py [--out bench/results/simulate_speed.json]

1. Azure LLM 2023 conversation trace, the full hour (19,366 requests), on 8 replicas of
   Llama-3.1-70B (FP8, TP8 on H100 SXM, vLLM-like engine: max_seqs 256, 8,192-token budget),
   least-outstanding router.  Target <= 5 s.
2. Vidur-shaped workload: 4,000 requests on 8 replicas of a 70B model with TP8 (Llama-2-70B
   on H100, arXiv-summarization lengths from Vidur's own processed trace, Poisson arrivals),
   to compare with Vidur's simulation time (target: >= 50x faster).
3. The bundled default scenario (~1 GW of GB300 NVL72, three models) over one simulated hour of
   the Azure conversation trace, serial and with pools in parallel processes.  Target <= 60 s.
4. The default scenario as `gigafactory plan` simulates it (no explicit duration: each pool sized
   by the precision target, ``simulate_scenario``'s default ``target_ci``) against the full-size
   hour (``target_ci=None``) and against the figures recorded before run sizing existed
   (``BEFORE``): wall time, and per pool p99 TTFT, p99 TPOT, SLO attainment, goodput and J/token
   with their differences, the 95 % intervals and the sizes used (docs/simulate.md).
   ``--plan-size-only`` runs just this case.
Each case is run 3 times; the best and all wall times are recorded.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from gigafactory.catalog import load_catalog
from gigafactory.design.choice import serving_rates
from gigafactory.design.factory import design_factory
from gigafactory.perf.architecture import param_counts
from gigafactory.perf.efficiency import efficiency_for
from gigafactory.perf.hardware import hardware_from_catalog
from gigafactory.perf.layout import Layout
from gigafactory.scenario import load_scenario
from gigafactory.simulate import workload as wlmod
from gigafactory.simulate.cost import PerfStepCost
from gigafactory.simulate.engine import EngineConfig, Pool, Replica
from gigafactory.simulate.metrics import SLO, pool_summary
from gigafactory.simulate.power import power_model
from gigafactory.simulate.router import make_router
from gigafactory.simulate.run import simulate_fleet
from gigafactory.simulate.sim import Requests, Simulation

REPO = Path(__file__).resolve().parents[1]

#: Before run sizing (commit c5c06c8: every pool simulated the scenario's whole hour, REQUEST_BUDGET
#: group, rates over the span up to the last completion), default scenario, measured 2026-12-02 on
#: this machine (lscpu: AMD EPYC family 26 model 2, 2 vCPUs under KVM, 2 MiB L2, 32 MiB L3; Python
#: 3.11.7, numpy 2.4.6), best of 3 (10.2-11.3 s), ``simulate_scenario`` on the default scenario.
BEFORE = {
    "wall_s": 10.17,
    "pools": {
        "gb300-nvl72/llama-3.3-70b": {"requests": 86267, "ttft_p99_s": 13.2094, "tpot_p99_s": 0.032177, "slo_attainment": 0.8231,
                                      "goodput_rps": 264259, "energy_j_per_token": 0.6570},
        "gb300-nvl72/deepseek-r1": {"requests": 59468, "ttft_p99_s": 0.35472, "tpot_p99_s": 0.017187, "slo_attainment": 1.0,
                                    "goodput_rps": 219528, "energy_j_per_token": 0.1828},
        "gb300-nvl72/gpt-oss-120b": {"requests": 173433, "ttft_p99_s": 0.077717, "tpot_p99_s": 0.009068, "slo_attainment": 1.0,
                                     "goodput_rps": 1553057, "energy_j_per_token": 0.0529},
    },
    "fleet": {"ttft_p99_s": 8.5718, "tpot_p99_s": 0.031208, "goodput_rps": 2036844, "energy_j_per_token": 0.13489},
}
FIGURES = ("ttft_p99_s", "tpot_p99_s", "slo_attainment", "goodput_rps", "energy_j_per_token")


def fleet_of_8(cat, model: str, wl: wlmod.Workload, engine: str = "vllm", max_seqs: int = 256, budget: int = 8192,
               router: str = "least-outstanding") -> dict:
    """Simulate ``wl`` on 8 TP8 H100 replicas of ``model``; returns wall time and key metrics."""
    t0 = time.perf_counter()
    m = cat.model(model)
    hw = hardware_from_catalog(cat, "h100-sxm")
    cost = PerfStepCost(m, param_counts(m), hw, efficiency_for(hw.generation, engine), Layout(tp=8), "fp8")
    req = Requests(wl.arrival_s.tolist(), wl.input_tokens.tolist(), wl.output_tokens.tolist(), [0] * len(wl))
    sim = Simulation(req, float(wl.duration_s))
    pool = Pool(sim, "fleet", None, make_router(router))
    pool.replicas = [Replica(sim, pool, i, cost, EngineConfig(max_seqs=max_seqs, max_batched_tokens=budget)) for i in range(8)]
    sim.add_pool(pool, [0])
    sim.run()
    block, _ = pool_summary(sim, {"name": "fleet", "model_indices": [0], "power": power_model(hw.tdp_w)}, (model,), SLO(2.0, 0.2))
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "requests": len(wl), "events": block["events"], "ttft_p50_s": block["ttft_s"]["p50"], "ttft_p99_s": block["ttft_s"]["p99"],
            "tpot_p50_s": block["tpot_s"]["p50"], "tpot_p99_s": block["tpot_s"]["p99"], "completed": block["completed"]}


def pool_figures(b: dict) -> dict:
    sm = b.get("sampling", {})
    return {"requests": b["arrived"], "ttft_p99_s": b["ttft_s"]["p99"], "tpot_p99_s": b["tpot_s"]["p99"],
            "slo_attainment": b["slo_attainment"], "goodput_rps": b["goodput_rps"], "energy_j_per_token": b["energy_j_per_token"],
            "ttft_p99_ci_s": sm.get("ttft_p99_ci_s"), "slo_attainment_ci": sm.get("slo_attainment_ci"),
            "stop": sm.get("stop"), "window_s": sm.get("window_s"), "requests_simulated": b["workload"]["requests_simulated"]}


def differences(after: dict, ref: dict) -> dict:
    """after - ref per figure: relative for latencies, goodput and energy, absolute (points) for attainment."""
    out = {}
    for k in FIGURES:
        a, r = after.get(k), ref.get(k)
        if a is None or r is None:
            continue
        out[k] = round(a - r, 4) if k == "slo_attainment" else (round(a / r - 1, 4) if r else None)
    return out


def plan_size_vs_full(cat, scn, design, serving) -> dict:
    """Case 4: the plan's simulation (sized by the precision target) vs the full-size hour vs BEFORE."""
    def run(**kw):
        t0 = time.perf_counter()
        r = simulate_fleet(cat, scn, design, serving, **kw)
        return {"wall_s": time.perf_counter() - t0, "result": r}

    fast = best_of(lambda: run())
    full = best_of(lambda: run(target_ci=None))
    out = {"command": "python bench/bench_simulate.py --plan-size-only",
           "after_wall_s": round(fast["wall_s"], 3), "after_wall_s_all": fast["wall_s_all"],
           "full_size_wall_s": round(full["wall_s"], 3), "full_size_wall_s_all": full["wall_s_all"],
           "before_wall_s": BEFORE["wall_s"], "target_ci": fast["result"]["sampling"]["target_ci"], "pools": {}}
    full_pools = {b["pool"]: b for b in full["result"]["pools"]}
    for b in fast["result"]["pools"]:
        after, ref = pool_figures(b), pool_figures(full_pools[b["pool"]])
        before = BEFORE["pools"].get(b["pool"], {})
        out["pools"][b["pool"]] = {"after": after, "full_size": ref, "before": before,
                                   "after_vs_before": differences(after, before), "after_vs_full_size": differences(after, ref)}
    fr = fast["result"]
    fleet = {"ttft_p99_s": fr["ttft_s"]["p99"], "tpot_p99_s": fr["tpot_s"]["p99"], "goodput_rps": fr["goodput_rps"],
             "energy_j_per_token": fr["energy_j_per_token"]}
    out["fleet"] = {"after": fleet, "before": BEFORE["fleet"], "after_vs_before": differences(fleet, BEFORE["fleet"])}
    return out


def best_of(fn, n: int = 3) -> dict:
    runs = [fn() for _ in range(n)]
    best = min(runs, key=lambda r: r["wall_s"])
    return best | {"wall_s_all": [round(r["wall_s"], 3) for r in runs]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(REPO / "bench/results/simulate_speed.json"))
    ap.add_argument("--vidur-qps", type=float, default=8.0)
    ap.add_argument("--plan-size-only", action="store_true", help="run case 4 only (plan-sized vs full-size simulation)")
    args = ap.parse_args()
    cat = load_catalog()
    results: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}", "date": time.strftime("%Y-%m-%d"),
                     "command": "python bench/bench_simulate.py"}
    scn = load_scenario(None, cat)
    design = design_factory(cat, scn)
    serving = serving_rates(cat, scn, design)
    if args.plan_size_only:
        results["default_plan_size_vs_full"] = plan_size_vs_full(cat, scn, design, serving)
        print(json.dumps(results, indent=1, default=str))  # recorded in docs/simulate.md; no file written
        return

    # parse time of every bundled trace / length table, uncached (best of 2)
    results["trace_parse_s"] = {}
    for name, info in wlmod.TRACES.items():
        loader = wlmod._load_uncached if info.kind == "trace" else wlmod._lengths_uncached
        times = []
        for _ in range(2):
            t0 = time.perf_counter()
            loader(name)
            times.append(time.perf_counter() - t0)
        results["trace_parse_s"][name] = round(min(times), 3)
    print("trace parse:", results["trace_parse_s"])

    conv = wlmod.load_trace("azure-conv-2023")
    results["azure_conv_1h_8x_llama31_70b"] = best_of(lambda: fleet_of_8(cat, "meta-llama/Llama-3.1-70B-Instruct", conv))
    print("azure conv 1 h:", results["azure_conv_1h_8x_llama31_70b"])

    rng = np.random.default_rng(0)
    arr = wlmod.poisson_arrivals(args.vidur_qps, 4000 / args.vidur_qps * 1.05, rng)[:4000]
    vid = wlmod.synthetic(arr, rng, lengths="arxiv-summarization", duration_s=float(arr[-1]) + 1e-6, name="vidur-shape")
    results["vidur_shape_4000_req_8x_llama2_70b_tp8"] = best_of(lambda: fleet_of_8(cat, "meta-llama/Llama-2-70b-chat-hf", vid)) | {"qps": args.vidur_qps}
    print("vidur shape:", results["vidur_shape_4000_req_8x_llama2_70b_tp8"])

    # Vidur's own run on this machine (bench/results/vidur_run.md): 4,000 requests, Poisson 16 req/s, lengths from
    # splitwise_conv.csv (the Azure 2023 conversation trace), Sarathi scheduler chunk 512, batch cap 128, round robin,
    # 8 x Llama-2-70B TP8.  Same workload shape here (H100 instead of A100: our catalog has no A100).
    rng = np.random.default_rng(1)
    arr = wlmod.poisson_arrivals(16.0, 4000 / 16.0 * 1.05, rng)[:4000]
    same = wlmod.synthetic(arr, rng, lengths="azure-conv-2023", duration_s=float(arr[-1]) + 1e-6, name="vidur-run-shape")
    results["vidur_run_shape_4000_req_16qps_sarathi512_cap128"] = best_of(
        lambda: fleet_of_8(cat, "meta-llama/Llama-2-70b-chat-hf", same, max_seqs=128, budget=512, router="round-robin"))
    print("vidur run shape:", results["vidur_run_shape_4000_req_16qps_sarathi512_cap128"])
    arr = wlmod.poisson_arrivals(16.0, 19366 / 16.0 * 1.05, rng)[:19366]
    same = wlmod.synthetic(arr, rng, lengths="azure-conv-2023", duration_s=float(arr[-1]) + 1e-6, name="vidur-run-shape-19k")
    results["vidur_run_shape_19366_req_16qps_sarathi512_cap128"] = best_of(
        lambda: fleet_of_8(cat, "meta-llama/Llama-2-70b-chat-hf", same, max_seqs=128, budget=512, router="round-robin"))
    print("vidur run shape 19k:", results["vidur_run_shape_19366_req_16qps_sarathi512_cap128"])

    for workers in (1, 3):
        def one(w=workers):
            t0 = time.perf_counter()
            r = simulate_fleet(cat, scn, design, serving, duration_s=3600, workers=w)
            return {"wall_s": time.perf_counter() - t0, "gpus_represented": r["gpus_represented"], "requests_simulated": r["arrived"],
                    "rate_rps_represented": r["rate_rps_represented"], "events": r["events"], "ttft_p99_s": r["ttft_s"]["p99"], "tpot_p99_s": r["tpot_s"]["p99"]}
        results[f"default_1gw_1h_workers{workers}"] = best_of(one)
        print(f"1 GW, workers={workers}:", results[f"default_1gw_1h_workers{workers}"])
    results["default_plan_size_vs_full"] = plan_size_vs_full(cat, scn, design, serving)
    print("plan size vs full:", json.dumps(results["default_plan_size_vs_full"], indent=1, default=str))
    Path(args.out).write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
