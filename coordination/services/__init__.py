"""Every write of the coordination app, one module per subject; import from here."""

from .bulletins import *  # noqa: F403
from .events import *  # noqa: F403
from .imports import *  # noqa: F403
from .people import *  # noqa: F403
