"""manage.py find_partners: the --json contract of DESIGN.md, every option, and a clear
CommandError for bad files, targets and options."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from partners import synthetic


@pytest.fixture(scope="module")
def stats_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("partners") / "synthetic.csv"
    path.write_bytes(synthetic.synthetic_csv())
    return path


def _run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("find_partners", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _json(*args: str) -> dict:
    return json.loads(_run(*args, "--json")[0])


def test_json_ranks_the_twin_first_in_the_shape_of_the_design(stats_file):
    data = _json("--stats", str(stats_file), "--target", synthetic.TARGET_CODE)
    assert set(data) == {"components", "eigenvalues", "explained_variance", "candidates"}
    assert data["components"] == 6 and len(data["eigenvalues"]) == 70
    assert len(data["candidates"]) == 20  # --top defaults to 20
    first = data["candidates"][0]
    assert first["code"] == synthetic.TWIN_CODE and first["name"] == "双葉市"
    assert set(first) == {
        "code",
        "name",
        "prefecture",
        "similarity",
        "distance_km",
        "hours",
        "population_ratio",
    }
    assert first["hours"] == pytest.approx(first["distance_km"] * 1.3 / 60)


def test_every_filter_option_is_applied(stats_file):
    data = _json(
        "--stats",
        str(stats_file),
        "--target",
        synthetic.TARGET_CODE,
        "--prefectures",
        "北山県,東野県",
        "南川県",
        "--min-km",
        "50",
        "--min-hours",
        "2",
        "--max-hours",
        "4.5",
        "--population-ratio",
        "0.5",
        "2",
        "--components",
        "5",
        "--similarity",
        "cosine",
        "--circuity",
        "1.4",
        "--speed",
        "55",
        "--top",
        "0",
    )
    assert data["components"] == 5
    assert data["candidates"][0]["code"] == synthetic.TWIN_CODE
    for c in data["candidates"]:
        assert c["prefecture"] in {"北山県", "東野県", "南川県"}
        assert c["distance_km"] >= 50 and 2 <= c["hours"] <= 4.5
        assert c["hours"] == pytest.approx(c["distance_km"] * 1.4 / 55)
        assert 0.5 <= c["population_ratio"] <= 2


def test_the_output_is_the_same_every_time(stats_file):
    args = ("--stats", str(stats_file), "--target", synthetic.TARGET_CODE, "--top", "0")
    assert _run(*args, "--json")[0] == _run(*args, "--json")[0]


def test_without_json_a_readable_table_is_printed(stats_file):
    out, _err = _run("--stats", str(stats_file), "--target", synthetic.TARGET_CODE, "--top", "3")
    lines = out.splitlines()
    assert "燕谷市" in lines[0] and "6 components" in lines[0]
    assert lines[2].split()[:2] == ["1", synthetic.TWIN_CODE] and len(lines) == 5


def test_a_measured_time_table_replaces_the_estimate(stats_file, tmp_path):
    times = tmp_path / "times.csv"
    times.write_text(
        f"origin,destination,minutes\n{synthetic.TARGET_CODE},{synthetic.TWIN_CODE},210\n"
    )
    data = _json(
        "--stats",
        str(stats_file),
        "--target",
        synthetic.TARGET_CODE,
        "--travel-times",
        str(times),
        "--max-hours",
        "4",
    )
    assert [c["code"] for c in data["candidates"]] == [synthetic.TWIN_CODE]
    assert data["candidates"][0]["hours"] == 3.5


def test_ssdse_is_read_with_its_coordinates(tmp_path):
    data, coordinates = synthetic.synthetic_ssdse(municipalities=40)
    (tmp_path / "SSDSE-A-2026.csv").write_bytes(data)
    (tmp_path / "localgovjp.csv").write_bytes(coordinates)
    result = _json(
        "--stats",
        str(tmp_path / "SSDSE-A-2026.csv"),
        "--coordinates",
        str(tmp_path / "localgovjp.csv"),
        "--target",
        synthetic.TARGET_CODE,
        "--min-km",
        "0",
    )
    assert len(result["eigenvalues"]) > 50 and len(result["candidates"]) == 20
    with pytest.raises(CommandError, match="give its coordinates with --coordinates"):
        _run("--stats", str(tmp_path / "SSDSE-A-2026.csv"), "--target", synthetic.TARGET_CODE)


def test_a_file_with_problems_lists_them_and_needs_a_choice(tmp_path):
    path = tmp_path / "bad.csv"
    rows = [
        "code,name,prefecture,latitude,longitude,population,a,b,c",
        "01001,A,P,35,135,100,1,2,3",
        "01002,B,P,35.5,135.5,120,2,x,1",
        "01003,C,P,36,136,90,3,2,5",
        "01004,D,P,36.5,136.5,80,1,5,2",
        "01005,E,P,37,137,,1,1,1",
    ]
    path.write_text("\n".join(rows) + "\n")
    err = StringIO()
    with pytest.raises(CommandError, match="2 problem"):
        call_command("find_partners", "--stats", str(path), "--target", "01001", stderr=err)
    assert "bad.csv: row 3, column b: 'x' is not a number." in err.getvalue()
    assert "row 6, column population: The population is missing." in err.getvalue()
    data = _json(
        "--stats",
        str(path),
        "--target",
        "01001",
        "--drop",
        "indicators",
        "--min-km",
        "0",
        "--components",
        "2",
    )
    assert len(data["eigenvalues"]) == 2 and len(data["candidates"]) == 3
    data = _json(
        "--stats",
        str(path),
        "--target",
        "01001",
        "--drop",
        "municipalities",
        "--min-km",
        "0",
        "--components",
        "2",
    )
    assert len(data["eigenvalues"]) == 3 and len(data["candidates"]) == 2


@pytest.mark.parametrize(
    "args, message",
    [
        (["--stats", "/nonexistent.csv", "--target", "01001"], "No such file"),
        (["--target", "99999"], "not in the table"),
        (["--target", "01001", "--similarity", "euclid"], "Unknown similarity"),
        (["--target", "01001", "--components", "0"], "at least 1"),
        (["--target", "01001", "--components", "500"], "only 70"),
        (["--target", "01001", "--prefectures", "Atlantis"], "No municipality"),
        (["--target", "01001", "--prefectures", "東野県"], "outside the study area"),
        (["--target", "01001", "--min-hours", "5", "--max-hours", "4"], "above the maximum"),
        (["--target", "01001", "--population-ratio", "3", "1"], "LOW"),
        (["--target", "01001", "--speed", "0"], "speed"),
    ],
)
def test_bad_input_is_a_clear_command_error(stats_file, args, message):
    if "--stats" not in args:
        args = ["--stats", str(stats_file), *args]
    with pytest.raises(CommandError, match=message):
        _run(*args)


def test_a_file_that_is_not_a_table_is_a_command_error(tmp_path):
    path = tmp_path / "notes.csv"
    path.write_text("hello,world\n1,2\n")
    err = StringIO()
    with pytest.raises(CommandError, match="cannot be read"):
        call_command("find_partners", "--stats", str(path), "--target", "1", stderr=err)
    assert "Required column is missing" in err.getvalue()


def test_the_synthetic_data_command_writes_the_project_dataset(tmp_path):
    out = StringIO()
    path = tmp_path / "s.csv"
    call_command(
        "generate_partner_stats",
        "-o",
        str(path),
        "--municipalities",
        "50",
        "--indicators",
        "12",
        stdout=out,
    )
    assert path.read_bytes() == synthetic.synthetic_csv(municipalities=50, indicators=12)
    assert "50 municipalities × 12 indicators" in out.getvalue()


def test_the_synthetic_data_command_refuses_impossible_sizes(tmp_path):
    with pytest.raises(CommandError, match="at least 10 municipalities"):
        call_command(
            "generate_partner_stats", "-o", str(tmp_path / "x.csv"), "--municipalities", "3"
        )
