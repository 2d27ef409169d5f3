from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_slug
from django.utils import translation
from django.utils.translation import gettext as _

from coordination import services
from coordination.management.cli import cli_language


class Command(BaseCommand):
    help = "Create a network."

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug", help="short name used in addresses: letters, digits, - and _")
        parser.add_argument("--name", required=True, help="the network's display name")

    def handle(self, *args, slug: str, name: str, **options) -> None:
        with translation.override(cli_language()):
            try:
                validate_slug(slug)
            except ValidationError:
                raise CommandError(
                    _("%(slug)r is not a valid slug: use letters, digits, - and _.")
                    % {"slug": slug}
                ) from None
            if not name.strip():
                raise CommandError(_("--name must not be empty."))
            try:
                network = services.network_create(slug=slug, name=name.strip())
            except services.NetworkExists as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(_("Created network %(slug)s.") % {"slug": network.slug})
