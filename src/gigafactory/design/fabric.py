"""Scale-out network fabrics: compute (east-west), converged front-end (north-south + storage)
and out-of-band management, sized as the NVIDIA DGX SuperPOD reference architectures do.

The compute fabric is a rail-optimised fat tree (Clos).  With switches of radix ``k``:

* at 1:1 a leaf uses ``k/2`` ports towards endpoints (``down``) and ``k/2`` towards spines
  (``up``); at oversubscription ``o`` any split with ``k/2 <= down <= o * up`` is allowed and
  the one giving the fewest switches is kept (``plane_tiers``);
* leaves = ``ceil(endpoint ports / down)`` — rail optimisation only decides *which* endpoint
  ports share a leaf (one rail of one scalable unit), not how many leaves there are;
* **2 tiers** (up to ``k`` leaves): every leaf spreads its ``up`` links evenly over all
  spines, so the spine count is the smallest divisor of ``up`` that is at least
  ``leaves * up / k``;
* **3 tiers** (up to ``k`` pods of ``k/2`` leaves): each pod has ``up`` spines (one link from
  every leaf of the pod to each), and spines split 1:1.  Spine ``j`` of every pod joins core
  group ``j``; a group has the smallest divisor of the spine's ``k/2`` uplinks that is at least
  ``pods * (k/2) / k`` core switches.

These rules reproduce every row of the published SuperPOD tables (B300 XDR, B300 Spectrum-X,
B200 NDR, H100 NDR; see ``tests/test_design_fabric.py``).  Multi-plane fabrics (Spectrum-X
twin-plane: every GPU has 2 x 400G, one into each of two independent fabrics) are sized one
plane at a time and the switch counts added.

Counting conventions (one place, so BOM and power agree):

* ``links``: cabled links, one cable each (``cables`` = sum of ``links``);
* ``transceivers``: optical modules.  Each optical link has a module at both ends.  The switch
  end sits in a **twin-port OSFP** cage (QM9700: 32 cages for 64 ports; Q3400: 72 for 144;
  SN5600 run as 128 x 400G: 64 cages), so one module serves ``SWITCH_PORTS_PER_MODULE`` = 2
  switch ports; the endpoint (NIC) end takes one single-port module per NIC port;
* ``nics``: one NIC per GPU (or host) however many planes it feeds (ConnectX-8 runs 2 x 400G).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from gigafactory.catalog import Catalog
from gigafactory.errors import InputError

TECHNOLOGIES = ("infiniband", "ethernet")
#: switch ports served by one switch-side optical module (twin-port OSFP cages) [count]
SWITCH_PORTS_PER_MODULE = 2
#: Spectrum-4 compute and front-end fabrics run their 800G cages as 2 x 400G (SuperPOD B300
#: Spectrum-X RA: each GPU 2 x 400GbE into two planes; SN5600 = 128 x 400GbE) [bit/s]
ETHERNET_LANE_SPEED_BITS_PER_S = 400e9
#: default compute switch by (technology, per-GPU scale-out bandwidth [bit/s])
COMPUTE_SWITCH = {
    ("infiniband", 400e9): "quantum-2-qm9700",
    ("infiniband", 800e9): "quantum-x800-q3400",
    ("infiniband", 1600e9): "quantum-x800-q3400",  # 2 x 800G planes (no 1.6T switch in the catalog)
    ("ethernet", 400e9): "spectrum-4-sn5600",
    ("ethernet", 800e9): "spectrum-4-sn5600",  # twin-plane 2 x 400G (B300 Spectrum-X RA)
    ("ethernet", 1600e9): "spectrum-4-sn5600",  # 4 x 400G planes
}
#: default scale-out NIC by per-GPU bandwidth [bit/s]
COMPUTE_NIC = {400e9: "connectx-7", 800e9: "connectx-8"}
FRONTEND_SWITCH = "spectrum-4-sn5600"
FRONTEND_NIC = "bluefield-3"
OOB_SWITCH = "spectrum-sn2201"
#: GPUs per compute tray of a rack-scale (NVL72) system: 18 trays x 4 GPUs [count]
GPUS_PER_COMPUTE_TRAY = 4
#: OOB switches per rack: 2 x SN2201 per GB300 NVL72 rack (NVL72 enterprise RA); one per rack
#: of nodes is an assumption (4 DGX per rack need ~4 BMC + 4 host ports + PDUs) [count]
OOB_SWITCHES_PER_RACK = {"rack": 2, "node": 1}


@dataclass(frozen=True)
class FabricTier:
    name: str  # "leaf" | "spine" | "core"
    switches: int  # switches in this tier, all planes [count]
    switch_id: str  # catalog network id
    down_ports: int  # ports used towards the tier below, per switch (at most) [count]
    up_ports: int  # ports used towards the tier above, per switch [count]


@dataclass(frozen=True)
class FabricDesign:
    name: str  # "compute", "frontend", "oob"
    technology: str  # "infiniband" | "ethernet"
    endpoints: int  # endpoint ports attached, all planes [count]
    port_speed_bits_per_s: float  # line rate of one fabric port [bit/s]
    oversubscription: float  # leaf down/up port ratio [1]
    tiers: tuple[FabricTier, ...]
    links: dict[str, int]  # cabled links by layer ("node-leaf", "leaf-spine", "spine-core") [count]
    nics: int  # endpoint NICs [count]
    transceivers: int  # optical modules, twin-port at switch ends (module docstring) [count]
    cables: int  # one per link [count]
    planes: int = 1  # independent parallel fabrics [count]
    nic_id: str = ""  # catalog network id of the endpoint NIC ("" when built in / unknown)

    def switch_count(self) -> int:
        """Switches in all tiers and planes [count]."""
        return sum(t.switches for t in self.tiers)

    def tier(self, name: str) -> FabricTier | None:
        """The tier called ``name`` ("leaf", "spine", "core"), or None when the fabric has none."""
        return next((t for t in self.tiers if t.name == name), None)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["tiers"] = [asdict(t) for t in self.tiers]
        out["links"] = dict(self.links)
        out["switches"] = self.switch_count()
        return out


# --------------------------------------------------------------------------- pure arithmetic


def leaf_port_split(switch_ports: int, oversubscription: float = 1.0) -> tuple[int, int]:
    """(down, up) ports of a leaf so that down/up is at most ``oversubscription``.

    switch_ports: radix of the leaf switch [count]
    oversubscription: wanted down/up bandwidth ratio, >= 1 [1]
    """
    down = math.floor(switch_ports * oversubscription / (1 + oversubscription) + 1e-9)
    up = math.ceil(down / oversubscription - 1e-9)
    return down, up


def smallest_divisor_at_least(n: int, minimum: int) -> int:
    """Smallest divisor of ``n`` that is >= ``minimum`` (``n`` itself at worst) [count].

    n: number to divide, > 0 [count]
    minimum: lower bound [count]
    """
    for d in range(max(1, minimum), n + 1):
        if n % d == 0:
            return d
    return n


def two_tier_capacity(switch_ports: int, oversubscription: float = 1.0) -> int:
    """Most endpoint ports a 2-tier tree of this radix serves: ``k`` leaves of ``down`` ports [count].

    switch_ports: switch radix [count]
    oversubscription: leaf down/up ratio [1]
    """
    return switch_ports * leaf_port_split(switch_ports, oversubscription)[0]


def three_tier_capacity(switch_ports: int, oversubscription: float = 1.0) -> int:
    """Most endpoint ports a 3-tier tree serves: ``k`` pods of ``k/2`` leaves [count].

    switch_ports: switch radix [count]
    oversubscription: leaf down/up ratio [1]
    """
    return switch_ports * (switch_ports // 2) * leaf_port_split(switch_ports, oversubscription)[0]


def leaf_splits(switch_ports: int, oversubscription: float = 1.0) -> list[tuple[int, int]]:
    """Every (down, up) leaf port split worth considering: at least 1:1 down (never more leaves
    than a non-blocking tree), down/up at most ``oversubscription``, down + up within the radix.

    At 1:1 with an even radix this is the single split (k/2, k/2) of the published tables.

    switch_ports: radix of the leaf switch [count]
    oversubscription: largest acceptable down/up ratio, >= 1 [1]
    """
    most_down = leaf_port_split(switch_ports, oversubscription)[0]
    return [
        (down, up)
        for down in range(switch_ports // 2, most_down + 1)
        for up in range(math.ceil(down / oversubscription - 1e-9), switch_ports - down + 1)
        if up >= 1
    ]


def tree_for_split(endpoints: int, switch_ports: int, down: int, up: int) -> tuple[tuple[tuple[str, int, int, int], ...], dict[str, int]] | None:
    """Switch tiers and links of one plane for a given leaf split, or None beyond 3 tiers.

    Returns ``((name, switches, down_ports, up_ports), ...)`` and ``{"node-leaf": n, ...}``.

    endpoints: endpoint ports in this plane, > 0 [count]
    switch_ports: switch radix [count]
    down: leaf ports towards endpoints [count]
    up: leaf ports towards spines [count]
    """
    leaves = math.ceil(endpoints / down)
    if leaves == 1:  # one switch is the whole fabric
        return (("leaf", 1, endpoints, 0),), {"node-leaf": endpoints}
    links = {"node-leaf": endpoints, "leaf-spine": leaves * up}
    leaf = ("leaf", leaves, down, up)
    if leaves <= switch_ports:  # 2 tiers: every leaf spreads its uplinks evenly over all spines
        spines = smallest_divisor_at_least(up, math.ceil(leaves * up / switch_ports))
        return (leaf, ("spine", spines, leaves * up // spines, 0)), links
    pod_leaves = switch_ports // 2
    spine_up = pod_leaves
    pods = math.ceil(leaves / pod_leaves)
    if pods > switch_ports:
        return None
    spines = pods * up
    group_cores = smallest_divisor_at_least(spine_up, math.ceil(pods * spine_up / switch_ports))
    links["spine-core"] = spines * spine_up
    tiers = (leaf, ("spine", spines, min(leaves, pod_leaves), spine_up), ("core", up * group_cores, pods * spine_up // group_cores, 0))
    return tiers, links


def plane_tiers(endpoints: int, switch_ports: int, oversubscription: float = 1.0) -> tuple[tuple[tuple[str, int, int, int], ...], dict[str, int]]:
    """Switch tiers and links of one plane of a fat tree: the leaf split of ``leaf_splits`` with
    the fewest switches (then fewest above the leaves, then most down ports).

    At 1:1 only the half-down/half-up split exists, so this is the published SuperPOD rule;
    above 1:1 the search avoids awkward uplink counts (a prime number of uplinks can only be
    spread evenly over 1 or that many spines).

    endpoints: endpoint ports in this plane, > 0 [count]
    switch_ports: switch radix [count]
    oversubscription: largest acceptable leaf down/up ratio, >= 1 [1]
    """
    best, best_key = None, None
    for down, up in leaf_splits(switch_ports, oversubscription):
        tree = tree_for_split(endpoints, switch_ports, down, up)
        if tree is None:
            continue
        counts = [t[1] for t in tree[0]]
        key = (sum(counts), sum(counts[1:]), -down, up)
        if best_key is None or key < best_key:
            best, best_key = tree, key
    if best is None:
        raise InputError.single(
            f"{endpoints} endpoint ports exceed a 3-tier fat tree of {switch_ports}-port switches",
            field="endpoints", value=endpoints, expected=f"<= {three_tier_capacity(switch_ports, oversubscription)} per plane", fix="add planes or use a higher-radix switch",
        )
    return best


def transceiver_count(links: dict[str, int], optical_links: tuple[str, ...], ports_per_module: int = SWITCH_PORTS_PER_MODULE) -> int:
    """Optical modules for the optical layers of ``links`` [count].

    Switch ends: ``ceil(links / ports_per_module)`` (twin-port OSFP); the endpoint end of
    "node-leaf": one module per link.

    links: cabled links by layer [count]
    optical_links: layers run on fibre (others are copper DAC/ACC)
    ports_per_module: switch ports one switch-side module serves [count]
    """
    total = 0
    for layer, n in links.items():
        if layer not in optical_links:
            continue
        switch_ends = 1 if layer == "node-leaf" else 2
        total += switch_ends * math.ceil(n / ports_per_module) + (n if layer == "node-leaf" else 0)
    return total


# --------------------------------------------------------------------------- checks


def _require_count(name: str, value: Any, fix: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise InputError.single(f"{name} must be a positive whole number", field=name, value=value, expected="integer > 0", fix=fix)


def _check_tree_inputs(endpoints: int, switch_ports: int, oversubscription: float, planes: int, technology: str) -> None:
    _require_count("endpoints", endpoints, "attach at least one endpoint port")
    if not isinstance(switch_ports, int) or switch_ports < 2:
        raise InputError.single("a fat-tree switch needs at least 2 ports", field="switch_ports", value=switch_ports, expected="integer >= 2", fix="use the switch's port count from the catalog")
    if not isinstance(oversubscription, (int, float)) or not 1 <= oversubscription < math.inf:
        raise InputError.single("oversubscription below 1:1 buys unused spine capacity", field="oversubscription", value=oversubscription, expected=">= 1 (leaf down/up ratio)", fix="use 1.0 for a non-blocking fabric")
    if not isinstance(planes, int) or planes < 1:
        raise InputError.single("a fabric has at least one plane", field="planes", value=planes, expected="integer >= 1", fix="use 1 (2 for Spectrum-X twin-plane)")
    if technology not in TECHNOLOGIES:
        raise InputError.single(f"unknown fabric technology '{technology}'", field="technology", value=technology, expected=" / ".join(TECHNOLOGIES), fix="use infiniband or ethernet")
    per_plane = math.ceil(endpoints / planes)
    limit = three_tier_capacity(switch_ports, oversubscription)
    if per_plane > limit:
        raise InputError.single(
            f"{per_plane} endpoint ports per plane exceed a 3-tier fat tree of {switch_ports}-port switches ({limit})",
            field="endpoints", value=endpoints, expected=f"<= {limit * planes} over {planes} plane(s)", fix="add planes or use a higher-radix switch",
        )


def _switch(cat: Catalog, switch_id: str, technology: str = "") -> Any:
    entry = cat.get("network", switch_id, field_name="switch_id")
    if entry.category != "switch" or not entry.ports:
        raise InputError.single(f"'{switch_id}' is a {entry.category}, not a switch", field="switch_id", value=switch_id, expected="a switch from `gigafactory catalog list network`", fix="use e.g. quantum-x800-q3400 or spectrum-4-sn5600")
    if technology and entry.technology not in (technology, "both"):
        raise InputError.single(f"'{switch_id}' is an {entry.technology} switch, not {technology}", field="switch_id", value=switch_id, expected=f"a {technology} switch", fix="pick a switch of the fabric's technology or change technology")
    return entry


# --------------------------------------------------------------------------- designs


def size_fat_tree(
    endpoints: int,
    switch_ports: int,
    oversubscription: float = 1.0,
    name: str = "compute",
    technology: str = "infiniband",
    switch_id: str = "",
    port_speed_bits_per_s: float = 0.0,
    planes: int = 1,
    optical_links: tuple[str, ...] = ("leaf-spine", "spine-core"),
    nic_id: str = "",
) -> FabricDesign:
    """Rail-optimised fat tree: 2 tiers (leaf/spine), 3 (leaf/spine/core) beyond ``k * down``.

    Pure: no catalog.  ``endpoints`` are split evenly over ``planes`` independent fabrics;
    switch counts and links are totals over all planes.

    endpoints: endpoint ports attached, all planes [count]
    switch_ports: ports per switch at ``port_speed_bits_per_s`` (radix) [count]
    oversubscription: leaf down/up port ratio, >= 1 [1]
    name: fabric name ("compute", "frontend", "oob")
    technology: "infiniband" or "ethernet"
    switch_id: catalog id of the switch used in every tier
    port_speed_bits_per_s: line rate of one port [bit/s]
    planes: independent parallel fabrics [count]
    optical_links: link layers run on optics ("node-leaf", "leaf-spine", "spine-core")
    nic_id: catalog id of the endpoint NIC
    """
    _check_tree_inputs(endpoints, switch_ports, oversubscription, planes, technology)
    per_plane, links_one = plane_tiers(math.ceil(endpoints / planes), switch_ports, oversubscription)
    tiers = tuple(FabricTier(n, s * planes, switch_id, d, u) for n, s, d, u in per_plane)
    links = {layer: n * planes for layer, n in links_one.items()}
    links["node-leaf"] = endpoints
    return FabricDesign(
        name=name,
        technology=technology,
        endpoints=endpoints,
        port_speed_bits_per_s=float(port_speed_bits_per_s),
        oversubscription=float(oversubscription),
        tiers=tiers,
        links=links,
        nics=math.ceil(endpoints / planes),
        transceivers=transceiver_count(links, tuple(optical_links)),
        cables=sum(links.values()),
        planes=planes,
        nic_id=nic_id,
    )


def fabric_port_speed(switch: Any, technology: str, nic_bits_per_s: float) -> float:
    """Line rate one switch port runs at [bit/s]: Ethernet breaks 800G cages into 400G ports;
    a port never runs faster than the NIC feeding it.

    switch: catalog switch entry
    technology: "infiniband" or "ethernet"
    nic_bits_per_s: endpoint bandwidth per GPU or host [bit/s]
    """
    native = float(switch.port_speed_bits_per_s)
    speed = min(native, ETHERNET_LANE_SPEED_BITS_PER_S) if technology == "ethernet" else native
    return min(speed, nic_bits_per_s)


def compute_fabric(cat: Catalog, system_id: str, gpus: int, technology: str = "infiniband", oversubscription: float = 1.0, switch_id: str | None = None) -> FabricDesign:
    """East-west GPU fabric for ``gpus`` GPUs of ``system_id``: one NIC per GPU, its bandwidth
    split into ``planes`` ports when the switch ports are slower (Spectrum-X twin-plane).

    All layers are optical: SuperPOD leaves sit in network racks beyond DAC reach.

    cat: loaded catalog
    system_id: catalog system id (its ``scaleout_bandwidth_per_gpu_bits_per_s`` picks the switch)
    gpus: GPUs attached [count]
    technology: "infiniband" or "ethernet"
    oversubscription: leaf down/up ratio [1]
    switch_id: catalog switch id, overriding the default for the technology and speed
    """
    system = cat.system(system_id)
    _require_count("gpus", gpus, "size the fabric for at least one GPU")
    if technology not in TECHNOLOGIES:
        raise InputError.single(f"unknown fabric technology '{technology}'", field="technology", value=technology, expected=" / ".join(TECHNOLOGIES), fix="use infiniband or ethernet")
    bandwidth = float(system.scaleout_bandwidth_per_gpu_bits_per_s)
    if switch_id is None:
        switch_id = COMPUTE_SWITCH.get((technology, bandwidth))
        if switch_id is None:
            speeds = sorted({b / 1e9 for t, b in COMPUTE_SWITCH if t == technology})
            raise InputError.single(
                f"no default {technology} switch for {bandwidth / 1e9:g} Gb/s per GPU", field="switch_id", value=system_id,
                expected=f"a system at {', '.join(f'{s:g}' for s in speeds)} Gb/s per GPU", fix="pass switch_id explicitly",
            )
    switch = _switch(cat, switch_id, technology)
    speed = fabric_port_speed(switch, technology, bandwidth)
    planes = math.ceil(bandwidth / speed - 1e-9)
    radix = int(switch.ports * round(float(switch.port_speed_bits_per_s) / speed)) if technology == "ethernet" else int(switch.ports)
    return size_fat_tree(
        gpus * planes, radix, oversubscription, name="compute", technology=technology, switch_id=switch.id,
        port_speed_bits_per_s=speed, planes=planes, optical_links=("node-leaf", "leaf-spine", "spine-core"),
        nic_id=COMPUTE_NIC.get(bandwidth, ""),
    )


def hosts_per_unit(system: Any) -> int:
    """CPU hosts with front-end ports in one unit: a node is one host, an NVL72 rack has one per
    compute tray (72 GPUs / 4 per tray = 18) [count].

    system: catalog system entry
    """
    return 1 if system.form_factor == "node" else max(1, int(system.gpus) // GPUS_PER_COMPUTE_TRAY)


def frontend_fabric(
    cat: Catalog, system_id: str, units: int, ports_per_host: int = 2, port_speed_bits_per_s: float = 400e9,
    oversubscription: float = 1.0, switch_id: str = FRONTEND_SWITCH,
) -> FabricDesign:
    """Converged north-south / storage / in-band Ethernet: ``ports_per_host`` x 400G per node or
    compute tray (NVL72 enterprise RA: 2 x 400G per node to two switches), one dual-port
    BlueField-3 per host, Spectrum-4 SN5600 run as 128 x 400G.

    cat: loaded catalog
    system_id: catalog system id
    units: systems (nodes or racks) attached [count]
    ports_per_host: front-end ports per host [count]
    port_speed_bits_per_s: front-end port line rate [bit/s]
    oversubscription: leaf down/up ratio [1]
    switch_id: catalog switch id
    """
    system = cat.system(system_id)
    _require_count("units", units, "attach at least one node or rack")
    _require_count("ports_per_host", ports_per_host, "use 2 (2 x 400G per host)")
    switch = _switch(cat, switch_id, "ethernet")
    speed = fabric_port_speed(switch, "ethernet", port_speed_bits_per_s)
    radix = int(switch.ports * round(float(switch.port_speed_bits_per_s) / speed))
    hosts = units * hosts_per_unit(system)
    nic = cat.get("network", FRONTEND_NIC)
    design = size_fat_tree(
        hosts * ports_per_host, radix, oversubscription, name="frontend", technology="ethernet", switch_id=switch.id,
        port_speed_bits_per_s=speed, optical_links=("node-leaf", "leaf-spine", "spine-core"), nic_id=nic.id,
    )
    return replace(design, nics=hosts * math.ceil(ports_per_host / int(nic.ports)))


def oob_fabric(cat: Catalog, system_id: str, racks: int, switches_per_rack: int | None = None, switch_id: str = OOB_SWITCH) -> FabricDesign:
    """Out-of-band management: ``switches_per_rack`` 1G switches in every compute rack (2 x SN2201
    per NVL72 rack, GB300 enterprise RA), copper to BMCs, PDUs and power shelves.

    ``endpoints`` is the 1G port capacity provided (an upper bound on attached devices); the
    switches' 100G uplinks land on the in-band management network and are not counted here.

    cat: loaded catalog
    system_id: catalog system id (its form factor picks the default switches per rack)
    racks: compute racks [count]
    switches_per_rack: OOB switches per rack [count]
    switch_id: catalog switch id
    """
    system = cat.system(system_id)
    _require_count("racks", racks, "attach at least one rack")
    per_rack = OOB_SWITCHES_PER_RACK.get(system.form_factor, 1) if switches_per_rack is None else switches_per_rack
    _require_count("switches_per_rack", per_rack, "use 2 for NVL72 racks")
    switch = _switch(cat, switch_id)
    switches = racks * per_rack
    ports = int(switch.ports)
    endpoints = switches * ports
    return FabricDesign(
        name="oob",
        technology="ethernet",
        endpoints=endpoints,
        port_speed_bits_per_s=float(switch.port_speed_bits_per_s),
        oversubscription=1.0,
        tiers=(FabricTier("leaf", switches, switch.id, ports, 0),),
        links={"node-leaf": endpoints},
        nics=0,
        transceivers=0,
        cables=endpoints,
    )
