"""Operating-system helpers shared by the features: atomic file writes, running commands, the
background loop, this machine's addresses, ZooKeeper's four-letter admin words.

Nothing here opens a ZooKeeper session.
"""

from .addresses import local_addresses
from .commands import Command, CommandResult, run_command
from .fourletter import four_letter_word, srvr
from .files import NEW_FILE_MODE, PathLike, StagedFile, atomic_write, read_bytes
from .loop import UNTIL_WOKEN, BackgroundLoop

__all__ = [
    "atomic_write",
    "StagedFile",
    "read_bytes",
    "NEW_FILE_MODE",
    "PathLike",
    "run_command",
    "CommandResult",
    "Command",
    "BackgroundLoop",
    "UNTIL_WOKEN",
    "local_addresses",
    "four_letter_word",
    "srvr",
]
