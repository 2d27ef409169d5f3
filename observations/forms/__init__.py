"""Input validation for the observations pages, one module per subject."""

from .coding import *  # noqa: F403
from .log import *  # noqa: F403
from .ties import *  # noqa: F403
