"""Benchmark of the partner-region finder: 1,741 municipalities (every municipality of
Japan) × 100 indicators, end to end — read the CSV, PCA on the correlation matrix,
similarity, distance, filters, ranking, the JSON — against the target of 2 s.

    .venv/bin/python benchmarks/find_partners.py            # prints a Markdown table
    .venv/bin/python benchmarks/find_partners.py --check    # exits 1 above 2 s

The data is the project's synthetic generator (partners.synthetic, seed 2026), so the
numbers can be reproduced anywhere; with ../shared/data present the real SSDSE-A 2026
file (joined with its coordinates table) is timed as well.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hubless.settings")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402

from partners import stats, synthetic  # noqa: E402
from partners.search import SearchParameters, find_partners  # noqa: E402

TARGET_SECONDS = 2.0
REAL = ROOT / ".." / "shared" / "data"


def _best(run, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def _end_to_end(data: bytes, filename: str, parameters: SearchParameters) -> dict:
    table, _ = stats.read_stats(data, filename).resolve()
    return find_partners(table, parameters).to_json()


def _xlsx(table: stats.StatsTable) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append([*stats.BASE_COLUMNS, *table.indicators])
    for i, code in enumerate(table.codes):
        sheet.append(
            [
                code,
                table.names[i],
                table.prefectures[i],
                float(table.latitude[i]),
                float(table.longitude[i]),
                float(table.population[i]),
                *map(float, table.values[i]),
            ]
        )
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--municipalities", type=int, default=1741)
    parser.add_argument("--indicators", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--check", action="store_true", help=f"exit 1 above {TARGET_SECONDS} s")
    args = parser.parse_args()

    table = synthetic.synthetic_table(
        municipalities=args.municipalities, indicators=args.indicators, factors=8
    )
    data = table.to_csv()
    kaiser = SearchParameters(target=synthetic.TARGET_CODE, top=20)
    banded = SearchParameters(
        target=synthetic.TARGET_CODE, min_hours=3, max_hours=4, population_ratio=(0.5, 2), top=20
    )
    rows: list[tuple[str, float, float]] = []

    rows.append(
        (
            "read CSV (parse, check every cell)",
            *_best(lambda: stats.read_stats(data, "s.csv"), args.repeat),
        )
    )
    clean, _ = stats.read_stats(data, "s.csv").resolve()
    rows.append(
        (
            "PCA + similarity + rank (Kaiser)",
            *_best(lambda: find_partners(clean, kaiser), args.repeat),
        )
    )
    rows.append(
        ("end to end, Kaiser", *_best(lambda: _end_to_end(data, "s.csv", kaiser), args.repeat))
    )
    rows.append(
        (
            "end to end, 3–4 h + population band",
            *_best(lambda: _end_to_end(data, "s.csv", banded), args.repeat),
        )
    )
    fixed = SearchParameters(target=synthetic.TARGET_CODE, components=40, top=20)
    rows.append(
        (
            "end to end, 40 components",
            *_best(lambda: _end_to_end(data, "s.csv", fixed), args.repeat),
        )
    )
    workbook = _xlsx(table)
    rows.append(
        (
            "end to end from XLSX (openpyxl)",
            *_best(lambda: _end_to_end(workbook, "s.xlsx", kaiser), 3),
        )
    )

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "stats.csv"
        path.write_bytes(data)
        command = [
            sys.executable,
            str(ROOT / "manage.py"),
            "find_partners",
            "--stats",
            str(path),
            "--target",
            synthetic.TARGET_CODE,
            "--json",
        ]
        env = {**os.environ, "DATABASE_URL": "", "REDIS_URL": ""}

        def cli() -> None:
            output = subprocess.run(command, env=env, capture_output=True, check=True).stdout
            assert json.loads(output)["candidates"][0]["code"] == synthetic.TWIN_CODE

        rows.append(
            ("manage.py find_partners --json (incl. Python + Django start-up)", *_best(cli, 3))
        )

    ssdse, coordinates = REAL / "SSDSE-A-2026.csv", REAL / "localgovjp-utf8.csv"
    if ssdse.is_file() and coordinates.is_file():
        raw, places = ssdse.read_bytes(), coordinates.read_bytes()

        def real() -> None:
            parsed = stats.read_ssdse(raw, ssdse.name, places, coordinates.name)
            found, _ = parsed.resolve(stats.DROP_MUNICIPALITIES)
            find_partners(found, SearchParameters(target="15213", top=20)).to_json()

        rows.append(
            ("real SSDSE-A 2026 + coordinates, derive 91 ratios, Kaiser", *_best(real, args.repeat))
        )

    result = find_partners(clean, kaiser)
    print(
        f"{args.municipalities} municipalities × {args.indicators} indicators "
        f"({len(data) / 1e6:.1f} MB CSV); Kaiser kept {result.pca.k} components; "
        f"twin first: {result.candidates[0]['code'] == synthetic.TWIN_CODE}"
    )
    print(
        f"Python {platform.python_version()}, numpy {np.__version__}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs; best / median of the runs\n"
    )
    print("| step | best (s) | median (s) |\n|---|---:|---:|")
    for name, best, median in rows:
        print(f"| {name} | {best:.3f} | {median:.3f} |")
    end_to_end = max(median for name, _best_, median in rows if name.startswith("end to end,"))
    verdict = "PASS" if end_to_end < TARGET_SECONDS else "FAIL"
    print(
        f"\n{verdict}: slowest in-process end to end {end_to_end:.3f} s (target < {TARGET_SECONDS} s)"
    )
    return 0 if verdict == "PASS" or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
