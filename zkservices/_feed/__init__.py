"""Load-balancer feeds: template rendering, the template context, what may reach a template, the file writer, the feed.

``zkservices feed`` and :class:`~zkservices.Feed` are built from these.
jinja2 is imported only when a template is compiled.
"""

from ..errors import FeedError, FeedTemplateError
from .context import build_context, describe_changes, provider_entry, service_entry
from .feed import DEFAULT_MIN_WAIT, Feed
from .render import example_template, render
from .safety import ContextChecker, provider_problem, token
from .writer import FileFeed

__all__ = [
    "Feed",
    "FileFeed",
    "render",
    "example_template",
    "build_context",
    "service_entry",
    "provider_entry",
    "describe_changes",
    "ContextChecker",
    "provider_problem",
    "token",
    "DEFAULT_MIN_WAIT",
    "FeedError",
    "FeedTemplateError",
]
