"""The finder on real public statistics: SSDSE-A 2026 (all 1,741 municipalities) joined
with the city-office coordinates in ../shared/data, read in place (never copied into the
repository). Skipped when that folder is absent."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command

from partners import stats
from partners.search import SearchParameters, find_partners

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
SSDSE_2026 = DATA / "SSDSE-A-2026.csv"
SSDSE_2021 = DATA / "SSDSE-A-2021.csv"
COORDINATES = DATA / "localgovjp-utf8.csv"
TSUBAME = "15213"
# The study area of the study: Niigata and the prefectures within reach.
STUDY_AREA = (
    "新潟県",
    "長野県",
    "群馬県",
    "栃木県",
    "福島県",
    "山形県",
    "富山県",
    "石川県",
    "埼玉県",
    "宮城県",
)

pytestmark = pytest.mark.skipif(
    not (SSDSE_2026.is_file() and COORDINATES.is_file()), reason=f"no real data in {DATA}"
)


@pytest.fixture(scope="module")
def parsed() -> stats.ParsedTable:
    return stats.read_ssdse(
        SSDSE_2026.read_bytes(), SSDSE_2026.name, COORDINATES.read_bytes(), COORDINATES.name
    )


@pytest.fixture(scope="module")
def table(parsed) -> stats.StatsTable:
    return parsed.resolve(stats.DROP_MUNICIPALITIES)[0]


def test_all_1741_municipalities_are_read_and_joined_with_their_coordinates(parsed):
    assert len(parsed.rows) == 1741
    joined = np.isfinite(parsed.latitude) & np.isfinite(parsed.longitude)
    assert joined.sum() == 1741
    assert parsed.meta["edition"] == "SSDSE-A-2026"
    i = parsed.codes.index(TSUBAME)
    assert parsed.names[i] == "燕市" and parsed.prefectures[i] == "新潟県"
    assert parsed.latitude[i] == pytest.approx(37.673, abs=0.01)
    assert parsed.codes[0] == "01100"  # Sapporo keeps its leading zero


def test_the_only_problem_is_the_town_without_inhabitants(parsed, table):
    # Futaba (Fukushima) had no residents in the 2020 census: it cannot be used.
    assert [(p.code, p.row_level) for p in parsed.problems] == [("07546", True)]
    assert len(table) == 1740 and "07546" not in table.codes
    assert len(table.indicators) == 91 and np.isfinite(table.values).all()


def test_derived_shares_are_sensible_for_tsubame(table):
    row = table.values[table.index_of(TSUBAME)]
    share = dict(zip(table.indicators, row, strict=True))
    # Tsubame is a metalworking town: more than a third of its employees in manufacturing.
    assert share["employees_share_manufacturing"] > 35
    assert 25 < share["age_65plus_share"] < 40
    national = np.median(table.values[:, table.indicators.index("employees_share_manufacturing")])
    assert share["employees_share_manufacturing"] > 2 * national


def test_partners_for_tsubame_in_the_study_area_within_three_to_four_hours(table):
    result = find_partners(
        table,
        SearchParameters(target=TSUBAME, prefectures=STUDY_AREA, min_hours=3, max_hours=4),
    )
    # The study kept 19 components with 71 indicators on 423 municipalities.
    assert 12 <= result.pca.k <= 25
    assert 300 < result.rows < 500
    assert len(result.candidates) > 50
    manufacturing = table.indicators.index("employees_share_manufacturing")
    share = {c: table.values[table.index_of(c), manufacturing] for c in table.codes}
    top = [c["code"] for c in result.candidates[:10]]
    # Similar places are industrial too: most of the top ten well above the median.
    median = np.median(table.values[:, manufacturing])
    assert sum(share[code] > median for code in top) >= 8
    for c in result.candidates:
        assert c["prefecture"] in STUDY_AREA and 3 <= c["hours"] <= 4


def test_the_whole_country_ranks_other_manufacturing_towns_first(table):
    result = find_partners(table, SearchParameters(target=TSUBAME))
    assert result.rows == 1740
    top = {c["name"] for c in result.candidates[:10]}
    # Sabae (eyeglass frames) and Seki-like metalworking towns, not big cities.
    assert "鯖江市" in top
    assert all(c["population_ratio"] < 5 for c in result.candidates[:10])


def test_the_command_gives_the_same_answer_every_time(tmp_path):
    args = [
        "--stats",
        str(SSDSE_2026),
        "--coordinates",
        str(COORDINATES),
        "--drop",
        "municipalities",
        "--target",
        TSUBAME,
        "--prefectures",
        ",".join(STUDY_AREA),
        "--min-hours",
        "3",
        "--max-hours",
        "4",
        "--json",
    ]
    outputs = []
    for _ in range(2):
        out = StringIO()
        call_command("find_partners", *args, stdout=out, stderr=StringIO())
        outputs.append(out.getvalue())
    assert outputs[0] == outputs[1]
    data = json.loads(outputs[0])
    assert data["candidates"][0]["similarity"] > 0.5
    assert sum(data["explained_variance"]) == pytest.approx(1)


@pytest.mark.skipif(not SSDSE_2021.is_file(), reason="no SSDSE-A 2021")
def test_the_2021_edition_reports_the_evacuated_towns_and_both_choices_work():
    parsed = stats.read_ssdse(
        SSDSE_2021.read_bytes(), SSDSE_2021.name, COORDINATES.read_bytes(), COORDINATES.name
    )
    assert len(parsed.rows) == 1741 and parsed.meta["edition_year"] == 2021
    row_level = {p.code for p in parsed.problems if p.row_level}
    assert row_level == {"07543", "07545", "07546", "07547"}  # no residents in 2015
    by_indicators, _ = parsed.resolve(stats.DROP_INDICATORS)
    by_municipalities, _ = parsed.resolve(stats.DROP_MUNICIPALITIES)
    assert len(by_indicators) == 1737 and len(by_municipalities) < 1737
    assert len(by_indicators.indicators) < len(by_municipalities.indicators)
    result = find_partners(by_municipalities, SearchParameters(target=TSUBAME, top=5))
    assert len(result.to_json()["candidates"]) == 5
