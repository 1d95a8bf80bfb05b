"""Running commands: exit status, the output tail, environment, timeouts, process groups."""

from __future__ import annotations

import os
import signal

from zkservices._os import CommandResult, run_command
from zkservices._os.commands import OUTPUT_TAIL

from _util import wait_gone

WAIT = 30.0


def test_exit_status_and_last_line():
    result = run_command("echo out; echo first >&2; echo 'the reason' >&2; exit 3", timeout=WAIT)
    assert (result.returncode, result.ok, result.timed_out, result.error) == (3, False, False, None)
    assert result.stdout == "out\n" and result.stderr == "first\nthe reason\n"
    assert result.last_line() == "the reason"
    assert result.describe(WAIT) == "exit 3: the reason"
    ok = run_command(["true"], timeout=WAIT)
    assert ok.ok and ok.describe(WAIT) == "exit 0"
    assert run_command("echo only stdout; exit 2", timeout=WAIT).describe(WAIT) == "exit 2: only stdout"


def test_a_signal_is_described():
    result = run_command("kill -TERM $$", timeout=WAIT)
    assert result.returncode == -signal.SIGTERM
    assert result.describe(WAIT) == "killed by SIGTERM"
    assert CommandResult(-200, "", "").describe(1.0) == "killed by signal 200"


def test_environment_is_added_and_stdin_is_empty():
    result = run_command('echo "$ZKS_TEST_VALUE $HOME"; cat', timeout=WAIT, env={"ZKS_TEST_VALUE": "given"})
    assert result.ok and result.stdout == f"given {os.environ['HOME']}\n"


def test_a_missing_executable_is_an_error_not_an_exception():
    result = run_command(["/nonexistent/zkservices-command"], timeout=WAIT)
    assert result.returncode is None and not result.ok
    assert "/nonexistent/zkservices-command" in result.describe(WAIT)


def test_timeout_kills_the_whole_group(tmp_path):
    pidfile = tmp_path / "pid"
    result = run_command(f"sleep 60 & echo $! > {pidfile}; echo waiting; wait", timeout=0.5)
    assert result.timed_out and result.returncode is None
    assert result.describe(0.5) == "timed out after 0.5s"
    assert result.stdout == "waiting\n"  # output up to the kill is kept
    pid = int(pidfile.read_text())
    assert wait_gone(pid, WAIT)


def test_done_when_it_exits_even_with_a_background_child(tmp_path):
    pidfile = tmp_path / "pid"
    try:
        result = run_command(f"sleep 60 & echo $! > {pidfile}; echo started", timeout=20)
        assert result.ok and result.stdout == "started\n"
        os.kill(int(pidfile.read_text()), 0)  # left running
    finally:
        if pidfile.exists():
            try:
                os.kill(int(pidfile.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_only_the_tail_of_the_output_is_kept():
    result = run_command(f"head -c {OUTPUT_TAIL * 3} /dev/zero | tr '\\0' x; echo; echo last", timeout=WAIT)
    assert result.ok
    assert len(result.stdout.encode()) == OUTPUT_TAIL
    assert result.stdout.endswith("x\nlast\n") and result.last_line() == "last"


def test_own_session():
    result = run_command("awk '{print $6}' /proc/$$/stat", timeout=WAIT)
    assert result.ok and int(result.stdout) != os.getsid(0)
