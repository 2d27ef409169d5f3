from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.urls import reverse
from django.utils import timezone, translation

from continuity.demo import continuity_demo_seed
from coordination import demo
from coordination.management.cli import cli_language
from observations.demo import log_seed, ties_seed
from observations.services.indicators import snapshots_backfill
from partners.demo import partners_demo_seed


class Command(BaseCommand):
    help = "Create or refresh the demo network (idempotent) and print its sign-ins."

    def handle(self, *args, **options) -> None:
        with translation.override(cli_language()):
            self._seed()

    def _seed(self) -> None:
        result = demo.demo_seed()
        ties_seed(network=result.network)
        log_seed(network=result.network)
        with translation.override("ja"):  # what the drill writes into the log
            continuity_demo_seed(network=result.network)
        # The dashboard shows history at once: monthly snapshots since the start.
        snapshots_backfill(network=result.network, until=timezone.localdate())
        partners_demo_seed(
            network=result.network,
            user=get_user_model().objects.filter(email=demo.COORDINATOR_EMAIL).first(),
        )
        state = "created" if result.created else "already there, checked"
        self.stdout.write(
            f"Demo network '{result.network.slug}' {state}: "
            f"participants {result.participants.summary()}."
        )
        login = settings.SITE_URL + reverse("account_login")
        self.stdout.write(
            "\nSign in at " + login + "\n"
            f"  coordinator: {demo.COORDINATOR_EMAIL} / password {demo.PASSWORD}\n"
            f"  researcher:  {demo.RESEARCHER_EMAIL} / password {demo.PASSWORD}\n"
            f"  participant: {demo.PEOPLE[1][2]} (or any other demo participant): choose\n"
            "               'ログインコードを送信する' (Send me a sign-in code); the e-mail\n"
            "               with the code is printed in the terminal that runs the server.\n"
        )
