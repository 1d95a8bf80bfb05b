"""The pytest plugin itself, exercised by running pytest on small test files."""

from __future__ import annotations

pytest_plugins = ["pytester"]


def test_failing_test_report_carries_the_server_log_tail(pytester):
    pytester.makepyfile(
        """
        def test_fails(zk_client):
            zk_client.create("/x")
            assert False, "deliberate"
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*AssertionError: deliberate*", "*- ZooKeeper log tail (<ZooKeeperServer *"])
    tail = result.stdout.str().split("ZooKeeper log tail", 1)[1]
    assert " - INFO  [" in tail  # the server's own log lines, as log4j wrote them


def test_connect_flag_uses_a_running_server_and_chroots_are_removed(pytester, zk_server, zk_client):
    # the inner run uses the outer session's server instead of starting one
    pytester.makepyfile(
        """
        def test_uses_given_server(zk_server, zk_client, zk_chroot):
            assert type(zk_server).__name__ == "ExternalServer"
            zk_client.create("/inside", b"1")
            with __import__("pytest").raises(Exception, match="cannot be controlled"):
                zk_server.stop()
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--zk-connect={zk_server.connection_string}")
    result.assert_outcomes(passed=1)
    from kazoo.client import KazooClient

    root = KazooClient(hosts=zk_server.connection_string)
    root.start()
    try:
        leftovers = [c for c in root.get_children("/zkservices-tests") if c.startswith("test_uses_given_server")]
    finally:
        root.stop()
        root.close()
    assert leftovers == []


def test_ini_keys_are_read(pytester):
    pytester.makeini(
        """
        [pytest]
        zookeeper_classpath = /nonexistent/zookeeper.jar
        """
    )
    pytester.makepyfile(
        """
        def test_needs_server(zk_server):
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*classpath entries do not exist: /nonexistent/zookeeper.jar*"])


def test_plugin_import_is_cheap():
    import subprocess
    import sys

    code = (
        "import sys; import zkservices.testing.plugin; "
        "print(sorted(m for m in ('kazoo.client', 'zkservices.testing._server', 'zkservices') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    # importing the plugin starts nothing and loads no client library
    assert "kazoo.client" not in out and "zkservices.testing._server" not in out
