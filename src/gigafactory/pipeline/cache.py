"""The stage cache: each stage's typed result stored under a content hash of exactly the
inputs it reads (the scenario fields it declares, the options it declares, the keys of the
stages it needs, and the fingerprint of the code and data that compute it).

A hit is the same result a fresh run would compute (the stages are deterministic), so a run
that changes only a price re-runs economics alone, and a sweep over prices costs economics
only.  Entries are JSON files written atomically; a corrupt or unreadable entry is a miss.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)
PACKAGE = Path(__file__).resolve().parents[1]
MAX_ENTRIES_PER_STAGE = 256


def canonical_json(obj: Any) -> str:
    """Stable JSON for hashing: sorted keys, no whitespace, NaN refused."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False, default=str)


def digest(obj: Any) -> str:
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """SHA-256 over the package's source and bundled data (large traces by name and size):
    any change to the code or data that computes a result invalidates its cache entries."""
    h = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo"):
            continue
        rel = path.relative_to(PACKAGE).as_posix()
        h.update(rel.encode())
        if path.suffix in (".py", ".yaml", ".yml", ".csv", ".json", ".md") or path.stat().st_size < 256_000:
            h.update(path.read_bytes())
        else:
            h.update(str(path.stat().st_size).encode())
    return h.hexdigest()


def default_cache_dir() -> Path:
    home = os.environ.get("GIGAFACTORY_HOME")
    if home:
        return Path(home) / "cache"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "gigafactory"


def cache_enabled_by_env() -> bool:
    return os.environ.get("GIGAFACTORY_CACHE", "on").strip().lower() not in ("0", "off", "no", "false")


class StageCache:
    """A folder of ``<stage>/<key>.json`` entries."""

    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root is not None else default_cache_dir()

    def _path(self, stage: str, key: str) -> Path:
        return self.root / stage / f"{key}.json"

    def get(self, stage: str, key: str, model: type[M]) -> M | None:
        path = self._path(stage, key)
        try:
            text = path.read_text(encoding="utf-8")
            return model.model_validate_json(text)
        except (OSError, ValueError, ValidationError):
            return None

    def put(self, stage: str, key: str, result: BaseModel) -> None:
        """Store ``result``; a cache that cannot be written (read-only home, full disk) is skipped."""
        folder = self.root / stage
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{key}.", suffix=".tmp", dir=folder)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(result.model_dump_json())
                os.replace(tmp, self._path(stage, key))
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            self._prune(folder)
        except OSError:
            return

    @staticmethod
    def _prune(folder: Path) -> None:
        entries = sorted(folder.glob("*.json"), key=lambda p: (p.stat().st_mtime, p.name))
        for old in entries[:-MAX_ENTRIES_PER_STAGE]:
            old.unlink(missing_ok=True)
