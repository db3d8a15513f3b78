"""GPU power while serving: idle, prefill-step and decode-step draw as fractions of TDP
(``data/power.yaml``, with sources).  Steps that carry prefill chunks draw the prefill power,
pure decode steps the decode power, and idle time the idle power."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml


@dataclass(frozen=True)
class PowerModel:
    idle_w: float
    prefill_w: float
    decode_w: float

    def energy_j(self, gpus: int, span_s: float, prefill_busy_s: float, decode_busy_s: float) -> float:
        idle_s = max(span_s - prefill_busy_s - decode_busy_s, 0.0)
        return gpus * (idle_s * self.idle_w + prefill_busy_s * self.prefill_w + decode_busy_s * self.decode_w)


@lru_cache(maxsize=1)
def power_fractions() -> dict[str, dict]:
    text = (resources.files("gigafactory.simulate") / "data" / "power.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def power_model(tdp_w: float) -> PowerModel:
    f = power_fractions()
    return PowerModel(idle_w=tdp_w * f["idle_fraction_of_tdp"]["value"], prefill_w=tdp_w * f["prefill_fraction_of_tdp"]["value"],
                      decode_w=tdp_w * f["decode_fraction_of_tdp"]["value"])
