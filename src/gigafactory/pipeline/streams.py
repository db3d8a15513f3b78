"""Named random streams: every stochastic source draws from a generator derived from the
scenario seed and a stable name ("rollout.risk", "simulate.pool.gb300-nvl72/llama-3.3-70b",
...), never from a position in a spawn list, so adding a stage or a pool never shifts the
numbers of another.  The name is hashed (SHA-256) into the seed sequence's spawn key."""
from __future__ import annotations

import hashlib

import numpy as np


def _spawn_key(name: str) -> tuple[int, ...]:
    if not name or not isinstance(name, str):
        raise ValueError(f"a random stream needs a non-empty name, got {name!r}")
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return tuple(int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4))


def seed_sequence(seed: int, name: str) -> np.random.SeedSequence:
    """The seed sequence of stream ``name`` under scenario seed ``seed``."""
    return np.random.SeedSequence(entropy=int(seed), spawn_key=_spawn_key(name))


def stream(seed: int, name: str) -> np.random.Generator:
    """A fresh ``numpy.random.Generator`` for stream ``name``: same seed and name, same numbers."""
    return np.random.default_rng(seed_sequence(seed, name))


def stream_seed(seed: int, name: str) -> int:
    """A 32-bit integer seed for stream ``name`` (for code that takes an int, such as a worker process)."""
    return int(seed_sequence(seed, name).generate_state(1)[0])
