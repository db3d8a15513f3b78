"""Headline outputs a sweep records per point: a registry of named metrics, each read from one
stage's typed result, so a sweep runs only the stages its metrics need.

Beyond the registry a spec may name any number in a stage result by a path
(``economics.monte_carlo.npv_p10_usd``, ``economics.cost_per_mtok_usd.deepseek-r1``); its column
is the path with non-word characters as ``_``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from pydantic import BaseModel


@dataclass(frozen=True)
class Metric:
    name: str
    stage: str
    read: Callable[[Any], float | int | None]
    unit: str
    description: str
    integer: bool = False


def _mc(attr: str) -> Callable[[Any], float | None]:
    return lambda e: None if e.monte_carlo is None else getattr(e.monte_carlo, attr)


def _min_attainment(sim: Any) -> float | None:
    vals = [p.slo_attainment for p in sim.pools if p.slo_attainment is not None]
    return min(vals) if vals else None


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("gpus", "design", lambda d: d.total.gpus, "GPU", "GPUs in the programme", integer=True),
    Metric("racks", "design", lambda d: d.total.racks, "rack", "racks in the programme", integer=True),
    Metric("facility_power_mw", "design", lambda d: d.total.facility_power_mw, "MW", "design load at the utility"),
    Metric("pue", "design", lambda d: d.total.pue, "1", "annual PUE"),
    Metric("capex_usd", "design", lambda d: d.total.capex_usd, "USD", "programme capex"),
    Metric("capex_per_gpu_usd", "design", lambda d: d.total.capex_per_gpu_usd, "USD/GPU", "capex per GPU, facility included"),
    Metric("ttft_days", "rollout", lambda r: r.ttft_days, "days", "deployment TTFT P50: programme start to first production token"),
    Metric("ttft_days_p90", "rollout", lambda r: r.ttft_days_p90, "days", "deployment TTFT P90"),
    Metric("full_capacity_days", "rollout", lambda r: r.full_capacity_days, "days", "P50 time to full capacity"),
    Metric("peak_headcount", "rollout", lambda r: r.peak_headcount, "people", "most on-site workers at once", integer=True),
    Metric("utilisation", "demand", lambda d: d.utilisation, "1", "sold GPU-hours / GPU-hours in service"),
    Metric("unserved_share", "demand", lambda d: d.unserved_share, "1", "share of token demand not served"),
    Metric("revenue_usd", "demand", lambda d: d.revenue_usd, "USD", "revenue over the horizon, undiscounted"),
    Metric("npv_usd", "economics", lambda e: e.npv_usd, "USD", "net present value at the WACC"),
    Metric("irr", "economics", lambda e: e.irr, "1/year", "internal rate of return (None when there is none)"),
    Metric("payback_months", "economics", lambda e: e.payback_months, "months", "payback (None if never within the horizon)"),
    Metric("cost_per_gpu_hour_usd", "economics", lambda e: e.cost_per_gpu_hour_usd, "USD/GPU-h", "levelised cost per GPU-hour"),
    Metric("cost_of_delay_usd_per_week", "economics", lambda e: e.cost_of_delay_usd_per_week, "USD/week", "NPV lost per week of delay"),
    Metric("npv_p10_usd", "economics", _mc("npv_p10_usd"), "USD", "Monte Carlo NPV P10 (None with 0 economics samples)"),
    Metric("probability_npv_negative", "economics", _mc("probability_npv_negative"), "1", "Monte Carlo P(NPV < 0)"),
    Metric("slo_attainment_min", "simulation", _min_attainment, "1", "lowest simulated SLO attainment over the pools"),
    Metric("ttft_p99_s", "simulation", lambda s: s.ttft_s.p99, "s", "simulated fleet serving TTFT p99"),
    Metric("tpot_p99_s", "simulation", lambda s: s.tpot_s.p99, "s", "simulated fleet TPOT p99"),
)}

def column_name(path: str) -> str:
    """Column of an output path: ``economics.cost_per_mtok_usd.deepseek-r1`` -> ``economics_cost_per_mtok_usd_deepseek_r1``."""
    return re.sub(r"\W+", "_", path).strip("_")


def read_output(result: BaseModel, path: str) -> Any:
    """The value at ``path`` (after the stage name) in a stage result; keys and attributes alike."""
    node: Any = result
    for part in path.split(".")[1:]:
        if isinstance(node, BaseModel):
            node = getattr(node, part, None)
        elif isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
        if node is None:
            return None
    return node


def output_path_exists(result_type: type[BaseModel], path: str) -> bool:
    """Whether the attributes of ``path`` exist on the result type (dict keys are checked per point)."""
    model: Any = result_type
    for part in path.split(".")[1:]:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return True  # a dict or list: its keys are only known from a result
        if part not in model.model_fields:
            return False
        model = _inner_model(model.model_fields[part].annotation)
    return True


def _inner_model(annotation: Any) -> Any:
    import types
    import typing

    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                return arg
        return dict
    if origin in (list, dict):
        return origin
    return annotation
