"""Thin views, one module per subject; urls.py imports them from here."""

from .people import *  # noqa: F403
