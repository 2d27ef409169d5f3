from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ObservationsConfig(AppConfig):
    name = "observations"
    verbose_name = _("Observations")

    def ready(self) -> None:
        # Celery's autodiscovery imports `tasks` modules only; the indicator tasks live
        # in their own module.
        from . import tasks_indicators  # noqa: F401
