"""Bill of materials and capital cost.

GPU systems, network and power-chain equipment are priced bottom-up from catalog unit
prices.  The facility (power and cooling installation, shell, site, white space, back of
house, office) is priced top-down: the cost profile's construction cost per W of critical IT
(Cushman & Wakefield 2025, AI premium included) x the region's construction cost index,
split by Cushman & Wakefield's cost breakdown.  The "critical capacity" share is split between
power and cooling by the electrical / mechanical shares of hard cost (Cortex Construct 2026).

Scope (issue 14): Cushman & Wakefield's cost per MW *excludes* owner-furnished, contractor-
installed (OFCI) equipment, design/soft costs, owner-held contingencies and land.  On data-centre
projects the OFCI items are the long-lead power and cooling plant (generators, switchgear,
UPS, chillers: irecruit.co, "OFCI vs CFCI procurement", 2026), which is what the BOM itemises,
so the itemised equipment is added on top of the construction cost (until issue 14 it was taken
out of the critical-capacity share, which counted it as inside C&W's scope).  Soft costs and
contingency are added as their own lines on the hard cost (construction + itemised equipment)
when the cost profile gives them; commissioning and land are added by the designer.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gigafactory.catalog import Catalog

#: Electrical 25-30 % and mechanical 20-25 % of data-centre hard cost (Cortex Construct, "Data
#: center construction cost breakdown", 2026): power's share of the electrical + mechanical
#: ("critical capacity") cost, midpoints: 27.5 / (27.5 + 22.5).
POWER_SHARE_OF_CRITICAL = 27.5 / (27.5 + 22.5)
POWER_SHARE_SOURCE = "https://www.cortexconstruct.com/blog/data-center-construction-cost-breakdown (secondary, 2026)"

#: Bernstein (2025): storage is 1.4 % of an all-in GB200 NVL72 build of $5.9M per rack
#: -> $1,147 per GPU (derived), used for every system.
STORAGE_USD_PER_GPU = 0.014 * 5.9e6 / 72


@dataclass(frozen=True)
class BomLine:
    category: str  # gpu_systems | network | storage | power | cooling | building | soft_costs
    item: str  # catalog id or description
    count: float
    unit_cost_usd: float | None  # None: no sourced price (not in the total)
    source: str

    @property
    def total_usd(self) -> float:
        return 0.0 if self.unit_cost_usd is None else self.count * self.unit_cost_usd

    def as_dict(self) -> dict[str, Any]:
        return {"category": self.category, "item": self.item, "count": self.count, "unit_cost_usd": self.unit_cost_usd,
                "total_usd": self.total_usd, "source": self.source}


def _price(entry: Any) -> tuple[float | None, str]:
    prov = entry.provenance.get("price_usd")
    if entry.price_usd is None or prov is None:
        return None, "no sourced price"
    return float(entry.price_usd), f"{prov.source[0]} ({prov.confidence}, {prov.date})"


def catalog_line(cat: Catalog, kind: str, ident: str, count: float, category: str) -> BomLine:
    entry = cat.get(kind, ident)
    price, src = _price(entry)
    return BomLine(category, entry.id, count, price, src)


def facility_lines(cat: Catalog, cost_profile: Any, region: Any, critical_it_w: float, power_equipment_usd: float, cooling_equipment_usd: float) -> list[BomLine]:
    """Top-down facility cost, split into power, cooling and building lines, plus soft-cost and
    contingency lines on the hard cost (construction + the itemised owner-furnished equipment,
    ``power_equipment_usd`` + ``cooling_equipment_usd``, which the caller lists itself)."""
    per_w = cost_profile.construction_usd_per_w * region.construction_cost_index
    src = f"{cost_profile.provenance['construction_usd_per_w'].source[0]} x region index {region.construction_cost_index:g}"
    split_src = f"{src}; power/cooling split {POWER_SHARE_OF_CRITICAL:.0%}/{1 - POWER_SHARE_OF_CRITICAL:.0%}: {POWER_SHARE_SOURCE}"
    critical = cost_profile.construction_breakdown_critical_capacity_fraction
    p_share = POWER_SHARE_OF_CRITICAL
    # Owner-furnished equipment is outside C&W's scope: the critical-capacity share is the
    # contractor's electrical and mechanical work and materials, in full.
    lines = [
        BomLine("power", "electrical construction, contractor-furnished (per W of critical IT; excl. owner-furnished equipment)", critical_it_w,
                per_w * critical * p_share, split_src),
        BomLine("cooling", "mechanical construction, contractor-furnished (per W of critical IT; excl. owner-furnished equipment)", critical_it_w,
                per_w * critical * (1 - p_share), split_src),
    ]
    for name in ("shell", "site", "white_space", "back_of_house", "office"):
        frac = getattr(cost_profile, f"construction_breakdown_{name}_fraction", None) or 0.0
        lines.append(BomLine("building", f"{name.replace('_', ' ')} (construction breakdown {frac:.0%})", critical_it_w, per_w * frac, src))
    hard = sum(x.total_usd for x in lines) + power_equipment_usd + cooling_equipment_usd
    for attr, label in (("soft_costs_fraction_of_construction", "design, engineering, permits, builder's risk"),
                        ("contingency_fraction_of_construction", "owner-held construction contingency")):
        frac = getattr(cost_profile, attr, None)
        if frac:
            prov = cost_profile.provenance[attr]
            lines.append(BomLine("soft_costs", f"{label} ({frac:.1%} of facility hard cost)", 1, hard * frac,
                                 f"{prov.source[0]} ({prov.confidence}, {prov.date})"))
    return lines


def capex_breakdown(lines: list[BomLine]) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in lines:
        out[line.category] = out.get(line.category, 0.0) + line.total_usd
    return out
