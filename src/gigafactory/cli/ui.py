"""`gigafactory ui`: the REST API and the web application in one process."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from gigafactory.cli.app import app
from gigafactory.cli.common import StoreOpt, err, out
from gigafactory.errors import InputError


@app.command()
def ui(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (loopback by default; anything else is reachable by others, so give --keys)."),
    port: int = typer.Option(8765, "--port", min=0, max=65535, help="Port (0: any free port)."),
    store: Optional[Path] = StoreOpt,
    keys: Optional[Path] = typer.Option(None, "--keys", help="API keys file (`user: key` per line; docs/ui.md). Default: $GIGAFACTORY_API_KEYS, "
                                        "else one random key for the user 'local', printed in the URL."),
    jobs: int = typer.Option(1, "--jobs", min=1, max=16, help="Jobs run at once (each in its own process); the rest wait in order."),
) -> None:
    """Serve the web application and the REST API (OpenAPI at /openapi.json); prints the URL to open."""
    import os

    from gigafactory.api import missing_extra

    why = missing_extra()
    if why:
        raise InputError.single(why, field="gigafactory ui", fix="pip install 'gigafactory[ui]'", check="extra-installed")
    import socket

    import uvicorn

    from gigafactory.api import create_app
    from gigafactory.api.auth import ENV_KEYS_FILE, LOCAL_USER, Keys, generate_key, load_keys

    key_file = keys or (Path(os.environ[ENV_KEYS_FILE]) if os.environ.get(ENV_KEYS_FILE) else None)
    local_key = None
    if key_file is not None:
        key_set = load_keys(key_file)
    else:
        local_key = generate_key()
        key_set = Keys.single(LOCAL_USER, local_key)
    application = create_app(store, key_set, max_parallel=jobs)
    # Bind first, so the printed URL has the real port (also for --port 0) and a busy port is a clear input error.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)  # connections made as soon as the URL is printed wait in the backlog until uvicorn accepts
    except OSError as exc:
        sock.close()
        raise InputError.single(f"cannot listen on {host}:{port}: {exc.strerror or exc}", field="--port", value=port,
                                fix="choose another --port (0 picks a free one)") from None
    real_port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{real_port}/" + (f"#key={local_key}" if local_key else "")
    out.print(f"gigafactory ui: open {url}", markup=False, soft_wrap=True)
    out.print(f"REST API: http://{shown}:{real_port}/api (OpenAPI: /openapi.json); "
              + ("key: the one in the URL (user 'local')" if local_key else f"keys from {key_file}"), markup=False, soft_wrap=True)
    out.file.flush()
    config = uvicorn.Config(application, log_level="warning", access_log=False, timeout_graceful_shutdown=15)
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        err.print("gigafactory ui stopped", markup=False)
