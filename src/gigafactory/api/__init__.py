"""The REST API and the web application (`gigafactory ui`), one FastAPI process.

FastAPI and uvicorn are an extra (``pip install 'gigafactory[ui]'``): nothing else in the
package imports them, so `gigafactory plan` runs without them.  :func:`missing_extra` says
politely what to install when they are absent.

Modules: ``auth`` (API keys), ``scenarios`` (validation exactly as `gigafactory check --json`),
``jobs`` (background plan/simulate/sweep jobs in killable worker processes, their state in SQLite),
``worker`` (the job process), ``sweeps`` (sweep specs checked for the API, results read back),
``runs`` (the run store seen per user), ``app`` (the routes).
"""
from __future__ import annotations

from typing import Any

INSTALL_HINT = "install the web extra: pip install 'gigafactory[ui]'  (FastAPI and uvicorn)"


def missing_extra() -> str | None:
    """None when FastAPI and uvicorn import; otherwise a sentence naming what is missing and how to install it."""
    missing = []
    for name in ("fastapi", "uvicorn"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if not missing:
        return None
    return f"the web application needs {' and '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not installed; {INSTALL_HINT}"


def create_app(*args: Any, **kwargs: Any) -> Any:
    """The FastAPI application (see :func:`gigafactory.api.app.create_app`); imports FastAPI only when called."""
    from gigafactory.api.app import create_app as _create

    return _create(*args, **kwargs)


__all__ = ["INSTALL_HINT", "create_app", "missing_extra"]
