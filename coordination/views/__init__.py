"""Thin views, one module per subject; urls.py imports them from here."""

from .bulletins_portal import *  # noqa: F403
from .bulletins_staff import *  # noqa: F403
from .events_portal import *  # noqa: F403
from .events_staff import *  # noqa: F403
from .people import *  # noqa: F403
