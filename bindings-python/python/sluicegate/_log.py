"""The ``sluicegate`` logger, without importing :mod:`logging` until someone could be listening.

``import logging`` costs ~1 MB and ~5 ms, and most calls only ask "is debug enabled?". While
nothing in the process has imported :mod:`logging`, nobody can have configured a handler or a
level, so the answer is no and the import is skipped. Lines that must go out (errors) import it.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    import logging

__all__ = ["debug_logger", "logger"]

_logger: Optional["logging.Logger"] = None


def logger() -> "logging.Logger":
    """The ``sluicegate`` logger (imports :mod:`logging` on first use)."""
    global _logger
    if _logger is None:
        import logging

        _logger = logging.getLogger("sluicegate")
    return _logger


def debug_logger() -> Optional["logging.Logger"]:
    """The logger when it would emit debug lines, else ``None``; never imports :mod:`logging`."""
    if _logger is None and "logging" not in sys.modules:
        return None
    log = logger()
    return log if log.isEnabledFor(10) else None  # 10: logging.DEBUG
