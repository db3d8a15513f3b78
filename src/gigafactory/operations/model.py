"""Steady-state availability of one site: failures x handling times x blast radius.

For each failure class the events per second are ``rate x units``.  A failure whose part is
swapped keeps its unit out for detection + drain + the technicians' queue (M/M/c, Erlang C) +
the hands-on swap + the wait for a spare (METRIC backorders / rate); a reboot for detection +
reboot; a software fault only restarts its engine.  Tray-level outages give each tray a down
share, and the binomial law of trays out per rack (``blast.py``) the serving share, cordons
included; rack-level outages (NVLink switch tray, CDU) and planned maintenance take whole
racks; every tray failure and software fault also costs its engines a restart.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from gigafactory.operations.blast import (
    ServingLayout,
    cordon_probability,
    expected_serving_fraction,
)
from gigafactory.operations.catalog import FailureCatalog
from gigafactory.operations.reliability import (
    SECONDS_PER_YEAR,
    expected_backorders,
    fill_rate,
    mmc_wait_s,
)

TRAY_BLASTS = ("tray", "restart_tray")


@dataclass(frozen=True)
class SiteFleet:
    """What one site runs: counts per unit kind and the serving layouts with their GPU weights.

    units: count per ``per`` unit of the failure classes (gpu, tray, rack, fabric_gpu, shelf, switch_tray, cdu) [count].
    layouts: (layout, share of the site's GPUs serving with it) pairs; shares sum to 1 [1].
    """

    name: str
    units: dict[str, float]
    layouts: tuple[tuple[ServingLayout, float], ...]
    racks_per_cdu: float

    @property
    def gpus(self) -> float:
        return self.units["gpu"]


@dataclass(frozen=True)
class Decision:
    """Technician positions staffed around the clock [count] and spares on the shelf per FRU [count]."""

    technicians: int
    spares: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class SiteAvailability:
    """Steady-state figures of one site under one decision (all shares of the site's GPUs) [1]."""

    availability: float
    tray_down_share: float
    cordon_probability: float
    lost_trays: float  # share lost to trays out (cordons included)
    lost_racks: float  # share lost to rack-level outages (switch tray, CDU)
    lost_maintenance: float
    lost_restarts: float
    events_per_year: dict[str, float]
    swap_events_per_s: float
    technician_wait_s: float
    technician_utilisation: float
    part_wait_s: dict[str, float]
    fill_rate: dict[str, float]


def class_events_per_s(fc: FailureCatalog, fleet: SiteFleet, multiplier: float = 1.0) -> dict[str, float]:
    """Failures per second of each class at the site; ``multiplier`` scales hardware classes (early life) [1/s]."""
    out = {}
    for c in fc.classes.values():
        m = multiplier if c.fru is not None else 1.0
        out[c.name] = c.rate_per_s * fleet.units.get(c.per, 0.0) * m
    return out


def fru_events_per_s(fc: FailureCatalog, events: dict[str, float]) -> dict[str, float]:
    out = {f: 0.0 for f in fc.frus}
    for name, e in events.items():
        f = fc.classes[name].fru
        if f is not None:
            out[f] += e
    return out


def site_availability(fc: FailureCatalog, fleet: SiteFleet, decision: Decision, multiplier: float = 1.0,
                      extra_down_s: dict[str, float] | None = None, technician_wait_s: float | None = None,
                      part_wait_s: dict[str, float] | None = None) -> SiteAvailability:
    """Steady-state availability of ``fleet`` under ``decision`` (module docstring).
    ``extra_down_s`` adds seconds of outage per failure of an FRU (for marginal values);
    ``technician_wait_s`` and ``part_wait_s`` fix the crew's and the spares' waits (young units within
    a site whose crew and spares serve the whole site's blended failure rate)."""
    h = fc.handling
    detect, restart, reboot = h["detect"].value, h["restart"].value, h["reboot"].value
    drain = 0.0  # the engine drains within the restart time (automated drain-and-replace)
    events = class_events_per_s(fc, fleet, multiplier)
    fru_ev = fru_events_per_s(fc, events)
    # technicians: every part swap is one job of the FRU's hands-on time
    swap_rate = sum(fru_ev.values())
    mean_swap = sum(fru_ev[f] * fc.frus[f].swap.value for f in fru_ev) / swap_rate if swap_rate > 0 else 1.0
    wait = mmc_wait_s(decision.technicians, swap_rate, mean_swap) if technician_wait_s is None else technician_wait_s
    util = swap_rate * mean_swap / decision.technicians if decision.technicians > 0 else math.inf
    part_wait: dict[str, float] = {}
    fill: dict[str, float] = {}
    for f, e in fru_ev.items():
        m = e * fc.frus[f].lead.value
        s = decision.spares.get(f, 0)
        part_wait[f] = float(expected_backorders(s, m)) / e if e > 0 else 0.0
        if part_wait_s is not None:
            part_wait[f] = part_wait_s[f]
        fill[f] = 1.0 if m == 0 else float(fill_rate(s, m))
    extra = extra_down_s or {}

    def swap_down(fru: str) -> float:
        return detect + drain + wait + fc.frus[fru].swap.value + part_wait[fru] + extra.get(fru, 0.0)

    trays = fleet.units.get("tray", 0.0)
    racks = fleet.units.get("rack", 0.0)
    gpus = fleet.gpus
    tray_x = 0.0  # sum over tray classes of rate per tray x down time
    rack_x = 0.0
    restart_gpu_s = 0.0  # per second of the site
    for c in fc.classes.values():
        e = events[c.name]
        if e <= 0:
            continue
        if c.blast in TRAY_BLASTS:
            down = swap_down(c.fru) if c.fru else detect + reboot
            tray_x += e / trays * down if trays else 0.0
        elif c.blast == "rack":
            rack_x += e / racks * swap_down(c.fru) if racks else 0.0
        elif c.blast == "cdu_racks":
            down = detect + h["cdu_repair"].value + (part_wait[c.fru] + extra.get(c.fru, 0.0) if c.fru else 0.0)
            rack_x += e * fleet.racks_per_cdu / racks * down if racks else 0.0
        if c.blast in TRAY_BLASTS or c.blast == "restart_instance":
            for lay, w in fleet.layouts:
                g = lay.restart_gpus if c.blast in TRAY_BLASTS else lay.instance_gpus
                restart_gpu_s += e * w * g * (detect + restart)
    q = tray_x / (1.0 + tray_x)  # alternating renewal: (rate x down) / (1 + rate x down)
    serve_trays = sum(w * expected_serving_fraction(lay, q) for lay, w in fleet.layouts)
    cordon = sum(w * cordon_probability(lay, q) for lay, w in fleet.layouts)
    rack_down = rack_x / (1.0 + rack_x)
    maint = h_maintenance_share(fc)
    lost_restarts = restart_gpu_s / gpus if gpus else 0.0
    avail = max(0.0, (1.0 - rack_down) * (1.0 - maint) * serve_trays - lost_restarts)
    return SiteAvailability(
        availability=avail, tray_down_share=q, cordon_probability=cordon, lost_trays=1.0 - serve_trays, lost_racks=rack_down,
        lost_maintenance=maint, lost_restarts=lost_restarts,
        events_per_year={k: v * SECONDS_PER_YEAR for k, v in events.items()}, swap_events_per_s=swap_rate,
        technician_wait_s=wait, technician_utilisation=util, part_wait_s=part_wait, fill_rate=fill)


def h_maintenance_share(fc: FailureCatalog) -> float:
    """Share of time a rack is drained for planned maintenance [1]."""
    return fc.lifecycle["maintenance"].value / SECONDS_PER_YEAR


def scaled_catalog(fc: FailureCatalog, factor: float) -> FailureCatalog:
    """The catalog with every failure rate times ``factor`` (sensitivity and property tests)."""
    classes = {n: replace(c, rate=replace(c.rate, value=c.rate.value * factor)) for n, c in fc.classes.items()}
    return replace(fc, classes=classes)
