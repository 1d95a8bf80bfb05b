"""Makes ``tests/_util.py`` importable as ``_util`` from every test folder, and sets
the number of examples of the property-based tests: 150 by default (``make test``),
30 in the quick server-free run (``make test-unit`` passes ``--hypothesis-profile=quick``).

Neither profile times examples: Hypothesis' default 200 ms deadline per example and its
"too slow" health check are timing assertions, which a busy CI machine (2 cores, another
job beside the suite) trips at random; how fast the code is, ``make bench`` measures."""

import os
import signal
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

# A run started in the background by a non-interactive shell (``make test &``, ``nohup``)
# inherits SIGINT ignored, and an ignored signal stays ignored across exec: the CLI processes
# the tests stop with SIGINT (Ctrl-C) would never see it.  A handler of this process's own is
# reset to the default in its children, so each child installs Python's KeyboardInterrupt.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

from hypothesis import HealthCheck, settings  # noqa: E402

_UNTIMED = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("full", max_examples=150, **_UNTIMED)
settings.register_profile("quick", max_examples=30, **_UNTIMED)
settings.load_profile("full")


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "netfaults: network faults made for real (hosts in network namespaces, nftables; needs root); "
        "select them with -m netfaults",
    )
