"""Makes ``tests/_util.py`` importable as ``_util`` from every test folder, and sets
the number of examples of the property-based tests: 150 by default (``make test``),
30 in the quick server-free run (``make test-unit`` passes ``--hypothesis-profile=quick``)."""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from hypothesis import settings  # noqa: E402

settings.register_profile("full", max_examples=150)
settings.register_profile("quick", max_examples=30)
settings.load_profile("full")
