"""The algorithms both fronts need, written once as sans-I/O steps.

A step is a generator that yields the round trips it needs as small request objects
(:mod:`.requests`) and is sent their results; a blocking driver (the session's
kazoo calls through its retry policy) and an awaiting driver (the asyncio bridge)
run the same steps.  Here: reading through links (:mod:`.links`), compare-and-set
and resolve-or-create (:mod:`.writes`), the Curator-directory check
(:mod:`.curator`) and settling (:mod:`.settle`); the tree operations'
steps live with the trees.
"""

from .curator import check_curator_directory
from .links import follow_links, get_properties, has_links, node_exists, on_server, read_properties, resolve
from .requests import Step
from .settle import settle
from .writes import check_property_links, compare_and_set, next_properties, resolve_or_create

__all__ = [
    "Step",
    "check_curator_directory",
    "check_property_links",
    "compare_and_set",
    "follow_links",
    "get_properties",
    "has_links",
    "next_properties",
    "node_exists",
    "on_server",
    "read_properties",
    "resolve",
    "resolve_or_create",
    "settle",
]
