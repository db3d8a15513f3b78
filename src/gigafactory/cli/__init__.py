"""The `gigafactory` command line: one module per verb group, all running the pipeline.

Exit codes: 0 success, 2 bad input (a message naming file, field, value and fix),
1 internal error.  `--json` prints machine-readable output on stdout.
"""
from __future__ import annotations

import os
import sys

from gigafactory.cli import check, plan, simulate, devices, operations, consolidate, runs, design, rollout, economics, perf, catalog  # noqa: F401, I001  (register the verbs, in help order)
from gigafactory.cli import serve  # noqa: F401,E402  (issue 17)
from gigafactory.cli import sweep  # noqa: F401,E402  (issue 19)
from gigafactory.cli import ui  # noqa: F401,E402  (issue 18)
from gigafactory.cli.app import app
from gigafactory.cli.common import err
from gigafactory.errors import InputError

__all__ = ["app", "main", "run"]


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: maps errors to exit codes, never shows a traceback for bad input.

    Typer (standalone mode) handles --help, usage errors (exit 2) and typer.Exit; our own
    InputError becomes exit 2 and anything else an internal error, exit 1.
    """
    try:
        app(args=argv, prog_name="gigafactory")
        return 0
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except InputError as exc:
        # Plain text, never re-wrapped: file paths and field names must stay intact.
        sys.stderr.write(exc.render() + "\n")
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - last resort: an internal error, exit 1
        if os.environ.get("GIGAFACTORY_DEBUG"):
            raise
        err.print(f"internal error: {type(exc).__name__}: {exc}\n(set GIGAFACTORY_DEBUG=1 for a traceback, and please report it)", markup=False)
        return 1


def run() -> None:
    sys.exit(main())
