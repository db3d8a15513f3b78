"""API keys: who is calling.

Keys are configured in a file named by ``--keys`` or the environment variable
``GIGAFACTORY_API_KEYS``: a YAML (or JSON) mapping of user name to key, where a key is either
the secret itself (at least 16 characters) or ``sha256:<64 hex digits>`` of it, so the file need
not hold the secret::

    alice: 3f9c0b8e1d2a4c6f8e0b1d3a5c7e9f01
    bob: sha256:5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8

A request carries its key as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``.  Without a
keys file, `gigafactory ui` draws one random key for the user ``local`` and prints it in the URL.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from gigafactory.errors import InputError

ENV_KEYS_FILE = "GIGAFACTORY_API_KEYS"
#: the user of a keyless `gigafactory ui` session; runs recorded by the CLI (no API owner) are theirs
LOCAL_USER = "local"
MIN_KEY_CHARS = 16
_USER = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_HASHED = re.compile(r"^sha256:([0-9a-fA-F]{64})$")


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Keys:
    """SHA-256 of each key → user.  Only digests are kept in memory."""

    by_digest: dict[str, str] = field(default_factory=dict)

    def user(self, presented: str | None) -> str | None:
        """The user whose key this is, or None.  Compares digests in constant time against every key."""
        if not presented:
            return None
        d = _digest(presented)
        found = None
        for known, user in self.by_digest.items():
            if hmac.compare_digest(known, d):
                found = user
        return found

    @classmethod
    def single(cls, user: str, key: str) -> "Keys":
        return cls({_digest(key): user})


def generate_key() -> str:
    return secrets.token_urlsafe(24)


def load_keys(path: str | Path) -> Keys:
    """Read a keys file; every mistake is an InputError naming the file and the user."""
    import yaml

    p = Path(path)
    fix = "write one `user: key` line per user (a key of 16+ characters, or sha256:<hex digest>); see docs/ui.md"
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError.single(f"cannot read the API keys file: {exc.strerror or exc}", file=str(p), field="--keys", fix=fix) from None
    try:
        data = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise InputError.single(f"the API keys file is not valid YAML/JSON: {exc}", file=str(p), field="--keys", fix=fix) from None
    if not isinstance(data, dict) or not data:
        raise InputError.single("the API keys file must be a non-empty mapping of user to key", file=str(p), field="--keys", fix=fix)
    out: dict[str, str] = {}
    for user, key in data.items():
        if not isinstance(user, str) or not _USER.match(user):
            raise InputError.single("a user name must be 1-64 letters, digits or . _ @ -", file=str(p), field=str(user), fix=fix)
        if not isinstance(key, str):
            raise InputError.single("the key must be text", file=str(p), field=user, fix=fix)
        m = _HASHED.match(key)
        if m:
            d = m.group(1).lower()
        elif len(key) >= MIN_KEY_CHARS:
            d = _digest(key)
        else:
            raise InputError.single(f"the key is shorter than {MIN_KEY_CHARS} characters", file=str(p), field=user, fix=fix)
        if d in out:
            raise InputError.single(f"users {out[d]} and {user} share one key", file=str(p), field=user, fix="give each user their own key")
        out[d] = user
    return Keys(out)
