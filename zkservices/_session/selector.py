"""Client-side instance selection over a :class:`~zkservices.Providers` view:
:class:`Selector` (its docstring has the strategies and the down policy) and
:class:`Lease`.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import Any

from .._formats import Provider
from ..errors import NoProvider
from .providers import Providers

__all__ = ["Selector", "Lease", "STRATEGIES"]

log = logging.getLogger("zkservices.selector")

STRATEGIES = ("round-robin", "random", "sticky", "least-loaded")


class Lease:
    """A provider in use (``with selector.lease() as provider``, or ``async with``):
    counted as in flight while the block runs; an exception from the block is noted
    as its error."""

    __slots__ = ("_selector", "provider")

    def __init__(self, selector: "Selector", provider: Provider) -> None:
        self._selector = selector
        self.provider = provider

    def __enter__(self) -> Provider:
        return self.provider

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._selector._release(self.provider, failed=exc_type is not None and issubclass(exc_type, Exception))

    async def __aenter__(self) -> Provider:  # the same in coroutines: nothing here waits
        return self.provider

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.__exit__(exc_type, exc, tb)

    def __repr__(self) -> str:
        return f"<Lease {self.provider.name}>"


class Selector:
    """Picks providers of one service, one per call, among the view's enabled
    providers that are not down.

    Strategies:

    - ``round-robin``: cycles over the current providers in name order;
    - ``random``: any, uniformly;
    - ``sticky``: keeps the provider it gave until it leaves, is disabled or goes down
      (then the next one round-robin);
    - ``least-loaded``: two at random, the one with fewer leases in flight (the "power of
      two choices").

    The down policy is Curator's: after ``error_threshold`` errors noted within
    ``down_for`` seconds a provider is skipped for ``down_for`` seconds.  The selector
    follows the view as it changes (joins at once, leavers never returned); it is
    thread-safe.

    :param view: the providers to pick from.
    :param strategy: ``"round-robin"``, ``"random"``, ``"sticky"`` or ``"least-loaded"``.
    :param error_threshold: errors within ``down_for`` seconds that take a provider down.
    :param down_for: seconds an erring provider is skipped (and the window errors count in).
    :param owns_view: :meth:`close` closes the view too.
    :raises ValueError: for an unknown strategy or a bad threshold or duration.

    :meth:`get` returns a provider, :meth:`lease` a context manager around one,
    :meth:`note_error` reports a failure; both raise :class:`~zkservices.NoProvider`
    when no provider is left.  A context manager; :meth:`close` ends it.

    The same class serves asyncio programs (``await zk.selector(...)`` of
    :mod:`zkservices.aio` makes one without blocking the loop): once made, nothing of it
    waits -- not for ZooKeeper, not for another thread beyond a lock held for a few
    assignments -- so coroutines call :meth:`get`, :meth:`lease` (``async with`` as
    well as ``with``), :meth:`note_error`, :meth:`down`, :meth:`inflight` and
    :meth:`close` directly on the loop, and ``async with selector:`` closes it as
    ``with`` does.  It follows its view on the session's worker thread: a pick made
    on the loop sees every change of the providers the worker has applied.
    """

    def __init__(self, view: Providers, strategy: str = "round-robin", *, error_threshold: int = 2,
                 down_for: float = 30.0, owns_view: bool = False) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy {strategy!r}: expected one of {', '.join(STRATEGIES)}")
        if isinstance(error_threshold, bool) or not isinstance(error_threshold, int) or error_threshold < 1:
            raise ValueError(f"error_threshold must be a positive integer, not {error_threshold!r}")
        if not down_for >= 0:
            raise ValueError(f"down_for must not be negative, not {down_for!r}")
        self.view = view
        self.path = view.path
        self.strategy = strategy
        self.error_threshold = error_threshold
        self.down_for = float(down_for)
        self.closed = False
        self._owns_view = owns_view
        self._lock = threading.Lock()
        self._providers: tuple[Provider, ...] = ()  # enabled ones, in name order
        self._counts: dict[str, int] = {}  # disabled and total, for NoProvider's message
        self._down: dict[str, float] = {}  # name -> monotonic time it is back
        self._errors: dict[str, list[float]] = {}  # name -> times of recent errors
        self._inflight: dict[str, int] = {}
        self._next = 0
        self._sticky: str | None = None
        self._random = random.Random()
        self._pick = getattr(self, "_pick_" + strategy.replace("-", "_"))
        self._callback = self._follow  # one bound method, to remove it again
        view(self._callback)

    # -- following the view ----------------------------------------------------

    def _follow(self, view: Providers) -> None:
        providers = tuple(p for p in view.values() if p.enabled)
        with self._lock:
            self._providers = providers
            self._counts = {"known": len(view), "disabled": len(view) - len(providers)}
            names = {p.name for p in providers}
            for table in (self._down, self._errors):
                for name in [n for n in table if n not in names]:
                    del table[name]

    # -- picking ---------------------------------------------------------------

    def get(self) -> Provider:
        """A provider, by the strategy.  Raises NoProvider when none is enabled and up,
        ValueError when closed."""
        with self._lock:
            return self._choose()

    def lease(self) -> Lease:
        """A provider counted as in flight until the ``with`` block ends; an exception
        from the block counts as its error (then propagates).  Raises NoProvider."""
        with self._lock:
            provider = self._choose()
            self._inflight[provider.name] = self._inflight.get(provider.name, 0) + 1
        return Lease(self, provider)

    def note_error(self, provider: Provider | str) -> None:
        """Count an error of ``provider`` (or its name) for the down policy."""
        name = provider if isinstance(provider, str) else provider.name
        now = time.monotonic()
        with self._lock:
            errors = [t for t in self._errors.get(name, ()) if now - t < self.down_for]
            errors.append(now)
            if len(errors) >= self.error_threshold:
                self._errors.pop(name, None)
                self._down[name] = now + self.down_for
                if self._sticky == name:
                    self._sticky = None
                log.warning("%s: provider %s is down for %gs after %d error(s)", self.path, name, self.down_for,
                            len(errors))
            else:
                self._errors[name] = errors

    def down(self) -> frozenset[str]:
        """Names of the providers skipped right now for their errors."""
        now = time.monotonic()
        with self._lock:
            return frozenset(n for n, until in self._down.items() if until > now)

    def inflight(self, provider: Provider | str) -> int:
        """How many leases of ``provider`` (or its name) are in flight."""
        name = provider if isinstance(provider, str) else provider.name
        with self._lock:
            return self._inflight.get(name, 0)

    def _release(self, provider: Provider, *, failed: bool) -> None:
        with self._lock:
            left = self._inflight.get(provider.name, 0) - 1
            if left > 0:
                self._inflight[provider.name] = left
            else:
                self._inflight.pop(provider.name, None)
        if failed:
            self.note_error(provider)

    def _choose(self) -> Provider:
        if self.closed:
            raise ValueError(f"{self!r} is closed")
        providers = self._providers
        if self._down:
            now = time.monotonic()
            for name in [n for n, until in self._down.items() if until <= now]:
                del self._down[name]
            if self._down:
                providers = tuple(p for p in providers if p.name not in self._down)
        if not providers:
            counts = self._counts
            raise NoProvider(self.path, known=counts.get("known", 0), disabled=counts.get("disabled", 0),
                             down=len(self._down))
        return self._pick(providers)

    def _pick_round_robin(self, providers: tuple[Provider, ...]) -> Provider:
        index = self._next % len(providers)
        self._next = index + 1
        return providers[index]

    def _pick_random(self, providers: tuple[Provider, ...]) -> Provider:
        return providers[self._random.randrange(len(providers))]

    def _pick_sticky(self, providers: tuple[Provider, ...]) -> Provider:
        if self._sticky is not None:
            for provider in providers:
                if provider.name == self._sticky:
                    return provider
        provider = self._pick_round_robin(providers)
        self._sticky = provider.name
        return provider

    def _pick_least_loaded(self, providers: tuple[Provider, ...]) -> Provider:
        n = len(providers)
        if n == 1:
            return providers[0]
        i = self._random.randrange(n)
        j = self._random.randrange(n - 1)
        if j >= i:
            j += 1
        a, b = providers[i], providers[j]
        inflight = self._inflight
        return b if inflight.get(b.name, 0) < inflight.get(a.name, 0) else a

    # -- lifecycle ---------------------------------------------------------------

    def close(self) -> None:
        """Stop following the view (closing it when the selector made it); idempotent."""
        if self.closed:
            return
        self.closed = True
        self.view.remove(self._callback)
        if self._owns_view:
            self.view.close()

    def __enter__(self) -> "Selector":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> "Selector":  # the same on a loop: nothing here waits
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"{len(self._providers)} provider(s), {len(self._down)} down"
        return f"<Selector {self.path} {self.strategy} {state}>"
