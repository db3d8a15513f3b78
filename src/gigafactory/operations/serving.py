"""Failures in the serving simulator: a schedule of typed interrupts for a pool's replicas.

Each simulated replica (an engine instance of ``instance_gpus`` GPUs) fails as a Poisson process
at the sum over hardware and software classes of (rate per GPU-equivalent x GPUs) and is out for
the class's outage (detection + restart when in-rack slack lets it re-form, or the swap time when
not).  The simulation kernel applies each interrupt: the replica's requests are retried
elsewhere (or fail) and routing skips it until its repair (``simulate/engine.py: Pool.interrupt``).

Real rates give about one failure per replica-year, too few to see in an hour's run; the run
therefore compresses time for failures by ``time_compression`` and the loss per failure it
measures is scaled back to the real rate (failures far apart act independently, so the loss is
linear in their rate).
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from gigafactory.operations.catalog import FailureCatalog
from gigafactory.simulate.kernel import Interrupt


@dataclasses.dataclass(frozen=True)
class ReplicaFailureModel:
    """Per replica: failure rate [1/s] and mean outage [s] by cause."""

    rate_per_s: dict[str, float]
    down_s: dict[str, float]

    @property
    def total_rate_per_s(self) -> float:
        return sum(self.rate_per_s.values())


def replica_failure_model(fc: FailureCatalog, instance_gpus: int, gpus_per_tray: int, slack_trays: int,
                          tray_swap_down_s: float) -> ReplicaFailureModel:
    """Failure rates of one engine instance and how long each cause keeps it out.

    Tray-level causes hit the trays the instance spans; with in-rack slack the instance re-forms
    after detection + restart, without it it waits for the swap (``tray_swap_down_s``)."""
    h = fc.handling
    restart = h["detect"].value + h["restart"].value
    trays = max(1, -(-instance_gpus // gpus_per_tray))
    rates, downs = {}, {}
    for c in fc.classes.values():
        if c.blast in ("tray", "restart_tray"):
            per_tray = c.rate_per_s * (gpus_per_tray if c.per == "gpu" else 1.0)
            rates[c.name] = per_tray * trays
            if c.blast == "restart_tray":
                downs[c.name] = h["detect"].value + h["reboot"].value if slack_trays == 0 else restart
            else:
                downs[c.name] = tray_swap_down_s if slack_trays == 0 else restart
        elif c.blast == "restart_instance":
            rates[c.name] = c.rate_per_s * instance_gpus
            downs[c.name] = restart
    return ReplicaFailureModel(rates, downs)


def failure_schedule(model: ReplicaFailureModel, pool: str, replicas: int, duration_s: float, rng: np.random.Generator,
                     time_compression: float = 1.0) -> list[tuple[float, Interrupt]]:
    """Failure interrupts of ``replicas`` replicas over ``duration_s`` (each carries its cause and outage),
    sorted by time then replica; the kernel schedules each repair."""
    causes = sorted(model.rate_per_s)
    rates = np.array([model.rate_per_s[c] for c in causes]) * time_compression
    total = rates.sum()
    out: list[tuple[float, Interrupt]] = []
    if total <= 0:
        return out
    for r in range(replicas):
        t = rng.exponential(1.0 / total)
        while t < duration_s:
            cause = causes[int(rng.choice(len(causes), p=rates / total))]
            down = model.down_s[cause]
            out.append((float(t), Interrupt(cause, pool, r, up=False, down_s=down)))
            t += down + rng.exponential(1.0 / total)  # a replica fails again only once it is back
    out.sort(key=lambda x: (x[0], x[1].replica))
    return out


def inject(sim: Any, schedule: list[tuple[float, Interrupt]], max_retries: int = 1) -> list[tuple[float, Interrupt, int]]:
    """Put ``schedule`` on ``sim``'s event queue; returns a log filled by an interrupt hook:
    (time, interrupt, requests it took off the replica)."""
    log: list[tuple[float, Interrupt, int]] = []
    for pool in sim.pools:
        pool.max_retries = max_retries
    sim.interrupt_hooks.append(lambda now, intr, lost: log.append((now, intr, len(lost))))
    for t, intr in schedule:
        sim.schedule_interrupt(t, intr)
    return log
