"""The serving search judges p99 SLOs with the queueing model (perf.load, issue 21 item 2): the
configuration it picks, and the p99s it states for it, are checked against the discrete-event
simulator under Poisson arrivals at nearly the configuration's full rate."""
from __future__ import annotations

import numpy as np
import pytest
import yaml

from gigafactory.design.choice import arrival_peak, serving_rates, workload_lengths
from gigafactory.design.factory import design_factory
from gigafactory.perf.architecture import param_counts
from gigafactory.perf.efficiency import efficiency_for
from gigafactory.perf.hardware import hardware_from_catalog
from gigafactory.perf.load import Lengths, load_at
from gigafactory.perf.search import LOAD_BISECTIONS, MIN_LOAD_FRACTION, best_under_load, search, sustainable_fraction
from gigafactory.scenario import default_scenario_path, parse_scenario_text
from gigafactory.simulate.run import (
    GROWTH_HORIZON_S,
    MAX_SIMULATED_REPLICAS,
    MIN_PREFILL_POOL,
    PREFILL_RATIO_TOLERANCE,
    REQUEST_BUDGET,
    PoolSpec,
    _matched_group,
    simulate_fleet,
    size_group,
)
from gigafactory.simulate.workload import load_trace, peak_rate_factor
from conftest import keep_demand_for_workloads

SLO_S = (2.0, 0.050)  # p99 TTFT, p99 TPOT


@pytest.fixture(scope="module")
def llama(catalog):
    hw = hardware_from_catalog(catalog, "gb300-nvl72")
    m = catalog.model("llama-3.3-70b")
    return m, param_counts(m), hw, efficiency_for(hw.generation, "trtllm")


def test_the_search_meets_its_limits_as_p99s(llama):
    m, pc, hw, eff = llama
    lengths = Lengths(2048.0, 512.0, cv=0.5)
    res = search(m, hw, eff, "fp8", 2048, 512, ttft_s=SLO_S[0], tpot_s=SLO_S[1], pc=pc, lengths=lengths)
    best, lp = res.best, res.best_load
    assert best is not None and lp is not None and lp.meets(*SLO_S)
    assert lp.ttft_p99_s >= best.ttft_s and lp.tpot_p99_s >= best.tpot_s * 0.999
    # judged as p99s the limits are stricter than on the steady state: never more tok/s/GPU
    steady = search(m, hw, eff, "fp8", 2048, 512, ttft_s=SLO_S[0], tpot_s=SLO_S[1], pc=pc, lengths=None).best
    assert best.tok_s_gpu <= steady.tok_s_gpu


def test_a_disaggregated_prefill_pool_is_sized_for_its_queue(llama):
    """The steady-state sizing balances the prefill pool against the decode pool, i.e. runs it at
    full load, where Poisson prompts queue without bound; judged as a p99 the unit gets more prefill
    instances or runs below its saturation rate (fewer tok/s/GPU either way), and the decode side
    is left as it was."""
    m, pc, hw, eff = llama
    lengths = Lengths(2048.0, 512.0, cv=0.5)
    steady = search(m, hw, eff, "fp8", 2048, 512, ttft_s=SLO_S[0] / 1.7, tpot_s=SLO_S[1] / 1.12, pc=pc, modes=("disaggregated",)).best
    balanced = load_at(steady, m, pc, hw, eff, "fp8", lengths)
    assert balanced.prefill_utilisation > 0.97 and not balanced.meets(*SLO_S)
    sized, lp = best_under_load([steady], m, pc, hw, eff, "fp8", lengths, *SLO_S)
    assert lp.meets(*SLO_S) and lp.prefill_utilisation < balanced.prefill_utilisation
    assert sized.prefill_instances > steady.prefill_instances or sized.details["load_fraction"] < 1
    assert (sized.layout, sized.concurrency, sized.decode_instances) == (steady.layout, steady.concurrency, steady.decode_instances)
    assert sized.tok_s_gpu < steady.tok_s_gpu


def test_a_point_serves_the_highest_rate_at_which_its_p99s_hold(llama):
    """sustainable_fraction: the p99s meet the limits at the share found and not one bisection step above it, and
    arrivals that peak higher leave a point less to sustain; the search's tok/s/GPU follows."""
    m, pc, hw, eff = llama
    lengths = Lengths(2048.0, 512.0, cv=0.5)
    res = search(m, hw, eff, "fp8", 2048, 512, ttft_s=SLO_S[0], tpot_s=SLO_S[1], pc=pc, modes=("aggregated",))
    judged = [(q, *sustainable_fraction(q, m, pc, hw, eff, "fp8", lengths, *SLO_S)) for q in res.points if q.layout.tp in (8, 64)]
    assert any(f == 1 for _, f, _ in judged) and any(f == 0 for _, f, _ in judged)  # small batches meet at full rate, the largest not at all
    p, f, lp = max(((q, f, lp) for q, f, lp in judged if 0 < f < 1), key=lambda x: x[0].tok_s_gpu)
    assert MIN_LOAD_FRACTION <= f < 1 and lp.meets(*SLO_S)
    assert not load_at(p, m, pc, hw, eff, "fp8", lengths, rate_scale=f + (1 - MIN_LOAD_FRACTION) / 2 ** LOAD_BISECTIONS).meets(*SLO_S)
    f_peak, _ = sustainable_fraction(p, m, pc, hw, eff, "fp8", lengths, *SLO_S, peak=1.3)
    assert f_peak < f
    calm = search(m, hw, eff, "fp8", 2048, 512, ttft_s=SLO_S[0], tpot_s=SLO_S[1], pc=pc, lengths=lengths).best
    bursty = search(m, hw, eff, "fp8", 2048, 512, ttft_s=SLO_S[0], tpot_s=SLO_S[1], pc=pc, lengths=lengths, peak=1.3).best
    assert bursty.tok_s_gpu < calm.tok_s_gpu


def test_the_peak_of_a_recorded_trace():
    """peak_rate_factor is scale-free, 1 for Poisson-like arrivals within its noise, and sees a
    trace whose second half runs at twice the rate of its first."""
    rng = np.random.default_rng(3)
    flat = np.cumsum(rng.exponential(1.0, 200_000))
    assert 1.0 < peak_rate_factor(flat) < 1.1  # the ~7 % Poisson noise of 1,000-arrival windows
    assert peak_rate_factor(flat * 37.0) == pytest.approx(peak_rate_factor(flat))
    two = np.concatenate([np.cumsum(rng.exponential(1.0, 100_000)), 1e5 + np.cumsum(rng.exponential(0.5, 200_000))])
    mean = len(two) / two[-1]
    assert peak_rate_factor(two) == pytest.approx(2.0 / mean, rel=0.1)
    assert peak_rate_factor(load_trace("azure-conv-2023").arrival_s) == pytest.approx(1.456, abs=0.01)


def _poisson_scenario(catalog, utilisation: float):
    data = yaml.safe_load(default_scenario_path().read_text())
    data["sites"] = [{"name": "solo", "region": "us-virginia", "facility_power_mw": 30}]
    data["workloads"] = [{"model": "llama-3.3-70b", "share": 1.0, "precision": "fp8", "isl_tokens": 2048, "osl_tokens": 512,
                          "slo": {"ttft_p99_ms": SLO_S[0] * 1e3, "tpot_p99_ms": SLO_S[1] * 1e3}}]
    keep_demand_for_workloads(data)
    data["devices"] = {"fleets": []}
    data["finance"]["utilisation"] = utilisation
    data["simulation"] = {"trace": "poisson", "duration_s": 600, "router": "least-outstanding"}
    scn = parse_scenario_text(yaml.safe_dump(data), "solo.yaml", catalog)
    design = design_factory(catalog, scn)
    return scn, design, serving_rates(catalog, scn, design)


def test_the_chosen_configuration_meets_its_slo_in_the_simulator(catalog):
    """At the chosen configuration's full rate, Poisson arrivals with the scenario's synthetic
    lengths: the simulator finds the p99 SLOs met for >= 99 % of requests, and p99s within the
    model's measured agreement (docs/accuracy.md, "Latency under load")."""
    scn, design, serving = _poisson_scenario(catalog, 1.0)
    row = next(iter(serving.systems.values()))[0]
    assert workload_lengths(scn, 2048, 512).cv == pytest.approx(0.5)
    assert row.config is not None and row.ttft_p99_s <= SLO_S[0] and row.tpot_p99_s <= SLO_S[1]
    out = simulate_fleet(catalog, scn, design, serving, trace="poisson", duration_s=300, rate_rps=None)
    pool = out["pools"][0]
    assert pool["slo_attainment"] >= 0.99
    # measured (model / simulator): 1.49 / 1.76 s and 34.2 / 31.9 ms, 99.96 % within both SLOs
    assert 0.5 < row.ttft_p99_s / pool["ttft_s"]["p99"] < 2.0
    assert 0.5 < row.tpot_p99_s / pool["tpot_s"]["p99"] < 1.9


def test_the_fixed_ratio_choice_does_not_meet_it(catalog, monkeypatch):
    """The rule the search used before: steady-state TTFT x 1.7 and TPOT x 1.12 within the limits.
    It picks a disaggregated unit whose prefill pool is balanced at full load, which the simulator
    shows queueing at the same rate (the test above is not one any choice would pass)."""
    import gigafactory.design.choice as choice

    plain = choice.search

    def ratio_rule(*args, ttft_s=None, tpot_s=None, lengths=None, **kw):
        return plain(*args, ttft_s=ttft_s / 1.7, tpot_s=tpot_s / 1.12, **kw)

    monkeypatch.setattr(choice, "search", ratio_rule)
    scn, design, serving = _poisson_scenario(catalog, 1.0)
    out = simulate_fleet(catalog, scn, design, serving, trace="poisson", duration_s=200, rate_rps=None)
    assert out["pools"][0]["slo_attainment"] < 0.99  # measured: 88.2 % (the target is 99 %)


@pytest.mark.parametrize("decode, ratio, most", [(2, 20 / 27, 8), (2, 167 / 64, 8), (14, 18 / 448, 56), (2, 0.3015, 8), (1, 3.0, 1)])
def test_a_simulated_disaggregated_group_keeps_the_designed_ratio(decode, ratio, most):
    d, p = _matched_group(decode, ratio, most)
    assert decode <= d <= max(decode, most) and p >= 1
    best = min(abs(max(1, round(k * ratio)) / (k * ratio) - 1) for k in range(decode, max(decode, most) + 1))
    err = abs(p / (d * ratio) - 1)
    assert err <= 0.05 or err == pytest.approx(best)


def test_the_group_carries_the_share_of_its_tighter_side():
    """2 decode schedulers and 1 prefill replica for a design of 27 : 20 per unit: the prefill
    replica is 1/20 of a unit's prefill, the decode pair 2/27 of its decode; the group carries
    1/20 of a unit's traffic, so its prefill runs at the designed load and its decode cooler."""
    spec = PoolSpec(name="p", model_id="m", system_id="s", precision="fp8", speculative_tokens=0, mode="disaggregated",
                    layout={"tp": 1, "pp": 1, "ep": 1, "dp_attention": False, "gpus": 1}, prefill_layout={"tp": 2, "pp": 1, "ep": 1, "dp_attention": False, "gpus": 2},
                    prefill_per_unit=20, decode_per_unit=27, max_seqs=192, units_total=10, gpus_per_unit=67, slo=None, rate_rps=1.0,
                    isl=2048, osl=512, router="least-outstanding", seed=0, decode_sim=2, prefill_sim=1)
    assert spec.share == pytest.approx(1 / 200)
    spec.prefill_sim = 2
    assert spec.share == pytest.approx(2 / 270)


def _disaggregated(rate_rps: float, prefill_per_unit: int, decode_per_unit: int, units_total: int) -> PoolSpec:
    return PoolSpec(name="p", model_id="m", system_id="s", precision="fp8", speculative_tokens=0, mode="disaggregated",
                    layout={"tp": 4, "pp": 1, "ep": 4, "dp_attention": False, "gpus": 4}, prefill_layout={"tp": 1, "pp": 1, "ep": 1, "dp_attention": False, "gpus": 1},
                    prefill_per_unit=prefill_per_unit, decode_per_unit=decode_per_unit, max_seqs=256, units_total=units_total,
                    gpus_per_unit=prefill_per_unit + 4 * decode_per_unit, slo=None, rate_rps=rate_rps, isl=1024, osl=1024,
                    router="least-outstanding", seed=0)


def test_the_prefill_pools_growth_stops_at_the_request_budget():
    """The default plan's two disaggregated pools (Llama-3.3-70B: 128 prefill : 48 decode a unit at
    422k requests/s; gpt-oss-120b: 34 : 32 at 2.0 M requests/s).  The slower one still grows its
    prefill side to MIN_PREFILL_POOL replicas; the faster one grows only while its arrivals over a
    warm-up and a cool-down (GROWTH_HORIZON_S) stay within the request budget (9 decode and 10
    prefill replicas), where it grew to 61 decode replicas and 1.2 M events before."""
    slow = _disaggregated(422_081.0, 128, 48, 517)
    size_group(slow, 3600.0)
    assert slow.prefill_sim >= MIN_PREFILL_POOL
    fast = _disaggregated(2_023_970.0, 34, 32, 477)
    size_group(fast, 3600.0)
    rate = fast.rate_rps / fast.decode_total * fast.decode_sim
    assert rate * GROWTH_HORIZON_S <= 1.25 * REQUEST_BUDGET  # matching the designed ratio may add a replica
    assert 2 < fast.decode_sim < 20 and fast.prefill_sim < MIN_PREFILL_POOL


def test_an_attention_dp_decode_pool_keeps_a_prefill_pool_in_its_group():
    """A DeepSeek-R1 design with DEP16 decode: 14 TP2-EP2 prefill instances per 25 decode
    instances of 16 attention-DP ranks each (0.035 prefill replicas per simulated decode rank), 451
    units at 194k requests/s.  Counted rank by rank against MAX_SIMULATED_REPLICAS, the group kept
    one prefill replica (queueing like M/G/1; 82 % SLO attainment where the pool meets it); the
    ranks of one instance now count as one, and the group holds tens of prefill replicas, at the
    designed ratio, its arrivals over GROWTH_HORIZON_S within the request budget."""
    spec = PoolSpec(name="p", model_id="m", system_id="s", precision="fp4", speculative_tokens=0, mode="disaggregated",
                    layout={"tp": 16, "pp": 1, "ep": 16, "dp_attention": True, "gpus": 16},
                    prefill_layout={"tp": 2, "pp": 1, "ep": 2, "dp_attention": False, "gpus": 2},
                    prefill_per_unit=14, decode_per_unit=25, max_seqs=3072, units_total=451, gpus_per_unit=428, slo=None,
                    rate_rps=193_900.0, isl=1024, osl=4096, router="least-outstanding", seed=0)
    size_group(spec, 3600.0)
    assert spec.prefill_sim >= 16
    assert MAX_SIMULATED_REPLICAS < spec.decode_sim <= MAX_SIMULATED_REPLICAS * 16
    assert abs(spec.prefill_sim / (spec.decode_sim * 14 / (25 * 16)) - 1) <= PREFILL_RATIO_TOLERANCE
    assert spec.rate_rps / spec.decode_total * spec.decode_sim * GROWTH_HORIZON_S <= 1.25 * REQUEST_BUDGET


def test_a_pool_of_long_lived_requests_grows_its_group_less():
    """The same DEP16 design with its requests' modelled lifetime known (4,096 output tokens at
    33 tok/s: 124 s): its warm-up and cool-down each last about that long, not 30 s, so the
    growth horizon is 248 s (growth_horizon_s) and the affordable group about a quarter of the
    one sized on GROWTH_HORIZON_S.  It still holds several prefill replicas at the designed
    ratio.  A short-lived pool (16 s) keeps GROWTH_HORIZON_S and the same group as before."""
    from gigafactory.simulate.run import growth_horizon_s

    def dep16(lifetime_s: float) -> PoolSpec:
        return PoolSpec(name="p", model_id="m", system_id="s", precision="fp4", speculative_tokens=0, mode="disaggregated",
                        layout={"tp": 16, "pp": 1, "ep": 16, "dp_attention": True, "gpus": 16},
                        prefill_layout={"tp": 2, "pp": 1, "ep": 2, "dp_attention": False, "gpus": 2},
                        prefill_per_unit=14, decode_per_unit=25, max_seqs=3072, units_total=451, gpus_per_unit=428, slo=None,
                        rate_rps=193_900.0, isl=1024, osl=4096, router="least-outstanding", seed=0, extra={"lifetime_s": lifetime_s})

    short, unknown, long_ = dep16(16.0), dep16(0.0), dep16(4096 / 33)
    for spec in (short, unknown, long_):
        size_group(spec, 3600.0)
    assert growth_horizon_s(short) == growth_horizon_s(unknown) == GROWTH_HORIZON_S
    assert growth_horizon_s(long_) == pytest.approx(2 * 4096 / 33)
    assert (short.decode_sim, short.prefill_sim) == (unknown.decode_sim, unknown.prefill_sim)
    assert long_.decode_sim < 0.35 * short.decode_sim and long_.prefill_sim >= 4
    assert abs(long_.prefill_sim / (long_.decode_sim * 14 / (25 * 16)) - 1) <= PREFILL_RATIO_TOLERANCE
    assert long_.rate_rps / long_.decode_total * long_.decode_sim * growth_horizon_s(long_) <= 1.25 * REQUEST_BUDGET


def _with_trace(catalog, trace: str | None, utilisation: float = 0.7):
    data = yaml.safe_load(default_scenario_path().read_text())
    data["simulation"]["trace"] = trace
    data["finance"]["utilisation"] = utilisation
    return parse_scenario_text(yaml.safe_dump(data), "t.yaml", catalog)


@pytest.mark.parametrize("trace, cv, osl_cv", [
    ("azure-conv-2023", 0.960, 0.771),  # the trace's own spread (CV of ContextTokens, GeneratedTokens)
    ("poisson", 0.5, None), ("gamma-cv2", 0.5, None), ("diurnal", 0.5, None),  # lengths drawn at SYNTHETIC_LENGTH_CV
])
def test_the_p99s_are_judged_with_the_lengths_the_simulation_replays(catalog, trace, cv, osl_cv):
    lengths = workload_lengths(_with_trace(catalog, trace), 2048, 512)
    assert (lengths.isl_mean, lengths.osl_mean) == (2048, 512)
    assert lengths.cv == pytest.approx(cv, abs=0.001)
    assert lengths.osl_cv == (None if osl_cv is None else pytest.approx(osl_cv, abs=0.001))


def test_a_length_table_gives_its_own_spread(catalog):
    lengths = workload_lengths(_with_trace(catalog, "sharegpt"), 2048, 512)
    assert lengths.cv != pytest.approx(0.5) and lengths.osl_cv is not None


@pytest.mark.parametrize("trace, utilisation, peak", [
    ("azure-conv-2023", 0.7, 0.7 * 1.4557), ("azure-conv-2023", 0.5, 1.0),  # peaks below the sustainable rate: judged at it
    ("poisson", 0.97, 1.0), ("diurnal", 0.9, 0.9 * 1.5),
])
def test_the_arrival_peak(catalog, trace, utilisation, peak):
    assert arrival_peak(_with_trace(catalog, trace, utilisation)) == pytest.approx(max(1.0, peak), abs=0.002)
