"""What a feed lets reach a template: providers checked, unsafe values refused.

Whoever can write a provider node decides what lands in a load balancer's
configuration, so every value is checked before it is rendered:

- a **provider** needs a ``host`` that is a hostname (letters, digits, ``-``
  and ``_``, dot-separated labels of 1-63 characters, 253 at most, not all
  digits at the end) or an IP address, and a ``port`` that is an integer
  from 1 to 65535;
- no string a template can reach -- the provider's name, host, address,
  every property value and key, nested ones too -- may hold a control
  character: C0 (U+0000-U+001F: NUL, tab, LF, CR...), DEL (U+007F), C1
  (U+0080-U+009F) or the Unicode line and paragraph separators.

A provider that fails is left out of the rendering, with a WARNING naming its
node and the reason (once per node and data: not again on every rendering);
the others are rendered.  A *service* property holding a control character
fails the rendering with a :class:`~zkservices.FeedError` naming the service
and the property: the file on disk stays as it is.

The ``token`` template filter (:func:`token`) refuses values that are not a
single safe word; when it refuses a provider's value, that provider is left
out (with a warning) and the template is rendered again without it
(:meth:`ContextChecker.render`).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import threading
from typing import Any, Callable, Iterator, Mapping

from .._znode.paths import port_problem
from ..errors import FeedError, FeedTemplateError

__all__ = [
    "ContextChecker",
    "provider_problem",
    "control_character",
    "token",
    "TOKEN_CHARACTERS",
]

log = logging.getLogger("zkservices.feed")

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)\Z")
_SCOPE = re.compile(r"[A-Za-z0-9_.-]+\Z")

#: What a value passed through the ``token`` filter may consist of.
TOKEN_CHARACTERS = "A-Z a-z 0-9 . _ - : / @ % + = , ~ ( ) [ ]"
_TOKEN = re.compile(r"[A-Za-z0-9._:/@%+=,~()\[\]-]+\Z")


def _shown(value: str, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def _strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every string in ``value`` (mapping keys and values, nested), with where it is."""
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            inside = f"{where}[{key!r}]" if where else repr(key)
            if isinstance(key, str):
                yield f"{inside} (its name)", key
            yield from _strings(item, inside)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _strings(item, f"{where}[{i}]")


def _values(value: Any) -> Iterator[Any]:
    """``value`` and everything in it (mapping keys and values, list items), nested."""
    yield value
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield key
            yield from _values(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _values(item)


def control_character(value: Any, where: str = "") -> str | None:
    """Where ``value`` (a string, or a mapping/list holding strings) holds a control character.

    Returns ``None`` for none, else a reason such as
    ``"property 'weight' holds a control character (U+000A)"``
    (``where`` prefixes the position inside ``value``).
    """
    for place, text in _strings(value, ""):
        found = _CONTROL.search(text)
        if found:
            inside = f"{where}{place}".strip()
            what = f"{inside} holds" if inside else "holds"
            return f"{what} a control character (U+{ord(found.group()):04X}) in {_shown(text)}"
    return None


def _host_problem(host: Any) -> str | None:
    if not isinstance(host, str) or not host:
        return f"host {host!r} is not a hostname or IP address"
    address, _, scope = host.partition("%")
    try:
        ipaddress.ip_address(address)
    except ValueError:
        pass
    else:
        if not scope or (":" in address and _SCOPE.match(scope)):
            return None
        return f"host {_shown(host)} has a bad IPv6 scope"
    name = host[:-1] if host.endswith(".") else host
    labels = name.split(".")
    if len(name) <= 253 and all(_LABEL.match(label) for label in labels) and not labels[-1].isdigit():
        return None
    return f"host {_shown(host)} is not a hostname or IP address"


def _port_problem(port: Any) -> str | None:
    return "no port (neither in the data nor in the name)" if port is None else port_problem(port)


def provider_problem(entry: Mapping[str, Any]) -> str | None:
    """Why a provider entry (see :func:`~zkservices._feed.provider_entry`) must not be rendered, or ``None``.

    Checks the control characters first (in every string of the entry), then
    the host, then the port.
    """
    for key in ("name", "host", "address"):
        problem = control_character(entry.get(key), key)
        if problem:
            return problem
    problem = control_character(entry.get("properties") or {}, "property ")
    if problem:
        return problem
    return _host_problem(entry.get("host")) or _port_problem(entry.get("port"))


def token(value: Any) -> str:
    """The ``token`` template filter: ``value`` as a single safe word, or an error.

    Numbers come out as they are; strings must be non-empty and consist of
    :data:`TOKEN_CHARACTERS` only (no whitespace, ``;``, ``{``, ``}``, ``#``,
    quotes, ``$``, backslashes or control characters).  Anything else raises
    :class:`~zkservices.FeedTemplateError` naming the value (its ``value``
    attribute holds it): a value is never silently passed on or altered.
    """
    if isinstance(value, bool) or value is None or not isinstance(value, (str, int, float)):
        raise FeedTemplateError(
            f"token: {value!r} is not a single safe token (a string or a number is needed)",
            template_name="<template>", value=value,
        )
    text = str(value)
    if not _TOKEN.match(text):
        bad = next((c for c in text if not _TOKEN.match(c)), "")
        why = "it is empty" if not text else f"it holds {bad!r}"
        raise FeedTemplateError(
            f"token: {_shown(text)} is not a single safe token ({why}; allowed: {TOKEN_CHARACTERS})",
            template_name="<template>", value=value,
        )
    return text


def _provider_node(service: Mapping[str, Any], provider: Mapping[str, Any]) -> str:
    return f"{str(service.get('path', '')).rstrip('/')}/providers/{provider.get('name')}"


def _version(provider: Mapping[str, Any]) -> str:
    try:
        return json.dumps(provider.get("properties"), sort_keys=True, default=repr)
    except (TypeError, ValueError):  # pragma: no cover - keys of mixed types
        return repr(provider.get("properties"))


class ContextChecker:
    """Checks template contexts (``{"services": [...]}``) before they are rendered.

    :param name: names the feed in log messages (its output file).

    :meth:`check` leaves out bad providers (a WARNING per node and data, once)
    and raises :class:`~zkservices.FeedError` for a service property holding a
    control character; :meth:`render` also leaves out providers whose values a
    ``token`` filter refused.  Thread-safe.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.RLock()  # one check or rendering at a time
        self._warned: dict[str, str] = {}  # node path -> version warned about
        self._seen: set[str] = set()

    def __repr__(self) -> str:
        return f"<ContextChecker {self.name} warned={len(self._warned)}>"

    def _warn(self, node: str, version: str, reason: str) -> None:
        with self._lock:
            self._seen.add(node)
            if self._warned.get(node) == version:
                return
            self._warned[node] = version
        log.warning("feed %s: provider %s left out: %s", self.name, node, reason)

    def _begin(self) -> None:
        with self._lock:
            self._seen = set()

    def _end(self) -> None:
        # a node that is fine again (or gone) is warned about anew when it turns bad again
        with self._lock:
            for node in [n for n in self._warned if n not in self._seen]:
                del self._warned[node]

    def check(self, context: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of ``context`` without the providers that fail (see the module documentation).

        Raises :class:`~zkservices.FeedError` naming the service and the
        property when a service property holds a control character.
        """
        with self._lock:
            self._begin()
            try:
                return self._check(context)
            finally:
                self._end()

    def _check(self, context: Mapping[str, Any]) -> dict[str, Any]:
        services = []
        for service in context.get("services", []):
            path = service.get("path")
            for key in ("path", "name"):
                problem = control_character(service.get(key), f"service {key}")
                if problem:
                    raise FeedError(f"service {path!r}: {problem}; nothing rendered")
            problem = control_character(service.get("properties") or {}, "property ")
            if problem:
                raise FeedError(f"service {path}: {problem}; nothing rendered, the file is left as it is")
            providers = []
            for provider in service.get("providers", []):
                problem = provider_problem(provider)
                if problem:
                    self._warn(_provider_node(service, provider), _version(provider), problem)
                else:
                    providers.append(provider)
            services.append({**service, "providers": providers})
        return {**context, "services": services}

    def render(self, context: Mapping[str, Any], render: Callable[[Mapping[str, Any]], str]) -> str:
        """``render(checked context)``; providers a ``token`` filter refuses are left out and it is rendered again.

        Raises :class:`~zkservices.FeedError` for a bad service property (also
        one a ``token`` filter refused) and :class:`~zkservices.FeedTemplateError`
        for other template errors.
        """
        with self._lock:
            self._begin()
            try:
                checked = self._check(context)
                while True:  # each round leaves out at least one provider, or raises
                    try:
                        return render(checked)
                    except FeedTemplateError as exc:
                        refused = _refused_value(exc)
                        if refused is _NONE:
                            raise
                        checked = self._leave_out(checked, refused, exc)
            finally:
                self._end()

    def _leave_out(self, context: dict[str, Any], refused: Any, exc: FeedTemplateError) -> dict[str, Any]:
        def holds(value: Any) -> bool:
            return any(_same(item, refused) for item in _values(value))

        services, found = [], False
        for service in context["services"]:
            keep = []
            for provider in service.get("providers", []):
                if holds(provider):
                    found = True
                    self._warn(_provider_node(service, provider), _version(provider), str(exc))
                else:
                    keep.append(provider)
            services.append({**service, "providers": keep})
        if found:
            return {**context, "services": services}
        for service in context["services"]:
            for key, value in (service.get("properties") or {}).items():
                if holds(value):
                    raise FeedError(
                        f"service {service.get('path')}: property {_shown(str(key))}: {exc}; "
                        "nothing rendered, the file is left as it is"
                    )
        raise exc


_NONE: Any = object()


def _same(a: Any, b: Any) -> bool:
    """Whether ``a`` is the refused value ``b`` (also with IPv6 brackets removed, as templates do for names)."""
    if isinstance(a, str) and isinstance(b, str):
        return a == b or a.replace("[", "").replace("]", "") == b
    return type(a) is type(b) and a == b


def _refused_value(exc: BaseException) -> Any:
    """The value a ``token`` filter refused, found in ``exc`` or its causes, else ``_NONE``."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 10:
        if isinstance(current, FeedTemplateError) and current.refused:
            return current.value
        current = current.__cause__
        seen += 1
    return _NONE
