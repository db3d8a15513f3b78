"""Run store robustness and the all-or-nothing commit of plan outputs + run record.

Uses a small fake result (only the keys the store reads), so no plan is run."""
from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from gigafactory.errors import InputError
from gigafactory.runs import outputs
from gigafactory.runs.outputs import commit_run, preflight_output_dir, sweep_stale
from gigafactory.runs.store import (
    get_run,
    inspect_store,
    list_runs,
    new_run_id,
    preflight_store,
    record,
)

SRC = Path(__file__).resolve().parents[1] / "src"


def fake_result(name: str = "demo", created: str = "2025-03-01T14:22:33+00:00", sha: str = "3fa9c1" + "0" * 58, gpus: int = 1024) -> dict:
    return {
        "created": created, "scenario_name": name, "scenario_sha256": sha, "seed": 7, "catalog_version": "2025.1",
        "gigafactory_version": "0.0.test", "scenario": {"name": name, "sites": [{"facility_power_mw": 50}]},
        "design": {"gpus": gpus, "racks": gpus // 72, "it_power_mw": 10.0, "facility_power_mw": 12.5, "pue": 1.25, "capex_usd": 4.2e9},
        "rollout": {"ttft_days": 300.0, "ttft_days_p90": 340.0, "full_capacity_days": 420.0, "gantt": [{"task": "build"}]},
        "economics": {"npv_usd": 1.5e9, "irr": 0.18, "payback_months": 30.5, "cost_per_gpu_hour_usd": 2.1, "cost_per_mtok_usd": {"llama": 0.12}},
        "serving": {"llama": {"tok_s_gpu": 3000.0}},
    }


def render_ok(result: dict) -> str:
    return f"<html>{result['design']['gpus']}</html>"


def hidden(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir() if p.name.startswith(".") or p.name.endswith(".tmp"))


def seed_outputs(d: Path) -> None:
    d.mkdir(parents=True, exist_ok=True)
    (d / "result.json").write_text('{"old": true}')
    (d / "report.html").write_text("<html>old</html>")


def assert_old_outputs(d: Path) -> None:
    assert (d / "result.json").read_text() == '{"old": true}'
    assert (d / "report.html").read_text() == "<html>old</html>"
    assert hidden(d) == []


def n_runs(store: Path) -> int:
    return len(list_runs(store))  # a store created by a rolled-back first write is empty, and reads as such


# --------------------------------------------------------------------------- 1. read-only commands


@pytest.mark.parametrize("kind", ["text", "folder"])
def test_runs_commands_reject_non_store(cli, tmp_path, kind):
    store = tmp_path / "store"
    if kind == "text":
        store.write_text("hello, not a database\n")
    else:
        store.mkdir()
    for args in (["runs", "list"], ["runs", "show", "abc"], ["runs", "compare", "a", "b"]):
        code, _, err = cli(*args, "--store", str(store))
        assert code == 2, (args, err)
        assert "not a gigafactory run store" in err and str(store) in err and "Traceback" not in err
    if kind == "text":
        assert store.read_text() == "hello, not a database\n"


def test_runs_list_empty_file_is_not_turned_into_a_database(cli, tmp_path):
    store = tmp_path / "empty.db"
    store.touch()
    code, out, _ = cli("runs", "list", "--store", str(store))
    assert code == 0 and "no runs" in out
    code, _, err = cli("runs", "show", "abc", "--store", str(store))
    assert code == 2 and "no run 'abc'" in err
    assert store.stat().st_size == 0 and sorted(p.name for p in tmp_path.iterdir()) == ["empty.db"]


def test_runs_list_missing_store_is_not_created(cli, tmp_path):
    store = tmp_path / "sub" / "runs.sqlite"
    code, out, _ = cli("runs", "list", "--store", str(store))
    assert code == 0 and "no runs" in out
    code, out, _ = cli("runs", "list", "--json", "--store", str(store))
    assert code == 0 and json.loads(out) == {"runs": [], "sweeps": []}
    assert not (tmp_path / "sub").exists()


def test_foreign_sqlite_database_is_rejected_and_untouched(cli, tmp_path):
    store = tmp_path / "other.db"
    with sqlite3.connect(store) as con:
        con.execute("CREATE TABLE notes (t TEXT)")
    before = store.read_bytes()
    code, _, err = cli("runs", "list", "--store", str(store))
    assert code == 2 and "not a gigafactory run store" in err and "notes" in err
    with pytest.raises(InputError, match="not a gigafactory run store"):
        record(fake_result(), None, store)
    assert store.read_bytes() == before


def test_runs_table_missing_columns_is_rejected(tmp_path):
    store = tmp_path / "old.db"
    with sqlite3.connect(store) as con:
        con.execute("CREATE TABLE runs (id TEXT)")
    with pytest.raises(InputError, match="lacks columns"):
        list_runs(store)


# --------------------------------------------------------------------------- 2. preflight


def test_preflight_store(tmp_path):
    text = tmp_path / "runs.txt"
    text.write_text("not sqlite")
    with pytest.raises(InputError, match="not a gigafactory run store") as e:
        preflight_store(text)
    assert e.value.problems[0].file == str(text) and e.value.problems[0].fix
    with pytest.raises(InputError, match="it is a folder"):
        preflight_store(tmp_path)
    with pytest.raises(InputError, match="is a file"):
        preflight_store(text / "sub" / "runs.sqlite")
    new = tmp_path / "a" / "b" / "runs.sqlite"
    assert preflight_store(new) == new and new.parent.is_dir() and not new.exists()
    empty = tmp_path / "empty.db"
    empty.touch()
    assert preflight_store(empty) == empty
    record(fake_result(), None, empty)  # a 0-byte file is accepted by writers and becomes the store
    assert inspect_store(empty) == "ok" and len(list_runs(empty)) == 1


def test_preflight_output_dir(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(InputError, match="exists and is not a folder"):
        preflight_output_dir(f)
    with pytest.raises(InputError, match="is a file"):
        preflight_output_dir(f / "out")
    d = tmp_path / "out"
    (d / "result.json").mkdir(parents=True)
    with pytest.raises(InputError, match="result.json in the output folder is a folder"):
        preflight_output_dir(d)
    new = tmp_path / "x" / "y"
    assert preflight_output_dir(new) == new and not (tmp_path / "x").exists()
    assert hidden(tmp_path) == []  # the probe file is gone


def test_preflight_output_dir_unwritable_probe(tmp_path, monkeypatch):
    """The not-writable branch, even as root: the probe is what decides."""
    monkeypatch.setattr(outputs, "_probe_dir", lambda d: PermissionError(13, "Permission denied"))
    with pytest.raises(InputError, match="cannot write in the output folder: Permission denied"):
        preflight_output_dir(tmp_path)
    with pytest.raises(InputError, match="cannot create the output folder"):
        preflight_output_dir(tmp_path / "new")


def test_preflight_read_only_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        try:
            (ro / ".probe").touch()
            (ro / ".probe").unlink()
            pytest.skip("running as a user (root) who can write a chmod 555 folder: covered by the probe test")
        except PermissionError:
            pass
        with pytest.raises(InputError, match="cannot write in the output folder"):
            preflight_output_dir(ro)
        with pytest.raises(InputError, match="cannot create the output folder"):
            preflight_output_dir(ro / "sub")
        with pytest.raises(InputError, match="cannot write in the run store's folder"):
            preflight_store(ro / "runs.sqlite")
    finally:
        ro.chmod(0o755)


# --------------------------------------------------------------------------- 3. run ids


def test_run_ids_sort_by_time_and_accept_prefixes(tmp_path):
    store = tmp_path / "runs.sqlite"
    a = record(fake_result(created="2025-03-01T14:22:33+00:00"), None, store)
    b = record(fake_result(created="2025-03-01T14:22:33+00:00"), None, store)
    c = record(fake_result(created="2025-03-02T09:00:00+00:00"), None, store)
    assert a.startswith("20250301-142233-3fa9c1-") and len(a) == 27 and a != b
    assert sorted([c, a]) == [a, c]
    assert [r["id"] for r in list_runs(store)] == [a, b, c]  # same second: insertion order
    assert get_run(c[:10], store)["id"] == c
    with pytest.raises(InputError, match="matches 2 runs"):
        get_run("20250301", store)
    assert get_run(a[:-1], store)["result"]["rollout"] == {k: v for k, v in fake_result()["rollout"].items() if k != "gantt"}
    assert new_run_id(fake_result()) != new_run_id(fake_result())


def test_100_concurrent_records_all_distinct_threads(tmp_path):
    store = tmp_path / "runs.sqlite"
    start = threading.Barrier(100)
    ids: list[str] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            start.wait()
            ids.append(record(fake_result(), tmp_path, store))
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(ids) == 100 and len(set(ids)) == 100
    assert sorted(r["id"] for r in list_runs(store)) == sorted(ids)


def _record_many(store: str, n: int, q) -> None:
    q.put([record(fake_result(), None, Path(store)) for _ in range(n)])


def test_concurrent_records_from_processes(tmp_path):
    store = tmp_path / "runs.sqlite"
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    procs = [ctx.Process(target=_record_many, args=(str(store), 10, q)) for _ in range(5)]
    for p in procs:
        p.start()
    ids = [i for _ in procs for i in q.get(timeout=120)]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert len(ids) == 50 and len(set(ids)) == 50 and n_runs(store) == 50


# --------------------------------------------------------------------------- 4. commit_run


def test_commit_run_writes_and_records(tmp_path):
    out, store = tmp_path / "plan", tmp_path / "runs.sqlite"
    seed_outputs(out)
    files, run_id = commit_run(fake_result(), out, store, render_ok)
    assert files == {"result": out / "result.json", "report": out / "report.html"}
    assert json.loads(files["result"].read_text())["design"]["gpus"] == 1024
    assert files["report"].read_text() == "<html>1024</html>"
    assert hidden(out) == []
    run = get_run(run_id, store)
    assert run["out_dir"] == str(out.absolute()) and run["headline"]["gpus"] == 1024


def test_commit_run_no_store(tmp_path):
    out, store = tmp_path / "plan", tmp_path / "runs.sqlite"
    files, run_id = commit_run(fake_result(), out, None, render_ok)
    assert run_id is None and files["result"].exists() and not store.exists()


def test_commit_run_without_renderer_drops_old_report(tmp_path):
    out = tmp_path / "plan"
    seed_outputs(out)
    files, _ = commit_run(fake_result(), out, None, None)
    assert files == {"result": out / "result.json"} and not (out / "report.html").exists() and hidden(out) == []


def test_commit_run_render_raises_writes_nothing(tmp_path):
    out, store = tmp_path / "plan", tmp_path / "runs.sqlite"
    seed_outputs(out)

    def boom(result):
        raise ValueError("renderer broke")

    with pytest.raises(ValueError, match="renderer broke"):
        commit_run(fake_result(), out, store, boom)
    assert_old_outputs(out)
    assert n_runs(store) == 0
    new = tmp_path / "fresh"
    with pytest.raises(ValueError):
        commit_run(fake_result(), new, store, boom)
    assert not new.exists()


def test_commit_run_keyboard_interrupt_in_render(tmp_path):
    out, store = tmp_path / "plan", tmp_path / "runs.sqlite"
    seed_outputs(out)

    def interrupted(result):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        commit_run(fake_result(), out, store, interrupted)
    assert_old_outputs(out)
    assert n_runs(store) == 0


@pytest.fixture
def terminal_ctrl_c():
    """SIGINT as at an interactive terminal (KeyboardInterrupt) for the test's duration: a test
    runner started in the background (`cmd &`, nohup) inherits SIGINT ignored, where a real
    SIGINT does nothing, and commit_run rightly leaves an ignored SIGINT ignored."""
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, inherited)


def test_commit_run_real_sigint_in_render(tmp_path, terminal_ctrl_c):
    out, store = tmp_path / "plan", tmp_path / "runs.sqlite"
    seed_outputs(out)

    def slow(result):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)  # interrupted long before this ends
        return "never"

    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        commit_run(fake_result(), out, store, slow)
    assert time.monotonic() - t0 < 4
    assert_old_outputs(out)
    assert n_runs(store) == 0
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_commit_run_text_store_fails_before_anything(tmp_path):
    out, store = tmp_path / "plan", tmp_path / "runs.txt"
    store.write_text("not a database")
    calls = []

    def render(result):
        calls.append(1)
        return "<html/>"

    with pytest.raises(InputError, match="not a gigafactory run store"):
        commit_run(fake_result(), out, store, render)
    assert calls == [] and not out.exists() and store.read_text() == "not a database"


def test_commit_run_output_path_is_a_file(tmp_path):
    out, store = tmp_path / "plan", tmp_path / "runs.sqlite"
    out.write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        commit_run(fake_result(), out, store, render_ok)
    assert n_runs(store) == 0


def test_commit_run_rename_failure_restores_outputs(tmp_path, monkeypatch):
    out, store = tmp_path / "plan", tmp_path / "runs.sqlite"
    seed_outputs(out)
    real = os.replace

    def replace(src, dst):
        if str(dst).endswith("result.json") and ".tmp" in str(src):  # report.html already renamed
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(outputs.os, "replace", replace)
    with pytest.raises(InputError, match="No space left on device"):
        commit_run(fake_result(), out, store, render_ok)
    monkeypatch.undo()
    assert_old_outputs(out)
    assert n_runs(store) == 0


def test_commit_run_db_commit_failure_restores_outputs(tmp_path, monkeypatch):
    out, store = tmp_path / "plan", tmp_path / "runs.sqlite"
    seed_outputs(out)

    def failing_commit(con, path):
        con.execute("ROLLBACK")
        raise InputError.single("cannot use the run store (committing): disk I/O error", file=str(path))

    monkeypatch.setattr(outputs, "commit", failing_commit)
    with pytest.raises(InputError, match="committing"):
        commit_run(fake_result(), out, store, render_ok)
    assert_old_outputs(out)
    assert n_runs(store) == 0


def test_commit_run_signal_during_renames_is_held_until_committed(tmp_path, monkeypatch, terminal_ctrl_c):
    out, store = tmp_path / "plan", tmp_path / "runs.sqlite"
    seed_outputs(out)
    real = os.replace
    sent = []

    def replace(src, dst):
        if not sent:
            sent.append(1)
            os.kill(os.getpid(), signal.SIGINT)
        return real(src, dst)

    monkeypatch.setattr(outputs.os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        commit_run(fake_result(), out, store, render_ok)
    monkeypatch.undo()
    assert (out / "report.html").read_text() == "<html>1024</html>" and json.loads((out / "result.json").read_text())["seed"] == 7
    assert n_runs(store) == 1 and hidden(out) == []


def test_sweep_stale_keeps_live_and_removes_dead(tmp_path):
    live = tmp_path / f".result.json.{outputs._host_tag()}-{os.getpid()}-abcd1234.tmp"
    other_host = "ffff" if outputs._host_tag() != "ffff" else "eeee"
    foreign_new = tmp_path / f".report.html.{other_host}-1-abcd1234.tmp"
    legacy = tmp_path / "report.html.tmp"
    for p in (live, foreign_new, legacy):
        p.touch()
    removed = sweep_stale(tmp_path)
    assert removed == [legacy] and live.exists() and foreign_new.exists()
    assert sweep_stale(tmp_path, now=time.time() + outputs.FOREIGN_STALE_S + 1) == [foreign_new]


_CHILD = """
import json, os, sys, time
from pathlib import Path
sys.path.insert(0, {src!r})
import gigafactory.runs.outputs as o
result, out, store, mode = json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
marker = out.parent / "marker"
def slow(r):
    marker.touch()
    time.sleep(60)
if mode == "kill-before-rename":
    def stuck(src, dst):
        marker.touch()
        time.sleep(60)
    o.os.replace = stuck
o.commit_run(result, out, store, slow if mode == "term-in-render" else (lambda r: "<html>new</html>"))
"""


def _child(tmp_path: Path, mode: str) -> subprocess.Popen:
    (tmp_path / "result.in.json").write_text(json.dumps(fake_result()))
    code = _CHILD.format(src=str(SRC))
    return subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "result.in.json"), str(tmp_path / "plan"),
                             str(tmp_path / "runs.sqlite"), mode])


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, f"child exited early with {proc.returncode}"
        assert time.monotonic() < end, "child never reached the marker"
        time.sleep(0.05)


def test_sigterm_during_render_leaves_nothing(tmp_path):
    out, store = tmp_path / "plan", tmp_path / "runs.sqlite"
    seed_outputs(out)
    proc = _child(tmp_path, "term-in-render")
    try:
        _wait_for(tmp_path / "marker", proc)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    finally:
        proc.kill()
        proc.wait()
    assert_old_outputs(out)
    assert n_runs(store) == 0


def test_sigkill_leftovers_are_cleaned_by_next_commit(tmp_path):
    out, store = tmp_path / "plan", tmp_path / "runs.sqlite"
    seed_outputs(out)
    (out / "report.html.tmp").touch()  # what the old writer left when interrupted
    proc = _child(tmp_path, "kill-before-rename")
    try:
        _wait_for(tmp_path / "marker", proc)  # temp files written and fsynced, record inserted, not committed
    finally:
        proc.kill()
        proc.wait()
    left = hidden(out)
    assert any(n.startswith(".result.json.") and n.endswith(".tmp") for n in left)
    assert any(n.startswith(".report.html.") and n.endswith(".tmp") for n in left)
    assert (out / "result.json").read_text() == '{"old": true}'
    assert list_runs(store) == []  # the uncommitted record is not there, and the store still reads
    files, run_id = commit_run(fake_result(gpus=2048), out, store, render_ok)
    assert hidden(out) == [] and files["report"].read_text() == "<html>2048</html>"
    assert [r["id"] for r in list_runs(store)] == [run_id]


_HOT_JOURNAL_CHILD = """
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("PRAGMA cache_size=5")  # spill to the file mid-transaction: the journal becomes hot
con.execute("BEGIN IMMEDIATE")
for i in range(300):
    con.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?)", ("x%d" % i, "2025", "n", "s", 1, "c", "v", None, "{}", "{}", "y" * 3000))
open(sys.argv[2], "w").close()
time.sleep(60)
"""


def test_store_readable_after_writer_killed_with_hot_journal(cli, tmp_path):
    store = tmp_path / "runs.sqlite"
    run_id = record(fake_result(), None, store)
    proc = subprocess.Popen([sys.executable, "-c", _HOT_JOURNAL_CHILD, str(store), str(tmp_path / "marker")])
    try:
        _wait_for(tmp_path / "marker", proc)
    finally:
        proc.kill()
        proc.wait()
    assert Path(f"{store}-journal").exists()
    code, out, err = cli("runs", "list", "--json", "--store", str(store))
    assert code == 0, err
    assert [r["id"] for r in json.loads(out)["runs"]] == [run_id]


def test_concurrent_commits_into_one_folder_stay_paired(tmp_path):
    """No store (so only the folder lock serializes): result.json and report.html always come from the same run."""
    out = tmp_path / "plan"
    errors: list[BaseException] = []
    start = threading.Barrier(20)

    def one(gpus: int) -> None:
        try:
            start.wait()
            commit_run(fake_result(gpus=gpus), out, None, render_ok)
        except BaseException as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(1000 + i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    gpus = json.loads((out / "result.json").read_text())["design"]["gpus"]
    assert (out / "report.html").read_text() == f"<html>{gpus}</html>" and hidden(out) == []
