"""Scale-out fabric sizing: the published NVIDIA DGX SuperPOD switch-count tables (exact, since
switch counts are integers and the tables are the design rule itself), fat-tree invariants
(Hypothesis), the catalog-driven compute / front-end / OOB fabrics, and bad input."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gigafactory.design.fabric import (
    FabricDesign,
    compute_fabric,
    frontend_fabric,
    leaf_port_split,
    oob_fabric,
    size_fat_tree,
    three_tier_capacity,
    two_tier_capacity,
)
from gigafactory.errors import InputError

Q3400_PORTS = 144  # Quantum-X800 Q3400: 144 x 800G
QM9700_PORTS = 64  # Quantum-2 QM9700: 64 x 400G
SN5600_400G_PORTS = 128  # Spectrum-4 SN5600: 64 x 800G run as 128 x 400G


def counts(design: FabricDesign) -> tuple[int, int, int]:
    """(leaf, spine, core) switch counts; 0 for an absent tier."""
    return tuple(design.tier(n).switches if design.tier(n) else 0 for n in ("leaf", "spine", "core"))


# --------------------------------------------------------------------------- published tables


@pytest.mark.parametrize(
    "su, gpus, leaf, spine, cables",
    [(1, 576, 8, 4, 576), (2, 1152, 16, 8, 1152), (4, 2304, 32, 18, 2304), (8, 4608, 64, 36, 4608), (18, 10368, 144, 72, 10368)],
)
def test_b300_xdr_superpod_table(su, gpus, leaf, spine, cables):
    """DGX SuperPOD B300 XDR RA, Table 3 'Example Compute Fabric Components'
    (https://docs.nvidia.com/dgx-superpod/reference-architecture/scalable-infrastructure-b300-xdr/latest/dgx-superpod-architecture.html):
    Quantum-X800 Q3400, 72 DGX B300 (576 GPUs) per SU, one 800G port per GPU.

    The 18-SU row prints 1296 nodes, 9216 GPUs and 10368 node-leaf cables; 1296 nodes x 8 =
    10368 GPUs = 18 x 576, and 144 leaves x 72 ports = 10368, so '9216' is a typo in the table
    and the row is tested at 10368 GPUs.  Exact match: counts are integers."""
    d = size_fat_tree(gpus, Q3400_PORTS, switch_id="quantum-x800-q3400", port_speed_bits_per_s=800e9)
    assert gpus == 576 * su
    assert counts(d) == (leaf, spine, 0)
    assert d.links == {"node-leaf": cables, "leaf-spine": cables}


@pytest.mark.parametrize(
    "su, gpus, leaf, spine",
    [(1, 512, 16, 8), (2, 1024, 32, 16), (4, 2048, 64, 32), (8, 4096, 128, 64), (16, 8192, 256, 128)],
)
def test_b300_spectrum_x_superpod_table(catalog, su, gpus, leaf, spine):
    """DGX SuperPOD B300 (Spectrum-4 Ethernet) RA, Table 3 'Larger DGX SuperPOD component counts'
    (https://docs.nvidia.com/dgx-superpod/reference-architecture/scalable-infrastructure-b300/latest/dgx-superpod-architecture.html)
    and twin-plane design (each GPU 2 x 400GbE into two planes,
    https://docs.nvidia.com/dgx-superpod/reference-architecture/scalable-infrastructure-b300/latest/network-fabrics.html).
    Counts are totals over both planes; the table's cable counts equal the GPU count (SU1, SU16).
    Exact match: counts are integers."""
    pure = size_fat_tree(2 * gpus, SN5600_400G_PORTS, technology="ethernet", planes=2)
    from_catalog = compute_fabric(catalog, "dgx-b300", gpus, technology="ethernet")
    assert gpus == 512 * su
    assert counts(pure) == counts(from_catalog) == (leaf, spine, 0)
    assert from_catalog.planes == 2 and from_catalog.switch_count() == leaf + spine
    assert from_catalog.port_speed_bits_per_s == 400e9
    assert from_catalog.links["node-leaf"] == 2 * gpus  # the table's 'gpus' cables per plane
    assert from_catalog.nics == gpus  # one ConnectX-8 per GPU feeds both planes


@pytest.mark.parametrize(
    "su, gpus, leaf, spine, core",
    [(2, 512, 16, 8, 0), (4, 1024, 32, 16, 0), (8, 2048, 64, 32, 0), (16, 4096, 128, 128, 64), (32, 8192, 256, 256, 128), (64, 16384, 512, 512, 256)],
)
def test_b200_ndr_superpod_table(catalog, su, gpus, leaf, spine, core):
    """DGX SuperPOD B200 RA switch counts
    (https://docs.nvidia.com/dgx-superpod/reference-architecture-scalable-infrastructure-b200/latest/dgx-superpod-architecture.html):
    QM9700 NDR, 3 tiers above 2048 GPUs = 64 leaves x 32 ports; 'cable counts = GPU count per
    tier'.  Exact match: counts are integers."""
    d = compute_fabric(catalog, "dgx-b200", gpus)
    assert d.tiers[0].switch_id == "quantum-2-qm9700"
    assert counts(d) == counts(size_fat_tree(gpus, QM9700_PORTS)) == (leaf, spine, core)
    assert set(d.links.values()) == {gpus}
    assert len(d.tiers) == (3 if core else 2)


@pytest.mark.parametrize("su, nodes, gpus, leaf, spine", [(1, 31, 248, 8, 4), (2, 63, 504, 16, 8), (3, 95, 760, 24, 16), (4, 127, 1016, 32, 16)])
def test_h100_superpod_table(catalog, su, nodes, gpus, leaf, spine):
    """DGX SuperPOD H100 RA compute fabric table
    (https://docs.nvidia.com/dgx-superpod/reference-architecture-scalable-infrastructure-h100/latest/network-fabrics.html):
    QM9700, 31 DGX per SU plus one UFM slot, so a leaf per rail per SU.  3 SU needs 16 spines,
    not 12, because each leaf's 32 uplinks must spread evenly.  Exact match."""
    assert gpus == 8 * nodes
    assert counts(compute_fabric(catalog, "dgx-h100", gpus)) == (leaf, spine, 0)


@pytest.mark.parametrize("racks, leaf, spine", [(8, 8, 4), (16, 16, 8), (32, 32, 18), (64, 64, 36), (144, 144, 72)])
def test_gb300_nvl72_matches_b300_xdr_table(catalog, racks, leaf, spine):
    """GB300 NVL72 (72 GPUs per rack, 8 racks = 576 GPUs per SU, ConnectX-8 800G per GPU,
    https://docs.nvidia.com/enterprise-reference-architectures/nvl72-ai-factory/latest/components.html)
    on Quantum-X800 has the same number of 800G endpoint ports per SU as a B300 XDR SU, so the
    same leaf/spine counts as the B300 XDR table
    (https://docs.nvidia.com/dgx-superpod/reference-architecture/scalable-infrastructure-b300-xdr/latest/dgx-superpod-architecture.html)."""
    system = catalog.system("gb300-nvl72")
    d = compute_fabric(catalog, "gb300-nvl72", racks * system.gpus)
    assert d.tiers[0].switch_id == "quantum-x800-q3400" and d.planes == 1
    assert counts(d) == (leaf, spine, 0)
    assert d.nic_id == "connectx-8" and d.nics == racks * 72


def test_two_tier_limits_match_published_maxima():
    """Largest 2-tier trees: 64-port NDR 64 x 32 = 2048 (the B200 table goes 3-tier above 8 SU)
    and 144-port XDR 144 x 72 = 10368 (B300 XDR 18 SU); 3 tiers of 64-port switches reach
    64^3/4 = 65536.  Closed forms, exact."""
    assert two_tier_capacity(64) == 2048
    assert two_tier_capacity(144) == 10368
    assert three_tier_capacity(64) == 65536
    assert len(size_fat_tree(2048, 64).tiers) == 2
    assert len(size_fat_tree(2049, 64).tiers) == 3


def test_transceivers_per_gpu_within_published_range(catalog):
    """cluster.optics_per_gpu_2tier in factory_facts.yaml: 2-4 optical modules per GPU for a
    2-tier fabric (1 node-leaf + 1 leaf-spine link per GPU, twin-port OSFP on switches;
    https://docs.nvidia.com/dgx-superpod/reference-architecture/scalable-infrastructure-b300-xdr/latest/dgx-superpod-architecture.html).
    Our count: 1 NIC module + 1/2 leaf module + 1/2 + 1/2 for leaf-spine = 2.5 per GPU."""
    d = compute_fabric(catalog, "dgx-b300", 4608)
    assert d.transceivers / 4608 == pytest.approx(2.5)
    assert 2 <= d.transceivers / 4608 <= 4
    assert d.cables == sum(d.links.values()) == 2 * 4608


def test_optical_links_choose_what_needs_modules():
    """Copper layers need no modules; twin-port switch modules round up per layer."""
    copper = size_fat_tree(576, 144, optical_links=())
    assert copper.transceivers == 0
    leaf_spine_only = size_fat_tree(576, 144)
    assert leaf_spine_only.transceivers == 2 * 576 // 2
    odd = size_fat_tree(3, 64, optical_links=("node-leaf",))
    assert odd.transceivers == 3 + 2  # 3 NIC modules + ceil(3/2) leaf modules


# --------------------------------------------------------------------------- invariants

radix = st.sampled_from([8, 16, 32, 36, 48, 64, 128, 144])
oversub = st.sampled_from([1.0, 1.5, 2.0, 3.0, 4.0])


@st.composite
def trees(draw):
    k = draw(radix)
    o = draw(oversub)
    planes = draw(st.sampled_from([1, 2, 4]))
    e = draw(st.integers(1, three_tier_capacity(k, 1.0) * planes))
    return e, k, o, planes


@settings(max_examples=300, deadline=None)
@given(trees())
def test_every_endpoint_has_a_leaf_port(case):
    e, k, o, planes = case
    d = size_fat_tree(e, k, o, planes=planes)
    leaf = d.tier("leaf")
    assert leaf.switches * leaf.down_ports >= e
    assert d.links["node-leaf"] == e


@settings(max_examples=300, deadline=None)
@given(trees())
def test_ports_used_never_exceed_ports_available(case):
    e, k, o, planes = case
    d = size_fat_tree(e, k, o, planes=planes)
    for tier in d.tiers:
        assert 0 < tier.down_ports and tier.down_ports + tier.up_ports <= k
    leaf, spine, core = d.tier("leaf"), d.tier("spine"), d.tier("core")
    if spine:  # both ends of every link land on a port
        assert leaf.down_ports <= o * leaf.up_ports + 1e-9
        assert d.links["leaf-spine"] == leaf.switches * leaf.up_ports <= spine.switches * spine.down_ports
    if core:
        assert d.links["spine-core"] == spine.switches * spine.up_ports <= core.switches * core.down_ports


@settings(max_examples=300, deadline=None)
@given(trees(), st.integers(1, 5000))
def test_more_endpoints_never_fewer_switches(case, extra):
    e, k, o, planes = case
    bigger = e + extra
    if math.ceil(bigger / planes) > three_tier_capacity(k, o):
        return
    assert size_fat_tree(bigger, k, o, planes=planes).switch_count() >= size_fat_tree(e, k, o, planes=planes).switch_count()


@settings(max_examples=300, deadline=None)
@given(trees())
def test_oversubscription_two_needs_fewer_spines(case):
    """2:1 never needs more switches above the leaves than 1:1, and strictly fewer once 1:1
    needs more than one spine."""
    e, k, _, planes = case
    full, half = size_fat_tree(e, k, 1.0, planes=planes), size_fat_tree(e, k, 2.0, planes=planes)
    above = [d.switch_count() - d.tier("leaf").switches for d in (full, half)]
    assert half.switch_count() <= full.switch_count()
    assert above[1] <= above[0]
    if above[0] > planes:
        assert above[1] < above[0]


def test_oversubscription_two_reference_sizes():
    """Worked case: 2048 endpoints on 64-port switches, 1:1 = 64 leaves + 32 spines;
    2:1 leaves use 42 down / 21 up, 49 leaves spread over 21 spines."""
    d = size_fat_tree(2048, 64, 2.0)
    assert counts(d) == (49, 21, 0)
    assert leaf_port_split(64, 2.0) == (42, 21)
    assert leaf_port_split(64, 1.0) == (32, 32)


# --------------------------------------------------------------------------- catalog fabrics


def test_compute_fabric_picks_switch_by_speed_and_technology(catalog):
    """400G per GPU -> QM9700 NDR; 800G -> Quantum-X800; Ethernet -> SN5600 as 128 x 400G,
    twin-plane at 800G (B300 Spectrum-X RA); an explicit switch overrides the default."""
    assert compute_fabric(catalog, "gb200-nvl72", 576).tiers[0].switch_id == "quantum-2-qm9700"
    assert compute_fabric(catalog, "dgx-h100", 256).nic_id == "connectx-7"
    assert compute_fabric(catalog, "dgx-b300", 576).tiers[0].switch_id == "quantum-x800-q3400"
    eth400 = compute_fabric(catalog, "gb200-nvl72", 576, technology="ethernet")
    assert eth400.planes == 1 and eth400.tiers[0].switch_id == "spectrum-4-sn5600"
    sn5610 = compute_fabric(catalog, "dgx-b300", 512, technology="ethernet", switch_id="spectrum-4-sn5610")
    assert counts(sn5610) == (16, 8, 0) and sn5610.tiers[0].switch_id == "spectrum-4-sn5610"
    rubin = compute_fabric(catalog, "vera-rubin-nvl72", 576)  # 1.6T per GPU on 800G ports
    assert rubin.planes == 2 and counts(rubin) == (16, 8, 0) and rubin.nics == 576


def test_compute_fabric_as_dict_round_trip(catalog):
    d = compute_fabric(catalog, "gb300-nvl72", 576)
    out = d.as_dict()
    assert out["switches"] == 12 and out["tiers"][0]["name"] == "leaf"
    assert out["links"] == {"node-leaf": 576, "leaf-spine": 576}


def test_frontend_fabric_two_400g_per_tray(catalog):
    """Converged N-S fabric, 2 x 400G per host (NVL72 AI Factory RA, network logical architecture,
    https://docs.nvidia.com/enterprise-reference-architectures/nvl72-ai-factory/latest/network-logical-architecture.html):
    an NVL72 rack has 18 compute trays, so 8 racks = 144 hosts = 288 ports on SN5600 at 400G
    (64 down per leaf -> 5 leaves; 320 uplinks over the smallest divisor of 64 >= 3 -> 4 spines)."""
    d = frontend_fabric(catalog, "gb300-nvl72", 8)
    assert d.endpoints == 288 and d.port_speed_bits_per_s == 400e9
    assert counts(d) == (5, 4, 0)
    assert d.nics == 144 and d.nic_id == "bluefield-3"
    nodes = frontend_fabric(catalog, "dgx-b200", 32)
    assert nodes.endpoints == 64 and counts(nodes) == (1, 0, 0)


def test_oob_two_sn2201_per_nvl72_rack(catalog):
    """2 x SN2201 OOB switches in each GB300 NVL72 rack (NVL72 AI Factory RA components,
    https://docs.nvidia.com/enterprise-reference-architectures/nvl72-ai-factory/latest/components.html)."""
    d = oob_fabric(catalog, "gb300-nvl72", 8)
    assert counts(d) == (16, 0, 0) and d.tiers[0].switch_id == "spectrum-sn2201"
    assert d.endpoints == 16 * 48 and d.transceivers == 0 and d.port_speed_bits_per_s == 1e9
    assert oob_fabric(catalog, "dgx-b300", 18).switch_count() == 18


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call, field",
    [
        (lambda cat: size_fat_tree(0, 64), "endpoints"),
        (lambda cat: size_fat_tree(-5, 64), "endpoints"),
        (lambda cat: size_fat_tree(100, 64, oversubscription=0.5), "oversubscription"),
        (lambda cat: size_fat_tree(100, 64, oversubscription=float("nan")), "oversubscription"),
        (lambda cat: size_fat_tree(100, 64, planes=0), "planes"),
        (lambda cat: size_fat_tree(100, 64, technology="token-ring"), "technology"),
        (lambda cat: size_fat_tree(65537, 64), "endpoints"),
        (lambda cat: compute_fabric(cat, "dgx-b300", 0), "gpus"),
        (lambda cat: compute_fabric(cat, "dgx-b300", 576, switch_id="quantum-9000"), "switch_id"),
        (lambda cat: compute_fabric(cat, "dgx-b300", 576, switch_id="connectx-8"), "switch_id"),
        (lambda cat: compute_fabric(cat, "dgx-b300", 576, switch_id="spectrum-4-sn5600"), "switch_id"),
        (lambda cat: compute_fabric(cat, "dgx-b300", 576, oversubscription=0.9), "oversubscription"),
        (lambda cat: frontend_fabric(cat, "gb300-nvl72", 0), "units"),
        (lambda cat: oob_fabric(cat, "gb300-nvl72", -1), "racks"),
    ],
)
def test_bad_input_raises_input_error(catalog, call, field):
    with pytest.raises(InputError) as err:
        call(catalog)
    assert err.value.problems[0].field == field
    assert err.value.problems[0].fix
