"""The observations pages: thin, access first, then a selector or a service."""

from .coding import *  # noqa: F403
from .dashboard import *  # noqa: F403
from .log import *  # noqa: F403
from .ties import *  # noqa: F403
