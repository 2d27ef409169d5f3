"""manage.py export_network SLUG --format graphml|gexf|csv|json [--pseudonymize] -o FILE"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext as _

from coordination.management.cli import cli_language
from coordination.models import Network
from observations.export import FORMATS, network_export


class Command(BaseCommand):
    help = (
        "Export a network's participants and confirmed ties as GraphML, GEXF, "
        "node-link JSON or a ZIP of nodes.csv and edges.csv."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug", help="the network's slug")
        # Checked in handle() rather than with choices=, so the message is translated
        # and the exit is a CommandError like every other bad input.
        parser.add_argument("--format", required=True, help=", ".join(FORMATS))
        parser.add_argument(
            "--pseudonymize",
            action="store_true",
            help="replace people and organizations by stable pseudonyms; drop names and e-mails",
        )
        parser.add_argument("-o", "--output", required=True, help="the file to write")

    def handle(self, *args, slug: str, format: str, pseudonymize: bool, output: str, **options):
        with translation.override(cli_language()):
            network = Network.objects.filter(slug=slug).first()
            if network is None:
                raise CommandError(_("No network with the slug %(slug)s.") % {"slug": slug})
            if format not in FORMATS:
                raise CommandError(
                    _("Unknown format %(format)r: use one of %(formats)s.")
                    % {"format": format, "formats": ", ".join(FORMATS)}
                )
            path = Path(output)
            if path.is_dir():
                raise CommandError(_("%(path)s is a folder, not a file.") % {"path": output})
            # Written next to the target and renamed at the end, so a failure never
            # leaves a half-written file behind (or destroys an older export). The
            # temporary file is private (0600), which suits an export of personal data.
            try:
                handle, temporary = tempfile.mkstemp(
                    dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
                )
            except OSError as exc:
                raise CommandError(
                    _("Cannot write %(path)s: %(error)s") % {"path": output, "error": exc.strerror}
                ) from None
            try:
                with os.fdopen(handle, "wb") as fp:
                    network_export(network=network, fmt=format, fp=fp, pseudonymized=pseudonymize)
                os.replace(temporary, path)
            except OSError as exc:
                raise CommandError(
                    _("Cannot write %(path)s: %(error)s") % {"path": output, "error": exc.strerror}
                ) from None
            finally:
                if os.path.exists(temporary):
                    os.unlink(temporary)
            self.stdout.write(
                _("Wrote %(path)s (%(format)s%(pseudonymized)s).")
                % {
                    "path": output,
                    "format": format,
                    "pseudonymized": _(", pseudonymised") if pseudonymize else "",
                }
            )
