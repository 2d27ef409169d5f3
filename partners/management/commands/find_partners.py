"""manage.py find_partners --stats FILE --target CODE [filters] [--json]"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext as _

from coordination.management.cli import cli_language
from coordination.tables import TableError
from partners.search import SearchError, SearchParameters, find_partners, travel_times_from_matrix
from partners.stats import (
    DROP_INDICATORS,
    DROP_MUNICIPALITIES,
    looks_like_ssdse,
    read_ssdse,
    read_stats,
    read_travel_times,
)

MAX_PROBLEMS_SHOWN = 30


class Command(BaseCommand):
    # A computation on a file: it needs neither the database nor the URLs that the
    # system checks would load (half of its start-up time).
    requires_system_checks = []
    help = (
        "Rank partner municipalities for a target by the method of DESIGN.md: PCA on the "
        "correlation matrix of the study area's indicators, similarity of the standardised "
        "component scores, distance, travel-time and population filters. Reads the "
        "statistics table (code, name, prefecture, latitude, longitude, population, "
        "indicators...) or SSDSE-A with --coordinates. Changes nothing in the database."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--stats", required=True, help="statistics table (CSV or XLSX)")
        parser.add_argument("--target", required=True, help="the target's municipal code")
        parser.add_argument(
            "--prefectures",
            nargs="+",
            default=[],
            help="the study area: prefecture names as in the table, or 2-digit codes "
            "(comma- or space-separated)",
        )
        parser.add_argument("--min-km", type=float, default=30.0, help="default 30")
        parser.add_argument("--min-hours", type=float, default=None)
        parser.add_argument("--max-hours", type=float, default=None)
        parser.add_argument(
            "--population-ratio",
            nargs=2,
            type=float,
            metavar=("LOW", "HIGH"),
            default=None,
            help="candidate population ÷ target population within LOW..HIGH",
        )
        parser.add_argument(
            "--components", type=int, default=None, help="default: eigenvalue ≥ 1 (Kaiser)"
        )
        parser.add_argument("--similarity", default="pearson", help="pearson (default) or cosine")
        parser.add_argument("--circuity", type=float, default=1.3, help="default 1.3")
        parser.add_argument("--speed", type=float, default=60.0, help="km/h, default 60")
        parser.add_argument(
            "--top", type=int, default=20, help="candidates to print, default 20; 0 for all"
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument(
            "--coordinates",
            help="SSDSE-A only: the coordinates table (localgovjp: lgcode, lat, lng)",
        )
        parser.add_argument(
            "--travel-times",
            help="measured times instead of the estimate: origin, destination, hours|minutes",
        )
        parser.add_argument(
            "--drop",
            choices=[DROP_INDICATORS, DROP_MUNICIPALITIES],
            help="for a file with problems: drop the indicators or the municipalities concerned",
        )

    def handle(self, *args, **options) -> None:
        with translation.override(cli_language()):
            table = self._table(options)
            prefectures = tuple(
                part.strip()
                for item in options["prefectures"]
                for part in item.split(",")
                if part.strip()
            )
            top = options["top"]
            parameters = SearchParameters(
                target=options["target"],
                prefectures=prefectures,
                min_km=options["min_km"],
                min_hours=options["min_hours"],
                max_hours=options["max_hours"],
                population_ratio=tuple(options["population_ratio"])
                if options["population_ratio"]
                else None,
                components=options["components"],
                similarity=options["similarity"],
                circuity=options["circuity"],
                speed=options["speed"],
                top=None if top == 0 else top,
            )
            travel_times = None
            if options["travel_times"]:
                rows = self._read(options["travel_times"], read_travel_times)
                target = table.index_of(options["target"])
                if target is not None:
                    travel_times = travel_times_from_matrix(rows, table.codes[target])
                    if not travel_times:
                        raise CommandError(
                            _("The travel-time table has no times from %(code)s.")
                            % {"code": table.codes[target]}
                        )
            try:
                result = find_partners(table, parameters, travel_times=travel_times)
            except SearchError as exc:
                raise CommandError(str(exc)) from None
            if options["json"]:
                self.stdout.write(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
            else:
                self._print(result)

    def _path(self, name: str) -> Path:
        path = Path(name)
        if not path.is_file():
            raise CommandError(_("No such file: %(file)s") % {"file": name})
        return path

    def _read(self, name: str, reader, *more):
        path = self._path(name)
        try:
            return reader(path.read_bytes(), path.name, *more)
        except TableError as exc:
            for error in exc.errors[:MAX_PROBLEMS_SHOWN]:
                self.stderr.write(f"{path.name}: {error}")
            raise CommandError(
                _("%(file)s cannot be read (%(n)s problem(s)).")
                % {"file": path.name, "n": len(exc.errors)}
            ) from None

    def _table(self, options):
        path = self._path(options["stats"])
        data = path.read_bytes()
        if options["coordinates"]:
            coordinates = self._path(options["coordinates"])
            parsed = self._read(
                options["stats"], read_ssdse, coordinates.read_bytes(), coordinates.name
            )
        else:
            if looks_like_ssdse(data):
                raise CommandError(
                    _("%(file)s is an SSDSE-A file: give its coordinates with --coordinates FILE.")
                    % {"file": path.name}
                )
            parsed = self._read(options["stats"], read_stats)
        if parsed.problems and not options["drop"]:
            for problem in parsed.problems[:MAX_PROBLEMS_SHOWN]:
                where = _("row %(row)s") % {"row": problem.row}
                if problem.column:
                    where += ", " + _("column %(column)s") % {"column": problem.column}
                self.stderr.write(f"{path.name}: {where}: {problem.message}")
            if len(parsed.problems) > MAX_PROBLEMS_SHOWN:
                self.stderr.write(
                    _("… and %(n)s more.") % {"n": len(parsed.problems) - MAX_PROBLEMS_SHOWN}
                )
            raise CommandError(
                _(
                    "%(file)s has %(n)s problem(s); correct the file, or choose "
                    "--drop indicators or --drop municipalities."
                )
                % {"file": path.name, "n": len(parsed.problems)}
            )
        try:
            table, resolution = parsed.resolve(options["drop"] if parsed.problems else None)
        except TableError as exc:
            raise CommandError(" ".join(str(e) for e in exc.errors)) from None
        if resolution.indicators or resolution.municipalities:
            self.stderr.write(
                _("Dropped %(i)s indicator(s) and %(m)s municipality(-ies) with problems.")
                % {"i": len(resolution.indicators), "m": len(resolution.municipalities)}
            )
        return table

    def _print(self, result) -> None:
        data = result.to_json()
        target = result.target
        self.stdout.write(
            _(
                "Target %(code)s %(name)s (%(prefecture)s); %(rows)s municipalities in the "
                "study area; %(k)s components (%(share).1f%% of the variance); %(listed)s "
                "candidates listed."
            )
            % {
                **target,
                "rows": result.rows,
                "k": data["components"],
                "share": 100 * sum(data["explained_variance"][: data["components"]]),
                "listed": len(result.candidates),
            }
        )
        header = ("#", "code", "name", "prefecture", "similarity", "km", "hours", "pop.ratio")
        self.stdout.write("  ".join(header))
        for rank, c in enumerate(data["candidates"], start=1):
            hours = "–" if c["hours"] is None else f"{c['hours']:.2f}"
            self.stdout.write(
                f"{rank:>3}  {c['code']}  {c['name']}  {c['prefecture']}  "
                f"{c['similarity']:.4f}  {c['distance_km']:.1f}  {hours}  "
                f"{c['population_ratio']:.2f}"
            )
