"""Sweeps on a local Ray with 2 CPUs (issue 19): a grid whose rows equal separate pipeline runs of
each point's scenario, a point with a bad value recorded as failed with its named check, a
staged run resumed, and the table queried and exported with DuckDB.  One Ray session serves
the whole module (starting Ray costs seconds)."""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest
import yaml

ray = pytest.importorskip("ray")
pytest.importorskip("duckdb")

from gigafactory.pipeline import Pipeline, RunOptions  # noqa: E402
from gigafactory.scenario import load_scenario  # noqa: E402
from gigafactory.sweep.points import build_points, point_scenario_json  # noqa: E402
from gigafactory.sweep.run import run_sweep  # noqa: E402
from gigafactory.sweep.spec import load_sweep  # noqa: E402
from gigafactory.sweep.store import SweepStore, connect  # noqa: E402
from gigafactory.sweep.worker import read_metrics  # noqa: E402

GRID = """name: grid
scenario: default
method: grid
stages: [economics]
options: {economics_samples: 200}
parameters:
  - {path: systems.default, name: system, values: [gb300-nvl72, vera-rubin-nvl72]}
  - path: demand.contracts[0].price_usd_per_gpu_hour
    name: contract_price
    values: [3.0, 4.5]
objectives:
  - {metric: npv_usd, direction: max}
  - {metric: cost_per_gpu_hour_usd, direction: min}
constraints:
  - {metric: irr, min: 0.0}
outputs: [economics.cost_per_mtok_usd.deepseek-r1]
"""


@pytest.fixture(scope="module")
def ray_session(tmp_path_factory):
    """A local Ray with 2 CPUs for the module, and a stage cache of its own."""
    home = tmp_path_factory.mktemp("gfhome")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GIGAFACTORY_HOME", str(home))
        mp.setenv("RAY_USAGE_STATS_ENABLED", "0")
        ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False,
                 object_store_memory=128 * 1024**2)
        try:
            yield home
        finally:
            ray.shutdown()


@pytest.fixture(scope="module")
def grid_run(ray_session, tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweeps")
    spec = folder / "grid.yaml"
    spec.write_text(GRID)
    sweep = load_sweep(spec)
    outcome = run_sweep(sweep, folder / "out", workers=2)
    return sweep, outcome


def test_grid_rows_equal_separate_pipeline_runs(grid_run, tmp_path, catalog):
    """Each point's row equals a separate run of that point's scenario, written as a YAML file and
    loaded as `gigafactory plan` loads it, through the pipeline without any cache: exactly, since
    the stages are deterministic for a scenario and seed."""
    sweep, outcome = grid_run
    assert outcome.points == 4 and outcome.ran == 4 and outcome.failed == 0
    rows = {r["point"]: r for r in SweepStore(outcome.folder).read_log().values()}
    for p in build_points(sweep, catalog):
        path = tmp_path / f"point{p.index}.yaml"
        path.write_text(yaml.safe_dump(point_scenario_json(sweep, p), sort_keys=False))
        scn = load_scenario(path, catalog=catalog)
        assert scn.systems.default == p.values["system"]
        assert scn.demand.contracts[0].price_usd_per_gpu_hour == p.values["contract_price"]
        results = Pipeline(catalog, scn, RunOptions(economics_samples=200), cache=None).run("economics")
        expected = read_metrics(results, list(sweep.metrics), list(sweep.outputs))
        got = {k: rows[p.index][k] for k in expected}
        assert got == expected, p.index
        assert rows[p.index]["status"] == "ok" and rows[p.index]["seed"] == scn.seed
    # points sharing a system share design, serving and rollout through the stage cache
    assert sum(r["stages_cached"] for r in rows.values()) > 0


def test_table_flags_and_duckdb(grid_run):
    _, outcome = grid_run
    con = connect(outcome.folder / "results.parquet")
    n, ok = con.execute("SELECT count(*), count(*) FILTER (WHERE status = 'ok') FROM points").fetchone()
    assert (n, ok) == (4, 4)
    rows = con.execute("SELECT point, npv_usd, cost_per_gpu_hour_usd, irr, feasible, pareto FROM points ORDER BY point").fetchall()
    for point, npv, cost, irr, feasible, pareto in rows:
        assert feasible == (irr is not None and irr >= 0.0)
        dominated = any(o[4] and o[1] >= npv and o[2] <= cost and (o[1] > npv or o[2] < cost) for o in rows if o[0] != point)
        assert pareto == (feasible and not dominated)
    cols = [d[0] for d in con.execute("SELECT * FROM points LIMIT 0").description]
    assert {"system", "contract_price", "economics_cost_per_mtok_usd_deepseek_r1", "ttft_days", "npv_p10_usd"} <= set(cols)


def test_report_is_self_contained(grid_run):
    import re

    from plotly.offline import get_plotlyjs

    _, outcome = grid_run
    page = (outcome.folder / "report.html").read_text()
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert 'id="sweep-parallel"' in page and 'id="sweep-pareto"' in page
    assert get_plotlyjs() in page  # plotly.js inlined, as in the plan report (tests/test_report.py)
    assert not re.search(r"<script[^>]*\bsrc=", page) and 'src="http' not in page


def test_cli_show_query_export(grid_run, cli, tmp_path):
    _, outcome = grid_run
    code, out, err = cli("sweep", "show", str(outcome.folder), "--json")
    assert code == 0, err
    body = json.loads(out)
    assert body["recorded"] == 4 and body["parameters"] == {"system": "systems.default", "contract_price": "demand.contracts[0].price_usd_per_gpu_hour"}
    code, out, err = cli("sweep", "show", str(outcome.folder), "--query", "SELECT system, max(npv_usd) AS best FROM points GROUP BY system ORDER BY system",
                         "--json")
    assert code == 0, err
    assert [r["system"] for r in json.loads(out)] == ["gb300-nvl72", "vera-rubin-nvl72"]
    code, _, err = cli("sweep", "show", str(outcome.folder), "--query", "SELECT nope FROM points")
    assert code == 2 and "--query" in err
    csv = tmp_path / "rows.csv"
    code, _, err = cli("sweep", "export", str(outcome.folder), "--to", str(csv))
    assert code == 0, err
    assert len(csv.read_text().strip().splitlines()) == 5
    code, _, err = cli("sweep", "export", str(outcome.folder), "--to", str(tmp_path / "rows.xlsx"))
    assert code == 2 and "unknown export format" in err


def test_bad_point_recorded_as_failed_and_sweep_goes_on(ray_session, tmp_path, cli):
    """workloads[0].share = 0.9 passes the field's schema but breaks the shares' sum: that point is
    recorded as failed with the named check, the others run."""
    spec = tmp_path / "bad-point.yaml"
    spec.write_text("""name: bad-point
stages: [rollout]
options: {rollout_samples: 50}
parameters:
  - path: workloads[0].share
    values: [0.3, 0.9]
""")
    code, out, err = cli("sweep", "run", str(spec), "--out", str(tmp_path / "out"), "--json")
    assert code == 0, err
    assert json.loads(out)["failed"] == 1
    rows = SweepStore(tmp_path / "out").read_log()
    assert rows[0]["status"] == "ok" and rows[0]["ttft_days"] > 0
    assert rows[1]["status"] == "failed" and rows[1]["error_check"] == "workload-shares"
    assert "workloads" in rows[1]["error"] and "fix:" in rows[1]["error"] and rows[1]["ttft_days"] is None


def test_staged_run_resumes_each_point_once(ray_session, tmp_path):
    spec = tmp_path / "staged.yaml"
    spec.write_text("""name: staged
stages: [economics]
options: {economics_samples: 0}
method: lhs
samples: 5
seed: 3
parameters:
  - {path: finance.wacc, range: [0.06, 0.12]}
""")
    sweep = load_sweep(spec)
    first = run_sweep(sweep, tmp_path / "out", workers=2, limit=2)
    assert (first.ran, first.skipped) == (2, 0)
    second = run_sweep(load_sweep(spec), tmp_path / "out", workers=2)
    assert (second.ran, second.skipped) == (3, 2)
    lines = (tmp_path / "out" / "points.jsonl").read_text().splitlines()
    assert sorted(json.loads(x)["point"] for x in lines) == [0, 1, 2, 3, 4]
    # the folder of another sweep is refused, not mixed
    spec.write_text(spec.read_text().replace("seed: 3", "seed: 4"))
    from gigafactory.errors import InputError

    with pytest.raises(InputError, match="another sweep"):
        run_sweep(load_sweep(spec), tmp_path / "out", workers=2)


def test_plan_does_not_import_ray():
    """Ray, DuckDB and PyArrow load only inside the sweep commands."""
    import subprocess
    import sys

    code = ("import sys; import gigafactory.cli, gigafactory.plan, gigafactory.sweep; "
            "bad = [m for m in ('ray', 'duckdb', 'pyarrow', 'SALib') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ}, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr


def test_missing_extra_is_exit_2(monkeypatch, cli, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    code, _, err = cli("sweep", "run", str(tmp_path / "any.yaml"))
    assert code == 2 and "pip install 'gigafactory[sweep]'" in err
