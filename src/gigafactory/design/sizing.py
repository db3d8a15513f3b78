"""From a power envelope to whole scalable units of compute racks, plus the racks, floor and
non-compute IT load that go with them."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from gigafactory.catalog import Catalog

#: NVIDIA DGX SuperPOD GB200 RA: one SU of 8 GB200 NVL72 racks is budgeted at 1.2 MW (TDP).
#: What the racks themselves do not use (1.2 MW - 8 x rack max) is the SU's network, storage
#: and management load; per GPU it is used for every system.
SU_BUDGET_GB200_W = 1.2e6
#: white space per AI rack incl. aisles: 30-50 sq ft (datacentres.com AI infrastructure guide, 2025); midpoint
WHITE_SPACE_M2_PER_RACK = 40 * 0.092903
#: AI halls flip the white/grey split to ~20/80 (Interglobix, 2025): grey (electrical and
#: mechanical) space = 4 x white space
GREY_PER_WHITE = 4.0
#: rack footprint 600 mm x 1200 mm (Open Rack / MGX class) for floor loading [m^2]
RACK_FOOTPRINT_M2 = 0.6 * 1.2
#: switches per network rack: 12 Quantum-X800 Q3400-RA in one network rack (Kedios B300 farm
#: planning report, 2026, low confidence)
SWITCHES_PER_NETWORK_RACK = 12
#: storage and management racks per scalable unit (assumption: one; the RAs read do not count them)
STORAGE_MGMT_RACKS_PER_SU = 1


def non_compute_w_per_gpu(cat: Catalog) -> float:
    """Network + storage + management IT load per GPU [W], from the GB200 SU power budget."""
    gb200 = cat.system("gb200-nvl72")
    su_racks = gb200.scalable_unit_units
    return max(0.0, (SU_BUDGET_GB200_W - su_racks * gb200.max_power_w) / (su_racks * gb200.gpus))


@dataclass(frozen=True)
class ComputeBlock:
    system_id: str
    scalable_units: int
    units: int  # racks (NVL72) or nodes (DGX)
    compute_racks: int
    gpus: int
    cpus: int
    compute_max_w: float
    compute_typical_w: float
    non_compute_w: float  # network, storage, management [W]

    @property
    def it_max_w(self) -> float:
        return self.compute_max_w + self.non_compute_w

    @property
    def it_typical_w(self) -> float:
        return self.compute_typical_w + self.non_compute_w


def su_it_max_w(cat: Catalog, system: Any) -> float:
    """IT load of one scalable unit at max power, non-compute share included [W]."""
    units = system.scalable_unit_units
    return units * system.max_power_w + units * system.gpus * non_compute_w_per_gpu(cat)


def compute_block(cat: Catalog, system: Any, scalable_units: int) -> ComputeBlock:
    units = scalable_units * system.scalable_unit_units
    per_rack = system.units_per_rack or 1
    gpus = units * system.gpus
    return ComputeBlock(
        system_id=system.id,
        scalable_units=scalable_units,
        units=units,
        compute_racks=math.ceil(units / per_rack),
        gpus=gpus,
        cpus=units * system.cpus,
        compute_max_w=units * system.max_power_w,
        compute_typical_w=units * system.typical_power_w,
        non_compute_w=gpus * non_compute_w_per_gpu(cat),
    )


def scalable_units_for_it_power(cat: Catalog, system: Any, it_budget_w: float) -> int:
    """Whole SUs whose max IT load fits in ``it_budget_w`` [count]."""
    return int(it_budget_w // su_it_max_w(cat, system))


@dataclass(frozen=True)
class Floor:
    racks_total: int
    white_space_m2: float
    grey_space_m2: float
    floor_area_m2: float
    rack_floor_loading_kg_per_m2: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "racks_total": self.racks_total,
            "white_space_m2": self.white_space_m2,
            "grey_space_m2": self.grey_space_m2,
            "floor_area_m2": self.floor_area_m2,
            "rack_floor_loading_kg_per_m2": self.rack_floor_loading_kg_per_m2,
        }


def floor_for(racks_total: int, system: Any) -> Floor:
    white = racks_total * WHITE_SPACE_M2_PER_RACK
    grey = white * GREY_PER_WHITE
    rack_kg = system.weight_kg * (system.units_per_rack or 1)
    return Floor(racks_total, white, grey, white + grey, rack_kg / RACK_FOOTPRINT_M2)


def floor_area_per_su_m2(cat: Catalog, system: Any) -> float:
    """Floor area one SU needs, network and storage racks included (approximately) [m^2]."""
    racks = math.ceil(system.scalable_unit_units / (system.units_per_rack or 1)) + STORAGE_MGMT_RACKS_PER_SU + 1
    return racks * WHITE_SPACE_M2_PER_RACK * (1 + GREY_PER_WHITE)
