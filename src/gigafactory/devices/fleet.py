"""Fleet traffic: a sample of each fleet's requests, their routes, and the hourly load they put
on the factory.

Each fleet's requests are sampled once (a named random stream, `devices.fleet.<name>`):
lengths from the Azure LLM conversation trace (2023; context includes the conversation's
history), grouped into conversations of geometric length; privacy class per conversation;
connectivity, battery state and user region per request.  Local latency comes from the
on-device model, cloud latency from the round trip to the nearest site, the factory's queue
(Erlang C) and the offload model's serving configuration.  The hour-of-week load is the fleet's
request rate by user region, each region's profile shifted from local time to UTC.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gigafactory.devices.network import Network
from gigafactory.devices.routing import PRIVACY_ANY, PRIVACY_ATTESTED, PRIVACY_LOCAL, PolicyContext, RequestSample, route

HOURS_PER_WEEK = 168
#: Seconds of continuous use the thermal derate is taken at: a conversation of a few turns.
SUSTAINED_USE_S = 60.0
#: The trace lengths are drawn from (context includes the conversation's history).
LENGTH_TRACE = "azure-conv-2023"


@dataclass(frozen=True)
class CloudPath:
    """The factory side of an offloaded request."""

    ttft_s: float  # offload model's TTFT at its workload's mean prompt, no queueing [s]
    isl_tokens: float  # that workload's mean prompt [tokens]
    tpot_s: float  # time per output token [s]
    site_coords: tuple[tuple[float, float], ...]  # (lat, lon) of each site; a request goes to the nearest


@dataclass(frozen=True)
class FleetSample:
    name: str
    req: RequestSample
    region: np.ndarray  # user-region index per request
    rtt_s: np.ndarray  # round trip to the nearest site [s]
    local_ttft_s: np.ndarray
    cloud_ttft_s: np.ndarray  # without queueing [s]
    cloud_service_s: np.ndarray  # time in the factory: prefill + decode [s]


def trace_lengths() -> tuple[np.ndarray, np.ndarray]:
    from gigafactory.simulate.workload import load_trace

    wl = load_trace(LENGTH_TRACE)
    return np.asarray(wl.input_tokens, dtype=np.int64), np.asarray(wl.output_tokens, dtype=np.int64)


def sample_requests(n: int, rng: np.random.Generator, *, turns_mean: float, privacy_local: float, privacy_attested: float,
                    connectivity: dict[str, float], battery_low: float, regions: list[float]) -> dict[str, np.ndarray]:
    """The attributes of ``n`` requests that do not depend on the device or the factory."""
    inp, out = trace_lengths()
    pick = rng.integers(0, inp.size, n)
    # conversations: geometric numbers of turns with the given mean, laid end to end
    turns = rng.geometric(1.0 / turns_mean, n)
    conv = np.repeat(np.arange(n), turns)[:n]
    first = np.r_[True, conv[1:] != conv[:-1]]
    u = rng.random(n)
    cls = np.where(u < privacy_local, PRIVACY_LOCAL, np.where(u < privacy_local + privacy_attested, PRIVACY_ATTESTED, PRIVACY_ANY))
    names = list(connectivity)
    conn = rng.choice(len(names), n, p=np.asarray([connectivity[k] for k in names]) / sum(connectivity.values()))
    return {
        "conversation": conv, "first_turn": first, "context_tokens": inp[pick], "output_tokens": out[pick],
        "score": rng.random(n), "privacy": cls[conv], "connectivity": conn, "connectivity_names": np.asarray(names),
        "battery_low": rng.random(n) < battery_low, "region": rng.choice(len(regions), n, p=np.asarray(regions) / sum(regions)),
    }


def build_sample(name: str, attrs: dict[str, np.ndarray], local_prefill_tok_s: float, local_decode_tok_s: float, local_window: int,
                 net: Network, region_names: list[str], cloud: CloudPath, queue_wait_s: float) -> FleetSample:
    """Latencies of both routes for each sampled request."""
    ctx = attrs["context_tokens"].astype(float)
    out = attrs["output_tokens"].astype(float)
    local_ttft = ctx / local_prefill_tok_s
    local_e2e = local_ttft + out / local_decode_tok_s
    names = attrs["connectivity_names"]
    conn = names[attrs["connectivity"]]
    offline = conn == "offline"
    # nearest site per (region, connectivity); offline requests get the wifi figure (never used)
    rtt_ms = np.empty(ctx.size)
    for ri, region in enumerate(region_names):
        for ci, c in enumerate(names):
            sel = (attrs["region"] == ri) & (attrs["connectivity"] == ci)
            if sel.any():
                access = "wifi" if c == "offline" else c
                rtt_ms[sel] = min(net.rtt_ms(region, lat, lon, access) for lat, lon in cloud.site_coords)
    rtt = rtt_ms / 1e3
    cloud_ttft = cloud.ttft_s * ctx / cloud.isl_tokens  # prefill time scales with the prompt
    service = cloud_ttft + out * cloud.tpot_s
    cloud_e2e = rtt + queue_wait_s + service
    req = RequestSample(conversation=attrs["conversation"], first_turn=attrs["first_turn"], context_tokens=attrs["context_tokens"],
                        output_tokens=attrs["output_tokens"], score=attrs["score"], privacy=attrs["privacy"], offline=offline,
                        battery_low=attrs["battery_low"], local_fits=attrs["context_tokens"] <= local_window, local_e2e_s=local_e2e,
                        cloud_e2e_s=cloud_e2e)
    return FleetSample(name, req, attrs["region"], rtt, local_ttft, rtt + queue_wait_s + cloud_ttft, service)


def weekly_rate(requests_per_day: float, profile_168: np.ndarray, regions: dict[str, float], net: Network) -> np.ndarray:
    """Requests per hour in each UTC hour of the week: each region's share of the rate, its
    local-time profile moved to UTC (a user at UTC+o is at local hour h + o at UTC hour h)."""
    rate = np.zeros(HOURS_PER_WEEK)
    h = np.arange(HOURS_PER_WEEK)
    for region, share in regions.items():
        off = net.regions[region].utc_offset_h
        lo = np.floor(off)
        frac = off - lo  # half-hour zones: blend the two neighbouring hours
        idx0 = ((h + int(lo)) % HOURS_PER_WEEK)
        idx1 = ((h + int(lo) + 1) % HOURS_PER_WEEK)
        shape = (1 - frac) * profile_168[idx0] + frac * profile_168[idx1]
        rate += share * shape
    return requests_per_day / 24.0 * rate


def cloud_tokens_curve(fs: FleetSample, policy: str, ctx_base: PolicyContext, attested: bool, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean offloaded output tokens per request, and offloaded share, at each threshold of ``grid``."""
    toks = np.empty(grid.size)
    share = np.empty(grid.size)
    for k, theta in enumerate(grid):
        cloud = route(fs.req, policy, PolicyContext(float(theta), ctx_base.battery_factor, ctx_base.latency_gain), attested)
        toks[k] = float((fs.req.output_tokens * cloud).mean())
        share[k] = float(cloud.mean())
    return toks, share


def water_fill(other: np.ndarray, lo: np.ndarray, hi: np.ndarray, total: float, iters: int = 60) -> tuple[np.ndarray, float]:
    """Device load per hour d in [lo, hi] with sum(d) = total and the peak of other + d as low as
    possible: d = clip(L - other, lo, hi), the level L found by bisection."""
    a, b = float((other + lo).min()), float((other + hi).max())
    if hi.sum() <= total:
        return hi.copy(), float((other + hi).max())
    for _ in range(iters):
        level = 0.5 * (a + b)
        if np.clip(level - other, lo, hi).sum() < total:
            a = level
        else:
            b = level
    d = np.clip(b - other, lo, hi)
    return d, float((other + d).max())


def thresholds_for(target: np.ndarray, rate_per_s: np.ndarray, toks_grid: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Per hour, the threshold whose offloaded load (rate x mean tokens per request) meets the
    target load: the curve falls with the threshold, so interpolate on the reversed grid."""
    per_req = np.divide(target, rate_per_s, out=np.zeros_like(target), where=rate_per_s > 0)
    return np.interp(per_req, toks_grid[::-1], grid[::-1])
