"""The pytest plugin itself, exercised by running pytest on small test files."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from kazoo.client import KazooClient

pytest_plugins = ["pytester"]


def test_chroot_fixture_is_fresh_and_writable(zk_client, zk_chroot, zk_server):
    assert zk_client.get_children("/") == []
    zk_client.create("/x", b"1")
    root = KazooClient(hosts=zk_server.connection_string)
    root.start()
    try:
        assert root.get(zk_chroot + "/x")[0] == b"1"
    finally:
        root.stop()
        root.close()


@pytest.mark.zookeeper  # the inner run starts a server
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
    tail = result.stdout.str().split("ZooKeeper log tail", 1)[1].split("short test summary", 1)[0]
    # only our section: pytest may print its captured-log sections (with their own frames) after it
    tail = re.split(r"\n[-=_]{5,} ", tail, maxsplit=1)[0]
    # short and relevant (issue 10): WARN and above only, no Java stack frames
    assert " - INFO  [" not in tail and "\tat org.apache" not in tail
    assert " - WARN  [" in tail or " - ERROR [" in tail or "no WARN or ERROR lines" in tail


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
    root = KazooClient(hosts=zk_server.connection_string)
    root.start()
    try:
        leftovers = [c for c in root.get_children("/zkservices-tests") if c.startswith("test_uses_given_server")]
    finally:
        root.stop()
        root.close()
    assert leftovers == []
    # the inner run's test used a server fixture, so it carries the marker
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--zk-connect={zk_server.connection_string}",
                                           "-m", "not zookeeper")
    result.assert_outcomes(deselected=1)


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
    code = (
        "import sys; import pytest_zkservices.plugin; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('kazoo', 'zkservices')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    # importing the plugin starts nothing and loads no client library, not even zkservices
    assert "kazoo.client" not in out and "zkservices.testing.server" not in out
    assert out.strip() == "[]"


SERVER_FIXTURES = ["zk", "zk_client", "zk_connection_string", "zk_server", "zk_ensemble", "zk_chroot",
                   "zookeeper_server_session", "zookeeper_ensemble_session"]


def test_marker_is_registered_and_added_to_tests_using_server_fixtures(pytester):
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture
        def indirect(zk):  # a test's own fixture built on a server fixture
            return zk
        """
    )
    pytester.makepyfile(
        "def test_pure():\n    pass\n\n"
        "def test_through_a_fixture(indirect):\n    pass\n\n"
        + "".join(f"def test_uses_{name}({name}):\n    pass\n\n" for name in SERVER_FIXTURES)
    )
    args = ["-p", "no:cacheprovider", "--strict-markers", "--collect-only", "-q"]
    result = pytester.runpytest_subprocess(*args, "-m", "not zookeeper")
    result.stdout.fnmatch_lines(["*::test_pure", f"*1/{len(SERVER_FIXTURES) + 2} tests collected*"])
    assert "test_uses_" not in result.stdout.str() and "test_through_a_fixture" not in result.stdout.str()
    result = pytester.runpytest_subprocess(*args, "-m", "zookeeper")
    result.stdout.fnmatch_lines(["*::test_through_a_fixture", *(f"*::test_uses_{name}" for name in SERVER_FIXTURES)])
    assert "test_pure" not in result.stdout.str()
    markers = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--markers")
    markers.stdout.fnmatch_lines(["@pytest.mark.zookeeper: the test uses a real ZooKeeper server*"])


def test_server_free_run_starts_no_server(pytester):
    pytester.makepyfile(
        """
        import sys

        def test_pure():
            pass

        def test_server(zk):
            raise AssertionError("deselected tests do not run")

        def test_no_server_code_was_loaded():
            assert "zkservices.testing.server" not in sys.modules and "kazoo.client" not in sys.modules
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-m", "not zookeeper",
                                           "--zk-classpath=/nonexistent/zookeeper.jar")
    result.assert_outcomes(passed=2, deselected=1)


def test_tls_fixtures_start_their_own_servers_even_with_connect(pytester, zk_server):
    pytester.makepyfile(
        """
        def test_tls(zk_tls, zk_tls_server, zk_server):
            assert type(zk_server).__name__ == "ExternalServer"  # --zk-connect applies to plain fixtures
            assert type(zk_tls_server).__name__ == "ZooKeeperServer"
            assert zk_tls.connection_string.startswith(zk_tls_server.secure_connection_string + "/")
            zk_tls.create("/over-tls", b"1")
            assert zk_tls.get("/over-tls")[0] == b"1"
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--zk-connect={zk_server.connection_string}")
    result.assert_outcomes(passed=1)


def test_tls_proc_factory_refuses_connect():
    from pytest_zkservices import factories

    with pytest.raises(ValueError, match="connect= does not go with tls=True"):
        factories.zookeeper_proc(connect="127.0.0.1:2181", tls=True)


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.zookeeper  # the inner run starts servers
def test_zk_version_runs_every_server_of_the_run_on_that_version(pytester):
    # the inner run's rootdir is pytester's directory: its .zookeeper is the project's (bootstrap --test)
    os.symlink(os.path.join(ROOT, ".zookeeper"), pytester.path / ".zookeeper")
    pytester.makepyfile(
        """
        from zkservices.testing import ZooKeeperServer

        def test_on_39(zk_server):
            assert zk_server.version[:2] == (3, 9)
            with ZooKeeperServer() as own:  # a server the test starts itself runs 3.9 too
                assert own.version[:2] == (3, 9)
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--zk-version=3.9")
    result.assert_outcomes(passed=1)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--zk-version=3.7")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*no ZooKeeper 3.7 in *.zookeeper*scripts/bootstrap --test*"])
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--zk-version=3.9",
                                           "--zk-classpath=/nonexistent/zookeeper.jar")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--zk-classpath and --zk-version * go one at a time*"])


@pytest.mark.zookeeper  # the inner run starts a server
def test_a_server_of_another_version_than_asked_fails_its_tests(pytester):
    # a directory named 3.9.5 holding Debian's 3.8 jars: the plugin notices what really runs
    lib = pytester.path / ".zookeeper" / "3.9.5" / "lib"
    lib.mkdir(parents=True)
    for jar in ("zookeeper.jar", "slf4j-log4j12.jar", "log4j-1.2.jar"):
        os.symlink(f"/usr/share/java/{jar}", lib / ("zookeeper-3.8.0.jar" if jar == "zookeeper.jar" else jar))
    pytester.makepyfile("def test_it(zk_server):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--zk-version=3.9")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*--zk-version 3.9 asked for ZooKeeper 3.9, but <ZooKeeperServer * runs 3.8.0*"])
