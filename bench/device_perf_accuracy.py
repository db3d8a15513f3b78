"""Held-out accuracy of the on-device performance model (docs/accuracy.md, "On-device performance").

Leave-one-device-out and leave-one-model-out: every measured row is predicted by efficiencies fitted
without any row of its device (or model).  Prints n, median and worst APE of TTFT and decode tok/s per
backend class.  Run: python bench/device_perf_accuracy.py
"""
from __future__ import annotations

from gigafactory.devices import calibrate as cal
from gigafactory.devices.catalog import load_device_catalog


def main() -> None:
    cat = load_device_catalog()
    rows = cal.load_measured_rows(cat)
    print(f"{len(rows)} measured rows")
    for name, key in (("leave-one-device-out", lambda r: r.device), ("leave-one-model-out", lambda r: r.model)):
        held = cal.leave_one_out(rows, cat, key)
        print(f"\n{name} ({len(held)} rows predictable)")
        print("| backend | n TTFT | median TTFT APE | worst TTFT APE | n decode | median decode APE | worst decode APE |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for b, s in cal.summarise(held).items():
            print(f"| {b} | {s['n_ttft']} | {s['median_ttft']:.1%} | {s['worst_ttft']:.1%} | {s['n_decode']} | {s['median_decode']:.1%} | {s['worst_decode']:.1%} |")
        worst = sorted((h for h in held if h.ape_decode is not None), key=lambda h: -h.ape_decode)[:3]
        print("worst decode rows: " + "; ".join(f"{h.row.row_id} {h.ape_decode:.0%}" for h in worst))


if __name__ == "__main__":
    main()
