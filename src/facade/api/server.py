"""`python -m facade.api.server`: the control plane in one process (what `facade up` runs).

It opens the state folder ($FACADE_HOME, default ./.facade), migrates the database, makes the
operator token at first start (printed once, kept in operator.token with mode 0600), starts
the controller with the linux data plane, and serves the API with uvicorn.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from pathlib import Path

import uvicorn

from facade.api.app import create_app
from facade.controller import Controller
from facade.dataplane.linux import LinuxDataPlane
from facade.service import accounts
from facade.service.context import Context


def home_dir() -> Path:
    return Path(os.environ.get("FACADE_HOME", ".facade")).absolute()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="facade up", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8470)
    parser.add_argument("--database", default=os.environ.get("FACADE_DATABASE"),
                        help="SQLAlchemy URL (default: SQLite in the state folder)")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        sys.exit("facade up needs root: it creates network namespaces, veths and nftables")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if os.environ.get("FACADE_TRACE"):  # every key and action the controller handles, timed
        logging.getLogger("facade.trace").setLevel(logging.DEBUG)
    home = home_dir()
    dataplane = LinuxDataPlane(home)
    for what in dataplane.adopt():  # what a crash of the previous run left unfindable
        logging.getLogger("facade").info("removed %s left by a crash", what)
    ctx = Context.open(home, dataplane, args.database)
    token = accounts.bootstrap_operator(ctx)
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
    print(f"Facade control plane: http://{args.host}:{args.port} (state in {home})", flush=True)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
