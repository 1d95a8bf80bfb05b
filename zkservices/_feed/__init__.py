"""Load-balancer feeds: template rendering, the template context, the file writer, the feed.

``zkservices feed`` and :class:`~zkservices.Feed` are built from these.
jinja2 is imported only when a template is compiled.
"""

from ..errors import FeedError, FeedTemplateError
from .context import build_context, provider_entry, service_entry
from .feed import Feed
from .render import example_template, render
from .writer import FileFeed

__all__ = [
    "Feed",
    "FileFeed",
    "render",
    "example_template",
    "build_context",
    "service_entry",
    "provider_entry",
    "FeedError",
    "FeedTemplateError",
]
