"""manage.py compute_indicators SLUG [--as-of YYYY-MM-DD] [--json] [--backfill]"""

from __future__ import annotations

import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from coordination.management.cli import cli_language
from coordination.models import Network
from observations.indicators import INDICATORS
from observations.services.indicators import snapshot_compute, snapshots_backfill

# Per-member detail: in --json, summarised in the table.
_DETAIL = {"brokerage_by_member", "brokerage_role_order"}


def _format(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


class Command(BaseCommand):
    help = (
        "Compute and store a network's indicators as of a date (default today); "
        "print them as a table or, with --json, as one JSON object."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug", help="the network's slug")
        parser.add_argument("--as-of", dest="as_of", help="the date, YYYY-MM-DD (default today)")
        parser.add_argument(
            "--json",
            dest="as_json",
            action="store_true",
            help="print one JSON object keyed by indicator name",
        )
        parser.add_argument(
            "--backfill",
            action="store_true",
            help="also store the monthly snapshots from the network's start up to the date",
        )

    def handle(self, *args, slug: str, as_of: str | None, as_json: bool, backfill: bool, **options):
        with translation.override(cli_language()):
            network = Network.objects.filter(slug=slug).first()
            if network is None:
                raise CommandError(_("No network with the slug %(slug)s.") % {"slug": slug})
            day = self._date(as_of)
            if backfill:
                snapshots = snapshots_backfill(network=network, until=day)
                snapshot = next((s for s in snapshots if s.as_of == day), None)
                if snapshot is None:
                    raise CommandError(
                        _("The network %(slug)s has nobody who joined by %(date)s.")
                        % {"slug": slug, "date": day.isoformat()}
                    )
                self.stderr.write(
                    _("Stored %(n)s snapshots from %(first)s to %(last)s.")
                    % {
                        "n": len(snapshots),
                        "first": snapshots[0].as_of.isoformat(),
                        "last": day.isoformat(),
                    }
                )
            else:
                snapshot = snapshot_compute(network=network, as_of=day)
            sampled = snapshot.notes.get("sampled") or {}
            if as_json:
                self._json(snapshot)
                if sampled:
                    self.stderr.write(self._sampled_message(sampled))
            else:
                self._table(network, snapshot, sampled)

    def _date(self, value: str | None) -> dt.date:
        if not value:
            return timezone.localdate()
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise CommandError(
                _("--as-of %(value)r is not a date: use YYYY-MM-DD.") % {"value": value}
            ) from None

    def _json(self, snapshot) -> None:
        out = {
            **snapshot.values,
            "as_of": snapshot.as_of.isoformat(),
            "notes": snapshot.notes,
        }
        # Region names (Japanese) as they are, not as \\u escapes.
        self.stdout.write(json.dumps(out, ensure_ascii=False, sort_keys=False))

    def _sampled_message(self, sampled: dict) -> str:
        first = next(iter(sampled.values()))
        return _(
            "Estimated from sampled shortest paths (%(sources)s of %(of)s members as "
            "sources, seed %(seed)s): %(measures)s."
        ) % {
            "sources": first["sources"],
            "of": first["of"],
            "seed": first["seed"],
            "measures": ", ".join(sampled),
        }

    def _table(self, network: Network, snapshot, sampled: dict) -> None:
        values = snapshot.values
        self.stdout.write(
            _("Indicators of %(network)s as of %(date)s (stored, %(ms)s ms)")
            % {
                "network": network.name,
                "date": snapshot.as_of.isoformat(),
                "ms": snapshot.duration_ms,
            }
        )
        names = list(INDICATORS) + [k for k in values if k not in INDICATORS and k not in _DETAIL]
        width = max(len(name) for name in names)
        for name in names:
            value = values.get(name)
            if isinstance(value, dict):
                self.stdout.write(f"{name}")
                for key, inner in value.items():
                    if isinstance(inner, dict):
                        inner = "  ".join(f"{k} {_format(v)}" for k, v in inner.items())
                    self.stdout.write(f"    {key}: {_format(inner)}")
            else:
                marker = " *" if name in sampled else ""
                self.stdout.write(f"{name.ljust(width)}  {_format(value)}{marker}")
        if "brokerage_by_member" in values:
            self.stdout.write(
                _("Brokerage roles per member: %(n)s members broker (in --json).")
                % {"n": len(values["brokerage_by_member"])}
            )
        if sampled:
            self.stdout.write("* " + self._sampled_message(sampled))
        else:
            self.stdout.write(_("All measures exact (no sampling)."))
