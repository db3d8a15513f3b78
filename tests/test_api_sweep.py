"""Sweep jobs in the REST API (issues 18 and 19): a small sweep runs as a job with point-by-point
progress, its results table equals `gigafactory sweep run` of the same spec, it is recorded in the
run store (and `sweep show ID` finds it), a cancel mid-sweep leaves no Ray process behind, a bad
spec is a 422 with the named problem, and another user's sweep is a 404.

The base scenario is the API tests' small one (one 60 MW site) given inline; the spec varies the
WACC at the economics stage only, without Monte Carlo, so a point costs little once the first one
has filled the stage cache.  Each job starts its own local Ray with one worker.
"""
from __future__ import annotations

import json
import os
import subprocess
import time

import pytest
import yaml

pytest.importorskip("fastapi")
pytest.importorskip("ray")
pytest.importorskip("duckdb")

from fastapi.testclient import TestClient  # noqa: E402

from gigafactory.api import create_app  # noqa: E402
from gigafactory.api.auth import Keys  # noqa: E402
from gigafactory.api.jobs import job_processes  # noqa: E402
from gigafactory.runs.store import list_sweeps  # noqa: E402

from test_api import ALICE, BOB, GUARD_S, A, B, follow, small_scenario, wait_job  # noqa: E402

SPEC = """name: wacc
stages: [economics]
options: {economics_samples: 0}
parameters:
  - path: finance.wacc
    values: [0.06, 0.08, 0.10]
objectives:
  - {metric: npv_usd, direction: max}
  - {metric: cost_per_gpu_hour_usd, direction: min}
"""
#: columns that say how a point was computed (time, stage cache), not what it is
RUN_COLUMNS = ("wall_s", "stages_run", "stages_cached")


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    h = tmp_path_factory.mktemp("gfhome")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GIGAFACTORY_HOME", str(h))  # the workers (and their Ray) inherit it: one stage cache for the module
        mp.setenv("RAY_USAGE_STATS_ENABLED", "0")
        yield h


@pytest.fixture(scope="module")
def client(home):
    keys = Keys({**Keys.single("alice", ALICE).by_digest, **Keys.single("bob", BOB).by_digest})
    with TestClient(create_app(home / "runs.sqlite", keys)) as c:
        yield c


@pytest.fixture(scope="module")
def done_sweep(client):
    """Alice's finished 3-point sweep job: (its events, the job)."""
    r = client.post("/api/jobs", json={"kind": "sweep", "sweep": SPEC, "scenario": small_scenario()}, headers=A)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["kind"] == "sweep" and job["stages"] == ["prepare", "points", "analysis", "record"]
    assert job["points"] == {"done": 0, "total": 3, "failed": 0} and job["options"] == {"workers": 1}
    events, last = follow(client, job["id"])
    assert last["state"] == "done", last
    return events, last


def test_sweep_job_reports_progress_per_point(done_sweep):
    events, job = done_sweep
    stages = [j["stage"] for kind, j in events if kind == "progress"]
    assert stages == ["prepare", "points", "analysis", "record"]
    points = [j["points"] for kind, j in events if kind == "point"]
    assert points[0] == {"done": 0, "total": 3, "failed": 0} and points[-1] == {"done": 3, "total": 3, "failed": 0}
    assert [p["done"] for p in points] == sorted(p["done"] for p in points)
    assert all(j["progress"] <= 1.0 for _, j in events)
    assert job["progress"] == 1.0 and job["sweep_id"].startswith("sw-") and job["run_id"] is None


def test_sweep_results_equal_the_cli_sweep(client, done_sweep, home, tmp_path, cli):
    """The job's rows equal those of `gigafactory sweep run` on the same spec and base scenario,
    column for column, apart from how each point was computed (time and stage-cache counts)."""
    _, job = done_sweep
    r = client.get(f"/api/jobs/{job['id']}/sweep", headers=A)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["sweep_id"] == job["sweep_id"] and body["points"] == 3 and body["ok"] == 3 and body["failed"] == 0
    assert [row["finance_wacc"] for row in body["rows"]] == [0.06, 0.08, 0.10]
    assert body["pareto"] and set(body["columns"]) >= {"point", "status", "finance_wacc", "npv_usd", "feasible", "pareto"}
    npv = [row["npv_usd"] for row in body["rows"]]
    assert npv[0] > npv[1] > npv[2]  # a higher discount rate, a lower NPV

    (tmp_path / "base.yaml").write_text(yaml.safe_dump(small_scenario(), sort_keys=False))
    (tmp_path / "spec.yaml").write_text("scenario: base.yaml\n" + SPEC)
    store = tmp_path / "runs.sqlite"
    code, out, err = cli("sweep", "run", str(tmp_path / "spec.yaml"), "--out", str(tmp_path / "cli"), "--workers", "1", "--store", str(store), "--json")
    assert code == 0, err
    code, out, err = cli("sweep", "show", json.loads(out)["sweep_id"], "--store", str(store), "--query", "SELECT * FROM points ORDER BY point", "--json")
    assert code == 0, err
    cli_rows = json.loads(out)
    assert len(cli_rows) == 3
    for api_row, cli_row in zip(body["rows"], cli_rows):
        assert {k: v for k, v in api_row.items() if k not in RUN_COLUMNS} == {k: v for k, v in cli_row.items() if k not in RUN_COLUMNS}


def test_sweep_job_is_in_the_run_store_and_serves_its_page(client, done_sweep, home, cli):
    _, job = done_sweep
    rec = {s["id"]: s for s in list_sweeps(home / "runs.sqlite")}[job["sweep_id"]]
    assert rec["name"] == "wacc" and rec["status"] == "complete" and (rec["points_total"], rec["points_ok"], rec["points_failed"]) == (3, 3, 0)
    assert rec["folder"] == str(home / "api-runs" / job["id"])
    code, out, err = cli("sweep", "show", job["sweep_id"][:12], "--store", str(home / "runs.sqlite"), "--json")
    assert code == 0, err
    assert json.loads(out)["ok"] == 3
    code, out, _ = cli("runs", "list", "--store", str(home / "runs.sqlite"), "--json")
    assert job["sweep_id"] in [s["id"] for s in json.loads(out)["sweeps"]]
    page = client.get(f"/api/jobs/{job['id']}/sweep/report", headers=A)
    assert page.status_code == 200 and "default-src 'none'" in page.headers["Content-Security-Policy"] and "<html" in page.text
    assert client.get(f"/api/jobs/{job['id']}/result", headers=A).json() == {"sweep_id": job["sweep_id"]}


def test_another_users_sweep_is_404(client, done_sweep):
    _, job = done_sweep
    for path in ("", "/sweep", "/sweep/report", "/result", "/events"):
        assert client.get(f"/api/jobs/{job['id']}{path}", headers=B).status_code == 404, path
    assert client.post(f"/api/jobs/{job['id']}/cancel", headers=B).status_code == 404
    assert job["id"] not in [j["id"] for j in client.get("/api/jobs", headers=B).json()]
    assert client.get(f"/api/jobs/{job['id']}/sweep").status_code == 401


def _problems(r) -> list[dict]:
    assert r.status_code == 422, r.text
    return r.json()["problems"]


def test_bad_sweep_specs_are_422_with_named_problems(client):
    bad = SPEC.replace("finance.wacc", "finance.wac")
    (p,) = _problems(client.post("/api/jobs", json={"kind": "sweep", "sweep": bad}, headers=A))
    assert p["check"] == "sweep-path" and p["field"] == "parameters[0].path" and "did you mean 'wacc'" in p["message"] and p["line"] == 5
    (p,) = _problems(client.post("/api/jobs", json={"kind": "sweep", "sweep": SPEC.replace("0.10]", "1.5]")}, headers=A))
    assert p["check"] == "sweep-domain" and p["value"] == 1.5
    # the server opens no file a caller names: not the base scenario, not a trace
    (p,) = _problems(client.post("/api/jobs", json={"kind": "sweep", "sweep": "scenario: /etc/hosts\n" + SPEC}, headers=A))
    assert p["check"] == "api-scenario-file" and p["value"] == "/etc/hosts"
    traced = SPEC.replace("path: finance.wacc\n    values: [0.06, 0.08, 0.10]", "path: simulation.trace\n    values: [poisson, /etc/hosts]")
    (p,) = _problems(client.post("/api/jobs", json={"kind": "sweep", "sweep": traced}, headers=A))
    assert p["check"] == "api-trace-file" and p["value"] == "/etc/hosts"
    spec_obj = yaml.safe_load(SPEC) | {"options": {"trace": "/etc/hosts"}}
    assert _problems(client.post("/api/jobs", json={"kind": "sweep", "sweep": spec_obj}, headers=A))[0]["check"] == "api-trace-file"
    # options of another kind, too many workers, no spec
    probs = _problems(client.post("/api/jobs", json={"kind": "sweep", "sweep": SPEC, "options": {"samples": 10, "workers": 4000}}, headers=A))
    assert {q["field"] for q in probs} == {"options.samples", "options.workers"}
    assert _problems(client.post("/api/jobs", json={"kind": "sweep"}, headers=A))[0]["field"] == "sweep"
    assert _problems(client.post("/api/jobs", json={"kind": "plan", "scenario": small_scenario(), "sweep": SPEC}, headers=A))[0]["field"] == "sweep"
    # an inline base scenario goes through the scenario checks
    broken = small_scenario()
    broken["sites"][0]["facility_power_mw"] = -5
    probs = _problems(client.post("/api/jobs", json={"kind": "sweep", "sweep": SPEC, "scenario": broken}, headers=A))
    assert any(q["field"] == "sites[0].facility_power_mw" and q["file"] == "scenario.yaml" for q in probs)
    assert all(j["kind"] != "sweep" or j["state"] == "done" for j in client.get("/api/jobs", headers=A).json())  # no job was queued


def _alive(pids: list[int]) -> list[int]:
    """Those of pids that `ps` lists as running (a zombie has ended: its parent just has not reaped it)."""
    ps = subprocess.run(["ps", "-eo", "pid=,stat=,args="], capture_output=True, text=True, check=True).stdout
    live = {int(line.split(None, 2)[0]) for line in ps.splitlines() if line.split() and not line.split()[1].startswith("Z")}
    return [p for p in pids if p in live]


def test_cancel_mid_sweep_leaves_no_ray_process(client, done_sweep):
    """30 points without the stage cache (every point recomputes its stages): cancelled once the
    first has finished, while Ray's processes (GCS, raylet, task workers) run."""
    spec = SPEC.replace("values: [0.06, 0.08, 0.10]", "range: [0.05, 0.12]\n    steps: 30")
    r = client.post("/api/jobs", json={"kind": "sweep", "sweep": spec, "scenario": small_scenario(), "options": {"no_cache": True}}, headers=A)
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    with client.stream("GET", f"/api/jobs/{job_id}/events", headers=A) as s:
        kind = None
        for line in s.iter_lines():
            if line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("data:") and kind == "point" and json.loads(line[5:])["points"]["done"] >= 1:
                break
    ray_pids = job_processes(job_id)
    ps = subprocess.run(["ps", "-ww", "-o", "pid=,args=", "-p", ",".join(map(str, ray_pids))], capture_output=True, text=True).stdout
    assert "raylet" in ps and "gcs_server" in ps, ps  # the job's own Ray, found by its marker
    assert client.post(f"/api/jobs/{job_id}/cancel", headers=A).status_code == 200
    job = wait_job(client, job_id)
    assert job["state"] == "cancelled" and job["sweep_id"] is None, job
    end = time.monotonic() + GUARD_S  # SIGKILL is sent before the job ends; the kernel takes a moment to remove them
    while _alive(ray_pids) and time.monotonic() < end:
        time.sleep(0.1)
    assert _alive(ray_pids) == [] and job_processes(job_id) == []
    assert not (client.app.state.jobs.outputs / job_id).exists()
    assert job_id not in {os.path.basename(s["folder"]) for s in list_sweeps(client.app.state.jobs.store)}


def test_sweep_report_link_serves_the_page_without_a_key(client, done_sweep):
    """A finished sweep's analysis page through a short-lived link (for the web app's frame): the
    link needs no key, is the same page as the keyed endpoint, and another user cannot make one."""
    _events, job = done_sweep
    r = client.post(f"/api/jobs/{job['id']}/sweep/report-link", headers=A)
    assert r.status_code == 200, r.text
    url = r.json()["url"]
    assert url.startswith("/reports/sweep/") and r.json()["expires_in_s"] > 0
    page = client.get(url)
    assert page.status_code == 200 and page.text == client.get(f"/api/jobs/{job['id']}/sweep/report", headers=A).text
    assert "Content-Security-Policy" in page.headers
    assert client.post(f"/api/jobs/{job['id']}/sweep/report-link", headers=B).status_code == 404
    assert client.get("/reports/sweep/not-a-token").status_code == 404
