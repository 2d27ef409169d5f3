"""What the import commands share: reading the file, reporting, the CLI language."""

from __future__ import annotations

import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext as _

from coordination.models import Network
from coordination.tables import TableError


def cli_language() -> str:
    """Japanese when the shell's locale is Japanese, else English (like other CLI tools)."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "")
        if value:
            return "ja" if value.lower().startswith("ja") else "en"
    return "en"


class ImportCommand(BaseCommand):
    importer = None  # a services.*_import function
    what = ""

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug", help="the network's slug")
        parser.add_argument("file", help="CSV (UTF-8, UTF-8 with BOM or CP932) or XLSX")
        parser.add_argument("--dry-run", action="store_true", help="validate only; change nothing")

    def handle(self, *args, slug: str, file: str, dry_run: bool, **options) -> None:
        with translation.override(cli_language()):
            network = Network.objects.filter(slug=slug).first()
            if network is None:
                raise CommandError(_("No network with the slug %(slug)s.") % {"slug": slug})
            path = Path(file)
            if not path.is_file():
                raise CommandError(_("No such file: %(file)s") % {"file": file})
            try:
                result = type(self).importer(
                    network=network, data=path.read_bytes(), filename=path.name, dry_run=dry_run
                )
            except TableError as exc:
                for error in exc.errors:
                    self.stderr.write(f"{path.name}: {error}")
                raise CommandError(
                    _("%(n)s problem(s) found; nothing was imported.") % {"n": len(exc.errors)}
                ) from None
            prefix = _("Dry run, nothing changed") if dry_run else _("Imported")
            self.stdout.write(f"{prefix}: {result.summary()}.")
