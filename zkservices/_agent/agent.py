"""The fleet agent: every registration and feed of a configuration, on one ZooKeeper session.

:class:`Agent` composes the library's pieces; it adds no machinery of its
own.  Each ``register`` entry is a
:class:`~zkservices.HealthCheckedRegistration` and each ``feeds`` entry a
:class:`~zkservices.Feed` (see :mod:`.parts`), all on one
:class:`~zkservices.ZooKeeper`.  :meth:`Agent.reload` applies a new
configuration entry by entry: equal entries keep their running objects.

Decisions:

- **The session.**  Given a ``zk``, the agent uses it and leaves it open.
  Otherwise :meth:`Agent.start` connects in the background
  (:class:`~zkservices.BackgroundConnection`, so the agent starts while
  ZooKeeper is down): the feeds start at once on that connection (so a feed
  with a snapshot renders from it while ZooKeeper does not answer), the
  registrations once a session exists; :meth:`Agent.close` closes that
  session.
- **Counters survive replacement.**  When an entry stops (removed or
  replaced) its counters are kept, by their labels, so the metrics built from
  them never go down while the agent runs.
- **Stopping one entry** closes only its object: a registration unregisters
  (and stops checking), a feed stops watching and leaves its file as it is.
- **Closing** is bounded: the feeds are closed, every registration is told to
  unregister at once, and the session is closed at the deadline at the
  latest (which removes the ephemeral nodes too), so an agent whose ZooKeeper
  does not answer still stops in time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import replace
from typing import Any, Sequence

from .._discovery import BackgroundConnection, HealthCheckedRegistration
from .._feed import Feed
from .._session import TLS
from .._zookeeper import ZooKeeper
from .config import AgentConfig, FeedConfig, RegisterConfig
from .parts import make_feed, make_registration

__all__ = ["Agent", "session_state", "SESSION_STATES"]

log = logging.getLogger("zkservices.agent")

#: The session states the agent reports (``/status``, ``zkservices_session_state``).
SESSION_STATES = ("connected", "connected_read_only", "suspended", "lost")


def session_state(zk: ZooKeeper | None) -> str:
    """One of :data:`SESSION_STATES` for ``zk`` (``"lost"`` for no session or a closed one)."""
    if zk is None or zk.closed:
        return "lost"
    state = str(zk.state)
    if state == "CONNECTED":
        return "connected"
    if state == "CONNECTED_RO":  # (only a read_only session: a server cut off from its quorum)
        return "connected_read_only"
    return "suspended" if state == "SUSPENDED" else "lost"


def _read_auth(path: str) -> list[tuple[str, str]]:
    pairs = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                scheme, _, credentials = line.partition(":")
                pairs.append((scheme, credentials))
    return pairs


class Agent:
    """Run an :class:`~zkservices.AgentConfig`: its registrations and feeds on one session.

    :param config: the parsed configuration (:func:`~zkservices.load_agent_config`).
    :param zk: the session to use (left open); ``None``: the agent connects
        itself, with the options below, and closes that session.
    :param connection_string: where to connect when the configuration's
        ``zookeeper`` section does not say (the section wins, setting by setting).
    :param session_timeout: likewise, the session timeout (default 10 s).
    :param auth: likewise, ``(scheme, credentials)`` pairs (the section's
        ``auth_file`` is read at :meth:`start`).
    :param tls: likewise, a :class:`~zkservices.TLS` (the section's files complete it).
    :param read_only: likewise, let a read-only server (one cut off from its
        quorum) serve the session: the agent then reports ``connected_read_only``
        (``/healthz`` 429) while its feeds keep rendering from that server and
        its registrations wait for a read-write one.
    :param resync_jitter: likewise, the session's ``resync_jitter`` (default 0).
    :param command_timeout: seconds before a feed's check or reload command is killed.

    Lifecycle: the constructor starts nothing; :meth:`start` starts connecting
    (or uses ``zk``) and returns at once; the registrations and feeds start
    with the session.  :meth:`reload` applies a new configuration;
    :meth:`close` unregisters, stops the feeds and ends the agent's own
    session.  It is a context manager (start on enter, close on exit) and
    cannot be restarted.

    State, for reports: :attr:`zk`, :attr:`session_state`, :attr:`expirations`,
    :attr:`registrations` and :attr:`feeds` (the running objects by entry),
    :attr:`ready` (every check ran once and every feed rendered once),
    :attr:`config_reloads` (``{"ok": n, "failed": n}``) and :attr:`retired`
    (the counters of entries that stopped).

    Secrets: the agent never logs or reports credentials or keys.  kazoo itself logs
    its ``Auth`` packets, credentials included, at DEBUG on ``kazoo.client``; the
    library leaves kazoo's loggers alone, so an application that shows kazoo's DEBUG
    records should filter them, as the ``zkservices`` command does on its handler.
    """

    def __init__(
        self,
        config: AgentConfig,
        *,
        zk: ZooKeeper | None = None,
        connection_string: str | None = None,
        session_timeout: float | None = None,
        auth: Sequence[tuple[str, str]] | None = None,
        tls: TLS | bool | None = None,
        read_only: bool | None = None,
        resync_jitter: float | None = None,
        command_timeout: float = 60.0,
    ) -> None:
        self._config = config
        self._given_zk = zk
        self._zk: ZooKeeper | None = None  # set when the agent starts on a session
        self.connection_string = connection_string
        self.session_timeout = session_timeout
        self.auth = auth
        self.tls = tls
        self.read_only = read_only
        self.resync_jitter = resync_jitter
        self.command_timeout = float(command_timeout)
        self._connection: BackgroundConnection | None = None
        self._lock = threading.RLock()
        self._life = "created"  # → "started" → "closed"
        self._expirations = 0  # sessions lost and replaced (counted by a recovery step)
        self._registrations: dict[RegisterConfig, HealthCheckedRegistration] = {}
        self._feeds: dict[FeedConfig, Feed] = {}
        self.config_reloads: Counter[str] = Counter({"ok": 0, "failed": 0})
        #: counters of stopped entries: ``("check_failures", path, address)``,
        #: ``("renders", feed, result)``, ``("reloads", feed, result)`` -> count
        self.retired: Counter[tuple[str, ...]] = Counter()

    # -- state ---------------------------------------------------------------

    @property
    def config(self) -> AgentConfig:
        """The configuration running (after a reload, the new one with the old
        ``zookeeper`` and ``listen`` sections)."""
        return self._config

    @property
    def zk(self) -> ZooKeeper | None:
        """The session, ``None`` until there is one."""
        return self._zk

    @property
    def session_state(self) -> str:
        """``connected``, ``connected_read_only``, ``suspended`` or ``lost`` (also before the first session)."""
        return session_state(self._zk)

    @property
    def session_id(self) -> int | None:
        """The session's id, ``None`` without a session."""
        zk = self._zk
        return zk.core.session_id if zk is not None and not zk.closed else None

    @property
    def expirations(self) -> int:
        """Sessions lost and replaced so far."""
        return self._expirations

    @property
    def registrations(self) -> dict[RegisterConfig, HealthCheckedRegistration]:
        """The running registrations by entry, in configuration order (a copy; empty before the session)."""
        with self._lock:
            return dict(self._registrations)

    @property
    def feeds(self) -> dict[FeedConfig, Feed]:
        """The running feeds by entry, in configuration order (a copy; empty before the session)."""
        with self._lock:
            return dict(self._feeds)

    @property
    def started(self) -> bool:
        """Whether :meth:`start` was called and :meth:`close` not."""
        return self._life == "started"

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._life == "closed"

    @property
    def ready(self) -> bool:
        """Whether every entry runs, every registration's first check has run and
        every feed has rendered once (from ZooKeeper or from its snapshot)."""
        with self._lock:
            config = self._config
            if len(self._registrations) != len(config.register) or len(self._feeds) != len(config.feeds):
                return False
            registrations, feeds = list(self._registrations.values()), list(self._feeds.values())
        return all(r.checks > 0 for r in registrations) and all(f.file_feed.processed > 0 for f in feeds)

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until :attr:`ready` (or closed); ``False`` when ``timeout`` seconds passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.ready:
            if self.closed or (deadline is not None and time.monotonic() >= deadline):
                return False
            time.sleep(0.05)
        return True

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> "Agent":
        """Start (returns at once); returns the agent.  Raises :class:`RuntimeError` when started before."""
        with self._lock:
            if self._life != "created":
                raise RuntimeError(f"{self!r} was already started")
            self._life = "started"
        if self._given_zk is not None:
            self._attach(self._given_zk)
            return self
        section = self._config.zookeeper
        auth = self.auth
        if section.auth_file is not None:
            auth = _read_auth(section.auth_file)
        tls: Any = self.tls
        if section.tls is not None:
            files = section.tls
            base = tls if isinstance(tls, TLS) else None
            cert, key = (files.cert, files.key) if files.cert else (
                (base.cert, base.key) if base is not None else (None, None))
            tls = TLS(ca=files.ca or (base.ca if base is not None else None), cert=cert, key=key)
        timeout = section.session_timeout or self.session_timeout or 10.0
        read_only = _first(section.read_only, self.read_only, False)
        jitter = _first(section.resync_jitter, self.resync_jitter, 0.0)
        self._connection = BackgroundConnection(
            section.connection or self.connection_string, session_timeout=timeout, auth=auth, tls=tls,
            read_only=read_only, resync_jitter=jitter,
        )
        self._connection.add_done_callback(self._connected)
        self._connection.start()
        with self._lock:
            for feed in self._config.feeds:
                self._start_feed(feed)
        return self

    def _connected(self, connection: BackgroundConnection) -> None:
        if self._life != "started":
            return
        if connection.zk is None:
            log.error("cannot connect to ZooKeeper: %s", connection.error)
            return
        self._attach(connection.zk)

    def _attach(self, zk: ZooKeeper) -> None:
        with self._lock:
            if self._life != "started":
                return
            self._zk = zk
            # runs once per session lost and replaced (the core's recovery steps)
            zk.core.add_recovery_step("agent: count the session replaced", self._count_expiration)
            config = self._config
            log.info("session 0x%x: starting %d registration(s)", zk.core.session_id or 0, len(config.register))
            for entry in config.register:
                if entry not in self._registrations:
                    self._start_registration(entry)
            for feed in config.feeds:
                if feed not in self._feeds:
                    self._start_feed(feed)

    def _count_expiration(self, recovery: object) -> None:
        if self._life == "started":
            self._expirations += 1

    def close(self, timeout: float | None = None) -> None:
        """Unregister, stop the feeds (files left as they are) and close the agent's
        own session, in at most about ``timeout`` seconds (idempotent)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            if self._life == "closed":
                return
            self._life = "closed"
            registrations = list(self._registrations.items())
            feeds = list(self._feeds.items())
        log.info("stopping: %d registration(s), %d feed(s)", len(registrations), len(feeds))
        for _, registration in registrations:
            registration.close(0.0)  # unregister now, every one at once
        for _, feed in feeds:
            feed.close(_left(deadline, 0.5))
        for _, registration in registrations:
            registration.close(_left(deadline, 1.0))
        if self._connection is not None:
            self._connection.close()  # ends waits for a ZooKeeper that does not answer
        for entry, registration in registrations:
            registration.close(_left(deadline, 0.0))
            self._retire_registration(entry, registration)
        for feed_entry, feed in feeds:
            self._retire_feed(feed_entry, feed)
        with self._lock:
            self._registrations.clear()
            self._feeds.clear()

    def __enter__(self) -> "Agent":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- reloading -----------------------------------------------------------

    def reload(self, config: AgentConfig) -> dict[str, int]:
        """Apply ``config``: unchanged entries keep running untouched, removed ones
        stop, added ones start, changed ones are replaced.

        A changed ``zookeeper`` or ``listen`` section is logged as a WARNING
        (it needs a restart) and kept as it was.  Returns how many entries were
        ``kept``, ``stopped``, ``started`` (a replaced entry counts as stopped and started).
        """
        with self._lock:
            if self._life == "closed":
                raise RuntimeError(f"{self!r} is closed")
            old = self._config
            for section in ("zookeeper", "listen"):
                if getattr(config, section) != getattr(old, section):
                    log.warning("the %s section changed: that needs a restart (kept as it was; "
                                "the rest of the configuration is applied)", section)
            config = replace(config, zookeeper=old.zookeeper, listen=old.listen)
            self._config = config
            counts = Counter({"kept": 0, "stopped": 0, "started": 0})

            stop_regs = [e for e in self._registrations if e not in config.register]
            stop_feeds = [e for e in self._feeds if e not in config.feeds]
            stopping_regs = [(e, self._registrations.pop(e)) for e in stop_regs]
            stopping_feeds = [(e, self._feeds.pop(e)) for e in stop_feeds]
        for entry, registration in stopping_regs:
            log.info("register %s %s: removed or changed; unregistering", entry.path, entry.address)
            registration.close(reason="configuration reloaded")
            self._retire_registration(entry, registration)
        for feed_entry, feed in stopping_feeds:
            log.info("feed %s: removed or changed; stopping (%s is left as it is)", feed_entry.name, feed_entry.output)
            feed.close()
            self._retire_feed(feed_entry, feed)
        counts["stopped"] = len(stopping_regs) + len(stopping_feeds)
        with self._lock:
            if self._life != "started" or self._config is not config:
                return dict(counts)
            registrations, feeds = self._registrations, self._feeds
            self._registrations, self._feeds = {}, {}
            for entry in config.register:  # configuration order
                if entry in registrations:
                    self._registrations[entry] = registrations[entry]
                    counts["kept"] += 1
                elif self._zk is not None:  # (else the session starts it)
                    self._start_registration(entry)
                    counts["started"] += 1
            for feed_entry in config.feeds:
                if feed_entry in feeds:
                    self._feeds[feed_entry] = feeds[feed_entry]
                    counts["kept"] += 1
                else:
                    self._start_feed(feed_entry)
                    counts["started"] += 1
        log.info("configuration reloaded: %(kept)d entries kept, %(stopped)d stopped, %(started)d started",
                 counts)
        return dict(counts)

    # -- entries -------------------------------------------------------------

    def _start_registration(self, entry: RegisterConfig) -> None:
        assert self._zk is not None
        try:
            registration = make_registration(self._zk, entry).start()
        except Exception as exc:
            log.error("register %s %s: cannot start: %s", entry.path, entry.address, exc)
            return
        self._registrations[entry] = registration

    def _start_feed(self, entry: FeedConfig) -> None:
        source: Any = self._zk if self._zk is not None else self._connection
        assert source is not None
        try:
            feed = make_feed(source, entry, command_timeout=self.command_timeout).start()
        except Exception as exc:
            log.error("feed %s: cannot start: %s", entry.name, exc)
            return
        self._feeds[entry] = feed

    def _retire_registration(self, entry: RegisterConfig, registration: HealthCheckedRegistration) -> None:
        self.retired[("check_failures", entry.path, entry.address)] += registration.check_failures

    def _retire_feed(self, entry: FeedConfig, feed: Feed) -> None:
        for result, count in feed_render_counts(feed).items():
            self.retired[("renders", entry.name, result)] += count
        self.retired[("reloads", entry.name, "ok")] += feed.file_feed.reloads
        self.retired[("reloads", entry.name, "failed")] += feed.file_feed.reload_failures

    def __repr__(self) -> str:
        config = self._config
        return (f"<Agent {self._life} {self.session_state} {len(config.register)} registration(s) "
                f"{len(config.feeds)} feed(s)>")


def feed_render_counts(feed: Feed) -> dict[str, int]:
    """A feed's render outcomes so far: ``written``, ``unchanged``, ``failed``, ``held``."""
    side = feed.file_feed
    failed = side.render_failures + side.data_failures + side.check_failures + side.write_failures
    return {"written": side.writes, "unchanged": side.unchanged, "failed": failed, "held": feed.held}


def _first(*values: Any) -> Any:
    return next(value for value in values if value is not None)


def _left(deadline: float | None, reserve: float) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic() - reserve)
