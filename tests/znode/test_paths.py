"""Paths without a server: ``.`` and ``..`` segments are resolved as zc.zk did."""

from __future__ import annotations

import pytest

from zkservices import InvalidPath
from zkservices._znode.paths import check_path, normalize


@pytest.mark.parametrize("path, expected", [
    ("/top/a/b/c/d/./../..", "/top/a/b"),
    ("/a/./b", "/a/b"),
    ("/a/..", "/"),
    ("/..", "/"),
    ("/a/b", "/a/b"),
    ("/", "/"),
])
def test_dot_segments_are_resolved(path, expected):
    assert normalize(path) == expected


def test_other_bad_paths_are_left_for_check_path():
    assert normalize("/a//b/..") == "/a/"
    with pytest.raises(InvalidPath):
        check_path(normalize("/a//b/.."))
    assert normalize("relative/..") == "relative/.."
