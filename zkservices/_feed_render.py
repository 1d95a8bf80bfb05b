"""Rendering load-balancer configuration files (the file side of ``zkservices feed``).

Status: phase 1 -- rendering, atomic writes and the dampened file sink; the
ZooKeeper side (watching services and providers) feeds :class:`FileFeed` with
contexts built by :func:`build_context`.

The feed works as consul-template and Synapse do:

1. **Quiescence.**  After an update, wait until no further update has arrived for
   ``min_wait`` seconds, but never more than ``max_wait`` seconds after the first
   pending update (``max_wait=0``: no cap; ``min_wait=0``: render at once).  Only
   the latest context is rendered; updates arriving during a render coalesce.
2. **Render** with Jinja2 (``StrictUndefined``: an undefined name is an error that
   names the template and line; ``trim_blocks`` and ``lstrip_blocks`` are on, so a
   line holding only a ``{% … %}`` tag leaves no blank line; a trailing newline is
   kept).
3. **Compare** with the file on disk; identical text means nothing else happens
   (no write, no check, no reload).
4. **Check** (optional): the candidate is written to a hidden temporary file next to
   the output (``.<stem>.<random>.tmp<suffix>``, same suffix so tools that look at
   it are happy) and ``check_command`` runs through the shell with every ``{}``
   replaced by the candidate's (shell-quoted) path; the path is also in
   ``$ZKSERVICES_FEED_CANDIDATE`` (and the output's in ``$ZKSERVICES_FEED_OUTPUT``).
   On failure the old file stays and the reason is logged.
5. **Write atomically** (:func:`atomic_write`: temp file in the same directory,
   ``fsync``, permission bits of the existing file kept, ``os.replace``, ``fsync`` of
   the directory).  With a check command, the very file that passed the check is
   renamed into place.
6. **Reload** (optional): ``reload_command`` runs through the shell once per change
   written, the first write included.  A reload that fails is run again (after
   1 s, doubling up to 30 s, or at the next cycle) until it succeeds.
   Commands are done when they exit; background processes they start are left
   alone.

Errors (template, check, write, reload) are logged under ``zkservices.feed`` and
recorded in :attr:`FileFeed.last_error`; they never stop the feed.
"""

from __future__ import annotations

import errno
import logging
import os
import secrets
import shlex
import stat
import threading
import time
import types
from importlib import resources
from typing import Any, Mapping, Optional, Sequence, Union

from .errors import FeedTemplateError
from ._health import _run_command

__all__ = [
    "FeedTemplateError",
    "render",
    "atomic_write",
    "FileFeed",
    "build_context",
    "service_entry",
    "provider_entry",
    "example_template",
]

log = logging.getLogger("zkservices.feed")

PathLike = Union[str, "os.PathLike[str]"]

#: Mode of a newly created output file, before the umask applies (an existing
#: file keeps its own permission bits).
NEW_FILE_MODE = 0o644

CANDIDATE_ENV = "ZKSERVICES_FEED_CANDIDATE"
OUTPUT_ENV = "ZKSERVICES_FEED_OUTPUT"




# --------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------


def _jinja2() -> types.ModuleType:
    try:
        import jinja2
    except ImportError as exc:
        raise ImportError("jinja2 is needed: pip install zkservices[feed]") from exc
    return jinja2


def _environment() -> Any:
    jinja2 = _jinja2()
    return jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _template_line(tb: Optional[types.TracebackType], template_name: str) -> Optional[int]:
    """The line of the innermost traceback frame that belongs to the template."""
    lineno = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == template_name:
            lineno = tb.tb_lineno
        tb = tb.tb_next
    return lineno


def _compile(template_text: str, template_name: str) -> Any:
    """Compile ``template_text``; syntax errors become :class:`FeedTemplateError`."""
    jinja2 = _jinja2()
    env = _environment()
    try:
        code = env.compile(template_text, name=template_name, filename=template_name)
    except jinja2.TemplateSyntaxError as exc:
        raise FeedTemplateError(exc.message or str(exc), template_name=template_name, lineno=exc.lineno) from None
    return env.template_class.from_code(env, code, env.make_globals(None))


def _render_compiled(template: Any, context: Mapping[str, Any], template_name: str) -> str:
    try:
        return template.render(context)
    except Exception as exc:
        reason = str(exc) if type(exc).__module__.startswith("jinja2") else f"{type(exc).__name__}: {exc}"
        raise FeedTemplateError(
            reason, template_name=template_name, lineno=_template_line(exc.__traceback__, template_name)
        ) from exc


def render(template_text: str, context: Mapping[str, Any], *, template_name: str = "<template>") -> str:
    """Render a Jinja2 template with ``StrictUndefined``.

    Raises :class:`FeedTemplateError` (a ``ValueError``) naming ``template_name``
    and the line for syntax errors, undefined names and other errors raised while
    rendering, and ``ImportError`` when jinja2 is not installed.
    """
    return _render_compiled(_compile(template_text, template_name), context, template_name)


def example_template(name: str) -> str:
    """The text of an example template shipped in ``zkservices/examples/``.

    ``name`` is ``"nginx-upstream.conf.j2"`` or ``"haproxy-backend.cfg.j2"``.
    """
    return resources.files("zkservices").joinpath("examples", name).read_text(encoding="utf-8")


# --------------------------------------------------------------------------
# Atomic writes
# --------------------------------------------------------------------------


def _real_target(path: PathLike) -> str:
    """The file to replace: a symbolic link is followed so that it stays a link."""
    path = os.fspath(path)
    return os.path.realpath(path) if os.path.islink(path) else path


def _read_bytes(path: str) -> Optional[bytes]:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def _fsync_directory(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError as exc:  # pragma: no cover - e.g. no permission to open it
        log.debug("cannot open %s to fsync it: %s", directory, exc)
        return
    try:
        os.fsync(fd)
    except OSError as exc:  # pragma: no cover - filesystems that refuse directory fsync
        if exc.errno not in (errno.EINVAL, errno.EBADF, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


def _write_temp(target: str, data: bytes) -> str:
    """Write ``data`` to a new hidden file next to ``target``, fsynced; return its path.

    The file gets ``target``'s permission bits (and owner, when allowed) if
    ``target`` exists, else :data:`NEW_FILE_MODE` less the umask.  Nothing is left
    behind on error.
    """
    directory, base = os.path.split(target)
    directory = directory or "."
    stem, suffix = os.path.splitext(base)
    try:
        existing: Optional[os.stat_result] = os.stat(target)
    except FileNotFoundError:
        existing = None
    while True:
        tmp = os.path.join(directory, f".{stem.lstrip('.')}.{secrets.token_hex(4)}.tmp{suffix}")
        try:
            # The kernel applies the umask to NEW_FILE_MODE, as for any new file.
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), NEW_FILE_MODE)
        except FileExistsError:  # pragma: no cover - 32 random bits collided
            continue
        break
    try:
        if existing is not None:
            os.fchmod(fd, stat.S_IMODE(existing.st_mode))
            if (existing.st_uid, existing.st_gid) != (os.geteuid(), os.getegid()):
                try:
                    os.fchown(fd, existing.st_uid, existing.st_gid)
                except OSError as exc:
                    log.debug("cannot keep the owner of %s: %s", target, exc)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        _unlink_quietly(tmp)
        raise
    os.close(fd)
    return tmp


def _install(tmp: str, target: str) -> None:
    """``os.replace(tmp, target)`` then fsync the directory; remove ``tmp`` on error."""
    try:
        os.replace(tmp, target)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    _fsync_directory(os.path.dirname(target) or ".")


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:  # pragma: no cover
        log.warning("cannot remove temporary file %s: %s", path, exc)


def atomic_write(path: PathLike, text: Union[str, bytes]) -> bool:
    """Replace the file at ``path`` with ``text`` (UTF-8) atomically.

    Returns ``False`` and touches nothing (not even the mtime) when the file
    already holds exactly this content, else ``True`` after writing.

    Writing goes through a hidden temporary file in the same directory, fsynced,
    then ``os.replace`` and an fsync of the directory, so readers see either the
    old or the new file, never a partial one.  An existing file keeps its
    permission bits (and its owner, when the process may set it); a new file gets
    mode ``0o644`` less the umask.  When ``path`` is a symbolic link, the file it
    points to is replaced and the link stays.  No temporary file is left behind
    on error.
    """
    data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    target = _real_target(path)
    if _read_bytes(target) == data:
        return False
    _install(_write_temp(target, data), target)
    return True


# --------------------------------------------------------------------------
# Template context
# --------------------------------------------------------------------------


def _parse_address(name: str) -> tuple[Optional[str], Optional[int]]:
    """``'host:port'`` / ``'[v6]:port'`` → ``(host, port)``; ``(None, None)`` if not one."""
    if name.startswith("["):
        end = name.find("]")
        if end < 0:
            return None, None
        host, rest = name[1:end], name[end + 1 :]
        if not rest.startswith(":"):
            return host, None
        port_text = rest[1:]
    else:
        host, sep, port_text = name.rpartition(":")
        if not sep or ":" in host:  # no port, or a bare IPv6 address
            return name, None
    try:
        return host, int(port_text)
    except ValueError:
        return host, None


def _port(value: Any) -> Any:
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def provider_entry(name: str, data: Optional[Mapping[str, Any]]) -> dict[str, Any]:
    """The template entry of one provider node: ``name``, ``host``, ``port``, ``properties``.

    ``host`` and ``port`` come from the node data's ``host``/``port`` keys when
    present, else from the node name (``host:port`` or ``[v6addr]:port``; ``None``
    when it cannot be parsed).  ``properties`` is the node's data (a dict).  An
    extra key, ``address``, is ``host:port`` ready for configuration files, with
    brackets around an IPv6 host (``[::1]:8080``).
    """
    properties = dict(data or {})
    host, port = _parse_address(name)
    if properties.get("host") not in (None, ""):
        host = str(properties["host"])
    if properties.get("port") not in (None, ""):
        port = _port(properties["port"])
    if host is None:
        address = name
    else:
        shown = f"[{host}]" if ":" in host else host
        address = shown if port is None else f"{shown}:{port}"
    return {"name": name, "host": host, "port": port, "address": address, "properties": properties}


def service_entry(
    path: str,
    properties: Optional[Mapping[str, Any]] = None,
    providers: Union[Mapping[str, Optional[Mapping[str, Any]]], Sequence[Mapping[str, Any]], None] = None,
) -> dict[str, Any]:
    """The template entry of one service: ``path``, ``name``, ``properties``, ``providers``.

    ``name`` is the last segment of ``path``; ``providers`` may be a mapping of
    provider node name → node data (turned into :func:`provider_entry` dicts) or a
    list of such entries; either way they come out sorted by name.
    """
    if providers is None:
        entries: list[dict[str, Any]] = []
    elif isinstance(providers, Mapping):
        entries = [provider_entry(name, data) for name, data in providers.items()]
    else:
        entries = [dict(p) for p in providers]
    entries.sort(key=lambda p: str(p.get("name", "")))
    stripped = path.rstrip("/")
    return {
        "path": path,
        "name": stripped.rsplit("/", 1)[-1] if stripped else "",
        "properties": dict(properties or {}),
        "providers": entries,
    }


def build_context(services: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The template context: ``{"services": [...]}``, in the given order.

    Each service is a mapping with at least ``path`` and optionally
    ``properties`` and ``providers`` (see :func:`service_entry`); a missing
    ``name`` is filled in from the path.
    """
    result = []
    for service in services:
        entry = service_entry(service["path"], service.get("properties"), service.get("providers"))
        if service.get("name") is not None:
            entry["name"] = service["name"]
        for key, value in service.items():
            entry.setdefault(key, value)
        result.append(entry)
    return {"services": result}


def _substitute_path(command: str, path: str) -> str:
    """``command`` with every ``{}`` replaced by ``path``, shell-quoted.

    ``"{}"`` and ``'{}'`` (the placeholder already quoted, as people write it
    by habit) are replaced as a whole: quoting the path inside the user's quotes
    split it at spaces (``'{}'``) or put quote characters into it (``"{}"``),
    so a check failed for every candidate in a directory with a space in its
    name and the feed never wrote.
    """
    quoted = shlex.quote(path)
    for placeholder in ('"{}"', "'{}'", "{}"):
        command = command.replace(placeholder, quoted)
    return command


# --------------------------------------------------------------------------
# The feed
# --------------------------------------------------------------------------

_NOTHING: Any = object()
_RETRY_RELOAD: Any = object()  # the worker's cue to run a failed reload command again

#: Seconds before a failed reload command is run again (doubling up to the maximum).
RELOAD_RETRY_FIRST = 1.0
RELOAD_RETRY_MAX = 30.0


class FileFeed:
    """A thread-safe sink that renders template contexts into a file.

    Call :meth:`update` with a new context from any thread (it never blocks on
    rendering or commands); one worker thread waits for quiescence, renders the
    latest context, and writes, checks and reloads as described in the module
    documentation.  Do not mutate a context after passing it.

    Options (keyword-only):

    - ``template_text``: the Jinja2 template (compiled at once: a syntax error
      raises :class:`FeedTemplateError` here); ``template_name`` names it in errors;
    - ``output``: the file to maintain;
    - ``check_command``: shell command validating a candidate (``{}`` → its path);
    - ``reload_command``: shell command run after each change written;
    - ``min_wait`` / ``max_wait``: quiescence, in seconds (0: none / no cap);
    - ``command_timeout``: seconds before a check or reload command is killed;
    - ``dry_run``: render only (see :attr:`last_rendered`); no file, check or reload;
    - ``name``: used in logs and ``repr``.

    Counters and state for monitoring and tests: :attr:`writes`,
    :attr:`reloads` (reload commands that succeeded), :attr:`reload_failures`,
    :attr:`check_failures`, :attr:`render_failures`, :attr:`last_rendered`
    (the latest rendered text), :attr:`last_error` (the latest error message, reset
    to ``None`` by a fully successful cycle).

    :meth:`close` (also on leaving a ``with`` block) renders any pending update at
    once, waits for the worker and stops it; later updates are ignored.
    """

    def __init__(
        self,
        *,
        template_text: str,
        output: PathLike,
        check_command: Optional[str] = None,
        reload_command: Optional[str] = None,
        min_wait: float = 0.0,
        max_wait: float = 0.0,
        dry_run: bool = False,
        name: Optional[str] = None,
        template_name: str = "<template>",
        command_timeout: float = 60.0,
    ) -> None:
        if min_wait < 0 or max_wait < 0:
            raise ValueError(f"min_wait and max_wait must not be negative (got {min_wait}, {max_wait})")
        if command_timeout <= 0:
            raise ValueError(f"command_timeout must be positive, not {command_timeout}")
        self.template_name = template_name
        self._template = _compile(template_text, template_name)
        self.output = os.fspath(output)
        self.check_command = check_command or None
        self.reload_command = reload_command or None
        self.min_wait = float(min_wait)
        self.max_wait = float(max_wait)
        self.dry_run = bool(dry_run)
        self.command_timeout = float(command_timeout)
        self.name = name if name is not None else os.path.basename(self.output) or self.output

        self.writes = 0
        self.reloads = 0
        self.reload_failures = 0
        self.check_failures = 0
        self.render_failures = 0
        self.last_rendered: Optional[str] = None
        self.last_error: Optional[str] = None

        self._cond = threading.Condition()
        self._pending: Any = _NOTHING
        self._first_pending = 0.0  # monotonic time of the first pending update
        self._last_update = 0.0  # monotonic time of the latest update
        self._received = 0  # updates received
        self._done = 0  # updates taken care of (rendered or superseded)
        self._hurry = False  # skip the rest of the quiescence wait
        self._busy = False
        self._closed = False
        # The file on disk is newer than what the reload command last loaded: a
        # reload failed.  It is retried (RELOAD_RETRY_FIRST doubling up to
        # RELOAD_RETRY_MAX) until it succeeds; before, the next cycle found the
        # file "up to date", cleared last_error and never reloaded, so the load
        # balancer silently kept the old configuration.
        self._reload_owed = False
        self._reload_retry = RELOAD_RETRY_FIRST
        self._thread = threading.Thread(target=self._run, name=f"zkservices-feed {self.name}", daemon=True)
        self._thread.start()

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
            self._cond.notify_all()

    def flush(self, timeout: Optional[float] = None, *, now: bool = False) -> bool:
        """Wait until every update received so far has been dealt with.

        With ``now=True`` the remaining quiescence wait is skipped (for
        ``--once``).  Returns ``False`` if ``timeout`` seconds passed first.
        """
        with self._cond:
            target = self._received
            if now:
                self._hurry = True
                self._cond.notify_all()
            return self._cond.wait_for(lambda: self._done >= target or not self._thread.is_alive(), timeout)

    def close(self, timeout: Optional[float] = None) -> None:
        """Render any pending update now, then stop the worker (waits up to ``timeout``).

        Idempotent.
        """
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

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

    def _run(self) -> None:
        while True:
            with self._cond:
                context, taken = self._next_context()
                if context is _NOTHING:
                    self._done = self._received
                    self._cond.notify_all()
                    return
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

    def _next_context(self) -> tuple[Any, int]:
        """With the lock held: wait for an update and for quiescence; take it."""
        while self._pending is _NOTHING:
            self._hurry = False
            if self._closed:
                return _NOTHING, self._received
            if self._reload_owed:
                if not self._cond.wait(self._reload_retry) and self._pending is _NOTHING and not self._closed:
                    return _RETRY_RELOAD, self._received
                continue
            self._cond.wait()
        while not (self._closed or self._hurry):
            deadline = self._last_update + self.min_wait
            if self.max_wait > 0:
                deadline = min(deadline, self._first_pending + self.max_wait)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._cond.wait(remaining)
        context, self._pending = self._pending, _NOTHING
        self._hurry = False
        return context, self._received

    def _process(self, context: Mapping[str, Any]) -> None:
        try:
            text = _render_compiled(self._template, context, self.template_name)
        except FeedTemplateError as exc:
            self.render_failures += 1
            self.last_error = str(exc)
            log.error("%s: cannot render the template, %s is left as it is: %s", self.name, self.output, exc)
            return
        changed_from_last = text != self.last_rendered
        self.last_rendered = text
        if self.dry_run:
            log.info(
                "%s: dry run: rendered %d characters for %s (%s)",
                self.name,
                len(text),
                self.output,
                "changed" if changed_from_last else "unchanged",
            )
            self.last_error = None
            return
        data = text.encode("utf-8")
        target = _real_target(self.output)
        try:
            if _read_bytes(target) == data:
                log.debug("%s: %s is up to date", self.name, self.output)
                if self._reload_owed:
                    self._retry_reload()
                    return
                self.last_error = None
                return
            if self.check_command:
                tmp = _write_temp(target, data)
                if not self._check(tmp):
                    _unlink_quietly(tmp)
                    return
                _install(tmp, target)
            else:
                atomic_write(target, data)
        except OSError as exc:
            self.last_error = f"cannot write {self.output}: {exc}"
            log.error("%s: %s", self.name, self.last_error)
            return
        self.writes += 1
        log.info("%s: wrote %s (%d bytes)", self.name, self.output, len(data))
        if self.reload_command and not self._reload():
            return
        self.last_error = None

    def _check(self, candidate: str) -> bool:
        assert self.check_command is not None
        command = _substitute_path(self.check_command, candidate)
        result = _run_command(
            command,
            timeout=self.command_timeout,
            env={CANDIDATE_ENV: candidate, OUTPUT_ENV: self.output},
        )
        if result.ok:
            log.debug("%s: check command %r passed", self.name, self.check_command)
            return True
        self.check_failures += 1
        self.last_error = f"check command {self.check_command!r} failed ({result.describe(self.command_timeout)})"
        log.warning("%s: %s; %s is left as it is", self.name, self.last_error, self.output)
        return False

    def _retry_reload(self) -> None:
        """Run a reload command that failed after the last write again."""
        if not self._reload_owed or not self.reload_command:
            return
        log.info("%s: running the reload command again (it failed after %s was written)", self.name, self.output)
        if self._reload():
            self.last_error = None

    def _reload(self) -> bool:
        assert self.reload_command is not None
        result = _run_command(self.reload_command, timeout=self.command_timeout, env={OUTPUT_ENV: self.output})
        if result.ok:
            self._reload_owed = False
            self._reload_retry = RELOAD_RETRY_FIRST
            self.reloads += 1
            log.info("%s: reload command %r succeeded", self.name, self.reload_command)
            return True
        self.reload_failures += 1
        if self._reload_owed:
            self._reload_retry = min(self._reload_retry * 2, RELOAD_RETRY_MAX)
        self._reload_owed = True
        self.last_error = f"reload command {self.reload_command!r} failed ({result.describe(self.command_timeout)})"
        log.error("%s: %s", self.name, self.last_error)
        return False
