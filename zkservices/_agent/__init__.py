"""The fleet agent: one process per host that registers, feeds and reports.

This slice holds its configuration: the immutable records (:mod:`.config`),
the schema of one file (:mod:`.schema`, pydantic, imported only when a
configuration is loaded) and the loader that reads a file or a directory and
checks it as a whole (:mod:`.load`).  :mod:`.parts` makes an entry into the
library object that does its work and :mod:`.agent` runs them all on one
session (:class:`Agent`).
"""

from ..errors import AgentConfigError, ConfigProblem
from .config import AgentConfig, CheckConfig, FeedConfig, RegisterConfig, TLSConfig, ZooKeeperConfig
from .agent import Agent
from .load import config_files, load_agent_config

__all__ = [
    "Agent",
    "AgentConfig",
    "ZooKeeperConfig",
    "TLSConfig",
    "RegisterConfig",
    "CheckConfig",
    "FeedConfig",
    "load_agent_config",
    "config_files",
    "AgentConfigError",
    "ConfigProblem",
]
