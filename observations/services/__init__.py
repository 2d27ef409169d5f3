"""Every write of the observations app, one module per subject: ties (the collaboration
registry), log (observations and metrics), coding (codebook, codings, memos)."""

from .coding import *  # noqa: F403
from .log import *  # noqa: F403
from .ties import *  # noqa: F403
from .ties import FORM_FIELDS, TIE_COLUMNS, TIE_REQUIRED  # noqa: F401
