"""Sweeps in the run store (issue 19: "the run store can point at it"): the ``sweeps`` table, added
to older stores by writers only, one record per sweep folder, and `runs list` / `sweep show ID`.

No Ray here: records are written with :func:`record_sweep` directly (tests/test_api_sweep.py
records real sweeps, through the API and the CLI)."""
from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest

from gigafactory.errors import InputError
from gigafactory.runs import store as runstore
from gigafactory.runs.store import get_sweep, list_runs, list_sweeps, record_sweep

from test_runs_store import fake_result

SHA = "ab12cd" + "0" * 58


def _record(store: Path, folder: Path, sha: str = SHA, ok: int = 3, failed: int = 1, total: int = 4, complete: bool = True) -> str:
    return record_sweep("demo", sha, folder, folder / "results.parquet", total, ok, failed, complete, store)


def _insert_run_without_upgrade(path: Path) -> str:
    """A run written as an older gigafactory wrote it (no sweeps table added)."""
    con = runstore.connect_write(path)
    con.execute("BEGIN IMMEDIATE")
    run_id = runstore.insert_run(con, fake_result(), None, path)
    con.execute("COMMIT")
    con.close()
    return run_id


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as con:
        return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_record_list_and_find_by_prefix(tmp_path):
    store = tmp_path / "runs.sqlite"
    sid = _record(store, tmp_path / "sw")
    assert sid.startswith("sw-") and _tables(store) == {"runs", "sweeps"}
    (rec,) = list_sweeps(store)
    assert rec["id"] == sid and rec["name"] == "demo" and rec["spec_sha256"] == SHA and rec["status"] == "complete"
    assert (rec["points_total"], rec["points_ok"], rec["points_failed"]) == (4, 3, 1)
    assert rec["folder"] == str((tmp_path / "sw").absolute()) and rec["table_path"].endswith("results.parquet")
    assert get_sweep(sid[:10], store)["id"] == sid
    with pytest.raises(InputError, match="no sweep 'sw-nope'"):
        get_sweep("sw-nope", store)
    assert list_runs(store) == []  # a store with sweeps only is still a run store


def test_resumed_sweep_updates_its_record_and_another_sweep_replaces_it(tmp_path):
    store, folder = tmp_path / "runs.sqlite", tmp_path / "sw"
    first = _record(store, folder, ok=1, failed=0, complete=False)
    assert list_sweeps(store)[0]["status"] == "interrupted"
    again = _record(store, folder, ok=4, failed=0)  # the same sweep resumed to the end
    (rec,) = list_sweeps(store)
    assert again == first and rec["status"] == "complete" and rec["points_ok"] == 4
    other = _record(store, folder, sha="ff" * 32)  # --fresh with another spec: the folder holds another sweep now
    assert other != first and [s["id"] for s in list_sweeps(store)] == [other]
    elsewhere = _record(store, tmp_path / "sw2")
    assert [s["id"] for s in list_sweeps(store)] == [other, elsewhere]


def test_old_store_is_read_unchanged_and_upgraded_by_a_writer(cli, tmp_path):
    store = tmp_path / "runs.sqlite"
    run_id = _insert_run_without_upgrade(_make_old(store))
    before = store.read_bytes()
    assert list_sweeps(store) == []
    code, out, err = cli("runs", "list", "--json", "--store", str(store))
    assert code == 0, err
    assert json.loads(out)["sweeps"] == [] and [r["id"] for r in json.loads(out)["runs"]] == [run_id]
    code, _, err = cli("sweep", "show", "sw-x", "--store", str(store))
    assert code == 2 and "no sweep 'sw-x'" in err
    assert store.read_bytes() == before and _tables(store) == {"runs"}  # readers never add the table
    sid = _record(store, tmp_path / "sw")
    assert _tables(store) == {"runs", "sweeps"}
    assert [r["id"] for r in list_runs(store)] == [run_id] and [s["id"] for s in list_sweeps(store)] == [sid]
    code, out, _ = cli("runs", "list", "--store", str(store))
    assert code == 0 and run_id in out and sid in out and "Sweeps" in out


def _make_old(store: Path) -> Path:
    """A store as written before sweeps were recorded: the runs table only."""
    con = sqlite3.connect(store)
    con.execute(runstore.SCHEMA)
    con.commit()
    con.close()
    return store


def test_runs_list_shows_sweeps_without_runs(cli, tmp_path):
    store = tmp_path / "runs.sqlite"
    sid = _record(store, tmp_path / "sw")
    code, out, _ = cli("runs", "list", "--store", str(store))
    assert code == 0 and "no runs recorded yet" in out and sid in out


def test_sweeps_table_of_someone_else_is_rejected(cli, tmp_path):
    store = tmp_path / "runs.sqlite"
    _make_old(store)
    with sqlite3.connect(store) as con:
        con.execute("CREATE TABLE sweeps (id TEXT, notes TEXT)")
    before = store.read_bytes()
    code, _, err = cli("runs", "list", "--store", str(store))
    assert code == 2 and "'sweeps' table lacks columns" in err
    with pytest.raises(InputError, match="'sweeps' table lacks columns"):
        _record(store, tmp_path / "sw")
    assert store.read_bytes() == before


def test_missing_store_is_not_created_by_sweep_readers(cli, tmp_path):
    store = tmp_path / "sub" / "runs.sqlite"
    assert list_sweeps(store) == []
    code, _, err = cli("sweep", "show", "sw-x", "--store", str(store))
    assert code == 2 and "no sweep folder 'sw-x'" in err and "gigafactory sweep run" in err
    assert not (tmp_path / "sub").exists()


def test_concurrent_sweep_records_all_kept(tmp_path):
    """20 writers at once (BEGIN IMMEDIATE queues them; ids are drawn under the lock): 20 records."""
    store = tmp_path / "runs.sqlite"
    start = threading.Barrier(20)
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            start.wait()
            _record(store, tmp_path / f"sw{i}")
        except BaseException as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len({s["id"] for s in list_sweeps(store)}) == 20
