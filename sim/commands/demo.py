"""``trustladder demo``: start the classroom page (:mod:`sim.classroom.page`) and print its address."""

from __future__ import annotations

import argparse
import errno
import ipaddress
import os
import socket
import sys

from ..errors import UserError

#: Solara's usual port.
DEFAULT_PORT = 8765
#: The page's module, as ``solara run`` is given it.
PAGE_MODULE = "sim.classroom.page"
#: Hosts that mean "every interface of this machine".
WILDCARD_HOSTS = ("0.0.0.0", "::")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="start the live classroom page in the browser",
        description=(
            "Start the teaching page (the partnership model's runs played in the browser: network, ladder, plots, "
            "side-by-side comparisons and ready lessons) and print its address. Open the address in a browser; "
            "Ctrl+C stops the page. The page's own address carries the view, lesson, seed and parameters, so "
            "a copied link reproduces the run."
        ),
    )
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to serve on (default: %(default)s)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: %(default)s, this machine only; 0.0.0.0 listens on every "
                        "network interface, so others on the room's network can open the page)")
    p.set_defaults(func=main)


def server_command(host: str, port: int) -> list[str]:
    """The command that serves the page: ``solara run`` in production mode, no browser of its own."""
    return [sys.executable, "-m", "solara", "run", PAGE_MODULE, "--host", host, "--port", str(port),
            "--production", "--no-open", "--log-level", "warning"]


#: Solara warns, in 12 lines per browser connection, that a page served over plain http on an address other
#: than "localhost" falls back to a SameSite=Lax cookie: right for a page that is never embedded elsewhere,
#: and noise in a teacher's terminal.
COOKIE_WARNING_FILTER = "ignore:Cookies with samesite=none require https:UserWarning"


#: Solara settings of the page's server: no usage reports sent from a classroom; no "runs on Solara" badge
#: over the page; the light theme only; a session's memory freed a minute after its tab is closed (Solara
#: keeps it 24 hours by default, and a class reloading all morning would fill a laptop's memory).
SERVER_SETTINGS = {
    "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",
    "SOLARA_THEME_SHOW_BANNER": "False",
    "SOLARA_THEME_VARIANT": "light",
    "SOLARA_KERNEL_CULL_TIMEOUT": "60s",
}


def server_environment() -> dict[str, str]:
    """The environment for the page's server: no usage reports sent from a classroom, no cookie warnings."""
    filters = [f for f in (os.environ.get("PYTHONWARNINGS", ""), COOKIE_WARNING_FILTER) if f]
    return {**os.environ, **SERVER_SETTINGS, "PYTHONWARNINGS": ",".join(filters)}


def check_port(host: str, port: int) -> None:
    """Raise a UserError unless the page can listen on ``host``:``port``, saying which of the two is wrong."""
    if not 1 <= port <= 65535:
        raise UserError(f"--port {port}: must be in 1..65535")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise UserError(f"--host {host!r}: not an address or a name this machine knows ({_reason(exc)}); "
                        f"use 127.0.0.1 (this machine only) or 0.0.0.0 (every network interface)") from None
    family, _, _, _, address = infos[0]
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            # as the server's own socket: connections of a page just stopped (TIME_WAIT) do not hold the port
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(address)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UserError(f"cannot serve on {host}:{port}: the port is in use; pick another port with "
                            f"--port") from None
        if exc.errno == errno.EACCES:
            raise UserError(f"cannot serve on {host}:{port}: ports below 1024 need administrator rights; "
                            f"pick another port with --port") from None
        if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
            raise UserError(f"--host {host}: not an address of this machine ({exc.strerror}); use 127.0.0.1 "
                            f"(this machine only), 0.0.0.0 (every network interface) or one of its own "
                            f"addresses") from None
        raise UserError(f"cannot serve on {host}:{port} ({exc.strerror})") from None


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def page_addresses(host: str, port: int) -> list[tuple[str, str]]:
    """The addresses a browser can open the page at, as ``(url, where)`` pairs.

    For a wildcard host (``0.0.0.0``, ``::``) these are this machine's own
    addresses, interface by interface (link-local IPv6 ones left out: a
    browser cannot open them without a zone); for any other host, the host.
    """
    if host not in WILDCARD_HOSTS:
        return [(_url(host, port), "")]
    import psutil  # lazy: needed only to list this machine's addresses for a wildcard host

    families = (socket.AF_INET,) if host == "0.0.0.0" else (socket.AF_INET6, socket.AF_INET)
    found: list[tuple[str, str]] = []
    for family in families:
        for interface, addresses in psutil.net_if_addrs().items():
            for a in addresses:
                if a.family != family:
                    continue
                ip = ipaddress.ip_address(a.address.split("%")[0])
                if ip.is_link_local:
                    continue
                found.append((_url(str(ip), port), "this machine only" if ip.is_loopback else interface))
    found.sort(key=lambda item: item[1] != "this machine only")  # loopback first, then by interface
    return found or [(_url("127.0.0.1", port), "this machine only")]


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def main(args: argparse.Namespace) -> int:
    check_port(args.host, args.port)
    addresses = page_addresses(args.host, args.port)
    if args.host in WILDCARD_HOSTS:
        print(f"warning: --host {args.host} listens on every network interface of this machine: anyone who "
              f"can reach it on the network can open the page (the default, 127.0.0.1, keeps it to this "
              f"machine)", file=sys.stderr, flush=True)
    if len(addresses) == 1:
        print(f"TrustLadder classroom page: {addresses[0][0]}  (Ctrl+C stops it)", flush=True)
    else:
        print("TrustLadder classroom page (Ctrl+C stops it), open one of:", flush=True)
        for url, where in addresses:
            print(f"  {url}  ({where})", flush=True)
    command = server_command(args.host, args.port)
    # Become the server rather than wait for it, so stopping this process (Ctrl+C, a signal to its
    # id) stops the page and leaves nothing running behind it.
    os.execve(command[0], command, server_environment())
    return 0  # not reached
