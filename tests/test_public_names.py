"""The public API: one list (``zkservices.__all__``), every name importable, no optional extras loaded."""

from __future__ import annotations

import subprocess
import sys
import types

import zkservices
import zkservices.testing


def test_all_lists_every_public_name_once_and_each_resolves():
    for package in (zkservices, zkservices.testing):
        assert len(package.__all__) == len(set(package.__all__))
        assert all(getattr(package, name) is not None for name in package.__all__)
        public = {
            name for name, value in vars(package).items()
            if not name.startswith("_") and not isinstance(value, types.ModuleType)
        }
        assert public == set(package.__all__) - {"__version__"}


def test_every_error_is_at_the_top():
    import zkservices.errors

    assert set(zkservices.errors.__all__) <= set(zkservices.__all__)
    assert zkservices.ServerError is zkservices.testing.ServerError
    assert zkservices.FaultError is zkservices.testing.FaultError


def test_import_loads_no_template_engine():
    code = "import sys, zkservices; from zkservices import *; print('jinja2' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
