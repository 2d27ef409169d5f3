"""Reading statistics tables: the generic format, SSDSE-A with coordinates, bad files
reported by row and column, and the two ways of resolving their problems."""

from __future__ import annotations

import io

import numpy as np
import pytest

from coordination.tables import TableError
from partners import stats, synthetic
from partners.stats import read_coordinates, read_ssdse, read_stats, read_travel_times

HEADER = "code,name,prefecture,latitude,longitude,population,mfg_share,age_share,shops"
GOOD = [
    "01100,札幌市,北海道,43.06,141.35,1973395,5.1,27.0,8.1",
    "15213,燕市,新潟県,37.67,138.88,77000,38.2,31.5,6.0",
    "15208,小千谷市,新潟県,37.31,138.79,34000,30.1,35.2,5.9",
    "20521,坂城町,長野県,36.46,138.18,14000,35.4,36.1,5.2",
]


def _csv(*rows: str, header: str = HEADER, encoding: str = "utf-8") -> bytes:
    return ("\r\n".join([header, *rows]) + "\r\n").encode(encoding)


def _xlsx(rows: list[list]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_a_good_table_is_read_with_codes_as_text():
    parsed = read_stats(_csv(*GOOD))
    assert parsed.problems == []
    table, resolution = parsed.resolve()
    assert table.codes == ["01100", "15213", "15208", "20521"]
    assert table.indicators == ["mfg_share", "age_share", "shops"]
    assert table.values[1].tolist() == [38.2, 31.5, 6.0]
    assert table.population[0] == 1973395
    assert resolution.indicators == [] and resolution.municipalities == []


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932"])
def test_every_excel_encoding_is_read(encoding):
    table, _ = read_stats(_csv(*GOOD, encoding=encoding)).resolve()
    assert table.names[1] == "燕市" and table.prefectures[3] == "長野県"


def test_an_xlsx_table_is_read_and_numeric_codes_get_their_leading_zero():
    rows = [HEADER.split(",")] + [line.split(",") for line in GOOD]
    rows[1][0] = 1100  # Excel turned "01100" into a number
    for row in rows[1:]:
        row[3:] = [float(v) for v in row[3:]]
    table, _ = read_stats(_xlsx(rows), "stats.xlsx").resolve()
    assert table.codes[0] == "01100"
    assert table.values[0].tolist() == [5.1, 27.0, 8.1]


def test_header_names_of_the_base_columns_ignore_case_and_indicators_keep_theirs():
    table, _ = read_stats(
        _csv(
            *GOOD,
            header="Code,NAME,Prefecture,Latitude,Longitude,Population,製造業比率,高齢化率,Shops",
        )
    ).resolve()
    assert table.indicators == ["製造業比率", "高齢化率", "Shops"]


def test_thousands_separators_and_full_width_digits_are_numbers():
    rows = list(GOOD)
    rows[0] = '01100,札幌市,北海道,43.06,141.35,"1,973,395",５.１,27.0,8.1'
    table, _ = read_stats(_csv(*rows)).resolve()
    assert table.population[0] == 1973395 and table.values[0][0] == 5.1


def test_bad_cells_are_reported_by_row_and_column():
    rows = list(GOOD)
    rows[1] = "15213,燕市,新潟県,37.67,138.88,77000,n/a,31.5,6.0"
    rows[2] = "15208,小千谷市,新潟県,37.31,138.79,34000,30.1,,5.9"
    rows.append("15213,燕市 again,新潟県,37.67,138.88,77000,1,2,3")
    rows.append("15999,No place,新潟県,,138.8,100,1,2,3")
    rows.append("15998,Nobody,新潟県,37.1,138.8,0,1,2,3")
    rows.append("15997,Nan,新潟県,37.1,138.8,10,nan,2,3")
    problems = read_stats(_csv(*rows)).problems
    found = {(p.row, p.column): p for p in problems}
    assert "'n/a' is not a number" in found[3, "mfg_share"].message
    assert found[3, "mfg_share"].indicators == ("mfg_share",)
    assert found[4, "age_share"].message == "The value is missing."
    assert "appears on rows 3, 6" in found[3, "code"].message
    assert found[6, "code"].row_level
    assert found[7, "latitude, longitude"].message == "The coordinates are missing."
    assert found[8, "population"].message == "The population must be more than zero."
    assert "'nan' is not a number" in found[9, "mfg_share"].message


def test_dropping_the_indicators_keeps_the_municipalities_with_bad_cells():
    rows = list(GOOD)
    rows[1] = "15213,燕市,新潟県,37.67,138.88,77000,n/a,31.5,6.0"
    rows.append("15999,No place,新潟県,,138.8,100,1,2,3")
    parsed = read_stats(_csv(*rows))
    summary = parsed.summary()
    assert summary["indicators"] == {"indicators": 1, "municipalities": 1, "names": ["mfg_share"]}
    assert summary["municipalities"]["municipalities"] == 2
    table, resolution = parsed.resolve(stats.DROP_INDICATORS)
    assert table.indicators == ["age_share", "shops"]
    assert "15213" in table.codes and "15999" not in table.codes
    assert resolution.indicators == ["mfg_share"]
    assert resolution.municipalities == [{"row": 6, "code": "15999", "name": "No place"}]


def test_dropping_the_municipalities_keeps_every_indicator():
    rows = list(GOOD)
    rows[1] = "15213,燕市,新潟県,37.67,138.88,77000,n/a,31.5,6.0"
    table, resolution = read_stats(_csv(*rows)).resolve(stats.DROP_MUNICIPALITIES)
    assert table.indicators == ["mfg_share", "age_share", "shops"]
    assert table.codes == ["01100", "15208", "20521"]
    assert [m["code"] for m in resolution.municipalities] == ["15213"]


def test_a_table_with_problems_needs_a_choice():
    rows = list(GOOD)
    rows[1] = "15213,燕市,新潟県,37.67,138.88,77000,n/a,31.5,6.0"
    with pytest.raises(TableError) as caught:
        read_stats(_csv(*rows)).resolve()
    assert caught.value.errors[0].row == 3 and caught.value.errors[0].column == "mfg_share"


def test_a_choice_that_leaves_too_little_is_refused():
    rows = [line.replace(",5.1,", ",x,").replace(",38.2,", ",x,") for line in GOOD]
    rows = [r.replace(",27.0,", ",,").replace(",31.5,", ",,") for r in rows]
    with pytest.raises(TableError, match="indicator column"):
        read_stats(_csv(*rows)).resolve(stats.DROP_INDICATORS)
    with pytest.raises(TableError, match="municipalities would be left"):
        read_stats(_csv(*rows)).resolve(stats.DROP_MUNICIPALITIES)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (_csv(header="code,name,prefecture,latitude,longitude,mfg,age"), "Required column"),
        (_csv(header=HEADER + ",mfg_share"), "appears twice"),
        (_csv(header="code,name,prefecture,latitude,longitude,population,only_one"), "At least 2"),
        (_csv(), "no data rows"),
        (b"\x00\x01binary", "neither UTF-8 nor CP932"),
    ],
)
def test_files_that_are_not_tables_are_refused_with_a_reason(data, message):
    with pytest.raises(TableError) as caught:
        read_stats(data, "bad.csv")
    assert message in " ".join(e.message for e in caught.value.errors)


def test_a_broken_xlsx_is_refused():
    with pytest.raises(TableError, match="not a readable Excel"):
        read_stats(b"PK\x03\x04garbage", "stats.xlsx")


def test_the_clean_table_round_trips_through_its_csv_exactly():
    table = synthetic.synthetic_table(municipalities=40, indicators=12)
    again, _ = read_stats(table.to_csv(), "again.csv").resolve()
    assert again.codes == table.codes
    np.testing.assert_array_equal(again.values, table.values)
    np.testing.assert_array_equal(again.latitude, table.latitude)
    assert again.version() == table.version()
    assert table.to_csv().startswith(b"\xef\xbb\xbf")


def test_the_version_changes_with_any_value():
    table = synthetic.synthetic_table(municipalities=40, indicators=12)
    changed = table.take(np.arange(len(table)))
    changed.values = table.values.copy()
    changed.values[5, 5] += 1e-9
    assert changed.version() != table.version()


# --- SSDSE-A -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ssdse() -> tuple[bytes, bytes]:
    return synthetic.synthetic_ssdse(municipalities=30)


def test_ssdse_is_read_joined_with_coordinates_and_ratios_are_derived(ssdse):
    data, coordinates = ssdse
    parsed = read_ssdse(data, "SSDSE-A-2026.csv", coordinates, "localgovjp.csv")
    assert parsed.problems == []
    table, _ = parsed.resolve()
    assert len(table) == 30 and table.codes[0] == synthetic.TARGET_CODE
    assert len(table.indicators) == len(stats.SSDSE_DERIVED)
    column = table.indicators.index("employees_share_manufacturing")
    assert table.values[:, column].min() >= 0 and table.values[:, column].max() <= 100
    assert parsed.meta["edition"] == "SSDSE-A-2026" and parsed.meta["edition_year"] == 2026
    # The population is A1101, not an indicator; age shares add up to 100 %.
    ages = [
        table.indicators.index(k)
        for k in ("age_under15_share", "age_15_64_share", "age_65plus_share")
    ]
    np.testing.assert_allclose(table.values[:, ages].sum(axis=1), 100)
    # Coordinates come from the table, by municipal code (lgcode without its check digit).
    assert table.latitude[0] == pytest.approx(synthetic.TARGET_LOCATION[0])


def test_an_ssdse_cell_problem_names_the_item_and_spoils_its_derived_indicators(ssdse):
    data, coordinates = ssdse
    lines = data.decode("cp932").split("\r\n")
    items = lines[0].split(",")
    cells = lines[3].split(",")
    cells[items.index("C220837")] = "x"  # employees in manufacturing, first municipality
    lines[3] = ",".join(cells)
    parsed = read_ssdse("\r\n".join(lines).encode("cp932"), "s.csv", coordinates)
    [problem] = parsed.problems
    assert problem.row == 4 and problem.column.startswith("C220837")
    assert problem.indicators == ("employees_share_manufacturing",)
    table, resolution = parsed.resolve(stats.DROP_INDICATORS)
    assert "employees_share_manufacturing" not in table.indicators and len(table) == 30
    assert resolution.indicators == ["employees_share_manufacturing"]


def test_an_ssdse_row_without_coordinates_or_inhabitants_can_only_be_dropped(ssdse):
    data, coordinates = ssdse
    text = coordinates.decode("utf-8-sig").split("\r\n")
    coordinates = ("\r\n".join(line for line in text if not line.endswith(",030010"))).encode()
    lines = data.decode("cp932").split("\r\n")
    items = lines[0].split(",")
    cells = lines[5].split(",")
    for item in ("A1101", "A1301", "A1302", "A1303"):
        cells[items.index(item)] = "0"
    lines[5] = ",".join(cells)
    parsed = read_ssdse("\r\n".join(lines).encode("cp932"), "s.csv", coordinates)
    assert {(p.row, p.row_level) for p in parsed.problems} == {(5, True), (6, True)}
    assert "not in the coordinates table" in parsed.problems[0].message
    assert "more than zero" in parsed.problems[1].message
    table, resolution = parsed.resolve(stats.DROP_INDICATORS)
    assert len(table) == 28 and resolution.indicators == []


def test_a_file_that_is_not_ssdse_is_refused(ssdse):
    with pytest.raises(TableError, match="not an SSDSE-A file"):
        read_ssdse(_csv(*GOOD), "stats.csv", ssdse[1])


def test_coordinates_need_known_columns():
    with pytest.raises(TableError, match="lgcode, lat, lng"):
        read_coordinates(b"x,y\r\n1,2\r\n")
    places = read_coordinates(b"code,latitude,longitude\r\n1100,43.06,141.35\r\n15213,,\r\n")
    assert places["01100"] == (43.06, 141.35, None)
    assert places["15213"][2] == "The coordinates are missing."


def test_ssdse_is_recognised_by_its_first_cell(ssdse):
    assert stats.looks_like_ssdse(ssdse[0])
    assert not stats.looks_like_ssdse(_csv(*GOOD))


# --- travel times -------------------------------------------------------------------------


def test_a_travel_time_table_in_minutes_or_hours_is_read():
    rows = read_travel_times(b"origin,destination,minutes\r\n15213,20521,195\r\n1100,15213,60\r\n")
    assert rows == [("15213", "20521", 3.25), ("01100", "15213", 1.0)]
    assert read_travel_times(b"origin,destination,hours\r\n15213,20521,3.5\r\n") == [
        ("15213", "20521", 3.5)
    ]


def test_a_bad_travel_time_table_names_its_rows():
    with pytest.raises(TableError) as caught:
        read_travel_times(
            b"origin,destination,hours\r\n15213,,3\r\n15213,20521,-1\r\n15213,1,x\r\n"
        )
    assert [(e.row, e.column) for e in caught.value.errors] == [
        (2, "destination"),
        (3, "hours"),
        (4, "hours"),
    ]
    with pytest.raises(TableError, match="hours or minutes"):
        read_travel_times(b"origin,destination,days\r\n1,2,3\r\n")
