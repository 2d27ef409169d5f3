"""Every non-trivial read of the observations app, one module per subject."""

from .coding import *  # noqa: F403
from .indicators import *  # noqa: F403
from .log import *  # noqa: F403
from .ties import *  # noqa: F403
