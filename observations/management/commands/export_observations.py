"""manage.py export_observations SLUG --format csv|xlsx|json [--pseudonymize] -o FILE"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext as _

from coordination.management.cli import cli_language
from coordination.models import Network
from observations.export_log import FORMATS, log_export_stream, log_export_write


class Command(BaseCommand):
    help = (
        "Export a network's observation log for analysis. csv: a ZIP of observations.csv, "
        "codings.csv, codes.csv and memos.csv (UTF-8 with BOM), or observations.csv "
        "alone when FILE ends in .csv or is '-' (standard output); xlsx: one workbook "
        "with the four tables as sheets; json: one object with the codebook, the "
        "observations (each with its codings and memos) and the journal memos."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug", help="the network's slug")
        # Checked in handle() rather than with choices=, so the message is translated
        # and the exit is a CommandError like every other bad input.
        parser.add_argument("--format", required=True, help=", ".join(FORMATS))
        parser.add_argument(
            "--pseudonymize",
            action="store_true",
            help="replace people, organizations, authors and events by stable pseudonyms "
            "and mask known names in every text",
        )
        parser.add_argument(
            "-o",
            "--output",
            required=True,
            help="the file to write; '-' writes csv (observations.csv) or json to "
            "standard output; a name ending in .csv writes observations.csv alone",
        )

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
            if output == "-":
                self._to_stdout(network, format, pseudonymize)
                return
            path = Path(output)
            if path.is_dir():
                raise CommandError(_("%(path)s is a folder, not a file.") % {"path": output})
            observations_only = format == "csv" and path.suffix.lower() == ".csv"
            rows = self._to_file(network, format, pseudonymize, path, observations_only)
            self.stdout.write(
                _("Wrote %(path)s (%(format)s, %(rows)s observations%(pseudonymized)s).")
                % {
                    "path": output,
                    "format": "observations.csv" if observations_only else format,
                    "rows": rows,
                    "pseudonymized": _(", pseudonymised") if pseudonymize else "",
                }
            )

    def _to_stdout(self, network: Network, format: str, pseudonymize: bool) -> None:
        if format == "xlsx":
            raise CommandError(_("An XLSX file cannot go to standard output: use -o FILE."))
        chunks = log_export_stream(
            network=network, fmt=format, pseudonymized=pseudonymize, observations_only=True
        )
        # Bytes to a real stdout; text when a caller passed a text stream (call_command).
        binary = getattr(self.stdout._out, "buffer", None)
        for chunk in chunks:
            if binary is not None:
                binary.write(chunk)
            else:
                self.stdout.write(chunk.decode("utf-8"), ending="")
        if binary is not None:
            binary.flush()

    def _to_file(
        self, network: Network, format: str, pseudonymize: bool, path: Path, observations_only: bool
    ) -> int:
        # Written next to the target and renamed at the end, so a failure never leaves
        # a half-written file behind (or destroys an older export). The temporary file
        # is private (0600), which suits an export of personal data.
        try:
            handle, temporary = tempfile.mkstemp(
                dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
            )
        except OSError as exc:
            raise CommandError(
                _("Cannot write %(path)s: %(error)s") % {"path": path, "error": exc.strerror}
            ) from None
        try:
            with os.fdopen(handle, "wb") as fp:
                rows = log_export_write(
                    network=network,
                    fmt=format,
                    fp=fp,
                    pseudonymized=pseudonymize,
                    observations_only=observations_only,
                )
            os.replace(temporary, path)
        except OSError as exc:
            raise CommandError(
                _("Cannot write %(path)s: %(error)s") % {"path": path, "error": exc.strerror}
            ) from None
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
        return rows
