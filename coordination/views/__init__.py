"""Thin views, one module per subject; urls.py imports them from here."""

from .events_portal import *  # noqa: F403
from .events_staff import *  # noqa: F403
from .people import *  # noqa: F403
