"""dossierhub's shared core: settings, the root exception, the CLI and the local stack.

Domain logic lives in the role packages beside it: ``schemas``, ``producers``,
``stream_processors`` and ``sinks``.
"""

from dossierhub.errors import HubError
from dossierhub.settings import Settings

__all__ = ["HubError", "Settings", "__version__"]

__version__ = "0.1.0"
