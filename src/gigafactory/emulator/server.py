"""Running the emulator: uvicorn in this process (the CLI) or in a thread (tests, benches)."""
from __future__ import annotations

import socket
import threading
import time
from typing import Any


def require_serve_extra() -> None:
    """Fail politely when the `serve` extra is not installed."""
    missing = []
    for mod in ("fastapi", "uvicorn", "prometheus_client", "tokenizers"):
        try:
            __import__(mod)
        except ImportError:
            missing.append(mod)
    if missing:
        from gigafactory.errors import InputError

        raise InputError.single(f"`gigafactory serve` needs {', '.join(missing)}", field="serve",
                                fix="pip install 'gigafactory[serve]'")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def uvicorn_config(app: Any, host: str, port: int, log_level: str = "warning") -> Any:
    import uvicorn

    # backlog: a load test opens its connections at once; h11-free httptools when installed
    return uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False, backlog=4096,
                          timeout_keep_alive=30, lifespan="on")


class ThreadedServer:
    """uvicorn serving ``app`` on a background thread of this process (tests and benches)."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int | None = None) -> None:
        import uvicorn

        self.host, self.port = host, port or free_port(host)
        self.server = uvicorn.Server(uvicorn_config(app, self.host, self.port))
        self.server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # not the main thread
        self.thread = threading.Thread(target=self.server.run, name="gigafactory-emulator", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> "ThreadedServer":
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the emulator did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
