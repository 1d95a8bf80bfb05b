"""Sphinx configuration of the zkservices documentation (``make docs``).

Built with warnings as errors (``sphinx-build -W --keep-going``): ``make docs``
and ``make test`` both do.  The pages hold prose and examples; the examples run
as doctests against a real ZooKeeper server in ``make test`` (``docs/conftest.py``),
not through Sphinx's own doctest builder.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout's zkservices, also without an installed one

import zkservices  # noqa: E402

project = "zkservices"
author = "the zkservices authors"
copyright = "the zkservices authors"
release = zkservices.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    # sphinx-argparse renders the CLI reference from the parser the command itself uses
    # (zkservices.cli.make_parser), so the reference cannot drift from the code.  Chosen
    # over a directive of our own: it is maintained under the sphinx-doc organisation,
    # released for current Sphinx, and handles subcommands and argument groups.
    "sphinxarg.ext",
]

# The repository's top-level .rst files are included by pages (.. include::); they
# are not pages of their own.  _build is where the site lands.
exclude_patterns = ["_build", "conftest.py"]
root_doc = "index"

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True, "show-inheritance": True}
autoclass_content = "both"  # the class docstring and __init__'s

html_theme = "alabaster"
html_theme_options = {"description": "Service discovery and live configuration on Apache ZooKeeper"}
html_show_sourcelink = False


def _public_bases(app, name, obj, options, bases):
    """Leave private mixins (``zkservices._x`` classes the package does not export) out
    of "Bases:": ZooKeeper's tree calls live in one, documented as its own members."""
    import zkservices

    bases[:] = [b for b in bases
                if not (getattr(b, "__module__", "").startswith("zkservices._")
                        and getattr(zkservices, getattr(b, "__name__", ""), None) is not b)]


def setup(app):
    app.connect("autodoc-process-bases", _public_bases)
