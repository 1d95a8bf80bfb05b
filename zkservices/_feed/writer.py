"""The file side of a feed: :class:`FileFeed` renders contexts into a file, checks, writes, reloads.

It works as consul-template and Synapse do:

1. **Quiescence.**  After an update, wait until no further update has arrived for
   ``min_wait`` seconds, but never more than ``max_wait`` seconds after the first
   pending update (``max_wait=0``: no cap; ``min_wait=0``: render at once).  Only
   the latest context is rendered; updates arriving during a render coalesce.
2. **Check and render** (:mod:`zkservices._feed.render`): with a ``checker``
   (a :class:`~zkservices._feed.safety.ContextChecker`, as :class:`~zkservices.Feed`
   passes), bad providers are left out first and a bad service property fails
   the cycle (see :mod:`zkservices._feed.safety`).
3. **Compare** with the file on disk; identical text means nothing else happens
   (no write, no check, no reload).
4. **Check** (optional): the candidate is staged in a hidden temporary file next
   to the output (same suffix) and ``check_command`` runs through the shell with
   every ``{}`` replaced by the candidate's absolute (shell-quoted) path; it is also
   in ``$ZKSERVICES_FEED_CANDIDATE`` (and the output's in
   ``$ZKSERVICES_FEED_OUTPUT``).  On failure the old file stays and the reason,
   with the last :data:`OUTPUT_LINES` lines of the command's output, is logged.
5. **Write atomically** (:class:`~zkservices._os.StagedFile`: fsync, permission
   bits kept, ``os.replace``).  With a check command, the very file that passed
   the check is renamed into place.
6. **Reload** (optional): ``reload_command`` runs through the shell once per change
   written, the first write included.  A reload that fails is run again (after
   1 s, doubling up to 30 s, or at the next cycle) until it succeeds.  Commands
   are done when they exit; background processes they start are left alone.
   With ``reload_interval``, reloads run at most once per that many seconds:
   files written in between are reloaded together by one reload at the end of
   the interval (a reload still owed when the feed closes is run then).

Each file written and each reload is logged at INFO under ``zkservices.feed``,
naming the output file and what changed (providers added, removed or changed
and service properties changed, by name).  Errors (template, data, check,
write, reload) are logged there too and recorded in :attr:`FileFeed.last_error`;
they never stop the feed.
"""

from __future__ import annotations

import logging
import os
import shlex
import time
from typing import Any, Callable, Mapping

from ..errors import FeedError, FeedTemplateError
from .._os import UNTIL_WOKEN, BackgroundLoop, CommandResult, PathLike, StagedFile, read_bytes, run_command
from .context import describe_changes
from .render import compile_template, render_compiled
from .safety import ContextChecker

__all__ = [
    "FileFeed",
    "substitute_path",
    "CANDIDATE_ENV",
    "OUTPUT_ENV",
    "OUTPUT_LINES",
    "RELOAD_RETRY_FIRST",
    "RELOAD_RETRY_MAX",
]

log = logging.getLogger("zkservices.feed")

CANDIDATE_ENV = "ZKSERVICES_FEED_CANDIDATE"
OUTPUT_ENV = "ZKSERVICES_FEED_OUTPUT"

#: Seconds before a failed reload command is run again (doubling up to the maximum).
RELOAD_RETRY_FIRST = 1.0
RELOAD_RETRY_MAX = 30.0

#: Lines of a failed check or reload command's output kept in the error (the
#: line saying what is wrong is seldom the last).
OUTPUT_LINES = 20

_NOTHING: Any = object()
_RETRY_RELOAD: Any = object()  # the worker's cue to run a failed reload command again


def substitute_path(command: str, path: str) -> str:
    """``command`` with every ``{}`` replaced by ``path``, shell-quoted.

    ``"{}"`` and ``'{}'`` (the placeholder already quoted, as people write it
    by habit) are replaced as a whole, so a path with spaces stays one word.
    """
    quoted = shlex.quote(path)
    for placeholder in ('"{}"', "'{}'", "{}"):
        command = command.replace(placeholder, quoted)
    return command


def _failure(what: str, command: str, result: CommandResult, timeout: float) -> str:
    """``what command 'x' failed (exit 1: last line)``, then the output's last :data:`OUTPUT_LINES` lines."""
    message = f"{what} {command!r} failed ({result.describe(timeout)})"
    lines = [line.rstrip() for text in (result.stdout, result.stderr) for line in text.splitlines() if line.strip()]
    if len(lines) > 1:
        tail = lines[-OUTPUT_LINES:]
        skipped = f" (last {len(tail)} of {len(lines)} lines)" if len(lines) > len(tail) else ""
        message += f"; its output{skipped}:\n" + "\n".join(f"  {line}" for line in tail)
    return message


class FileFeed:
    """A thread-safe sink that renders template contexts into a file (see the module documentation).

    Call :meth:`update` with a new context from any thread (it never blocks on
    rendering or commands); a worker thread waits for quiescence, renders the
    latest context, and writes, checks and reloads.  Do not mutate a context
    after passing it.

    Options (keyword-only):

    - ``template_text``: the Jinja2 template (compiled at once: a syntax error
      raises :class:`~zkservices.FeedTemplateError` here, ``ImportError`` without
      jinja2); ``template_name`` names it in errors;
    - ``output``: the file to maintain;
    - ``check_command``: shell command validating a candidate (``{}`` → its path);
    - ``reload_command``: shell command run after each change written;
    - ``min_wait`` / ``max_wait``: quiescence, in seconds (0: none / no cap);
    - ``command_timeout``: seconds before a check or reload command is killed;
    - ``reload_interval``: at most one reload per this many seconds (0: no limit);
      changes written in between coalesce into one reload;
    - ``dry_run``: render only (see :attr:`last_rendered`); no file, check or reload;
    - ``checker``: a :class:`~zkservices._feed.safety.ContextChecker` that checks
      each context before it is rendered (``None``: contexts are rendered as given);
    - ``name``: used in logs and ``repr``;
    - ``on_render``: called on the worker thread with the text of each
      rendering that differs from the previous one (dry runs included).

    Bad values raise :class:`ValueError`.

    Counters and state: :attr:`writes`, :attr:`reloads` (reload commands that
    succeeded), :attr:`reload_failures`, :attr:`check_failures`,
    :attr:`render_failures`, :attr:`data_failures` (contexts the checker
    refused), :attr:`write_failures`, :attr:`unchanged` (cycles that found the
    file up to date), :attr:`processed` (cycles done: rendered, failed or
    unchanged), :attr:`last_rendered`, :attr:`last_error` (the latest error
    message, reset to ``None`` by a fully successful cycle), :attr:`last_result`
    (``"written"``, ``"unchanged"`` or ``"failed"``; ``None`` before the first
    cycle), :attr:`last_cycle` and :attr:`last_success` (``time.time()`` of the
    latest cycle and of the latest that wrote or confirmed the file).  Each step
    is counted last, once it is done: a reader that sees a count change sees the
    step's whole outcome -- the file in place (or a refused candidate removed),
    :attr:`last_result`, :attr:`last_error` and the log line.

    Lifecycle: the constructor starts no thread; the worker starts with the
    first :meth:`update`.  :meth:`close` (also on leaving a ``with`` block)
    renders any pending update at once, then stops the worker; later updates
    are ignored.
    """

    def __init__(
        self,
        *,
        template_text: str,
        output: PathLike,
        check_command: str | None = None,
        reload_command: str | None = None,
        min_wait: float = 0.0,
        max_wait: float = 0.0,
        dry_run: bool = False,
        name: str | None = None,
        template_name: str = "<template>",
        command_timeout: float = 60.0,
        on_render: Callable[[str], None] | None = None,
        checker: ContextChecker | None = None,
        reload_interval: float = 0.0,
    ) -> None:
        if reload_interval < 0:
            raise ValueError(f"reload_interval must not be negative, not {reload_interval}")
        if min_wait < 0 or max_wait < 0:
            raise ValueError(f"min_wait and max_wait must not be negative (got {min_wait}, {max_wait})")
        if command_timeout <= 0:
            raise ValueError(f"command_timeout must be positive, not {command_timeout}")
        self.template_name = template_name
        self._template = compile_template(template_text, template_name)
        self.output = os.fspath(output)
        self.check_command = check_command or None
        self.reload_command = reload_command or None
        self.min_wait = float(min_wait)
        self.max_wait = float(max_wait)
        self.dry_run = bool(dry_run)
        self.command_timeout = float(command_timeout)
        self.reload_interval = float(reload_interval)
        self.name = name if name is not None else os.path.basename(self.output) or self.output
        self.on_render = on_render
        self.checker = checker

        self.writes = 0
        self.reloads = 0
        self.reload_failures = 0
        self.check_failures = 0
        self.render_failures = 0
        self.data_failures = 0
        self.write_failures = 0
        self.unchanged = 0
        self.processed = 0
        self.last_result: str | None = None
        self.last_cycle: float | None = None
        self.last_success: float | None = None
        self.last_rendered: str | None = None
        self.last_error: str | None = None

        self._loop = BackgroundLoop(self._step, name=f"zkservices-feed {self.name}")
        self._cond = self._loop.condition
        self._pending: Any = _NOTHING
        self._first_pending = 0.0  # monotonic time of the first pending update
        self._last_update = 0.0  # monotonic time of the latest update
        self._received = 0  # updates received
        self._done = 0  # updates taken care of (rendered or superseded)
        self._hurry = False  # skip the rest of the quiescence wait
        self._busy = False
        self._closed = False
        # The file on disk is newer than what the reload command last loaded: a
        # reload failed.  It is run again at _reload_at (RELOAD_RETRY_FIRST
        # doubling up to RELOAD_RETRY_MAX) or at the next cycle, until it succeeds.
        self._reload_owed = False
        self._reload_retry = RELOAD_RETRY_FIRST
        self._reload_at = 0.0
        self._reload_deferred = False  # owed because of reload_interval, not because it failed
        self._last_reload: float | None = None  # monotonic time the reload command last started
        # what the file and the reloaded configuration were made of (for the log)
        self._written: Mapping[str, Any] | None = None
        self._loaded: Mapping[str, Any] | None = None

    # -- the public side ---------------------------------------------------

    def update(self, context: Mapping[str, Any]) -> None:
        """Hand over a new context; returns at once.  Ignored after :meth:`close`."""
        now = time.monotonic()
        with self._cond:
            if self._closed:
                log.debug("%s: update after close ignored", self.name)
                return
            if self._pending is _NOTHING:
                self._first_pending = now
            self._pending = context
            self._last_update = now
            self._received += 1
            if not self._loop.started:
                self._loop.start()
            self._loop.wake()

    def flush(self, timeout: float | None = None, *, now: bool = False) -> bool:
        """Wait until every update received so far has been dealt with.

        With ``now=True`` the remaining quiescence wait is skipped (for
        ``--once``).  Returns ``False`` if ``timeout`` seconds passed first.
        """
        with self._cond:
            target = self._received
            if now:
                self._hurry = True
                self._loop.wake()
            return self._cond.wait_for(lambda: self._done >= target or self._loop.finished, timeout)

    def close(self, timeout: float | None = None) -> None:
        """Render any pending update now, then stop the worker (waits up to ``timeout`` seconds).

        Idempotent; from ``on_render`` it does not wait.
        """
        with self._cond:
            self._closed = True
            self._loop.wake()
        self._loop.join(timeout)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    @property
    def pending(self) -> bool:
        """Whether an update is waiting or being rendered."""
        with self._cond:
            return self._pending is not _NOTHING or self._busy

    def __enter__(self) -> "FileFeed":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        flags = []
        if self.dry_run:
            flags.append("dry-run")
        if self._closed:
            flags.append("closed")
        elif self.pending:
            flags.append("pending")
        extra = "".join(f" {flag}" for flag in flags)
        return (
            f"<FileFeed {self.name} output={self.output!r} writes={self.writes} "
            f"reloads={self.reloads} check_failures={self.check_failures}{extra}>"
        )

    # -- the worker --------------------------------------------------------

    def _step(self) -> float | None:
        """One turn of the worker: wait for an update and quiescence, then process it."""
        now = time.monotonic()
        with self._cond:
            if self._pending is _NOTHING:
                self._hurry = False
                closing_reload = self._closed and self._reload_owed and self._reload_deferred
                if self._closed and not closing_reload:
                    self._done = self._received
                    self._cond.notify_all()
                    return None
                if closing_reload:
                    self._last_reload = None  # closing: the interval no longer holds the reload back
                elif not self._reload_owed:
                    return UNTIL_WOKEN
                elif self._reload_at > now:
                    return self._reload_at - now
                context = _RETRY_RELOAD
            else:
                if not (self._closed or self._hurry):
                    deadline = self._last_update + self.min_wait
                    if self.max_wait > 0:
                        deadline = min(deadline, self._first_pending + self.max_wait)
                    if deadline > now:
                        return deadline - now
                context, self._pending = self._pending, _NOTHING
                self._hurry = False
            taken = self._received
            self._busy = True
        try:
            if context is _RETRY_RELOAD:
                self._retry_reload()
            else:
                self._process(context)
        except Exception as exc:  # never let the worker die
            log.exception("%s: unexpected error", self.name)
            self.last_error = f"{type(exc).__name__}: {exc}"
        finally:
            with self._cond:
                self._busy = False
                self._done = max(self._done, taken)
                self._cond.notify_all()
        return 0.0

    def _process(self, context: Mapping[str, Any]) -> None:
        before, failures = self.last_rendered, self.render_failures
        self.last_cycle = time.time()
        try:
            self._cycle(context)
        finally:
            self.processed += 1
        text = self.last_rendered
        if self.on_render is not None and self.render_failures == failures and text is not None and text != before:
            try:
                self.on_render(text)
            except Exception:
                log.exception("%s: on_render raised", self.name)

    def _render(self, context: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
        """The rendered text and the context it was rendered from (checked, when there is a checker)."""
        rendered: list[Mapping[str, Any]] = [context]

        def render(checked: Mapping[str, Any]) -> str:
            rendered[0] = checked
            return render_compiled(self._template, checked, self.template_name)

        text = self.checker.render(context, render) if self.checker is not None else render(context)
        return text, rendered[0]

    def _cycle(self, context: Mapping[str, Any]) -> None:
        try:
            text, context = self._render(context)
        except FeedTemplateError as exc:
            self._failed("render_failures", str(exc), logging.ERROR,
                         "%s: cannot render the template, %s is left as it is: %s", self.name, self.output, exc)
            return
        except FeedError as exc:
            self._failed("data_failures", str(exc), logging.ERROR, "%s: %s (%s)", self.name, exc, self.output)
            return
        changed_from_last = text != self.last_rendered
        self.last_rendered = text
        if self.dry_run:
            log.info(
                "%s: dry run: rendered %d characters for %s (%s)",
                self.name, len(text), self.output, "changed" if changed_from_last else "unchanged",
            )
            self.last_error = None
            return
        data = text.encode("utf-8")
        try:
            if read_bytes(self.output) == data:
                log.debug("%s: %s is up to date", self.name, self.output)
                self._written = context
                self._succeeded("unchanged")
                if self._reload_owed:
                    self._retry_reload()
                else:
                    self.last_error = None
                self.unchanged += 1
                return
            refusal: str | None = None
            with StagedFile(self.output, data) as candidate:
                if self.check_command:
                    refusal = self._check(os.path.abspath(candidate.path))
                if refusal is None:
                    candidate.commit()
        except OSError as exc:
            error = f"cannot write {self.output}: {exc}"
            self._failed("write_failures", error, logging.ERROR, "%s: %s", self.name, error)
            return
        if refusal is not None:  # reported once the candidate is gone (StagedFile removed it)
            self._failed("check_failures", refusal, logging.WARNING, "%s: %s; %s is left as it is",
                         self.name, refusal, self.output)
            return
        self._succeeded("written")
        changes = describe_changes(self._written, context)
        self._written = context
        self.last_error = None  # written: an earlier error is behind it (the reload reports its own)
        log.info("%s: wrote %s (%d bytes)%s", self.name, self.output, len(data), f": {changes}" if changes else "")
        self.writes += 1
        if self.reload_command:
            wait = self._interval_wait()
            if wait > 0:
                if not self._reload_owed:
                    self._reload_deferred = True
                    self._reload_at = time.monotonic() + wait
                self._reload_owed = True
                log.info("%s: reload deferred %.1fs (reload_interval %gs)", self.name, wait, self.reload_interval)
            else:
                self._reload()

    def _failed(self, counter: str, error: str, level: int, message: str, *args: Any) -> None:
        """A failed step: its result and error, its log line, then its count (last: see the
        class docstring)."""
        self.last_result = "failed"
        self.last_error = error
        log.log(level, message, *args)
        setattr(self, counter, getattr(self, counter) + 1)

    def _succeeded(self, result: str) -> None:
        self.last_result = result
        self.last_success = self.last_cycle

    def _interval_wait(self) -> float:
        """Seconds before ``reload_interval`` lets the next reload run (0: now)."""
        if self.reload_interval <= 0 or self._last_reload is None:
            return 0.0
        return max(0.0, self._last_reload + self.reload_interval - time.monotonic())

    def _check(self, candidate: str) -> str | None:
        assert self.check_command is not None
        command = substitute_path(self.check_command, candidate)
        result = run_command(
            command,
            timeout=self.command_timeout,
            env={CANDIDATE_ENV: candidate, OUTPUT_ENV: self.output},
        )
        if result.ok:
            log.debug("%s: check command %r passed", self.name, self.check_command)
            return None
        return _failure("check command", self.check_command, result, self.command_timeout)

    def _retry_reload(self) -> None:
        """Run a reload command that failed after the last write again."""
        if not self._reload_owed or not self.reload_command:
            return
        wait = self._interval_wait()
        if wait > 0:
            self._reload_at = max(self._reload_at, time.monotonic() + wait)
            return
        if self._reload_deferred:
            log.info("%s: reloading after %s was written (changes coalesced by reload_interval)",
                     self.name, self.output)
        else:
            log.info("%s: running the reload command again (it failed after %s was written)", self.name, self.output)
        self._reload()

    def _reload(self) -> None:
        assert self.reload_command is not None
        self._last_reload = time.monotonic()
        self._reload_deferred = False
        result = run_command(self.reload_command, timeout=self.command_timeout, env={OUTPUT_ENV: self.output})
        if result.ok:
            self._reload_owed = False
            self._reload_retry = RELOAD_RETRY_FIRST
            self.last_error = None
            changes = describe_changes(self._loaded, self._written) if self._written is not None else ""
            self._loaded = self._written
            log.info(
                "%s: reloaded after writing %s (reload command %r succeeded)%s",
                self.name, self.output, self.reload_command, f": {changes}" if changes else "",
            )
            self.reloads += 1
            return
        if self._reload_owed:
            self._reload_retry = min(self._reload_retry * 2, RELOAD_RETRY_MAX)
        self._reload_owed = True
        self._reload_at = time.monotonic() + max(self._reload_retry, self._interval_wait())
        self.last_error = _failure("reload command", self.reload_command, result, self.command_timeout)
        log.error("%s: %s", self.name, self.last_error)
        self.reload_failures += 1
