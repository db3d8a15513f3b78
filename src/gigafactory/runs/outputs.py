"""Plan outputs (result.json, report.html) and the run record, written together or not at all.

:func:`commit_run` is the one writer used by `gigafactory plan`:

1. check the run store and the output folder (:func:`preflight_store`, :func:`preflight_output_dir`);
2. render everything in memory (result.json text, report.html via the caller's renderer, which
   may be slow and may fail) -- nothing on disk has changed yet;
3. write each file to a unique hidden temp file in the output folder
   (``.result.json.<host>-<pid>-<random>.tmp``), fsync;
4. open the store transaction (``BEGIN IMMEDIATE``) and insert the record;
5. hard-link any earlier output to a hidden backup, rename the temp files into place, fsync the folder;
6. commit; drop the backups.

Any exception, Ctrl-C (KeyboardInterrupt) or SIGTERM before the commit removes the temp files,
puts earlier outputs back from their backups and rolls the record back.  Ctrl-C and SIGTERM that
arrive while files are being renamed, committed or cleaned up are held until that step is done
(then re-raised: KeyboardInterrupt, or SystemExit(143) for SIGTERM), so they cannot tear it.

Hidden temp and backup files left by a run that was killed outright (SIGKILL, power loss) are
removed by the next commit into the same folder (see :func:`sweep_stale`).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Self

from gigafactory.errors import InputError
from gigafactory.runs.store import (
    _nearest_existing,
    _probe_dir,
    begin,
    commit,
    connect_write,
    insert_run,
    preflight_store,
)

__all__ = ["NAMES", "commit_run", "preflight_output_dir", "preflight_store", "sweep_stale"]

#: The files a plan writes, in the order they are renamed into place (result.json last).
NAMES = ("report.html", "result.json")
_KEYS = {"result.json": "result", "report.html": "report"}
_OURS = re.compile(r"^\.(result\.json|report\.html)\.([0-9a-f]{4})-(\d+)-[0-9a-f]+\.(tmp|old)$")
_LEGACY = ("result.json.tmp", "report.html.tmp")  # fixed names used by the old plan.write_outputs
#: A temp file written from another host is only removed once it is this old (we cannot ask its pid).
FOREIGN_STALE_S = 3600.0


def _host_tag() -> str:
    return hashlib.sha1(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:4]


def _hidden_name(name: str, kind: str) -> str:
    return f".{name}.{_host_tag()}-{os.getpid()}-{secrets.token_hex(4)}.{kind}"


def _problem(message: str, path: Path, **kwargs: Any) -> InputError:
    kwargs.setdefault("field", "--out")
    return InputError.single(message, file=str(path), **kwargs)


def _io_problem(path: Path, exc: OSError, doing: str) -> InputError:
    return _problem(f"cannot {doing}: {exc.strerror or exc}", path,
                    fix="check the folder is writable and the disk is not full, or choose another --out")


# --------------------------------------------------------------------------- preflight


def preflight_output_dir(path: str | Path, names: tuple[str, ...] = NAMES) -> Path:
    """Check, before any work, that the output folder can be created and written; returns the path.

    Creates nothing (a probe file is created and deleted in the folder, or in its nearest
    existing parent).  Raises InputError when the path is an existing file, lies under a file,
    cannot be written, or holds a folder where one of ``names`` should go.
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise _problem("the output path exists and is not a folder", p, expected="a folder (created if missing)", fix="choose another --out")
    top = _nearest_existing(p)
    if not top.is_dir():
        raise _problem(f"the output folder cannot be created: {top} is a file", p, value=str(top),
                       fix="choose an --out that is not under a file")
    if top == p:
        for name in names:
            if (p / name).is_dir():
                raise _problem(f"{name} in the output folder is a folder, so it cannot be written", p / name,
                               fix=f"remove or rename {p / name}, or choose another --out")
    err = _probe_dir(top)
    if err is not None:
        what = "write in the output folder" if top == p else f"create the output folder (cannot write in {top})"
        raise _problem(f"cannot {what}: {err.strerror or err}", p, fix="make the folder writable, or choose another --out")
    return p


# --------------------------------------------------------------------------- stale files


def _pid_alive(pid: int) -> bool | None:
    """True/False on POSIX; None where we cannot ask (Windows: os.kill(pid, 0) would send CTRL_C)."""
    if os.name == "nt":
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return None
    return True


def sweep_stale(out_dir: Path, now: float | None = None) -> list[Path]:
    """Remove hidden temp/backup files that a killed commit left in ``out_dir``; returns them.

    Ours from this host: removed when their process is gone.  From another host (a shared
    folder): removed after FOREIGN_STALE_S.  The old fixed names ``result.json.tmp`` and
    ``report.html.tmp`` (never written by this module) are always removed.
    """
    now = time.time() if now is None else now
    tag = _host_tag()
    removed = []
    try:
        entries = list(os.scandir(out_dir))
    except OSError:
        return removed
    for e in entries:
        m = _OURS.match(e.name)
        if m:
            alive = _pid_alive(int(m.group(3))) if m.group(2) == tag else None
            if alive is None:
                try:
                    alive = now - e.stat(follow_symlinks=False).st_mtime < FOREIGN_STALE_S
                except OSError:
                    continue
            if alive:
                continue
        elif e.name not in _LEGACY:
            continue
        with contextlib.suppress(OSError):
            os.unlink(e.path)
            removed.append(Path(e.path))
    return removed


# --------------------------------------------------------------------------- signals


class _Signals:
    """SIGINT/SIGTERM as exceptions, held back while ``deferred`` (main thread only; elsewhere a no-op)."""

    def __init__(self) -> None:
        self.deferred = True
        self.pending: list[int] = []
        self.saved: dict[int, Any] = {}

    def __enter__(self) -> Self:
        if threading.current_thread() is not threading.main_thread():
            return self
        for sig in (signal.SIGINT, signal.SIGTERM):
            old = signal.getsignal(sig)
            if old is None or old is signal.SIG_IGN:
                continue  # installed outside Python, or ignored on purpose: leave it alone
            self.saved[sig] = old
            signal.signal(sig, self._handler)
        return self

    def _handler(self, signum: int, frame: Any) -> None:
        if self.deferred:
            self.pending.append(signum)
        else:
            self._fire(signum, frame)

    def _fire(self, signum: int, frame: Any) -> None:
        old = self.saved.get(signum)
        if callable(old) and old is not signal.default_int_handler:
            old(signum, frame)
        elif signum == signal.SIGINT:
            raise KeyboardInterrupt
        else:
            raise SystemExit(128 + signum)

    @contextlib.contextmanager
    def interruptible(self) -> Iterator[None]:
        self.deferred = False
        try:
            if self.pending:
                self._fire(self.pending.pop(0), None)
            yield
        finally:
            self.deferred = True

    def __exit__(self, *exc: object) -> None:
        for sig, old in self.saved.items():
            signal.signal(sig, old)
        if self.pending and exc[0] is None:
            self._fire(self.pending[0], None)


# --------------------------------------------------------------------------- commit


def _write_tmp(out_dir: Path, name: str, data: bytes, created: list[Path]) -> Path:
    while True:
        tmp = out_dir / _hidden_name(name, "tmp")
        created.append(tmp)  # before it exists: no instant where it exists unlisted
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask applies, as for a plain open()
        except FileExistsError:
            created.pop()
            continue
        break
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    return tmp


def _backup(final: Path, created: list[Path]) -> Path:
    """A hidden hard link to the current output (a copy where links are not supported)."""
    bak = final.parent / _hidden_name(final.name, "old")
    created.append(bak)
    try:
        os.link(final, bak, follow_symlinks=False)
    except (OSError, NotImplementedError):  # no hard links here (some network/FAT folders; Windows and follow_symlinks)
        shutil.copy2(final, bak, follow_symlinks=False)
    return bak


def _fsync_dir(d: Path) -> None:
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(d, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def _folder_lock(d: Path) -> Iterator[None]:
    """Exclusive flock on the output folder itself (POSIX), so two commits into one folder do not
    interleave their renames.  Taken after the store's write lock, always in that order."""
    try:
        import fcntl
    except ImportError:  # Windows: no folder lock
        yield
        return
    try:
        fd = os.open(d, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        yield
        return
    try:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def commit_run(result: dict[str, Any], out_dir: Path, store: Path | None,
               render_report: Callable[[dict[str, Any]], str] | None) -> tuple[dict[str, Path], str | None]:
    """Write ``out_dir``/result.json and report.html and record the run in ``store``, all or nothing.

    Returns ``({"result": path, "report": path}, run_id)``.  ``store=None`` writes the outputs
    without recording (``--no-store``; resolve the default store with
    :func:`gigafactory.runs.store.store_path` before calling).  ``render_report=None`` writes no
    report, and removes a report.html of an earlier run from the folder (in the same
    all-or-nothing step) so a new result.json is never paired with an old report.

    Raises InputError (exit 2) for a bad store or output folder -- before rendering, so nothing
    is written -- and for I/O failures (disk full, permissions) while writing.  An exception
    from ``render_report`` propagates as it is, after nothing has been written.  On any failure,
    KeyboardInterrupt or SIGTERM (SystemExit(143)) the temp files are removed, the record is
    rolled back and earlier outputs in ``out_dir`` are left as they were.

    What remains: a SIGKILL, crash or power loss *after the first rename and before the
    commit* (a few milliseconds: the renames, one folder fsync and SQLite's commit) can leave
    new outputs (possibly only report.html) with no record, or mixed with the earlier result.json;
    the earlier files then survive only as hidden ``.<name>.*.old`` backups, which the next
    commit into the folder deletes.  A crash before the first rename leaves only hidden temp
    files (cleaned up the same way) and an uncommitted record (rolled back by SQLite).  Two
    commits into one folder at once are serialized by a lock on the folder (POSIX flock; none on
    Windows or where the folder cannot be opened): the folder holds the files of the one that
    committed last, and both records exist.  Backups are hard links, or copies where the file
    system has none.
    """
    with _Signals() as signals:
        with signals.interruptible():
            store_p = preflight_store(store) if store is not None else None
            out = preflight_output_dir(out_dir)
            texts = {"result.json": json.dumps(result, indent=1, default=str)}
            if render_report is not None:
                html = render_report(result)
                if not isinstance(html, str):
                    raise TypeError(f"render_report returned {type(html).__name__}, not str")
                texts["report.html"] = html
            payload = {name: text.encode("utf-8") for name, text in texts.items()}
            try:
                out.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise _io_problem(out, exc, "create the output folder") from None

        sweep_stale(out)
        hidden: list[Path] = []  # every temp/backup file we created: all removed in `finally`
        tmps: dict[str, Path] = {}
        done: list[tuple[Path, Path | None]] = []  # (final, backup or None) for each output changed
        con = None
        committed = False
        run_id = None
        folder_lock = contextlib.ExitStack()
        try:
            with signals.interruptible():
                for name, data in payload.items():
                    try:
                        tmps[name] = _write_tmp(out, name, data, hidden)
                    except OSError as exc:
                        raise _io_problem(out / name, exc, f"write {name}") from None
                if store_p is not None:
                    con = connect_write(store_p)
                    begin(con, store_p)
                    run_id = insert_run(con, result, out.absolute(), store_p)
            # From here to the end signals are held: the renames and the commit are not torn.
            folder_lock.enter_context(_folder_lock(out))
            for name in NAMES:
                final = out / name
                if name not in tmps and not os.path.lexists(final):
                    continue
                try:
                    bak = _backup(final, hidden) if os.path.lexists(final) else None
                    if name in tmps:
                        os.replace(tmps[name], final)
                    else:
                        os.unlink(final)
                    done.append((final, bak))
                except OSError as exc:
                    raise _io_problem(final, exc, f"write {name}") from None
            _fsync_dir(out)
            if con is not None:
                commit(con, store_p)  # type: ignore[arg-type]
            committed = True
        finally:
            if not committed:
                for final, bak in reversed(done):
                    with contextlib.suppress(OSError):
                        if bak is not None:
                            os.replace(bak, final)
                        else:
                            os.unlink(final)
                if con is not None and con.in_transaction:
                    with contextlib.suppress(Exception):
                        con.execute("ROLLBACK")
            if con is not None:
                con.close()
            folder_lock.close()
            for f in hidden:
                with contextlib.suppress(FileNotFoundError, OSError):
                    os.unlink(f)
        files = {_KEYS[name]: out / name for name in ("result.json", "report.html") if name in payload}
        return files, run_id
