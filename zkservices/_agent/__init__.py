"""The fleet agent: one process per host that registers, feeds and reports.

This slice holds its configuration: the immutable records (:mod:`.config`),
the schema of one file (:mod:`.schema`, pydantic, imported only when a
configuration is loaded) and the loader that reads a file or a directory and
checks it as a whole (:mod:`.load`).
"""

from ..errors import AgentConfigError, ConfigProblem
from .config import AgentConfig, CheckConfig, FeedConfig, RegisterConfig, TLSConfig, ZooKeeperConfig
from .load import config_files, load_agent_config

__all__ = [
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
