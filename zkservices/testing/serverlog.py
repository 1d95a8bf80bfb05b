"""A server's console output: the logging set-up we give it, and its lines forwarded to :mod:`logging`.

ZooKeeper 3.8 (Debian's) logs through log4j 1.2 (:data:`LOG4J_PROPERTIES`),
ZooKeeper 3.9 through logback (:data:`LOGBACK_XML`); both configurations are
written beside ``zoo.cfg``, whose directory comes first on the server's
classpath, and both print the one line format :data:`LINE_PATTERN` parses.

Each line the server writes goes to the ``zkservices.server`` logger at the
level log4j gave it (continuation lines, such as stack traces, keep the level
of the line before), with the server's name in front and as the record's
``zookeeper_server`` attribute, and into a bounded tail kept for error messages.
"""

from __future__ import annotations

import logging
import re
from typing import IO, Iterable, MutableSequence

__all__ = [
    "HARMLESS",
    "LEVELS",
    "LINE_PATTERN",
    "LOG4J_PROPERTIES",
    "LOGBACK_XML",
    "LOG_PATTERN",
    "forward_lines",
    "important_lines",
]

server_log = logging.getLogger("zkservices.server")

#: log4j level names and the :mod:`logging` levels they become.
LEVELS = {
    "TRACE": logging.DEBUG,
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "FATAL": logging.CRITICAL,
}

#: The layout of every line the server prints (log4j 1.2's conversion words; logback's
#: ``%C{0}`` is log4j's ``%C{1}``, the class's simple name).
LOG_PATTERN = "%d{ISO8601} - %-5p [%t:%C{1}@%L] - %m%n"

#: A line as :data:`LOG_PATTERN` makes log4j or logback write it, with groups ``level``, ``where``, ``msg``.
LINE_PATTERN = re.compile(r"^\d{4}-\d\d-\d\d[ T][\d:,.]+ - (?P<level>[A-Z]+)\s*\[(?P<where>.*?)\] - (?P<msg>.*)$")

#: Lines the server logs at ERROR that are not trouble, as (``where`` prefix, message prefix),
#: demoted to DEBUG with their stack traces.  ZooKeeper 3.8 logs a NullPointerException
#: when a four-letter command (our readiness probe, ``srvr``) arrives before its
#: database is loaded; the command itself is answered ("not currently serving").
HARMLESS = (
    ("NIOWorkerThread", "Error closing a command socket"),
)


def _level(match: "re.Match[str]") -> int:
    where, msg = match.group("where"), match.group("msg")
    if any(where.startswith(w) and msg.startswith(m) for w, m in HARMLESS):
        return logging.DEBUG
    return LEVELS.get(match.group("level"), logging.INFO)


#: log4j configuration written beside ``zoo.cfg``: everything to the console, one parsable line each.
LOG4J_PROPERTIES = """\
log4j.rootLogger=INFO, CONSOLE
log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
log4j.appender.CONSOLE.Threshold=DEBUG
log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
log4j.appender.CONSOLE.layout.ConversionPattern=""" + LOG_PATTERN + """
"""

#: logback configuration written beside ``zoo.cfg`` (ZooKeeper 3.9): the same, through logback.
LOGBACK_XML = """\
<configuration>
  <appender name="CONSOLE" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>""" + LOG_PATTERN.replace("%C{1}", "%C{0}") + """</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="CONSOLE"/></root>
</configuration>
"""


def important_lines(lines: Iterable[str], *, min_level: int = logging.WARNING, limit: int = 15) -> list[str]:
    """The last ``limit`` log lines at ``min_level`` or above (WARN by default).

    A stack trace keeps its exception line (``java.lang.X: message``) but not its
    ``at ...`` frames: a failure report needs what went wrong, not where in Java.
    """
    kept: list[str] = []
    keep = False
    for line in lines:
        match = LINE_PATTERN.match(line)
        if match:
            keep = _level(match) >= min_level
            if keep:
                kept.append(line)
        elif keep and line.strip() and not line.lstrip().startswith(("at ", "...")):
            kept.append(line)
    return kept[-limit:]


def forward_lines(stream: IO[bytes], *, name: str, tail: MutableSequence[str]) -> None:
    """Read ``stream`` to its end, logging each line as the server ``name`` and appending it to ``tail``.

    ``tail`` is usually a bounded :class:`collections.deque`.  Runs on the
    thread that reads the server's output; returns when the process closes it.
    """
    level = logging.INFO
    for raw in stream:
        line = raw.decode("utf-8", "replace").rstrip("\n")
        tail.append(line)
        match = LINE_PATTERN.match(line)
        if match:
            level = _level(match)
            text = f"[{match.group('where')}] {match.group('msg')}"
        else:  # continuation lines (stack traces) keep the previous level
            text = line
        if server_log.isEnabledFor(level):
            server_log.log(level, "%s: %s", name, text, extra={"zookeeper_server": name})
