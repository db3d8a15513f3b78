"""Device-fleet routing, the offload path's queue and the network model: reference values and
properties (issue 16)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gigafactory.devices import fleet as fl
from gigafactory.devices.network import fit_wan, great_circle_km, load_network
from gigafactory.devices.queueing import erlang_c, mmc_mean_wait_s, mmc_wait_quantile_s
from gigafactory.devices.routing import (PRIVACY_ATTESTED, PRIVACY_LOCAL, POLICIES, PolicyContext, RequestSample, calibrate_threshold,
                                         route)


# ---------------------------------------------------------------- queueing closed forms

def test_erlang_c_textbook_values():
    # Kleinrock (1975) / any queueing text: M/M/1 waits with probability rho; C(2, 1) = 1/3.
    assert erlang_c(1, 0.7) == pytest.approx(0.7)
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    # Erlang's call-centre example (c = 10 agents, a = 8 erlangs): C = 0.4092 (published tables, e.g. Cooper,
    # Introduction to Queueing Theory, 2nd ed., table of the Erlang delay formula)
    assert erlang_c(10, 8.0) == pytest.approx(0.4092, abs=5e-4)


def test_mm1_wait_closed_forms():
    lam, s = 0.5, 1.0  # rho = 0.5: mean wait rho/(mu - lam) = 1 s; P(W > t) = rho e^{-(mu-lam)t}
    assert mmc_mean_wait_s(1, lam, s) == pytest.approx(1.0)
    q = 0.9
    assert mmc_wait_quantile_s(1, lam, s, q) == pytest.approx(math.log(0.5 / 0.1) / 0.5)
    assert mmc_wait_quantile_s(1, lam, s, 0.4) == 0.0  # P(W > 0) = 0.5 <= 0.6
    assert mmc_mean_wait_s(4, 4.0, 1.0) == math.inf


@pytest.mark.parametrize("c, rho", [(2001, 0.9), (2500, 0.97), (4000, 0.5)])
def test_large_pool_closed_form_matches_the_recursion(c, rho):
    from gigafactory.devices.queueing import erlang_b

    a = c * rho
    b = 1.0
    for k in range(1, c + 1):  # the recursion the small-pool branch uses
        b = a * b / (k + a * b)
    assert erlang_b(c, a) == pytest.approx(b, rel=1e-6)


def test_erlang_c_stable_for_large_pools_and_pooling_helps():
    # thousands of slots at 90 % load wait almost never; the same load split in ten waits more
    big = erlang_c(5000, 4500.0)
    small = erlang_c(500, 450.0)
    assert 0 <= big < small < 1


@given(st.integers(1, 200), st.floats(0.01, 0.99))
@settings(max_examples=60)
def test_erlang_c_bounds_and_monotone(c, rho):
    a = c * rho
    p = erlang_c(c, a)
    assert 0 <= p <= 1
    assert erlang_c(c, min(a * 1.01, c * 0.999)) >= p - 1e-12


# ---------------------------------------------------------------- network

def test_wan_fit_recovers_a_known_line():
    client = (0.0, 0.0)
    pts = [(0.0, lon, 10.0 + 0.02 * great_circle_km(0, 0, 0, lon)) for lon in (5, 20, 60, 120)]
    a, b = fit_wan(client, pts)
    assert a == pytest.approx(10.0) and b == pytest.approx(0.02)


def test_bundled_wan_fit_is_physical():
    net = load_network()
    # light in fibre: ~1.0 ms of round trip per 100 km; real routes are longer, and the fit should say so
    assert 1.0 < net.wan_ms_per_km * 100 < 2.5
    assert net.wan_fit_median_ape < 0.15
    near = net.rtt_ms("us-east", 38.98, -77.47, "wifi")
    far = net.rtt_ms("india", 38.98, -77.47, "wifi")
    assert near < 40 < 150 < far


# ---------------------------------------------------------------- routing

def _sample(n: int = 4000, seed: int = 1, privacy_local: float = 0.1, attested: float = 0.1, offline: float = 0.05) -> RequestSample:
    rng = np.random.default_rng(seed)
    attrs = fl.sample_requests(n, rng, turns_mean=2.0, privacy_local=privacy_local, privacy_attested=attested,
                               connectivity={"wifi": 0.9 - offline, "4g": 0.1, "offline": offline}, battery_low=0.1, regions=[1.0])
    net = load_network()
    cloud = fl.CloudPath(ttft_s=0.3, isl_tokens=2000.0, tpot_s=0.02, site_coords=((38.98, -77.47),))
    return fl.build_sample("t", attrs, local_prefill_tok_s=800.0, local_decode_tok_s=20.0, local_window=4096, net=net,
                           region_names=["us-east"], cloud=cloud, queue_wait_s=0.0).req


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_privacy_local_and_offline_never_reach_the_factory(name):
    req = _sample()
    for theta in (0.0, 0.5, 1.0):
        cloud = route(req, name, PolicyContext(theta))
        assert not cloud[req.privacy == PRIVACY_LOCAL].any()
        assert not cloud[req.offline].any()
    cloud = route(req, name, PolicyContext(0.0), factory_attested=False)
    assert not cloud[req.privacy == PRIVACY_ATTESTED].any()


def test_conversation_stays_where_it_began():
    req = _sample()
    cloud = route(req, "quality-threshold", PolicyContext(0.5))
    first = np.flatnonzero(req.first_turn)
    owner = np.searchsorted(first, np.arange(len(req)), side="right") - 1
    allowed = ~req.offline & (req.privacy != PRIVACY_LOCAL)
    # every allowed turn follows its conversation's first turn
    assert np.array_equal(cloud[allowed], cloud[first][owner][allowed])
    assert req.first_turn.sum() < len(req)  # conversations do have several turns


@given(st.floats(0, 1), st.floats(0, 1), st.sampled_from(sorted(POLICIES)))
@settings(max_examples=40)
def test_raising_the_threshold_never_raises_cloud_load(t1, t2, name):
    req = _sample(n=2000)
    lo, hi = sorted((t1, t2))
    c_lo = route(req, name, PolicyContext(lo))
    c_hi = route(req, name, PolicyContext(hi))
    assert (c_hi <= c_lo).all()  # request by request, not only on average
    assert (req.output_tokens * c_hi).sum() <= (req.output_tokens * c_lo).sum()


@pytest.mark.parametrize("target", [0.1, 0.3, 0.6])
def test_threshold_calibrates_to_the_target_share(target):
    req = _sample(n=8000)
    theta = calibrate_threshold(req, "quality-threshold", target)
    share = route(req, "quality-threshold", PolicyContext(theta)).mean()
    assert share == pytest.approx(target, abs=0.01)


def test_unreachable_target_returns_the_nearest_end():
    req = _sample(privacy_local=0.6)
    assert calibrate_threshold(req, "quality-threshold", 0.95) == 0.0  # at most ~40 % may leave
    assert route(req, "quality-threshold", PolicyContext(0.0)).mean() < 0.45


def test_cloud_only_and_local_only_bracket_every_policy():
    req = _sample()
    lo = route(req, "local-only", PolicyContext(0.5)).mean()
    hi = route(req, "cloud-only", PolicyContext(0.5)).mean()
    assert lo == 0
    for name in POLICIES:
        assert lo <= route(req, name, PolicyContext(0.5)).mean() <= hi


# ---------------------------------------------------------------- fleet traffic

def test_weekly_rate_conserves_requests_and_shifts_time_zones():
    net = load_network()
    profile = np.ones(168)
    profile[9] = 5.0  # a spike at local Monday 09:00
    profile /= profile.mean()
    r_east = fl.weekly_rate(24_000, profile, {"us-east": 1.0}, net)
    r_eu = fl.weekly_rate(24_000, profile, {"europe": 1.0}, net)
    assert r_east.sum() == pytest.approx(24_000 * 7)
    assert int(np.argmax(r_east)) == 9 + 5  # 09:00 in New York (UTC-5) is 14:00 UTC
    assert int(np.argmax(r_eu)) == 9 - 1
    mixed = fl.weekly_rate(24_000, profile, {"us-east": 0.5, "europe": 0.5}, net)
    assert mixed.max() < r_east.max()  # users spread over zones flatten the peak


def test_water_fill_keeps_the_total_and_lowers_the_peak():
    other = np.array([5.0, 1.0, 0.0, 3.0])
    static = np.array([4.0, 2.0, 1.0, 3.0])
    lo, hi = static * 0.2, static * 3
    d, peak = fl.water_fill(other, lo, hi, float(static.sum()))
    assert d.sum() == pytest.approx(static.sum())
    assert peak < (other + static).max()
    assert (d >= lo - 1e-9).all() and (d <= hi + 1e-9).all()
