"""Power chain: utility substation -> MV switchgear -> MV/LV transformers -> UPS -> busway/PDU
-> racks, with redundancy and losses.

Losses compound along the chain; equipment counts include redundancy:
``N`` (none), ``N+1`` (one spare per block of up to ``BLOCK`` active units, the usual
distributed-redundant arrangement of Tier III designs), ``2N`` (a full second path).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from gigafactory.catalog import Catalog
from gigafactory.errors import InputError

REDUNDANCY = ("N", "N+1", "2N")
BLOCK = 4  # active units per redundant spare under N+1
POWER_FACTOR = 0.95  # kW per kVA at the transformers and UPS (modern IT load with PFC)
#: busway / PDU / cabling loss between UPS output and the rack power shelves [1]
#: (typical 1 % design allowance; the rack's own AC->DC conversion is inside the rack's power).
DISTRIBUTION_LOSS = 0.01

#: default catalog equipment for each stage
EQUIPMENT = {
    "substation": "transformer-lpt-100mva",
    "switchgear": "switchgear-mv",
    "transformer": "transformer-5mva",
    "ups": "ups-1200kva",
    "generator": "generator-diesel-2mw",
}


def units_with_redundancy(active: int, redundancy: str) -> int:
    """Installed units for ``active`` needed ones [count]."""
    if redundancy not in REDUNDANCY:
        raise InputError.single(f"unknown redundancy '{redundancy}'", field="redundancy", value=redundancy, expected=" / ".join(REDUNDANCY), fix="use N+1")
    if active <= 0:
        return 0
    if redundancy == "N":
        return active
    if redundancy == "2N":
        return 2 * active
    return active + math.ceil(active / BLOCK)


def chain_loss_fraction(transformer_efficiency: float, ups_efficiency: float, distribution_loss: float = DISTRIBUTION_LOSS) -> float:
    """Power lost between the utility meter and the racks, as a share of IT power [1]."""
    delivered = transformer_efficiency * ups_efficiency * (1 - distribution_loss)
    return 1 / delivered - 1


@dataclass(frozen=True)
class PowerChain:
    it_max_w: float  # IT load the chain is designed for [W]
    mechanical_w: float  # cooling load at the design hour [W]
    facility_w: float  # design load at the utility [W]
    loss_fraction: float  # chain losses over IT power [1]
    ups_mode: str
    equipment: tuple[tuple[str, int], ...]  # (catalog id, installed count)
    redundancy: dict[str, str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "it_max_mw": self.it_max_w / 1e6,
            "mechanical_mw": self.mechanical_w / 1e6,
            "facility_design_mw": self.facility_w / 1e6,
            "loss_fraction": self.loss_fraction,
            "ups_mode": self.ups_mode,
            "equipment": [{"id": i, "count": n} for i, n in self.equipment],
            "redundancy": dict(self.redundancy),
        }


def chain_efficiencies(cat: Catalog, ups_mode: str = "eco") -> tuple[float, float]:
    """(transformer efficiency, UPS efficiency) from the catalog's default equipment."""
    tr = cat.get("facility", EQUIPMENT["transformer"])
    ups = cat.get("facility", EQUIPMENT["ups"])
    ups_eff = ups.eco_mode_efficiency if ups_mode == "eco" and ups.eco_mode_efficiency else ups.efficiency
    return float(tr.efficiency), float(ups_eff)


def size_power_chain(
    cat: Catalog, it_max_w: float, mechanical_w: float, ups_mode: str = "eco", redundancy: dict[str, str] | None = None, generators: bool = True,
) -> PowerChain:
    """Size every stage for the IT load (UPS-backed) plus the mechanical load (transformers,
    switchgear, generators, substation)."""
    red = {"substation": "N+1", "switchgear": "N+1", "transformer": "N+1", "ups": "N+1", "generator": "N+1", **(redundancy or {})}
    tr_eff, ups_eff = chain_efficiencies(cat, ups_mode)
    loss = chain_loss_fraction(tr_eff, ups_eff)
    facility_w = it_max_w * (1 + loss) + mechanical_w
    ent = {k: cat.get("facility", v) for k, v in EQUIPMENT.items()}
    va = facility_w / POWER_FACTOR
    counts: list[tuple[str, int]] = []
    sub_active = math.ceil(va / ent["substation"].capacity_va)
    counts.append((EQUIPMENT["substation"], units_with_redundancy(sub_active, red["substation"])))
    tr_active = math.ceil(va / ent["transformer"].capacity_va)
    counts.append((EQUIPMENT["transformer"], units_with_redundancy(tr_active, red["transformer"])))
    # one MV switchgear line-up per substation transformer feeder group of BLOCK unit transformers
    sw_active = math.ceil(tr_active / BLOCK)
    counts.append((EQUIPMENT["switchgear"], units_with_redundancy(sw_active, red["switchgear"])))
    ups_active = math.ceil(it_max_w / ent["ups"].capacity_w)
    counts.append((EQUIPMENT["ups"], units_with_redundancy(ups_active, red["ups"])))
    if generators:
        gen_active = math.ceil(facility_w / ent["generator"].capacity_w)
        counts.append((EQUIPMENT["generator"], units_with_redundancy(gen_active, red["generator"])))
    return PowerChain(it_max_w, mechanical_w, facility_w, loss, ups_mode, tuple(counts), red)
