"""The parser (zkservices.cli.args): usage errors, global options, argument types."""

from __future__ import annotations

from ._helpers import cli


def test_usage_errors_exit_2(zk_connection_string):
    for args in (["set-property", "/cms", "no-equals-sign"], ["set-property", "/cms"], ["import"],
                 ["export", "--format", "xml"], ["tree", "--bogus"], ["import", "--trim", "--no-trim", "f"]):
        result = cli(zk_connection_string, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert "usage: zkservices" in result.stderr

