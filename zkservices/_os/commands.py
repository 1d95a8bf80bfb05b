"""Running a command with a timeout: its own session, killed as a group, the tail of its output kept.

Used by the health checks (``CommandCheck``) and by the feed's check and
reload commands.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from typing import IO, Mapping

from .._types import Command

__all__ = ["run_command", "CommandResult", "Command", "OUTPUT_TAIL"]

# A Command (zkservices._types): a ``str`` runs through ``/bin/sh -c``, a sequence is an argv run directly.

#: Bytes of a command's stdout and stderr kept (their last lines give the reason).
OUTPUT_TAIL = 64 * 1024


def _seconds(timeout: float) -> str:
    return f"{float(timeout)}s"


@dataclass(frozen=True)
class CommandResult:
    """The outcome of :func:`run_command`.

    ``returncode`` is ``None`` when the command timed out (``timed_out``) or
    could not start (``error`` says why); ``stdout`` and ``stderr`` hold the
    last :data:`OUTPUT_TAIL` bytes of each, decoded as UTF-8 (bad bytes
    replaced).
    """

    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool = False
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the command exited 0."""
        return self.returncode == 0

    def last_line(self) -> str:
        """The last non-blank line of stderr, else of stdout, else ``''``."""
        for text in (self.stderr, self.stdout):
            for line in reversed(text.splitlines()):
                if line.strip():
                    return line.strip()
        return ""

    def describe(self, timeout: float) -> str:
        """A short reason: ``exit 1: <last line>``, ``killed by SIGKILL``, ``timed out after 2.0s``…

        ``timeout`` is the one the command ran with (named in the timeout message).
        """
        if self.error is not None:
            return self.error
        if self.timed_out:
            return f"timed out after {_seconds(timeout)}"
        assert self.returncode is not None
        if self.returncode < 0:
            try:
                what = f"killed by {signal.Signals(-self.returncode).name}"
            except ValueError:
                what = f"killed by signal {-self.returncode}"
        else:
            what = f"exit {self.returncode}"
        line = self.last_line()
        return f"{what}: {line}" if line else what


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the process group led by ``proc`` (started with its own session)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.kill()
    except ProcessLookupError:  # pragma: no cover - already reaped
        pass


def _tail(f: IO[bytes]) -> str:
    """The last :data:`OUTPUT_TAIL` bytes written to the temporary file ``f``, decoded."""
    size = f.seek(0, os.SEEK_END)
    f.seek(max(0, size - OUTPUT_TAIL))
    return (f.read() or b"").decode("utf-8", errors="replace")


def run_command(command: Command, *, timeout: float, env: Mapping[str, str] | None = None) -> CommandResult:
    """Run ``command`` (a ``str`` through ``/bin/sh``, else an argv) for at most ``timeout`` seconds.

    :param env: variables added to this process's environment for the command.

    The command runs in its own session with stdin from ``/dev/null``; on
    timeout its whole process group is killed (a shell and the children it
    started).  It is done when *it* exits: background processes it leaves
    behind (``some-daemon &``, a load balancer restarted by a reload script)
    neither delay the result nor are killed, because output goes to temporary
    files rather than pipes whose end-of-file would wait for every process
    that inherited them.

    Never raises for a failing command: a command that cannot start gives a
    result with ``error`` set.  An exception while waiting (say
    ``KeyboardInterrupt``) kills the group and propagates.
    """
    shell = isinstance(command, str)
    argv: Command = command if shell else list(command)
    full_env = None
    if env is not None:
        full_env = dict(os.environ)
        full_env.update(env)
    with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
        try:
            proc = subprocess.Popen(
                argv,
                shell=shell,
                stdin=subprocess.DEVNULL,
                stdout=out_file,
                stderr=err_file,
                start_new_session=True,
                env=full_env,
            )
        except OSError as exc:
            name = argv if shell else (argv[0] if argv else "")
            return CommandResult(None, "", "", error=f"cannot run {name!r}: {exc.strerror or exc}")
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.wait()
            return CommandResult(None, _tail(out_file), _tail(err_file), timed_out=True)
        except BaseException:
            _kill_group(proc)
            proc.wait()
            raise
        return CommandResult(proc.returncode, _tail(out_file), _tail(err_file))
