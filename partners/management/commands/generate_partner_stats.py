"""manage.py generate_partner_stats -o FILE [--municipalities N] [--indicators P] [--seed S]"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext as _

from coordination.management.cli import cli_language
from partners import synthetic


class Command(BaseCommand):
    requires_system_checks = []
    help = (
        "Write the project's synthetic statistics table (generic format, UTF-8 with BOM): "
        "municipalities driven by a few latent factors, with a planted twin of the target "
        f"{synthetic.TARGET_CODE} ({synthetic.TWIN_CODE}, ~170 km away) and a near copy "
        f"only ~10 km away ({synthetic.DECOY_CODE}). Deterministic for a seed."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("-o", "--output", required=True, help="the CSV file to write")
        parser.add_argument("--municipalities", type=int, default=400)
        parser.add_argument("--indicators", type=int, default=70)
        parser.add_argument("--factors", type=int, default=6)
        parser.add_argument("--seed", type=int, default=2026)

    def handle(self, *args, output: str, municipalities: int, indicators: int, **options):
        with translation.override(cli_language()):
            try:
                data = synthetic.synthetic_csv(
                    municipalities=municipalities,
                    indicators=indicators,
                    factors=options["factors"],
                    seed=options["seed"],
                )
            except ValueError:
                raise CommandError(
                    _(
                        "Use at least 10 municipalities, and more indicators than factors "
                        "(1 to %(max)s factors)."
                    )
                    % {"max": len(synthetic.FACTORS)}
                ) from None
            try:
                Path(output).write_bytes(data)
            except OSError as exc:
                raise CommandError(
                    _("Cannot write %(path)s: %(error)s") % {"path": output, "error": exc.strerror}
                ) from None
            self.stdout.write(
                _(
                    "Wrote %(path)s: %(n)s municipalities × %(p)s indicators; target "
                    "%(target)s, twin %(twin)s."
                )
                % {
                    "path": output,
                    "n": municipalities,
                    "p": indicators,
                    "target": synthetic.TARGET_CODE,
                    "twin": synthetic.TWIN_CODE,
                }
            )
