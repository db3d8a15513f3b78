"""The sourced catalog: every number has a unit, a source and a date; required ids resolve."""
from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import pytest
import yaml

from gigafactory.catalog import KINDS, load_catalog
from gigafactory.catalog.loader import data_dir
from gigafactory.catalog.schema import NUMERIC_TYPES, load_schema
from gigafactory.errors import CatalogDataError, InputError
from gigafactory.perf.architecture import param_counts

from conftest import SHARED

URL_OR_KEY = re.compile(r"^(https?://\S+|[a-z0-9_\-.]+)$")


def _raw_numeric_values():
    """(kind, id, attribute, raw mapping) for every numeric value, read straight from YAML."""
    base = data_dir()
    for kind in KINDS:
        schema = load_schema(base / "schema" / f"{kind}.yaml")
        numeric = {a.name for a in schema.attributes if a.type in NUMERIC_TYPES}
        raw = yaml.safe_load((base / f"{kind}.yaml").read_text(encoding="utf-8"))
        for ident, body in raw["entries"].items():
            for attr, value in body.items():
                if attr in numeric:
                    yield kind, ident, attr, value


def test_every_numeric_value_has_unit_source_and_date():
    """Independent of the loader: scan the raw files so a loader bug cannot hide a gap."""
    missing = []
    count = 0
    for kind, ident, attr, value in _raw_numeric_values():
        count += 1
        if not isinstance(value, dict):
            missing.append(f"{kind}/{ident}.{attr}: bare value {value!r}")
            continue
        for key in ("value", "unit", "source", "date"):
            if value.get(key) in (None, "", []):
                missing.append(f"{kind}/{ident}.{attr}: no {key}")
        sources = value.get("source")
        for s in sources if isinstance(sources, list) else [sources]:
            if isinstance(s, str) and not URL_OR_KEY.match(s.strip()):
                missing.append(f"{kind}/{ident}.{attr}: source {s!r} is neither a URL nor a key")
    assert count > 300, f"only {count} numeric values found; is the catalog complete?"
    assert not missing, "\n".join(missing)


def test_every_loaded_numeric_attribute_keeps_provenance(catalog):
    for entry in catalog:
        schema = catalog.schemas[entry.kind]
        for spec in schema.attributes:
            if spec.numeric and getattr(entry, spec.name) is not None:
                prov = entry.provenance[spec.name]
                assert prov.source and prov.date and prov.unit, (entry.id, spec.name)


def test_every_kind_has_entries_and_described_attributes(catalog):
    for kind in KINDS:
        assert len(catalog.tables[kind]) >= 3, kind
        for spec in catalog.schemas[kind].attributes:
            assert spec.description, (kind, spec.name)
            if spec.numeric:
                assert spec.unit, (kind, spec.name)


@pytest.mark.parametrize("hardware", ["h100-sxm", "h200-sxm", "b200", "b300", "gb200-nvl72", "gb300-nvl72"])
def test_measured_hardware_ids_resolve(catalog, hardware):
    system = catalog.resolve_hardware(hardware)
    acc = catalog.accelerator(system.accelerator)
    assert acc.hbm_capacity_bytes > 50e9 and acc.hbm_bandwidth_bytes_per_s > 1e12


def test_gb300_nvl72_rack(catalog):
    """NVIDIA NVL72 AI-factory enterprise RA (components page, 2026): 72 Blackwell Ultra GPUs,
    36 Grace CPUs, up to 142 kW per rack."""
    rack = catalog.system("gb300-nvl72")
    assert rack.gpus == 72 and rack.cpus == 36
    assert rack.max_power_w == pytest.approx(142e3)
    assert rack.provenance["gpus"].source[0].startswith("https://docs.nvidia.com/")


def test_announced_systems_are_marked(catalog):
    vr = catalog.system("vera-rubin-nvl72")
    assert vr.announced
    assert catalog.system("vera-rubin-nvl144") is vr  # GTC-2025 name for the same rack
    assert not catalog.system("gb300-nvl72").announced


def test_dense_flops_are_dense_not_sparse(catalog):
    """H100 SXM dense BF16 is 989 TFLOP/s (NVIDIA datasheet; 1,979 with sparsity)."""
    assert catalog.accelerator("h100-sxm").dense_bf16_flop_per_s == pytest.approx(989e12)
    for acc in catalog.tables["accelerators"].values():
        assert acc.dense_fp8_flop_per_s == pytest.approx(2 * acc.dense_bf16_flop_per_s, rel=0.05), acc.id


def test_measured_models_resolve(catalog):
    path = SHARED / "data" / "measured" / "calibration.csv"
    if not path.exists():
        pytest.skip(f"{path} not present")
    with path.open(newline="") as f:
        models = {row["model"] for row in csv.DictReader(f)}
    for hf_id in models:
        assert catalog.resolve_id("models", hf_id), hf_id


@pytest.mark.parametrize(
    "alias",
    ["meta-llama/Llama-3.3-70B-Instruct", "deepseek-ai/DeepSeek-R1", "openai/gpt-oss-120b", "Qwen/Qwen3-235B-A22B", "llama-3.2-1b", "qwen3-4b"],
)
def test_model_aliases(catalog, alias):
    assert catalog.model(alias).hf_id


def test_architecture_reproduces_published_parameter_counts(catalog):
    """Parameter counts computed from each config.json match the developer's published totals
    (model cards: Llama 3.1 405B, DeepSeek-V3 671B total / 37B active, Qwen3-235B-A22B, gpt-oss
    117B / 5.1B active).  Published figures are rounded (70B for 68.98B), so 2 % on totals; active
    counts within 2 % under either convention (gpt-oss excludes the input embedding)."""
    for m in catalog.tables["models"].values():
        pc = param_counts(m)
        assert pc.total == pytest.approx(m.total_params, rel=0.02), m.id
        errors = [abs(a / m.active_params - 1) for a in (pc.active, pc.active_without_input_embedding(m))]
        assert min(errors) < 0.02, (m.id, errors)


def test_unknown_id_suggests_the_nearest(catalog):
    with pytest.raises(InputError) as exc:
        catalog.system("gb300-nv72")
    assert "did you mean 'gb300-nvl72'" in exc.value.render()


def _copy_data(tmp_path: Path) -> Path:
    dst = tmp_path / "data"
    shutil.copytree(data_dir(), dst)
    return dst


def test_loader_refuses_a_value_without_source(tmp_path):
    base = _copy_data(tmp_path)
    path = base / "systems.yaml"
    text = path.read_text()
    text = text.replace('gpus: {value: 72, unit: count, source: "https://docs.nvidia.com/enterprise-reference-architectures/nvl72-ai-factory/latest/components.html", date: "2026", confidence: official}',
                        "gpus: {value: 72, unit: count, date: \"2026\"}", 1)
    path.write_text(text)
    with pytest.raises(CatalogDataError, match="missing source"):
        load_catalog(str(base))


def test_loader_refuses_a_unit_of_the_wrong_dimension(tmp_path):
    base = _copy_data(tmp_path)
    path = base / "systems.yaml"
    text = path.read_text().replace("max_power_w: {value: 142, unit: kW", "max_power_w: {value: 142, unit: kWh", 1)
    path.write_text(text)
    with pytest.raises(CatalogDataError, match="cannot be converted"):
        load_catalog(str(base))


def test_values_keep_the_unit_they_were_given_in(catalog):
    prov = catalog.accelerator("b300-gb300").provenance["hbm_capacity_bytes"]
    assert (prov.given_value, prov.given_unit, prov.value) == (288, "GB", 288e9)
