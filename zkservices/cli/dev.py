"""Commands that start their own local ZooKeeper: ``demo`` and ``dev-server`` (need no connection string)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from .args import CommandError, command, no_arguments

__all__: list[str] = []


@command("demo", "start a local ZooKeeper and show zkservices at work (needs no connection string)",
         connects=False)(no_arguments)
def demo(args: argparse.Namespace) -> int:
    try:
        import jinja2

        del jinja2  # (the demo renders a feed: check before starting anything)
    except ImportError:
        raise CommandError("the demo renders a feed, which needs Jinja2: "
                           "pip install 'zkservices[feed]'") from None
    from .demo import run_demo

    if args.verbose < 2:
        # The demo's screen is for the story: the local server's own log (a readiness
        # probe racing its start can make it log a Java stack trace at ERROR) only
        # with -vv.  A server that fails to start still fails the demo, with its log.
        logging.getLogger("zkservices.server").setLevel(logging.CRITICAL)
    return run_demo()


def _dev_server_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ensemble", type=int, metavar="N", default=0,
                        help="run an ensemble of N servers instead of one standalone server")
    parser.add_argument("--port", type=int, default=None,
                        help="client port of the standalone server (default: a free port)")
    parser.add_argument("--tls", action="store_true",
                        help="also serve TLS on a secure port, with throw-away certificates; prints the "
                             "secure connection string and the files clients need")
    parser.add_argument("--mtls", action="store_true",
                        help="like --tls, and clients must show a certificate (ssl.clientAuth=need)")


@command("dev-server", "run a real local ZooKeeper in the foreground until interrupted",
         connects=False)(_dev_server_arguments)
def dev_server(args: argparse.Namespace) -> int:
    from ..testing import ZooKeeperEnsemble, ZooKeeperServer

    if args.ensemble and args.port is not None:
        raise SystemExit("zkservices dev-server: --port applies to a standalone server only")
    tls = args.tls or args.mtls
    if args.ensemble and tls:
        raise SystemExit("zkservices dev-server: --tls/--mtls apply to a standalone server only")
    server: ZooKeeperServer | ZooKeeperEnsemble
    if tls:
        server = ZooKeeperServer(port=args.port, tls=True, client_auth="need" if args.mtls else "none")
    else:
        server = ZooKeeperEnsemble(args.ensemble) if args.ensemble else ZooKeeperServer(port=args.port)
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with server:
            if isinstance(server, ZooKeeperServer) and tls:
                # first line: what to connect to; then the environment a client needs
                print(server.secure_connection_string, flush=True)
                print(f"ZKSERVICES_TLS_CA={server.ca_file}", flush=True)
                if args.mtls:
                    print(f"ZKSERVICES_TLS_CERT={server.client_cert_file}", flush=True)
                    print(f"ZKSERVICES_TLS_KEY={server.client_key_file}", flush=True)
                print(f"ZooKeeper serving TLS at {server.secure_connection_string} "
                      f"({'client certificates required' if args.mtls else 'no client certificate needed'}; "
                      f"plain port {server.connection_string} for srvr); files in {server.tls_dir}; "
                      "export the lines above (or pass --tls-ca/--tls-cert/--tls-key); "
                      "Ctrl-C or SIGTERM stops it", file=sys.stderr, flush=True)
            else:
                print(server.connection_string, flush=True)
                print(f"ZooKeeper serving at {server.connection_string}; Ctrl-C or SIGTERM stops it",
                      file=sys.stderr, flush=True)
            try:
                while not stop.wait(0.5):
                    pass
            except KeyboardInterrupt:
                pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    print("ZooKeeper stopped and its data removed", file=sys.stderr)
    return 0
