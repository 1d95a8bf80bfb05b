"""Fixtures of the CLI tests."""

from __future__ import annotations

import pytest

from ._helpers import TREE


@pytest.fixture
def tree_file(tmp_path):
    path = tmp_path / "service.tree"
    path.write_text(TREE)
    return path

