"""The REST API (issue 18): every endpoint, auth, named problems, jobs (progress, cancel,
disconnect, restart) and the lazy import of the web extra.

One temporary GIGAFACTORY_HOME per module: the worker processes inherit it, so the stage cache
is shared and only the first plan of the small scenario is computed in full.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from gigafactory.api import create_app  # noqa: E402
from gigafactory.api.auth import Keys, load_keys  # noqa: E402
from gigafactory.errors import InputError  # noqa: E402
from gigafactory.runs.store import list_runs  # noqa: E402
from gigafactory.scenario import default_scenario_path  # noqa: E402

ALICE, BOB = "alice-key-0123456789", "bob-key-0123456789ab"
A = {"Authorization": f"Bearer {ALICE}"}
B = {"X-API-Key": BOB}
#: a guard against a hung job, not a timing assertion
GUARD_S = 240.0


def small_scenario() -> dict:
    """The default scenario on one 60 MW site: a plan takes a few seconds."""
    data = yaml.safe_load(default_scenario_path().read_text())
    data["sites"] = [{"name": "one", "region": "us-virginia", "facility_power_mw": 60.0}]
    return json.loads(json.dumps(data, default=str))


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    h = tmp_path_factory.mktemp("gfhome")
    old = os.environ.get("GIGAFACTORY_HOME")
    os.environ["GIGAFACTORY_HOME"] = str(h)
    yield h
    if old is None:
        os.environ.pop("GIGAFACTORY_HOME", None)
    else:
        os.environ["GIGAFACTORY_HOME"] = old


@pytest.fixture(scope="module")
def keys():
    return Keys({**Keys.single("alice", ALICE).by_digest, **Keys.single("bob", BOB).by_digest})


@pytest.fixture(scope="module")
def client(home, keys):
    app = create_app(home / "runs.sqlite", keys)
    with TestClient(app) as c:
        yield c


def follow(client, job_id, headers=A, until_stage=None):
    """Read a job's server-sent events; returns (events, last job).  Stops early at ``until_stage``."""
    events = []
    with client.stream("GET", f"/api/jobs/{job_id}/events", headers=headers) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        kind = None
        for line in r.iter_lines():
            if line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("data:"):
                job = json.loads(line[5:])
                events.append((kind, job))
                if until_stage and job["stage"] == until_stage:
                    break
    return events, events[-1][1]


def wait_job(client, job_id, headers=A):
    end = time.monotonic() + GUARD_S
    while time.monotonic() < end:
        job = client.get(f"/api/jobs/{job_id}", headers=headers).json()
        if job["state"] in ("done", "failed", "cancelled", "interrupted"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not end")


@pytest.fixture(scope="module")
def first_run(client):
    """A finished small plan of alice's: (job, run id)."""
    r = client.post("/api/jobs", json={"kind": "plan", "scenario": small_scenario(), "options": {"samples": 200}}, headers=A)
    assert r.status_code == 202, r.text
    events, job = follow(client, r.json()["id"])
    assert job["state"] == "done", job
    return events, job


# ------------------------------------------------------------------ service, auth


def test_health_openapi_and_static_need_no_key(client):
    assert client.get("/api/health").json()["ok"] is True
    spec = client.get("/openapi.json").json()
    for path in ("/api/validate", "/api/jobs", "/api/jobs/{job_id}/events", "/api/jobs/{job_id}/cancel", "/api/runs", "/api/runs/{run_id}",
                 "/api/runs/{run_id}/report", "/api/compare", "/api/scenario/schema"):
        assert path in spec["paths"], path
    page = client.get("/")
    assert page.status_code == 200 and "Content-Security-Policy" in page.headers
    js = client.get("/static/vendor/plotly.min.js")
    assert js.status_code == 200 and len(js.content) > 1_000_000  # plotly.js from the plotly package, not a CDN
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/..%2Fapi%2Fapp.py").status_code == 404
    assert client.get("/docs").status_code == 404  # FastAPI's docs page would load a CDN


@pytest.mark.parametrize("method,path", [
    ("GET", "/api/me"), ("GET", "/api/scenario/schema"), ("GET", "/api/scenario/default"), ("GET", "/api/catalog/choices"),
    ("POST", "/api/validate"), ("POST", "/api/jobs"), ("GET", "/api/jobs"), ("GET", "/api/jobs/x"), ("GET", "/api/jobs/x/events"),
    ("POST", "/api/jobs/x/cancel"), ("GET", "/api/jobs/x/result"), ("GET", "/api/runs"), ("GET", "/api/runs/x"), ("DELETE", "/api/runs/x"),
    ("GET", "/api/runs/x/figures"), ("GET", "/api/runs/x/report"), ("POST", "/api/runs/x/report-link"), ("GET", "/api/compare?ids=a&ids=b"),
])
def test_no_key_or_a_wrong_key_is_401(client, method, path):
    body = {"yaml": "name: x"} if method == "POST" else None
    for headers in ({}, {"Authorization": "Bearer not-a-key-at-all"}, {"X-API-Key": "nope"}, {"Authorization": f"Basic {ALICE}"}):
        r = client.request(method, path, headers=headers, json=body)
        assert r.status_code == 401, (method, path, headers, r.text)
        assert r.headers.get("www-authenticate") == "Bearer"


def test_both_header_forms_name_the_user(client):
    assert client.get("/api/me", headers=A).json() == {"user": "alice"}
    assert client.get("/api/me", headers=B).json() == {"user": "bob"}
    assert client.get("/api/me", headers={"X-API-Key": ALICE}).json() == {"user": "alice"}


def test_keys_file(tmp_path):
    import hashlib

    f = tmp_path / "keys.yaml"
    f.write_text(f"carol: {'c' * 20}\ndave: sha256:{hashlib.sha256(b'dave-secret-0123456').hexdigest()}\n")
    keys = load_keys(f)
    assert keys.user("c" * 20) == "carol" and keys.user("dave-secret-0123456") == "dave" and keys.user("x" * 20) is None
    for text, field in (("erin: short\n", "erin"), ("'bad user!': " + "e" * 20 + "\n", "bad user!"), ("[1, 2]\n", "--keys")):
        f.write_text(text)
        with pytest.raises(InputError) as exc:
            load_keys(f)
        assert exc.value.problems[0].field == field


# ------------------------------------------------------------------ validation


def test_validate_answers_exactly_as_check_json(client, cli, tmp_path):
    data = small_scenario()
    data["sites"][0]["facility_power_mw"] = -5
    data["workloads"][0]["precision"] = "fp3"
    text = yaml.safe_dump(data, sort_keys=False)
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    code, out, _ = cli("check", str(path), "--json")
    assert code == 2
    expected = json.loads(out)
    r = client.post("/api/validate", json={"yaml": text}, headers=A)
    assert r.status_code == 422
    got = r.json()
    assert got["valid"] is False and got["input"]["yaml"] == text
    strip = lambda ps: [{k: v for k, v in p.items() if k != "file"} for p in ps]  # noqa: E731 - the file label differs
    assert strip(got["problems"]) == strip(expected["problems"])
    fields = {p["field"] for p in got["problems"]}
    assert "workloads[0].precision" in fields
    assert all(p["line"] and p["fix"] for p in got["problems"])

    code, out, _ = cli("check", str(default_scenario_path()), "--json")
    ok = client.post("/api/validate", json={"yaml": default_scenario_path().read_text()}, headers=A)
    assert ok.status_code == 200
    body = {k: v for k, v in ok.json().items() if k not in ("file", "input")}
    assert body == {k: v for k, v in json.loads(out).items() if k != "file"}


def test_validate_a_json_object_gives_lines_of_its_yaml(client):
    data = small_scenario()
    data["finance"]["utilisation"] = 1.5
    r = client.post("/api/validate", json={"scenario": data}, headers=A)
    assert r.status_code == 422
    p = next(p for p in r.json()["problems"] if p["field"] == "finance.utilisation")
    lines = r.json()["input"]["yaml"].splitlines()
    assert "utilisation" in lines[p["line"] - 1]
    assert r.json()["input"]["scenario"]["finance"]["utilisation"] == 1.5


@pytest.mark.parametrize("body,field", [
    ({}, "body"),
    ({"yaml": "name: x", "scenario": {"name": "x"}}, "body"),
    ({"yaml": 5}, "yaml"),
    ({"yaml": "a: [1, 2"}, None),
    ({"yaml": "- a\n- b\n"}, None),
    ({"scenario": {"name": "x", "unknown": 1}}, None),
    ({"yaml": "x: 1", "extra": True}, "extra"),
])
def test_bad_input_is_422_with_named_problems(client, body, field):
    r = client.post("/api/validate", json=body, headers=A)
    assert r.status_code == 422, r.text
    problems = r.json()["problems"]
    assert problems and all(p["message"] for p in problems)
    if field:
        assert field in {p["field"] for p in problems}


def test_malformed_json_and_huge_bodies_are_4xx(client):
    r = client.post("/api/validate", content=b"{not json", headers={**A, "Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["problems"]
    r = client.post("/api/validate", content=b"x" * 2_100_000, headers={**A, "Content-Type": "application/json"})
    assert r.status_code == 413


def test_scenario_schema_default_and_choices(client):
    schema = client.get("/api/scenario/schema", headers=A).json()
    assert {"sites", "systems", "workloads", "finance", "demand", "devices"} <= set(schema["properties"])
    d = client.get("/api/scenario/default", headers=A).json()
    assert d["yaml"] == default_scenario_path().read_text() and d["scenario"]["name"]
    ch = client.get("/api/catalog/choices", headers=A).json()
    assert "us-texas" in ch["regions"] and "gb300-nvl72" in ch["systems"]


# ------------------------------------------------------------------ jobs


def test_job_with_a_bad_scenario_or_options_is_422_and_starts_nothing(client):
    before = client.get("/api/jobs", headers=A).json()
    bad = small_scenario()
    bad["workloads"][0]["share"] = 2
    r = client.post("/api/jobs", json={"scenario": bad}, headers=A)
    assert r.status_code == 422 and any(p["field"] == "workloads[0].share" for p in r.json()["problems"])
    for options, field in (({"samples": -1}, "options.samples"), ({"router": "random"}, "options.router"),
                           ({"trace": "/etc/passwd"}, "options.trace"), ({"rate_rps": 0}, "options.rate_rps")):
        r = client.post("/api/jobs", json={"scenario": small_scenario(), "options": options}, headers=A)
        assert r.status_code == 422 and field in {p["field"] for p in r.json()["problems"]}, (options, r.text)
    sneaky = small_scenario()
    sneaky["simulation"] = {"trace": "/etc/hostname"}
    r = client.post("/api/validate", json={"scenario": sneaky}, headers=A)
    assert r.status_code == 422 and r.json()["problems"][0]["check"] == "api-trace-file"
    assert client.post("/api/jobs", json={"scenario": small_scenario(), "kind": "sweep"}, headers=A).status_code == 422
    assert client.get("/api/jobs", headers=A).json() == before


def test_plan_job_progress_by_stage_then_a_run(client, first_run, home):
    events, job = first_run
    progress = [j["completed"] for kind, j in events if kind == "progress"]
    assert progress == sorted(progress) and len(set(progress)) >= 5  # stage by stage, in order
    assert {j["stage"] for _k, j in events if j["stage"]} >= {"design", "rollout", "economics", "outputs"}
    assert job["progress"] == 1.0 and job["run_id"]
    assert [j["state"] for k, j in events if k == "state"][-1] == "done"
    runs = client.get("/api/runs", headers=A).json()
    assert job["run_id"] in [r["id"] for r in runs]
    out_dir = Path(next(r for r in list_runs(home / "runs.sqlite") if r["id"] == job["run_id"])["out_dir"])
    assert (out_dir / "result.json").is_file() and (out_dir / "report.html").is_file()
    assert client.get(f"/api/jobs/{job['id']}/result", headers=A).json() == {"run_id": job["run_id"]}
    assert job["id"] in [j["id"] for j in client.get("/api/jobs", headers=A).json()]
    # a finished job's events: one state event, then the stream ends
    _events_after, last = follow(client, job["id"])
    assert last["state"] == "done"


def test_run_fetch_figures_report(client, first_run):
    run_id = first_run[1]["run_id"]
    run = client.get(f"/api/runs/{run_id}", headers=A).json()
    assert run["headline"]["gpus"] > 0 and run["has_report"]
    assert {h["id"] for h in run["headlines"]} >= {"ttft_days_p50", "npv_usd", "capex_usd"}
    figs = client.get(f"/api/runs/{run_id}/figures", headers=A).json()
    assert set(figs) == {"gf-fig-rollout", "gf-fig-pareto", "gf-fig-cash", "gf-fig-montecarlo"}
    assert all(f["data"] for f in figs.values())
    rep = client.get(f"/api/runs/{run_id}/report", headers=A)
    assert rep.status_code == 200 and rep.text.startswith("<!DOCTYPE html>") and "default-src 'none'" in rep.headers["content-security-policy"]
    link = client.post(f"/api/runs/{run_id}/report-link", headers=A).json()
    assert client.get(link["url"]).text == rep.text
    assert client.get("/reports/not-a-token").status_code == 404
    assert client.get("/api/runs", params={"q": "1gw-gb3"}, headers=A).json()
    assert client.get("/api/runs", params={"q": "no-such-scenario"}, headers=A).json() == []


def test_another_users_job_and_run_are_404(client, first_run):
    job, run_id = first_run[1], first_run[1]["run_id"]
    for method, path in (("GET", f"/api/jobs/{job['id']}"), ("GET", f"/api/jobs/{job['id']}/events"), ("POST", f"/api/jobs/{job['id']}/cancel"),
                         ("GET", f"/api/jobs/{job['id']}/result"), ("GET", f"/api/runs/{run_id}"), ("GET", f"/api/runs/{run_id}/figures"),
                         ("GET", f"/api/runs/{run_id}/report"), ("POST", f"/api/runs/{run_id}/report-link"), ("DELETE", f"/api/runs/{run_id}"),
                         ("GET", f"/api/compare?ids={run_id}&ids={run_id[:-1]}x")):
        r = client.request(method, path, headers=B)
        assert r.status_code == 404, (method, path, r.text)
    assert client.get("/api/runs", headers=B).json() == []
    assert client.get("/api/jobs", headers=B).json() == []
    assert client.get(f"/api/runs/{run_id}", headers=A).status_code == 200  # still alice's


def test_disconnect_does_not_stop_a_job_and_compare_two_runs(client, first_run):
    data = small_scenario()
    data["workloads"][0]["price_output_usd_per_mtok"] = 0.9
    job = client.post("/api/jobs", json={"scenario": data, "options": {"samples": 200}}, headers=A).json()
    with client.stream("GET", f"/api/jobs/{job['id']}/events", headers=A) as r:
        next(r.iter_lines())  # read one line, then hang up
    done = wait_job(client, job["id"])
    assert done["state"] == "done" and done["run_id"]
    a, b = first_run[1]["run_id"], done["run_id"]
    c = client.get("/api/compare", params=[("ids", a), ("ids", b)], headers=A).json()
    assert [r["id"] for r in c["runs"]] == [a, b]
    assert {"key": "workloads[0].price_output_usd_per_mtok", "values": [0.6, 0.9]} in c["inputs"]
    npv = next(o for o in c["outputs"] if o["key"] == "npv_usd")
    assert npv["change"][0] is None and npv["change"][1] is not None and npv["values"][0] != npv["values"][1]
    assert next(o for o in c["outputs"] if o["key"] == "gpus")["change"][1] == 0.0  # same design
    assert client.get("/api/compare", params=[("ids", a)], headers=A).status_code == 422
    assert client.get("/api/compare", params=[("ids", a), ("ids", a)], headers=A).status_code == 422


def test_simulate_job(client):
    r = client.post("/api/jobs", json={"kind": "simulate", "scenario": small_scenario(), "options": {"duration_s": 30, "trace": "poisson"}}, headers=A)
    assert r.status_code == 202, r.text
    _events, job = follow(client, r.json()["id"])
    assert job["state"] == "done" and job["stages"][-1] == "outputs" and "plan" not in job["stages"]
    res = client.get(f"/api/jobs/{job['id']}/result", headers=A).json()
    assert res["pools"] and res["arrived"] == res["completed"] + res["dropped"] + res["in_flight"]


def test_cancel_mid_run_leaves_no_run_and_no_output_folder(client, home):
    runs_before = [r["id"] for r in list_runs(home / "runs.sqlite")]
    r = client.post("/api/jobs", json={"scenario": small_scenario(), "options": {"samples": 200, "no_cache": True}}, headers=A)
    job_id = r.json()["id"]
    _events, job = follow(client, job_id, until_stage="simulation")  # stages before it done, the rest not begun
    assert job["state"] == "running"
    client.post(f"/api/jobs/{job_id}/cancel", headers=A)
    end = wait_job(client, job_id)
    assert end["state"] == "cancelled" and end["run_id"] is None
    assert [r["id"] for r in list_runs(home / "runs.sqlite")] == runs_before
    assert not (home / "api-runs" / job_id).exists()
    assert not [p for p in (home / "api-runs").iterdir() if job_id in p.name]  # no temp or log file either
    # a queued job is cancelled before it starts
    assert client.post("/api/jobs/no-such-job/cancel", headers=A).status_code == 404


def test_delete_run(client, home):
    job = client.post("/api/jobs", json={"scenario": small_scenario(), "options": {"samples": 200}}, headers=A).json()
    run_id = wait_job(client, job["id"])["run_id"]
    out_dir = Path(next(r for r in list_runs(home / "runs.sqlite") if r["id"] == run_id)["out_dir"])
    assert out_dir.is_dir()
    assert client.delete(f"/api/runs/{run_id}", headers=A).status_code == 204
    assert client.get(f"/api/runs/{run_id}", headers=A).status_code == 404
    assert client.delete(f"/api/runs/{run_id}", headers=A).status_code == 404
    assert not out_dir.exists()
    assert run_id not in [r["id"] for r in list_runs(home / "runs.sqlite")]


# ------------------------------------------------------------------ restart (a live server process)


def _start_server(store: Path, keys_file: Path, env: dict) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "gigafactory", "ui", "--port", "0", "--store", str(store), "--keys", str(keys_file)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline()  # "gigafactory ui: open http://127.0.0.1:PORT/"
    assert "open http://" in line, (line, proc.stderr.read() if proc.poll() is not None else "")
    return proc, line.split("open ")[1].strip()


def _close(proc: subprocess.Popen) -> None:
    for pipe in (proc.stdout, proc.stderr):
        pipe.close()


def test_restart_with_a_job_in_flight_marks_it_interrupted(home, tmp_path):
    import httpx

    keys_file = tmp_path / "keys.yaml"
    keys_file.write_text(f"alice: {ALICE}\n")
    store = tmp_path / "store" / "runs.sqlite"
    env = {**os.environ, "GIGAFACTORY_HOME": str(home)}  # the module's stage cache
    proc, url = _start_server(store, keys_file, env)
    try:
        with httpx.Client(base_url=url, headers=A, timeout=60) as c:
            first = c.post("/api/jobs", json={"scenario": small_scenario(), "options": {"samples": 200}}).json()
            end = time.monotonic() + GUARD_S
            while c.get(f"/api/jobs/{first['id']}").json()["state"] != "done" and time.monotonic() < end:
                time.sleep(0.1)
            kept = c.get("/api/runs").json()
            assert len(kept) == 1
            job = c.post("/api/jobs", json={"scenario": small_scenario(), "options": {"samples": 200, "no_cache": True}}).json()
            with c.stream("GET", f"/api/jobs/{job['id']}/events") as r:
                for line in r.iter_lines():
                    if line.startswith("data:") and json.loads(line[5:])["stage"] == "serving":
                        break
    finally:
        proc.send_signal(signal.SIGKILL)  # a crash: no graceful shutdown
        proc.wait()
        _close(proc)
    proc, url = _start_server(store, keys_file, env)
    try:
        with httpx.Client(base_url=url, headers=A, timeout=60) as c:
            after = c.get(f"/api/jobs/{job['id']}").json()
            assert after["state"] == "interrupted" and after["run_id"] is None, after
            assert c.get(f"/api/jobs/{first['id']}").json()["state"] == "done"
            assert c.get("/api/runs").json() == kept  # the run store is intact
            assert not (store.parent / "api-runs" / job["id"]).exists()
            assert c.get(f"/api/runs/{kept[0]['id']}/report").status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        _close(proc)


# ------------------------------------------------------------------ the extra stays lazy


def test_plan_does_not_import_fastapi(home, tmp_path):
    scn = tmp_path / "small.yaml"
    scn.write_text(yaml.safe_dump(small_scenario(), sort_keys=False))
    code = ("import sys; from gigafactory.cli import main; "
            f"rc = main(['plan', {str(scn)!r}, '--out', {str(tmp_path / 'out')!r}, '--no-store', '--samples', '200', '--json']); "
            "assert rc == 0, rc; assert 'fastapi' not in sys.modules and 'uvicorn' not in sys.modules and 'starlette' not in sys.modules")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "GIGAFACTORY_HOME": str(home)})
    assert done.returncode == 0, done.stderr


def test_ui_without_the_extra_says_what_to_install():
    code = ("import sys; sys.modules['fastapi'] = None; sys.modules['uvicorn'] = None; from gigafactory.cli import main; "
            "sys.exit(main(['ui', '--port', '0']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert "pip install 'gigafactory[ui]'" in done.stderr and "Traceback" not in done.stderr
