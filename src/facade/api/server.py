"""`python -m facade.api.server`: the control plane in one process (what `facade up` runs).

It opens the state folder ($FACADE_HOME, default ./.facade), migrates the database, makes the
operator token at first start (printed once, kept in operator.token with mode 0600), starts
the controller with the linux data plane, and serves the API with uvicorn.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import ipaddress
import logging
import os
import socket
import ssl
import sys
import threading
import time
from pathlib import Path

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from facade.api import logs, settings
from facade.api.app import create_app
from facade.controller import Controller
from facade.controller.simulated_agents import SimulatedAgents
from facade.dataplane.linux import LinuxDataPlane
from facade.domain import hosts as hosts_domain
from facade.domain import workload
from facade.domain.errors import Invalid
from facade.service import accounts, host_work, hosts, hosts_start
from facade.service.context import Context
from facade.store import db

AGENTS_ENV = "FACADE_SIMULATED_AGENTS"  # 0: the plane drives its simulated hosts itself


def home_dir() -> Path:
    return Path(os.environ.get("FACADE_HOME", ".facade")).absolute()


def _tls(parser: argparse.ArgumentParser, cert: str | None, key: str | None
         ) -> tuple[str, str] | None:
    """The certificate and key to serve HTTPS with (both, or neither), checked before anything
    starts: a pair that does not load is an error naming the file."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        parser.error("--tls-cert and --tls-key go together")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        parser.error(f"cannot serve TLS with --tls-cert {cert} and --tls-key {key}: "
                     f"{getattr(exc, 'strerror', None) or exc}")
    return cert, key


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def tcp_socket(config: uvicorn.Config) -> socket.socket:
    """The API's TCP socket, bound as uvicorn binds it, whose connections asyncio sets
    TCP_NODELAY on. asyncio does so only for a socket whose `proto` says TCP, and uvicorn's
    `bind_socket` makes it with proto 0, as do the connections accepted on it: without
    NODELAY, an answer written in two parts (head, then body) waits for the client's delayed
    ACK, 40 ms per request on a kept-alive connection (bench/scale.py's reads went from
    8-17 ms to 52 ms). Made again from its descriptor, the socket learns its protocol from
    the kernel."""
    return socket.socket(fileno=config.bind_socket().detach())


def api_socket(path: Path) -> socket.socket:
    """The API's unix socket, root's only (made under umask 077), which the private API
    endpoints' relays reach from their nodes (docs/multi-host.md, "The private API
    endpoint"). Bound through a descriptor of its folder: a state folder's path may be longer
    than a socket address may be (108 bytes). One left by an earlier run is replaced."""
    folder = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
    try:
        name = f"/proc/self/fd/{folder}/{path.name}"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o077)
        try:
            sock.bind(name)
        finally:
            os.umask(old)
        sock.listen(2048)
        return sock
    finally:
        os.close(folder)


def _start_hosts(parser: argparse.ArgumentParser, path: Path | None,
                 count: int | None) -> int | None:
    """How many simulated hosts to run at start (--hosts, else the settings file's
    `hosts:`; None: neither says), checked before anything starts."""
    try:
        from_file = settings.read(path).hosts if path is not None else None
        return hosts_domain.check_count(count, where="--hosts") if count is not None \
            else from_file
    except Invalid as exc:
        parser.error(f"{exc.where}: {exc.message}")


def _agents_default(parser: argparse.ArgumentParser) -> bool:
    """Simulated hosts on their agents unless $FACADE_SIMULATED_AGENTS is 0 (docs/multi-host.md,
    "Simulated hosts on their agents"); another value stops the start, naming it."""
    value = os.environ.get(AGENTS_ENV, "").strip()
    if value not in ("", "0", "1"):
        parser.error(f"{AGENTS_ENV}={value!r}: use 1 (simulated hosts on their agents, the "
                     "default) or 0 (the control plane drives them itself)")
    return value != "0"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="facade up", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8470)
    parser.add_argument("--database", default=os.environ.get("FACADE_DATABASE"),
                        help="the store: a PostgreSQL URL (default: SQLite in the state folder)")
    parser.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--tls-key", help="... and this private key (PEM)")
    parser.add_argument("--log-format", default=None, choices=logs.FORMATS,
                        help=f"each log line as text or one JSON object (default: "
                             f"${logs.ENV}, else text)")
    parser.add_argument("--settings", type=Path, default=None,
                        help="the control plane's settings file (YAML: hosts: N)")
    parser.add_argument("--hosts", type=int, default=None,
                        help="simulated hosts h1..hN made at start if missing (over the "
                             "settings file's hosts:)")
    parser.add_argument("--simulated-agents", action=argparse.BooleanOptionalAction,
                        default=None,
                        help="each simulated host's kernel changed by its own host agent, "
                             f"run as this process's child (default yes, unless ${AGENTS_ENV}"
                             "=0; --no-simulated-agents: "
                             "this process changes them itself)")
    args = parser.parse_args(argv)
    if args.simulated_agents is None:
        args.simulated_agents = _agents_default(parser)
    tls = _tls(parser, args.tls_cert, args.tls_key)
    start_hosts = _start_hosts(parser, args.settings, args.hosts)
    log_format = args.log_format or logs.default_format()
    if log_format not in logs.FORMATS:
        parser.error(f"{logs.ENV}={log_format!r}: use one of {', '.join(logs.FORMATS)}")
    if tls is None and not _loopback(args.host):
        print(f"warning: serving {args.host}:{args.port} without TLS: tokens cross the network "
              "in clear; give --tls-cert and --tls-key", file=sys.stderr, flush=True)
    if args.database:  # before anything starts: a store that cannot be used stops it here
        try:
            db.open_engine(args.database).dispose()
        except db.StoreUnavailable as exc:
            sys.exit(f"facade up: {exc}")
    if os.geteuid() != 0:
        sys.exit("facade up needs root: it creates network namespaces, veths and nftables")
    logs.configure(log_format)
    if os.environ.get("FACADE_TRACE"):  # every key and action the controller handles, timed
        logging.getLogger("facade.trace").setLevel(logging.DEBUG)
    home = home_dir()
    dataplane = LinuxDataPlane(home)
    for what in dataplane.adopt():  # what a crash of the previous run left unfindable
        logging.getLogger("facade").info("removed %s left by a crash", what)
    ctx = Context.open(home, dataplane, args.database)
    host_work.route(ctx)  # a host whose agent registered: its kernel work goes to its agent
    if args.simulated_agents:  # each simulated host on its own agent, our child
        ctx.agents = SimulatedAgents(home, ended=ctx.host_work.gone)
    token = accounts.bootstrap_operator(ctx)
    hosts.ensure_local(ctx)
    for name in hosts.restore(ctx):  # the simulated hosts run again (their nodes need them)
        logging.getLogger("facade").warning("simulated host %s could not be started", name)
    if start_hosts is not None and ctx.agents is None:
        for note in hosts_start.ensure(ctx, start_hosts):
            print(note, flush=True)
    elif start_hosts is not None:  # their agents register through the API: once it serves
        threading.Thread(target=_ensure_hosts_when_served, args=(ctx, start_hosts, home),
                         name="facade-start-hosts", daemon=True).start()
    if token:
        print(f"operator token (shown once, also in {home / 'operator.token'}):\n{token}",
              flush=True)
    app = create_app(ctx)
    # What exists now (modules, the app, the engine) lives as long as the process: out of the
    # collector's full passes, which otherwise walk it every few dozen requests (a page of 100
    # appliances then took 5 times its median: docs/benchmarks.md, "Reads").
    gc.collect()
    gc.freeze()
    controller = Controller(ctx)
    controller.start()
    scheme = "https" if tls else "http"
    print(f"Facade control plane: {scheme}://{args.host}:{args.port} (state in {home})",
          flush=True)
    try:
        # in JSON, uvicorn's own lines go through the root logger's handler too (its
        # configuration, the default, would give them a text handler of their own)
        config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning",
                                ssl_certfile=tls[0] if tls else None,
                                ssl_keyfile=tls[1] if tls else None,
                                log_config=None if log_format == "json" else LOGGING_CONFIG)
        sockets = [tcp_socket(config), api_socket(home / workload.API_SOCKET)]
        uvicorn.Server(config).run(sockets=sockets)
    finally:
        controller.stop()
        if isinstance(ctx.agents, SimulatedAgents):
            ctx.agents.close()  # their hosts stay as they are: the next start runs them again
        with contextlib.suppress(OSError):
            os.unlink(home / workload.API_SOCKET)


def _ensure_hosts_when_served(ctx: Context, count: int, home: Path) -> None:
    """`hosts: N` with simulated agents: once the API answers on its unix socket (the agents
    register there), the missing hosts made."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), \
                socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            folder = os.open(home, os.O_PATH | os.O_DIRECTORY)
            try:
                probe.connect(f"/proc/self/fd/{folder}/{workload.API_SOCKET}")
            finally:
                os.close(folder)
            break
        time.sleep(0.1)
    for note in hosts_start.ensure(ctx, count):
        print(note, flush=True)


if __name__ == "__main__":
    main()
