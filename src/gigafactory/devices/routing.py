"""Hybrid routing: which requests a device answers itself and which it sends to the factory.

A policy sees a sample of requests (one array per attribute) and says which it *wants* in the
cloud; `route` then applies the rules no policy may break, in this order:

1. offline ⇒ local;
2. privacy class "local" ⇒ local; "attested" ⇒ local unless the factory is attested;
3. per conversation: the route of its first turn holds for every turn (the context stays where
   the conversation began).

Policies live in a registry (`POLICIES`, `@policy(name)`), as the simulator's routers do.  The
quality-gap score of a request is the router's estimate, in [0, 1], that the local model's
answer falls short (what RouteLLM and Hybrid-LLM learn); a threshold is calibrated to a target
offload share by bisection on the sample (`calibrate_threshold`), as those routers calibrate
theirs.  Because the calibration works on the score's quantiles, the offload share does not
depend on the score's marginal distribution; we draw it uniform and independent of length
(a stated assumption: in practice long, hard prompts are likelier to be offloaded).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

PRIVACY_ANY, PRIVACY_ATTESTED, PRIVACY_LOCAL = 0, 1, 2


@dataclass(frozen=True)
class RequestSample:
    """One element per request; all arrays the same length."""

    conversation: np.ndarray  # conversation index [int]
    first_turn: np.ndarray  # True on a conversation's first request
    context_tokens: np.ndarray  # prompt + history at this turn [tokens]
    output_tokens: np.ndarray  # [tokens]
    score: np.ndarray  # quality-gap score [0-1]
    privacy: np.ndarray  # PRIVACY_* class
    offline: np.ndarray  # no connectivity [bool]
    battery_low: np.ndarray  # battery below the low mark [bool]
    local_fits: np.ndarray  # the context fits the local model's window and memory [bool]
    local_e2e_s: np.ndarray  # end-to-end latency if answered on the device [s]
    cloud_e2e_s: np.ndarray  # end-to-end latency if offloaded, queueing included [s]

    def __len__(self) -> int:
        return int(self.score.size)


@dataclass(frozen=True)
class PolicyContext:
    """What a policy may read besides the requests."""

    threshold: float | np.ndarray  # quality-gap threshold: a scalar, or one value per request (fleet-aware)
    battery_factor: float = 0.5  # low battery multiplies the threshold (spend the factory's energy, not the device's)
    latency_gain: float = 0.5  # latency-aware: offload an answerable request when the cloud takes < this x local time


Policy = Callable[[RequestSample, PolicyContext], np.ndarray]
POLICIES: dict[str, Policy] = {}
DESCRIPTIONS: dict[str, str] = {}


def policy(name: str, description: str) -> Callable[[Policy], Policy]:
    """Register a routing policy under ``name``."""

    def deco(fn: Policy) -> Policy:
        POLICIES[name] = fn
        DESCRIPTIONS[name] = description
        return fn

    return deco


def _quality(req: RequestSample, ctx: PolicyContext) -> np.ndarray:
    theta = np.where(req.battery_low, np.asarray(ctx.threshold) * ctx.battery_factor, ctx.threshold)
    return (req.score > theta) | ~req.local_fits


@policy("local-only", "every request on the device (a model that does not fit is answered truncated)")
def local_only(req: RequestSample, ctx: PolicyContext) -> np.ndarray:
    return np.zeros(len(req), dtype=bool)


@policy("cloud-only", "every request the rules allow goes to the factory")
def cloud_only(req: RequestSample, ctx: PolicyContext) -> np.ndarray:
    return np.ones(len(req), dtype=bool)


@policy("quality-threshold", "offload when the quality-gap score exceeds the threshold (lower on low battery) or the context does not fit")
def quality_threshold(req: RequestSample, ctx: PolicyContext) -> np.ndarray:
    return _quality(req, ctx)


@policy("latency-aware", "quality-threshold, and also offload an answerable request when the factory answers it much sooner")
def latency_aware(req: RequestSample, ctx: PolicyContext) -> np.ndarray:
    return _quality(req, ctx) | (req.cloud_e2e_s < ctx.latency_gain * req.local_e2e_s)


@policy("fleet-aware", "quality-threshold with a threshold that follows the factory's headroom hour by hour (devices absorb peaks)")
def fleet_aware(req: RequestSample, ctx: PolicyContext) -> np.ndarray:
    return _quality(req, ctx)  # the hour-by-hour threshold is set by the caller (devices/fleet.py)


def route(req: RequestSample, name: str, ctx: PolicyContext, factory_attested: bool = True) -> np.ndarray:
    """True where a request is served by the factory, after the rules of the module docstring."""
    wants = np.asarray(POLICIES[name](req, ctx), dtype=bool)
    allowed = ~req.offline & (req.privacy != PRIVACY_LOCAL)
    if not factory_attested:
        allowed &= req.privacy != PRIVACY_ATTESTED
    cloud = wants & allowed
    # the first turn decides for the whole conversation
    first_idx = np.flatnonzero(req.first_turn)
    decided = cloud[first_idx]
    owner = np.searchsorted(first_idx, np.arange(len(req)), side="right") - 1
    return decided[owner] & allowed


def calibrate_threshold(req: RequestSample, name: str, target_share: float, factory_attested: bool = True,
                        ctx: PolicyContext | None = None, iters: int = 40) -> float:
    """The threshold whose share of requests routed to the factory is closest to ``target_share``.

    The share falls as the threshold rises (a higher bar offloads less), so bisection finds it;
    when the rules force more (or allow less) than the target, the nearest end is returned.
    """
    base = ctx or PolicyContext(threshold=0.5)

    def share(theta: float) -> float:
        return float(route(req, name, PolicyContext(theta, base.battery_factor, base.latency_gain), factory_attested).mean())

    lo, hi = 0.0, 1.0
    if share(hi) >= target_share:
        return hi
    if share(lo) <= target_share:
        return lo
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        if share(mid) > target_share:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)
