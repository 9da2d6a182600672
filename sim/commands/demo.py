"""``trustladder demo``: start the classroom page (:mod:`sim.app`) on this machine and print its address."""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path

#: Solara's usual port.
DEFAULT_PORT = 8765


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="start the live classroom page in the browser",
        description=(
            "Start the teaching page (Mesa's SolaraViz on the partnership model: network, ladder, live plots, "
            "side-by-side comparisons and ready lessons) and print its address. Open the address in a browser; "
            "Ctrl+C stops the page. The page's own address carries the view, lesson, seed and parameters, so "
            "a copied link reproduces the run."
        ),
    )
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to serve on (default: %(default)s)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: %(default)s, this machine only; 0.0.0.0 shares it on "
                        "the network)")
    p.set_defaults(func=main)


def server_command(host: str, port: int) -> list[str]:
    """The command that serves the page: ``solara run`` in production mode, no browser of its own."""
    app = Path(__file__).resolve().parent.parent / "app.py"
    return [sys.executable, "-m", "solara", "run", str(app), "--host", host, "--port", str(port),
            "--production", "--no-open", "--log-level", "warning"]


def server_environment() -> dict[str, str]:
    """The environment for the page's server: no usage reports sent from a classroom."""
    return {**os.environ, "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False"}


def check_port(host: str, port: int) -> None:
    """Raise a UserError unless ``port`` is a valid port that is free on ``host``."""
    from ..cli import UserError

    if not 1 <= port <= 65535:
        raise UserError(f"--port {port}: must be in 1..65535")
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, port))
    except OSError as exc:
        raise UserError(f"cannot serve on {host}:{port} ({exc.strerror}); pick another port with --port") from None


def main(args: argparse.Namespace) -> int:
    check_port(args.host, args.port)
    shown = f"[{args.host}]" if ":" in args.host else args.host
    if args.host in ("0.0.0.0", "::"):
        shown = "localhost"
    print(f"TrustLadder classroom page: http://{shown}:{args.port}/  (Ctrl+C stops it)", flush=True)
    command = server_command(args.host, args.port)
    # Become the server rather than wait for it, so stopping this process (Ctrl+C, a signal to its
    # id) stops the page and leaves nothing running behind it.
    os.execve(command[0], command, server_environment())
    return 0  # not reached
