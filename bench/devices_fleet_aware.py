"""What the fleet-aware threshold saves as the device fleets grow, and what the devices stage costs.

For the default scenario with every fleet's device count multiplied by k, prints the peak hourly
load on the offload model (devices + its other demand segments), the GPUs and whole serving units
that peak needs at `devices.max_factory_utilisation` under the static quality threshold and under
the fleet-aware one (the same offloaded tokens per week), and the stage's wall time.

    python bench/devices_fleet_aware.py [k ...] [--simulate]

With --simulate, each k also replays the peak hour of the offload pool on the serving simulator
(`devices/peakcheck.py`): static peak on static sizing, fleet-aware peak on fleet-aware sizing,
and the static peak on the fleet-aware sizing.
"""
from __future__ import annotations

import platform
import sys
import time

from gigafactory.catalog import load_catalog
from gigafactory.pipeline import Pipeline, RunOptions
from gigafactory.scenario import load_scenario


def main(scales: list[float], simulate: bool = False) -> None:
    cat = load_catalog()
    base = load_scenario()
    pipe = Pipeline(cat, base, RunOptions())
    design, serving = pipe.result("design"), pipe.result("serving")
    from gigafactory.devices.stage import run_devices

    print(f"# {platform.node()} {platform.machine()} Python {platform.python_version()}; default scenario, fleets x k")
    print("| k | devices | offloaded tokens/day | device share of peak | static peak [tok/s] | fleet-aware peak | GPUs static -> aware "
          "| serving units static -> aware | hourly threshold | stage time |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for k in scales:
        fleets = [f.model_copy(update={"count": int(f.count * k)}) for f in base.devices.fleets]
        scn = base.model_copy(update={"devices": base.devices.model_copy(update={"fleets": fleets})})
        t0 = time.perf_counter()
        res = run_devices(cat, scn, design, serving)
        dt = time.perf_counter() - t0
        a = res.fleet_aware
        dev_peak = res.capacity_cost_ratio * max(res.hour_of_week_profile) * res.cloud_output_tokens_per_day / 86400  # workload-equivalent
        print(f"| {k:g} | {res.devices:,} | {res.cloud_output_tokens_per_day:.3g} | {dev_peak / a.static_peak_tok_s:.0%} | "
              f"{a.static_peak_tok_s:,.0f} | {a.aware_peak_tok_s:,.0f} | {a.static_gpus:,.0f} -> {a.aware_gpus:,.0f} "
              f"({a.gpus_saved_share:.1%} saved) | {a.static_units} -> {a.aware_units} (of {a.unit_gpus} GPUs) | "
              f"{a.threshold_min:.2f}-{a.threshold_max:.2f} | {dt:.2f} s |")
        if simulate:
            from gigafactory.devices.peakcheck import peak_hour_check

            t0 = time.perf_counter()
            for c in peak_hour_check(cat, scn, design, serving, res):
                print(f"|   | peak hour on the simulator: {c.case} | {c.units} units of {c.layout}, {c.gpus:,} GPUs | {c.rate_rps:,.0f} req/s, "
                      f"{c.device_share:.0%} from devices | SLO met {c.slo_attainment:.1%} | TTFT p99 {c.ttft_p99_s * 1e3:,.0f} ms | "
                      f"TPOT p99 {c.tpot_p99_s * 1e3:,.1f} ms | {c.requests_simulated:,} requests simulated | | |")
            print(f"|   | (simulation {time.perf_counter() - t0:.1f} s) | | | | | | | | |")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--simulate"]
    main([float(x) for x in args] or [1, 10, 100, 200], simulate="--simulate" in sys.argv)
