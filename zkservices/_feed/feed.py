"""Load-balancer feeds: services watched in ZooKeeper, rendered into a configuration file.

A :class:`Feed` keeps one :class:`~zkservices.ServerSet` per service node
(outage protection, shrink guard, snapshot) and hands the template context
(:mod:`zkservices._feed.context`, plus ``stale`` per service) to a
:class:`~zkservices._feed.writer.FileFeed` (quiescence, render, compare, check
command, atomic write, reload command).  Nothing is rendered until every
service has data (from ZooKeeper, or from the snapshot once ZooKeeper has not
answered for ``timeout`` seconds): a feed that cannot reach ZooKeeper never
writes an empty configuration.  Every context is checked before it is rendered
(:mod:`zkservices._feed.safety`): providers with a bad host or port or control
characters are left out with a warning, a service property holding control
characters fails the rendering and the file stays as it is.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any, Callable, Iterable, Sequence

from .._deprecation import renamed_argument, renamed_attribute
from .._discovery import DEFAULT_MIN_FRACTION, BackgroundConnection, ServerSet, load_snapshot
from .._os import PathLike
from .._session.tls import TLSOption
from .._zookeeper import ZooKeeper
from .._znode.paths import check_path
from ..errors import FeedError
from .context import build_context
from .safety import ContextChecker
from .writer import FileFeed

__all__ = ["Feed", "FeedError", "DEFAULT_MIN_WAIT", "SNAPSHOT_GRACE"]

log = logging.getLogger("zkservices.feed")

#: The default quiescence of a :class:`Feed`, in seconds: long enough to take in
#: a backend's session restore as one change (its registrations come back in
#: one transaction per providers node, a few milliseconds apart across nodes),
#: short enough not to delay a real change noticeably.
DEFAULT_MIN_WAIT = 0.2

#: Seconds :meth:`Feed.run_once` waits, past ``timeout``, for a snapshot to be served.
SNAPSHOT_GRACE = 0.5


class Feed:
    """Render services watched in ZooKeeper into a file.

    :param zk: a :class:`~zkservices.ZooKeeper` (left open by :meth:`close`), a
        started :class:`~zkservices.BackgroundConnection` (left open too: the
        feed follows the session it makes), or a connection string (``None``:
        the default one) for a session the feed opens in the background and
        retries until a server answers, so a feed can start while ZooKeeper is
        down.
    :param services: the service nodes: one path or a sequence of paths
        (``service_paths=`` is the deprecated spelling).
    :param template_text: the Jinja2 template; give exactly one of it and
        ``template_file``.
    :param template_file: a file holding the template.
    :param output: the file to maintain (not needed with ``dry_run``).
    :param check_command: run through the shell before a changed file is
        written, every ``{}`` replaced by the candidate file's (quoted) path,
        which is also in ``$ZKSERVICES_FEED_CANDIDATE``; on failure the old file
        stays and the reason is logged.
    :param reload_command: run through the shell after each write that changed
        the file, the first included; a failed reload is run again (after 1 s,
        doubling up to 30 s) until it succeeds.
    :param reload_interval: at most one reload per this many seconds (default 0:
        no limit); files written in between are reloaded together at the end of
        the interval.
    :param dry_run: render only (``on_render`` gets the text): no file, check or reload.
    :param command_timeout: seconds before a check or reload command is killed.
    :param min_wait: quiescence: render only once no change has come for this
        many seconds (default :data:`DEFAULT_MIN_WAIT`, 0.2 s, which takes in a
        backend's restored registrations as one change; 0: at once).
    :param max_wait: but at most this many seconds after the first pending
        change (default ``None``: 4 x ``min_wait``; 0: no cap).
    :param min_fraction, force, snapshot, timeout: as :class:`~zkservices.ServerSet`
        has them (one snapshot file holds every service of the feed; a dry run
        reads it but never writes it).
    :param session_timeout: of the session opened for a connection string.
    :param auth, tls: authentication and TLS of the session opened for a connection string.
    :param on_render: called with the text of each rendering that differs from
        the previous one (dry runs included), on the feed's thread.
    :param template_name: names the template in errors (default: the file's path).
    :param name: names the feed in logs (default: the output file's name).
    :param providers: each service's providers node, relative to the service node
        (``"."`` for a Curator or ServerSet directory), as for :class:`~zkservices.ServerSet`.

    Raises :class:`ValueError` for bad options, :class:`TypeError` for no services
    or both ``services`` and ``service_paths``, :class:`OSError` when
    ``template_file`` cannot be read, :class:`~zkservices.FeedTemplateError`
    for a template syntax error and ``ImportError`` without jinja2.

    The template context: ``services``, in the order given, each with
    ``path`` (the service node), ``name``, ``properties``, ``providers`` (sorted, each with
    ``name``, ``host``, ``port``, ``address``, ``properties``, ``format`` --
    ``zkservices``, ``curator`` or ``serverset`` -- and ``enabled``, true: the
    disabled ones are left out) and ``stale``
    (true while that service is served from a snapshot, ZooKeeper is
    unreachable or the shrink guard holds its set back).

    State: :attr:`ready`, :attr:`stale`, :attr:`holding`, :attr:`providers_count`,
    :attr:`held` (renderings handed over while a shrink guard held a set back),
    and the file side's counters and results in :attr:`file_feed` (a
    ``FileFeed``: ``writes``, ``unchanged``, ``render_failures``, ``last_result``,
    ``last_success``...).

    Lifecycle: the constructor starts nothing; :meth:`start` (or entering a
    ``with`` block) starts watching and rendering and returns at once;
    :meth:`close` stops every thread the feed made (pending changes are
    rendered first).  :meth:`run_once` is the one-shot form.
    """

    def __init__(
        self,
        zk: ZooKeeper | BackgroundConnection | str | None,
        services: str | Iterable[str] | None = None,
        *,
        template_text: str | None = None,
        template_file: PathLike | None = None,
        output: PathLike | None = None,
        check_command: str | None = None,
        reload_command: str | None = None,
        min_wait: float = DEFAULT_MIN_WAIT,
        max_wait: float | None = None,
        dry_run: bool = False,
        min_fraction: float = DEFAULT_MIN_FRACTION,
        force: bool = False,
        snapshot: PathLike | None = None,
        timeout: float = 10.0,
        session_timeout: float = 10.0,
        command_timeout: float = 60.0,
        on_render: Callable[[str], None] | None = None,
        template_name: str | None = None,
        auth: Sequence[tuple[str, str]] | None = None,
        tls: TLSOption = None,
        providers: str = "providers",
        service_paths: str | Iterable[str] | None = None,
        reload_interval: float = 0.0,
        name: str | None = None,
    ) -> None:
        services = renamed_argument(services, service_paths, new="services", old="service_paths")
        if services is None:
            raise TypeError("Feed() needs the service nodes (services=)")
        paths = [services] if isinstance(services, str) else list(services)
        if not paths:
            raise ValueError("a feed needs at least one service node")
        self.services: list[str] = [check_path(p) for p in paths]
        if (template_text is None) == (template_file is None):
            raise ValueError("give exactly one of template_text and template_file")
        if template_file is not None:
            with open(template_file, encoding="utf-8") as f:
                template_text = f.read()
        if template_name is None:
            template_name = os.fspath(template_file) if template_file is not None else "<template>"
        if output is None and not dry_run:
            raise ValueError("output is needed unless dry_run is true")
        if not 0.0 <= float(min_fraction) <= 1.0:
            raise ValueError(f"min_fraction must be between 0 and 1, not {min_fraction!r}")
        self._zk_arg = zk
        self.providers = providers
        self.min_fraction = float(min_fraction)
        self.force = bool(force)
        self.snapshot = os.fspath(snapshot) if snapshot is not None else None
        self.timeout = float(timeout)
        self.session_timeout = float(session_timeout)
        assert template_text is not None
        output_name = os.fspath(output) if output is not None else "-"
        self.checker = ContextChecker(output_name)
        self.file_feed = FileFeed(
            template_text=template_text,
            template_name=template_name,
            output=output_name,
            check_command=check_command,
            reload_command=reload_command,
            min_wait=min_wait,
            max_wait=4 * min_wait if max_wait is None else max_wait,
            dry_run=dry_run,
            command_timeout=command_timeout,
            on_render=on_render,
            checker=self.checker,
            reload_interval=reload_interval,
            name=name,
        )
        self.name = self.file_feed.name
        self.output = self.file_feed.output
        self.server_sets: list[ServerSet] = []
        self._connection: BackgroundConnection | None = None
        self._auth = auth
        self._tls = tls
        self._lock = threading.Lock()
        self._state = "latent"
        self._waiting_logged = False
        self.held = 0

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> "Feed":
        """Start watching and rendering (returns at once); returns the feed.

        Raises :class:`RuntimeError` when it was started (or closed) before.
        """
        with self._lock:
            if self._state != "latent":
                raise RuntimeError(f"{self!r} was already started")
            self._state = "started"
        try:
            if isinstance(self._zk_arg, (ZooKeeper, BackgroundConnection)):
                source: Any = self._zk_arg
            else:
                self._connection = source = BackgroundConnection(
                    self._zk_arg, session_timeout=self.session_timeout, auth=self._auth, tls=self._tls
                ).start()
            for service in self.services:
                self.server_sets.append(
                    ServerSet(
                        source,
                        service,
                        providers=self.providers,
                        min_fraction=self.min_fraction,
                        force=self.force,
                        snapshot=self.snapshot,
                        timeout=self.timeout,
                        wait=False,
                        save_snapshot=not self.file_feed.dry_run,
                    )
                )
            for server_set in self.server_sets:
                server_set(self._changed)
        except BaseException:
            self.close()
            raise
        return self

    def close(self, timeout: float | None = None) -> None:
        """Stop watching, render what is pending, stop every thread (idempotent).

        Waits up to ``timeout`` seconds for the rendering in progress.
        """
        with self._lock:
            if self._state == "closed":
                return
            self._state = "closed"
        for server_set in self.server_sets:
            server_set.close()
        self.file_feed.close(timeout)
        if self._connection is not None:
            self._connection.close()

    def __enter__(self) -> "Feed":
        if self._state == "latent":
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run_once(self, timeout: float | None = None) -> str:
        """Start, wait until every service has data, render (and write, check,
        reload) once, close; return the rendered text.

        Waits at most ``timeout`` seconds (default: the feed's ``timeout``) for
        data from ZooKeeper -- with a ``snapshot`` holding the services, up to
        :data:`SNAPSHOT_GRACE` seconds more for it to be served; raises
        :class:`~zkservices.FeedError` when there is none (ZooKeeper unreachable
        and no snapshot) or the cycle failed.
        """
        wait = self.timeout if timeout is None else float(timeout)
        try:
            if self._state == "latent":
                self.start()
            deadline = time.monotonic() + wait
            late = [s for s in self.server_sets if not s.wait_ready(max(0.0, deadline - time.monotonic()))]
            if late and self.snapshot is not None and all(load_snapshot(self.snapshot, s.service) for s in late):
                late = [s for s in late if not s.wait_ready(SNAPSHOT_GRACE)]
            missing = [s.service for s in late]
            if missing:
                if self.connection_error:
                    raise FeedError(self.connection_error)
                where = self._connection.connection_string if self._connection else repr(self._zk_arg)
                raise FeedError(
                    f"no data for {', '.join(missing)}: ZooKeeper at {where} did not answer within "
                    f"{wait:g}s and there is no snapshot"
                )
            self._changed()
            self.file_feed.flush(now=True)
            error = self.file_feed.last_error
            if error is not None:
                raise FeedError(error)
            text = self.file_feed.last_rendered
            assert text is not None
            return text
        finally:
            self.close()

    # -- state -------------------------------------------------------------

    @property
    def started(self) -> bool:
        """Whether the feed runs (started and not closed)."""
        return self._state == "started"

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._state == "closed"

    @property
    def service_paths(self) -> list[str]:
        """Deprecated: :attr:`services` (the service nodes)."""
        renamed_attribute(self, "service_paths", "services")
        return self.services

    @property
    def ready(self) -> bool:
        """Whether every service has data (so the feed renders)."""
        return bool(self.server_sets) and all(s.ready for s in self.server_sets)

    @property
    def stale(self) -> bool:
        """Whether any service is stale (snapshot, unreachable ZooKeeper, shrink guard)."""
        return any(s.stale for s in self.server_sets) or not self.ready

    @property
    def connection_error(self) -> str | None:
        """Why connecting was given up (a bad connection string...), else ``None``."""
        return self._connection.error if self._connection is not None else None

    @property
    def writes(self) -> int:
        """Files written so far."""
        return self.file_feed.writes

    @property
    def reloads(self) -> int:
        """Reload commands that succeeded so far."""
        return self.file_feed.reloads

    @property
    def check_failures(self) -> int:
        """Candidates the check command refused so far."""
        return self.file_feed.check_failures

    @property
    def providers_count(self) -> int:
        """Providers in the sets published now, every service together (0 before any data)."""
        return sum(len(s.providers) for s in self.server_sets if s.ready)

    @property
    def holding(self) -> list[str]:
        """Why services' sets are held back, one ``"SERVICE: reason"`` each (empty: all current)."""
        reasons = [(s.service, s.holding) for s in self.server_sets]
        return [f"{service}: {reason}" for service, reason in reasons if reason is not None]

    @property
    def last_rendered(self) -> str | None:
        """The latest rendered text."""
        return self.file_feed.last_rendered

    @property
    def last_error(self) -> str | None:
        """The latest error message (``None`` after a fully successful cycle)."""
        return self.file_feed.last_error

    def flush(self, timeout: float | None = None, *, now: bool = False) -> bool:
        """Wait until every change handed to the file side so far is dealt with.

        ``now=True`` skips the rest of the quiescence wait; returns ``False``
        when ``timeout`` seconds passed first.
        """
        return self.file_feed.flush(timeout, now=now)

    def context(self) -> dict[str, Any]:
        """The template context as it is now, checked as it is before rendering.

        Providers that fail the checks are left out (warned about once);
        raises :class:`~zkservices.FeedError` when a service property holds a
        control character.
        """
        return self.checker.check(self._raw_context())

    def _raw_context(self) -> dict[str, Any]:
        return build_context(
            [
                {"path": s.service, "properties": s.properties, "providers": s.providers, "stale": s.stale}
                for s in self.server_sets
            ],
            with_format=True,
        )

    def __repr__(self) -> str:
        flags = [self._state]
        if self._state == "started":
            if not self.ready:
                flags.append("waiting for data")
            elif self.stale:
                flags.append("stale")
        if self.file_feed.dry_run:
            flags.append("dry-run")
        return (
            f"<Feed {' '.join(self.services)} -> {self.output} {' '.join(flags)} "
            f"writes={self.writes} reloads={self.reloads}>"
        )

    # -- plumbing ----------------------------------------------------------

    def _changed(self, *_: Any) -> None:
        # On a ServerSet's thread (or run_once's): hand the current context over.
        with self._lock:
            if self._state != "started":
                return
            not_ready = [s.service for s in self.server_sets if not s.ready]
            if not_ready or len(self.server_sets) < len(self.services):
                if not_ready and not self._waiting_logged:
                    self._waiting_logged = True
                    log.info("feed %s: waiting for data for %s", self.output, ", ".join(not_ready))
                return
            if any(s.holding is not None and s.holding.startswith("shrink guard") for s in self.server_sets):
                self.held += 1  # the guard kept a service's last set in this rendering
            self.file_feed.update(self._raw_context())
