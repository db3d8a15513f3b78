"""Consolidation (`gigafactory consolidate`): separate clusters per tenant against one shared factory.

Closed-form checks run on the degenerate M/M/c-like unit (``sizing.queue_unit``: one-request
servers behind one FIFO queue, exponential service, SLO attainment = share of requests that did
not wait); the scenario path runs once, quick, through the CLI.
"""
from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from scipy import optimize, stats

import gigafactory.cli.consolidate  # noqa: F401  (registers the verb until cli/__init__ imports it)
from gigafactory.consolidate import Tenant, consolidate_tenants, queue_unit, size_pool
from gigafactory.consolidate.demand import DATA, load_table, servegen_tenants
from gigafactory.consolidate.sizing import Settings, TenantStream
from gigafactory.pipeline.streams import stream

U = np.array([0.0, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85,
              0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 1.0])
#: exponential quantile function (to the 99.99th percentile), mean 1 as a piecewise-linear sketch
EXP = -np.log1p(-np.minimum(U, 0.9999))
EXP = EXP / np.sum((EXP[1:] + EXP[:-1]) / 2 * np.diff(U))
#: small pools, simulated whole: 200 s measured, at least 4,000 requests per window
SMALL = Settings(measure_s=200.0, request_budget=20_000, min_requests=4_000, max_group=64)
#: pools of hundreds of servers, each simulated as a representative group of 64 (as the scenario's are)
LARGE = Settings(measure_s=300.0, request_budget=30_000, min_requests=6_000, max_group=64)


def tenant(name: str, rates, cv=1.0) -> Tenant:
    """A tenant of the queue unit: Poisson (cv 1) or Gamma arrivals, one-token prompts,
    exponential outputs of mean 100 tokens (1 s of service)."""
    r = np.asarray(rates, dtype=float)
    return Tenant(name=name, rate_rps=r, cv=np.broadcast_to(np.asarray(cv, dtype=float), r.shape).copy(), mean_input=np.ones(r.size),
                  mean_output=np.full(r.size, 100.0), input_shape=np.ones(U.size), output_shape=EXP, u_grid=U)


def erlang_c(c: int, a: float) -> float:
    """P(wait) in M/M/c with offered load a (Erlang C; Kleinrock, Queueing Systems vol. 1, 1975, eq. 3.39)."""
    if c <= a:
        return 1.0
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


def square_root_staffing(a: float, alpha: float) -> float:
    """c = a + beta sqrt(a), beta from the Halfin-Whitt delay probability alpha = [1 + beta Phi(beta) / phi(beta)]^-1
    (Halfin & Whitt, Oper. Res. 29(3), 1981; Borst, Mandelbaum & Reiman, Oper. Res. 52(1), 2004)."""
    beta = optimize.brentq(lambda b: 1 / (1 + b * stats.norm.cdf(b) / stats.norm.pdf(b)) - alpha, 1e-9, 10)
    return a + beta * math.sqrt(a)


def test_erlang_square_root_staffing():
    """Two identical Poisson tenants of a = 20 Erlangs each on one-request servers (1 s mean service),
    target: at most 20 % of requests wait.  Every pool is small enough to be simulated whole, so
    the simulated sizes are M/M/c's: each within 1 server of the exact Erlang C size and within
    2 servers of the square-root staffing rule (which is about 1 server optimistic at this load),
    and the pooling gain is the closed form's: c(20) + c(20) against c(40)."""
    alpha, a = 0.2, 20.0
    unit = queue_unit()
    res = consolidate_tenants(unit, [tenant("a", [a]), tenant("b", [a])], 1 - alpha, seed=11, cost_per_gpu_hour_usd=1.0, windows=1,
                              settings=Settings(measure_s=600.0, request_budget=10**6, max_group=256))
    exact = {x: next(c for c in range(1, 400) if erlang_c(c, x) <= alpha) for x in (a, 2 * a)}
    for sz in res["separate"]:
        assert sz.group >= sz.units  # the whole pool simulated: no representative group
        assert abs(sz.units - exact[a]) <= 1
        assert abs(sz.units - math.ceil(square_root_staffing(a, alpha))) <= 2
    shared = res["shared"].units
    assert abs(shared - exact[2 * a]) <= 1
    assert abs(shared - math.ceil(square_root_staffing(2 * a, alpha))) <= 2
    # economies of scale alone (no peaks): 2 x 26 against 48 servers exactly
    closed = 1 - exact[2 * a] / (2 * exact[a])
    saving = 1 - shared / sum(s.units for s in res["separate"])
    assert saving == pytest.approx(closed, abs=0.04)
    # attainment at the chosen size is 1 - Erlang C, within the run's sampling error (about 0.03, 1 sigma)
    att = res["shared"].chosen.attainment
    assert att >= 1 - alpha and att == pytest.approx(1 - erlang_c(shared, 2 * a), abs=0.06)


@settings(max_examples=4, suppress_health_check=[HealthCheck.too_slow], phases=(Phase.explicit, Phase.reuse, Phase.generate))
@given(data=st.data())
def test_pooling_never_needs_more_gpus_than_separate_clusters(data):
    """Random tenant sets (2-4 tenants, diurnal profiles of random phase and amplitude, Gamma arrivals of CV 1-3,
    pools of 5-40 servers): the shared pool never needs more GPUs than the separate clusters together.
    (No shrinking: each example is a full sizing, and a counter-example is reported as drawn.)"""
    k = data.draw(st.integers(2, 4), label="tenants")
    hours = np.arange(12) * 2.0
    tenants = []
    for i in range(k):
        base = data.draw(st.floats(3.0, 20.0), label=f"rate{i}")
        amp = data.draw(st.floats(0.0, 0.8), label=f"amplitude{i}")
        phase = data.draw(st.floats(0.0, 24.0), label=f"phase{i}")
        cv = data.draw(st.floats(1.0, 3.0), label=f"cv{i}")
        tenants.append(tenant(f"t{i}", base * (1 + amp * np.sin(2 * np.pi * (hours - phase) / 24)), cv))
    res = consolidate_tenants(queue_unit(), tenants, 0.9, seed=3, cost_per_gpu_hour_usd=1.0, windows=1, settings=SMALL)
    assert res["shared_totals"].gpus <= res["separate_totals"].gpus
    assert res["shared_totals"].all_reached and res["separate_totals"].all_reached
    assert res["shared_totals"].cost_per_mtok_usd <= res["separate_totals"].cost_per_mtok_usd + 1e-12


def _large_pool_run(tenants):
    """Pools of hundreds of servers, each simulated as a representative group (as the scenario's are).  A pool's
    size carries about 1.5 % of sampling noise (1 sigma, 5 minutes measured; 2 % in the default run)."""
    return consolidate_tenants(queue_unit(), tenants, 0.9, seed=5, cost_per_gpu_hour_usd=2.0, windows=1, settings=LARGE)


def test_identical_synchronised_tenants_save_nothing():
    """Three identical Poisson tenants with the same diurnal profile (peaks together), pools of ~200
    servers each: pooling cannot flatten the peak, and Poisson streams superpose to a Poisson stream,
    so the shared factory needs the sum of the separate ones; tolerance 5 % (about 3 sigma of sampling noise)."""
    profile = 120 * (1 + 0.5 * np.sin(2 * np.pi * np.arange(12) / 12))
    res = _large_pool_run([tenant(f"t{i}", profile) for i in range(3)])
    assert res["diversity_factor"] == pytest.approx(1.0)
    sep, sh = res["separate_totals"].gpus, res["shared_totals"].gpus
    assert sep > 3 * 180 and all(s.group < s.units for s in res["separate"])  # representative groups
    assert abs(1 - sh / sep) <= 0.05


def test_anti_correlated_diurnal_tenants_save_the_closed_form():
    """Two tenants whose diurnal profiles cancel, m (1 +/- a sin): each separate cluster is sized for
    its peak m (1 + a), the shared one for the flat sum 2 m, so the saving is a / (1 + a) (1/3 at
    a = 0.5), within 4 points (about 3 sigma of sampling noise)."""
    m, a = 100.0, 0.5
    s = np.sin(2 * np.pi * np.arange(12) / 12)
    res = _large_pool_run([tenant("day", m * (1 + a * s)), tenant("night", m * (1 - a * s))])
    closed = a / (1 + a)
    assert res["diversity_factor"] == pytest.approx(1 + a, rel=1e-9)  # peaks 2 x m (1 + a) over 2 m
    saving = 1 - res["shared_totals"].gpus / res["separate_totals"].gpus
    assert saving == pytest.approx(closed, abs=0.04)
    # the shared pool runs fuller: token utilisation in the ratio of the sizes
    ratio = res["shared_totals"].token_utilisation / res["separate_totals"].token_utilisation
    assert ratio == pytest.approx(res["separate_totals"].gpus / res["shared_totals"].gpus, rel=1e-9)


def test_sizing_is_deterministic():
    """Same tenants, unit and seed: the same probes, attainments and sizes; another seed draws other requests."""
    ts = [tenant("a", [30.0, 60.0], cv=2.0), tenant("b", [60.0, 30.0])]
    quick = Settings(measure_s=60.0, request_budget=5_000, min_requests=0)
    runs = [size_pool(queue_unit(), ts, 0.9, seed, "shared", 1, quick) for seed in (1, 1, 2)]
    assert runs[0] == runs[1]
    assert [p.windows for p in runs[0].probes] != [p.windows for p in runs[2].probes]


def test_thinned_stream_rate_and_cv():
    """The group's view of a Gamma renewal stream thinned with probability f: rate f lambda and
    gap CV^2 = f c^2 + 1 - f (independent thinning of a renewal process)."""
    t = tenant("x", [1000.0], cv=3.0)
    for f in (1.0, 0.2, 0.01):
        s = TenantStream(t, 0, f, stream(1, f"test.thin.{f}"), 1 << 30)
        times, _, _ = s.upto(60_000 / (1000 * f))
        gaps = np.diff(times)
        assert times.size / (60_000 / (1000 * f)) == pytest.approx(1000 * f, rel=0.05)
        assert (gaps.std() / gaps.mean()) ** 2 == pytest.approx(f * 9 + 1 - f, rel=0.1)


def test_bundled_servegen_table():
    """The derived table is small, has every client of both sets, and its length sketches have mean 1;
    the package never reads the shared copy at run time."""
    assert DATA.stat().st_size < 1_000_000
    assert (DATA.parent / "LICENSE-APACHE-2.0.txt").is_file() and (DATA.parent / "SOURCE.md").is_file()
    table = load_table()
    sets = table["sets"]
    assert len(sets["language/m-small"]["clients"]) == 38 and len(sets["reason/deepseek-r1"]["clients"]) == 73
    assert sets["language/m-small"]["windows"] == 2016 and sets["reason/deepseek-r1"]["windows"] == 144
    u = np.asarray(table["u_grid"])
    for s in sets.values():
        reqs = [c["requests"] for c in s["clients"]]
        assert reqs == sorted(reqs, reverse=True)
        for c in s["clients"][:10]:
            for key in ("input_shape", "output_shape"):
                q = np.asarray(c[key])
                assert np.all(np.diff(q) >= 0)
                assert np.sum((q[1:] + q[:-1]) / 2 * np.diff(u)) == pytest.approx(1.0, abs=2e-3)
    ts, facts = servegen_tenants("m-small", 5, 2048, 512)
    assert [t.client_id for t in ts] == [c["id"] for c in sets["language/m-small"]["clients"][:5]]
    assert facts["record_days"] == pytest.approx(14.0)
    src = Path(DATA).parents[1]
    for py in src.rglob("*.py"):
        assert "/work/shared" not in py.read_text(encoding="utf-8")
    with gzip.open(DATA, "rt", encoding="utf-8") as fh:
        assert json.load(fh)["source"].startswith("Alibaba ServeGen")


def test_cli_json_quick(cli):
    """`consolidate --quick --tenants 2 --json`: a valid result on the default scenario, deterministic,
    shared never above separate, every pool at the target."""
    args = ("consolidate", "--quick", "--tenants", "2", "--windows", "1", "--json")
    code, out, err = cli(*args)
    assert code == 0, err
    r = json.loads(out)
    assert r["model"] == "llama-3.3-70b" and r["dataset"] == "language/m-small" and len(r["tenants"]) == 2
    assert r["shared"]["gpus"] <= r["separate"]["gpus"]
    assert r["gpus_saved"] == r["separate"]["gpus"] - r["shared"]["gpus"]
    for p in [*r["tenants"], r["shared_pool"]]:
        assert p["reached"] and p["attainment"] >= 0.99
        assert p["gpus"] == p["units"] * r["gpus_per_unit"]
        assert 0 < p["token_utilisation"] <= 1 and 0 < p["busy_utilisation"] <= 1
        assert p["cost_per_mtok_usd"] == pytest.approx(p["gpus"] * 24 * r["cost_per_gpu_hour_usd"] / (p["output_tokens_per_day"] / 1e6))
    assert r["method"]["demand_fit_gpus"] > 0
    code2, out2, _ = cli(*args)
    assert code2 == 0 and out2 == out


@pytest.mark.parametrize("args,field", [
    (("--tenants", "1"), "--tenants"),
    (("--target", "1.0"), "--target"),
    (("--target", "0"), "--target"),
    (("--model", "no-such-model"), "--model"),
    (("--gpus", "-5"), "--gpus"),
    (("--dataset", "m-huge"), "--dataset"),
])
def test_cli_bad_inputs(cli, args, field):
    code, _, err = cli("consolidate", "--quick", *args)
    assert code == 2 and field in err and "Traceback" not in err
