"""Blast radius: how much serving capacity a failure takes, following the serving layout.

A serving instance (one engine: TP x PP GPUs, or an attention-DP/EP group) lives inside an
NVLink domain when it fits (``instance_gpus <= domain_gpus``).  An NVL72 domain is 18 compute
trays of 4 GPUs; ``instances_per_domain = domain // instance`` engines fill it and the trays left
over are in-rack slack.  With ``x`` trays out (failed, waiting for a swap):

- ``x > cordon_trays_out``: the rack is cordoned (CoreWeave's GB200 guidance: more than 2 of 18
  trays unavailable) and serves nothing;
- otherwise the engines that fit on the healthy GPUs run: ``min(instances_per_domain,
  (domain - x * gpus_per_tray) // instance)``.

Engines spanning several domains need every domain intact.  A tray failure also restarts the
engines on that tray (detection + reload) even when slack lets them re-form at once; a software
fault restarts its engine.  Independence of trays gives the binomial law of ``x``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class ServingLayout:
    """One serving instance inside the rack-scale domain.

    instance_gpus: GPUs of one engine instance [count].
    domain_gpus: GPUs of one NVLink domain (72 for NVL72, 8 for HGX) [count].
    gpus_per_tray: GPUs of one compute tray / node, the unit swapped [count].
    cordon_trays_out: trays a domain may lose before it is cordoned [count].
    """

    instance_gpus: int
    domain_gpus: int
    gpus_per_tray: int
    cordon_trays_out: int

    def __post_init__(self) -> None:
        if min(self.instance_gpus, self.domain_gpus, self.gpus_per_tray) < 1 or self.cordon_trays_out < 0:
            raise ValueError(f"invalid serving layout {self}")

    @property
    def trays(self) -> int:
        return max(1, self.domain_gpus // self.gpus_per_tray)

    @property
    def instances_per_domain(self) -> int:
        return self.domain_gpus // self.instance_gpus if self.instance_gpus <= self.domain_gpus else 0

    @property
    def slack_trays(self) -> int:
        """Trays a domain can lose with every engine re-formed on healthy GPUs [count]."""
        if self.instances_per_domain == 0:
            return 0
        return (self.domain_gpus - self.instances_per_domain * self.instance_gpus) // self.gpus_per_tray

    @property
    def restart_gpus(self) -> int:
        """GPUs whose engines restart when one tray fails [count]."""
        if self.instance_gpus >= self.gpus_per_tray:
            return self.instance_gpus
        return self.gpus_per_tray  # several small engines share the tray

    def serving_fraction(self, trays_out: int | np.ndarray) -> np.ndarray:
        """Share of a domain's GPUs that serve with ``trays_out`` trays out [1]."""
        x = np.asarray(trays_out)
        if self.instances_per_domain == 0:
            return np.where(x == 0, 1.0, 0.0)
        healthy = self.domain_gpus - x * self.gpus_per_tray
        fit = np.minimum(self.instances_per_domain, np.maximum(healthy, 0) // self.instance_gpus)
        frac = fit * self.instance_gpus / (self.instances_per_domain * self.instance_gpus)
        return np.where(x > self.cordon_trays_out, 0.0, frac)


def expected_serving_fraction(layout: ServingLayout, tray_down_share: float) -> float:
    """Expected share of serving capacity of the domains when each tray is out with probability
    ``tray_down_share`` independently (binomial in the trays) [1]; engines spanning ``k`` domains
    need all ``k`` intact."""
    n = layout.trays
    x = np.arange(n + 1)
    pmf = stats.binom.pmf(x, n, tray_down_share)
    if layout.instances_per_domain == 0:
        k = math.ceil(layout.instance_gpus / layout.domain_gpus)
        return float(pmf[0] ** k)
    return float(np.sum(pmf * layout.serving_fraction(x)))


def cordon_probability(layout: ServingLayout, tray_down_share: float) -> float:
    """Probability that a domain is cordoned (more than ``cordon_trays_out`` trays out) [1]."""
    return float(stats.binom.sf(layout.cordon_trays_out, layout.trays, tray_down_share))
