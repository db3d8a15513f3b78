"""How the speed of an MoE layer's grouped GEMMs depends on the width of one expert on one GPU.

Not a fitted parameter: NVIDIA's measured MoE layers (AIConfigurator's silicon database, written to
``perf/data/moe_width.yaml`` by bench/extract_moe_width_law.py) run their math at a fraction
E w / (w + w0) of the dense peak, w the expert's intermediate size over its TP degree (FC1's
output width, FC2's reduction length).  At large batch that fraction goes, on an H200 in FP8, from
0.04 (DeepSeek-R1's experts split 16 ways, w = 128) through 0.28 (whole, w = 2,048) to 0.42
(Mixtral's, w = 14,336); hidden size, expert count and top-k barely move it.  The step model keeps
its fitted ``expert`` efficiency as the height of that curve at REFERENCE_WIDTH and takes the
curve's shape above it from the measurements (:func:`width_factor`).
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

import yaml

#: per-GPU expert width at which the fitted ``expert`` efficiency applies as it is: DeepSeek-V3 /
#: R1's moe_intermediate_size, whole on each GPU (expert parallelism), the MoE shape of the
#: calibrated rows
REFERENCE_WIDTH = 2048


@lru_cache(maxsize=1)
def _tables() -> tuple[dict[tuple[str, str], float], dict[tuple[str, str], float]]:
    doc = yaml.safe_load(resources.files("gigafactory.perf.data").joinpath("moe_width.yaml").read_text(encoding="utf-8"))
    by_acc = {(e["accelerator"], e["precision"]): float(e["width0"]) for e in doc["measured"]}
    by_gen = {(e["generation"], e["precision"]): float(e["width0"]) for e in doc["generations"]}
    return by_acc, by_gen


def half_width(generation: str, precision: str, accelerator: str | None = None) -> float | None:
    """The measured w0 for ``precision`` on ``accelerator`` (catalog id), else the median over
    ``generation``'s measured GPUs [elements]; None when neither was measured."""
    by_acc, by_gen = _tables()
    if (accelerator, precision) in by_acc:
        return by_acc[(accelerator, precision)]
    return by_gen.get((generation, precision))


def width_factor(width: float, w0: float | None) -> float:
    """Speed of the expert math at per-GPU width ``width`` relative to REFERENCE_WIDTH [1], by the
    measured law above the reference width and 1 at or below it; 1 also when no measurement covers
    the GPU and precision.

    One-sided because of what the serving rows say.  The fitted ``expert`` comes from DeepSeek-R1
    rows with whole experts (2,048 wide, MLPerf's DEP8) and with experts split 4-8 ways (256-512
    wide, InferenceMAX's TP4 / TP8 on TensorRT-LLM and SGLang).  Applied below the reference too
    and refitted, the law put the split rows 5-6 % low and the whole ones 3 % high, and lifted the
    shared memory share 13 %: the split rows do not slow down as much as NVIDIA's layer benchmark
    does (docs/accuracy.md, seventeenth round).  Wider experts than any fitted row (Mixtral's,
    gpt-oss-120b's) are where the law is checked, on rows never fitted."""
    if not w0 or width <= REFERENCE_WIDTH:
        return 1.0
    return (width / (width + w0)) / (REFERENCE_WIDTH / (REFERENCE_WIDTH + w0))
