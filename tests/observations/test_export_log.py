"""Research exports of the observation log: CSV (ZIP of four tables), XLSX and JSON read
back to the same rows, filters, pseudonymisation, query counts, the command, the export
page with its background jobs, and who may download what."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from decimal import Decimal
from types import SimpleNamespace

import openpyxl
import pytest
from django.core.management import ManagementUtility, call_command
from django.core.management.base import CommandError
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from coordination.models import Event, NetworkRole
from observations import export_log
from observations.export_log import (
    CODE_COLUMNS,
    CODING_COLUMNS,
    MEMO_COLUMNS,
    OBSERVATION_COLUMNS,
    TABLES,
    log_export_stream,
    log_export_write,
)
from observations.forms.log import ObservationFilterForm
from observations.models import ExportJob, Observation
from observations.pseudonyms import Namer, pseudonym
from tests import factories

FORMATS = ["csv", "xlsx", "json"]
TOKYO = dt.timezone(dt.timedelta(hours=9))


@pytest.fixture
def log(network, region_a, region_b, coordinator, researcher, member_a, member_b, other_network):
    """Two live observations (a coded field note in Japanese about A and B at a kickoff,
    and a measurement), a deleted one, one in another network, codes two levels deep,
    codings (live, deleted, on a deleted code) and memos of every kind."""
    member_a.name_kana = "メンバーエー"
    member_a.save()
    starts = timezone.make_aware(dt.datetime(2025, 5, 10, 14, 0))
    kickoff = Event.objects.create(
        network=network,
        title="燕でのキックオフ at A Works",
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=3),
    )
    cooperation = factories.CodeFactory(network=network, name="協力", colour="#1e88e5")
    joint = factories.CodeFactory(
        network=network, name="共同開発", parent=cooperation, description="新製品を一緒に"
    )
    bcp = factories.CodeFactory(network=network, name="BCP")
    gone = factories.CodeFactory(network=network, name="Dropped", deleted_at=timezone.now())
    body = "Member A（A Works）は金型の共同開発を提案した。\n\n- member.b@example.com に連絡"
    note = factories.ObservationFactory(
        network=network,
        observed_on=dt.date(2025, 5, 10),
        observed_time=dt.time(15, 30),
        event=kickoff,
        author=coordinator,
        category=Observation.Category.COLLABORATION,
        title="Member A と Member B の対話",
        body=body,
        rating=4,
    )
    note.participants.add(member_a, member_b)
    note.organizations.add(member_a.organization)
    note.regions.add(region_a, region_b)
    start = body.index("金型")
    passage = factories.CodingFactory(
        observation=note,
        code=joint,
        start=start,
        end=start + 7,
        quote=body[start : start + 7],
        created_by=researcher,
    )
    whole = factories.CodingFactory(observation=note, code=bcp, created_by=coordinator)
    factories.CodingFactory(observation=note, code=cooperation, deleted_at=timezone.now())
    factories.CodingFactory(observation=note, code=gone)
    metric = factories.MetricFactory(network=network, name="訪問回数", unit="回")
    measurement = factories.ObservationFactory(
        network=network,
        observed_on=dt.date(2025, 7, 1),
        kind=Observation.Kind.QUANTITATIVE,
        metric=metric,
        value=Decimal("12.5000"),
        unit="回",
        category=Observation.Category.NETWORK_EXPANSION,
        title="訪問",
        body="",
        author=researcher,
    )
    factories.ObservationFactory(network=network, title="Deleted", deleted_at=timezone.now())
    factories.ObservationFactory(network=other_network, title="Elsewhere")
    on_note = factories.MemoFactory(
        network=network, observation=note, author=researcher, body="A Works の社長と話した"
    )
    on_code = factories.MemoFactory(network=network, code=joint, body="共同開発の定義")
    journal = factories.MemoFactory(network=network, author=coordinator, body="研究日誌")
    factories.MemoFactory(network=network, body="deleted memo", deleted_at=timezone.now())
    return SimpleNamespace(
        network=network,
        note=note,
        measurement=measurement,
        kickoff=kickoff,
        codes=SimpleNamespace(cooperation=cooperation, joint=joint, bcp=bcp),
        passage=passage,
        whole=whole,
        memos=SimpleNamespace(on_note=on_note, on_code=on_code, journal=journal),
        people=[member_a, member_b],
        coordinator=coordinator,
        researcher=researcher,
    )


def _export(network, fmt: str, *, pseudonymized: bool = False, criteria=None) -> bytes:
    buffer = io.BytesIO()
    log_export_write(
        network=network, fmt=fmt, fp=buffer, pseudonymized=pseudonymized, criteria=criteria
    )
    return buffer.getvalue()


def _stamp(value: dt.datetime) -> str:
    return value.astimezone(TOKYO).isoformat(timespec="seconds")


# --- reading an export back: every format to {table: [{column: text}]} ----------------

_DATES = {"observed_on", "event_date"}


def _text(column: str, value) -> str:
    """One cell as CSV writes it, whatever format it was read from."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "; ".join(value)
    if isinstance(value, dt.datetime):
        if column in _DATES:  # openpyxl reads dates back as midnight datetimes
            return value.date().isoformat()
        return _stamp(value.replace(tzinfo=TOKYO) if value.tzinfo is None else value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _read_csv(raw: bytes) -> list[dict[str, str]]:
    assert raw.startswith(b"\xef\xbb\xbf"), "no UTF-8 BOM"
    text = raw.decode("utf-8-sig")
    assert text.index("\r\n") == text.index("\n") - 1, "the header does not end in CRLF"
    return list(csv.DictReader(io.StringIO(text, newline="")))


def _parse(data: bytes, fmt: str) -> dict[str, list[dict[str, str]]]:
    if fmt == "csv":
        archive = zipfile.ZipFile(io.BytesIO(data))
        assert archive.namelist() == [f"{table}.csv" for table in TABLES]
        return {table: _read_csv(archive.read(f"{table}.csv")) for table in TABLES}
    if fmt == "xlsx":
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
        assert workbook.sheetnames == list(TABLES)
        tables = {}
        for table in TABLES:
            rows = list(workbook[table].values)
            assert list(rows[0]) == TABLES[table]
            tables[table] = [
                {c: _text(c, v) for c, v in zip(TABLES[table], row, strict=True)}
                for row in rows[1:]
            ]
        return tables
    payload = json.loads(data)
    observations, codings, memos = [], [], []
    for record in payload["observations"]:
        for coding in record.pop("codings"):
            codings.append({**coding, "observation_id": record["id"]})
        for memo in record.pop("memos"):
            memos.append({**memo, "observation_id": record["id"], "code_id": None, "code": ""})
        observations.append(record)
    memos += [{**memo, "observation_id": None} for memo in payload["memos"]]

    def rows(records, columns):
        return [{c: _text(c, record[c]) for c in columns} for record in records]

    return {
        "observations": rows(observations, OBSERVATION_COLUMNS),
        "codings": rows(codings, CODING_COLUMNS),
        "codes": rows(payload["codes"], CODE_COLUMNS),
        "memos": rows(memos, MEMO_COLUMNS),
    }


def _by_id(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {row["id"]: row for row in rows}


def _expected_note(log) -> dict[str, str]:
    note = log.note
    return {
        "id": str(note.pk),
        "observed_on": "2025-05-10",
        "observed_time": "15:30:00",
        "event_id": str(log.kickoff.pk),
        "event_title": "燕でのキックオフ at A Works",
        "event_date": "2025-05-10",
        "author": "coord@example.com",
        "kind": "qualitative",
        "category": "collaboration",
        "title": "Member A と Member B の対話",
        "body": note.body,
        "participants": "Member A; Member B",
        "organizations": "A Works",
        "regions": "Tsubame; Uonuma",
        "metric": "",
        "value": "",
        "unit": "",
        "rating": "4",
        "created_at": _stamp(note.created_at),
        "updated_at": _stamp(note.updated_at),
        "codes": "BCP",
        "passage_codes": "協力/共同開発",
        "passages": "1",
    }


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_reads_back_the_same_rows(log, fmt):
    tables = _parse(_export(log.network, fmt), fmt)

    observations = tables["observations"]
    # Newest first; the deleted observation and the other network's are not there.
    assert [row["id"] for row in observations] == [str(log.measurement.pk), str(log.note.pk)]
    assert observations[1] == _expected_note(log)
    measured = observations[0]
    assert (measured["kind"], measured["metric"], measured["value"], measured["unit"]) == (
        "quantitative",
        "訪問回数",
        "12.5",
        "回",
    )
    assert (measured["author"], measured["event_id"], measured["participants"]) == (
        "research@example.com",
        "",
        "",
    )

    # Live codings only: not the deleted one, not the one on a deleted code.
    codings = _by_id(tables["codings"])
    assert set(codings) == {str(log.passage.pk), str(log.whole.pk)}
    assert codings[str(log.passage.pk)] == {
        "id": str(log.passage.pk),
        "observation_id": str(log.note.pk),
        "code_id": str(log.codes.joint.pk),
        "code": "協力/共同開発",
        "start": str(log.passage.start),
        "end": str(log.passage.end),
        "quote": "金型の共同開発",
        "needs_review": "false",
        "by": "research@example.com",
        "at": _stamp(log.passage.created_at),
    }
    assert codings[str(log.whole.pk)]["start"] == codings[str(log.whole.pk)]["end"] == ""

    codes = _by_id(tables["codes"])
    assert set(codes) == {str(c.pk) for c in vars(log.codes).values()}  # not the deleted one
    assert codes[str(log.codes.joint.pk)] == {
        "id": str(log.codes.joint.pk),
        "name": "共同開発",
        "path": "協力/共同開発",
        "parent_id": str(log.codes.cooperation.pk),
        "description": "新製品を一緒に",
        "colour": "#ffd54f",
    }
    assert codes[str(log.codes.cooperation.pk)]["colour"] == "#1e88e5"

    memos = _by_id(tables["memos"])
    assert set(memos) == {str(m.pk) for m in vars(log.memos).values()}
    assert memos[str(log.memos.on_note.pk)]["observation_id"] == str(log.note.pk)
    assert memos[str(log.memos.on_note.pk)]["body"] == "A Works の社長と話した"
    assert memos[str(log.memos.on_note.pk)]["author"] == "research@example.com"
    assert (memos[str(log.memos.on_code.pk)]["code"], memos[str(log.memos.journal.pk)]["code"]) == (
        "協力/共同開発",
        "",
    )


def test_the_three_formats_agree(log):
    csv_tables, xlsx_tables, json_tables = (_parse(_export(log.network, f), f) for f in FORMATS)
    for table in TABLES:
        rows = [
            sorted(tables[table], key=lambda r: r["id"])
            for tables in (csv_tables, xlsx_tables, json_tables)
        ]
        assert rows[0] == rows[1] == rows[2], table
        assert rows[0], table


def test_csv_streams_as_a_zip_of_four_tables(log):
    chunks = list(log_export_stream(network=log.network, fmt="csv", pseudonymized=False))
    assert all(chunks)  # no empty chunk reaches the client
    archive = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    assert archive.testzip() is None
    raw = archive.read("observations.csv")
    assert raw.startswith(b"\xef\xbb\xbfid,observed_on,observed_time,event_id,")
    assert raw.count(b"\r\n") >= 3  # header, two rows (the body has its own line break)
    rows = _read_csv(raw)
    assert rows[1]["body"] == log.note.body  # the line breaks in a text survive quoting


def test_json_is_one_object_with_the_codebook_and_the_journal(log):
    payload = json.loads(_export(log.network, "json"))
    assert payload["network"] == "alpha" and payload["name"] == "Alpha network"
    assert payload["pseudonymized"] is False
    assert dt.datetime.fromisoformat(payload["exported_at"]).utcoffset() == dt.timedelta(hours=9)
    assert payload["filters"] == {}
    note = payload["observations"][1]
    assert note["participants"] == ["Member A", "Member B"]  # lists, not joined text
    assert note["regions"] == ["Tsubame", "Uonuma"]
    assert note["value"] is None and payload["observations"][0]["value"] == 12.5
    assert [c["code"] for c in note["codings"]] == ["BCP", "協力/共同開発"]
    assert [m["body"] for m in note["memos"]] == ["A Works の社長と話した"]
    # The journal and code memos stand on their own.
    assert {m["body"] for m in payload["memos"]} == {"共同開発の定義", "研究日誌"}
    assert {c["path"] for c in payload["codes"]} == {"協力", "協力/共同開発", "BCP"}


def test_xlsx_keeps_texts_as_texts(log):
    log.note.title = '=HYPERLINK("http://evil.example","click")'
    log.note.body = "#N/A\x07 and a bell"
    log.note.save()
    workbook = openpyxl.load_workbook(io.BytesIO(_export(log.network, "xlsx")))
    sheet = workbook["observations"]
    header = [cell.value for cell in sheet[1]]
    row = {header[i]: cell for i, cell in enumerate(sheet[3])}
    assert row["title"].data_type == "s"  # a formula would run in Excel
    assert row["title"].value == log.note.title
    assert (row["body"].data_type, row["body"].value) == ("s", "#N/A and a bell")
    assert row["observed_on"].is_date and row["created_at"].is_date


@pytest.mark.parametrize("fmt", FORMATS)
def test_filters_of_the_log_restrict_every_table(log, fmt):
    form = ObservationFilterForm(
        {"category": "collaboration"},
        network=log.network,
        namer=Namer(log.network, pseudonymous=False),
    )
    tables = _parse(_export(log.network, fmt, criteria=form.criteria), fmt)
    assert [row["id"] for row in tables["observations"]] == [str(log.note.pk)]
    form = ObservationFilterForm(
        {"kind": "quantitative"}, network=log.network, namer=Namer(log.network, pseudonymous=False)
    )
    tables = _parse(_export(log.network, fmt, criteria=form.criteria), fmt)
    assert [row["id"] for row in tables["observations"]] == [str(log.measurement.pk)]
    assert tables["codings"] == []
    # The codebook and the journal and code memos come whatever the filters.
    assert len(tables["codes"]) == 3
    assert {row["body"] for row in tables["memos"]} == {"共同開発の定義", "研究日誌"}


def test_a_code_filter_takes_its_sub_codes_and_json_names_the_filters(log):
    form = ObservationFilterForm(
        {"code": log.codes.cooperation.pk, "date_from": "2025-05-01"},
        network=log.network,
        namer=Namer(log.network, pseudonymous=False),
    )
    payload = json.loads(_export(log.network, "json", criteria=form.criteria))
    assert [o["id"] for o in payload["observations"]] == [log.note.pk]
    assert payload["filters"] == {"code": "協力", "date_from": "2025-05-01"}


def test_an_empty_network_exports_in_every_format(other_network):
    for fmt in FORMATS:
        tables = _parse(_export(other_network, fmt), fmt)
        assert [row["title"] for row in tables["observations"]] == []


# --- pseudonymised ---------------------------------------------------------------------


def _secrets(log) -> list[str]:
    found = ["coord@example.com", "research@example.com", "燕でのキックオフ", "メンバーエー"]
    for person in log.people:
        found += [person.full_name, person.email, person.organization.name]
    return found


def _all_text(data: bytes, fmt: str) -> str:
    if fmt == "csv":
        archive = zipfile.ZipFile(io.BytesIO(data))
        return "".join(archive.read(n).decode("utf-8-sig") for n in archive.namelist())
    if fmt == "xlsx":
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
        return "\n".join(
            str(value) for sheet in workbook for row in sheet.values for value in row if value
        )
    return data.decode()


@pytest.mark.parametrize("fmt", FORMATS)
def test_pseudonymised_exports_name_nobody(log, fmt):
    data = _export(log.network, fmt, pseudonymized=True)
    text = _all_text(data, fmt)
    for secret in _secrets(log):
        assert secret not in text, secret

    note = _by_id(_parse(data, fmt)["observations"])[str(log.note.pk)]
    a, b = log.people
    assert note["participants"] == f"{pseudonym(log.network, a.pk)}; {pseudonym(log.network, b.pk)}"
    assert note["organizations"] == pseudonym(log.network, a.organization.pk, "organization")
    assert note["author"] == pseudonym(log.network, log.coordinator.pk, "user")
    assert note["event_title"] == pseudonym(log.network, log.kickoff.pk, "event")
    # Names inside the texts are masked with the same pseudonyms.
    assert (
        note["title"] == f"{pseudonym(log.network, a.pk)} と {pseudonym(log.network, b.pk)} の対話"
    )
    assert pseudonym(log.network, b.pk) in note["body"]  # the e-mail address names its owner
    # The study's variables stay.
    assert (note["regions"], note["event_date"], note["codes"]) == (
        "Tsubame; Uonuma",
        "2025-05-10",
        "BCP",
    )
    measured = _by_id(_parse(data, fmt)["observations"])[str(log.measurement.pk)]
    assert measured["metric"] == "訪問回数"


def test_pseudonyms_are_stable_across_exports_and_differ_between_networks(log, other_network):
    first = json.loads(_export(log.network, "json", pseudonymized=True))
    second = json.loads(_export(log.network, "json", pseudonymized=True))
    assert first["observations"] == second["observations"]
    assert first["pseudonymized"] is True

    elsewhere = factories.ParticipantFactory(network=other_network, full_name="Member A")
    factories.ObservationFactory(network=other_network, title="Member A again").participants.add(
        elsewhere
    )
    other = json.loads(_export(other_network, "json", pseudonymized=True))
    theirs = {p for o in other["observations"] for p in o["participants"]}
    ours = {p for o in first["observations"] for p in o["participants"]}
    assert theirs == {pseudonym(other_network, elsewhere.pk)}
    assert not theirs & ours
    assert pseudonym(other_network, log.people[0].pk) != pseudonym(log.network, log.people[0].pk)


# --- query counts ------------------------------------------------------------------------


def _bulk(network, count: int, people) -> None:
    code = factories.CodeFactory(network=network)
    built = Observation.objects.bulk_create(
        factories.ObservationFactory.build_batch(count, network=network)
    )
    through = Observation.participants.through
    through.objects.bulk_create(
        [through(observation_id=o.pk, participant_id=p.pk) for o in built for p in people]
    )
    for observation in built[::3]:
        factories.CodingFactory(observation=observation, code=code)


def _queries(network, fmt: str, chunk_size: int) -> int:
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as context:
        for _chunk in log_export_stream(
            network=network, fmt=fmt, pseudonymized=False, chunk_size=chunk_size
        ):
            pass
    return len(context.captured_queries)


@pytest.mark.parametrize(("fmt", "per_chunk"), [("csv", 4), ("json", 5)])
def test_queries_grow_with_chunks_not_rows(log, fmt, per_chunk, member_a, member_b):
    # 2 observations of the log + 18 = 20 rows: 4 chunks of 5; + 30 more: 10 chunks.
    _bulk(log.network, 18, [member_a, member_b])
    small = _queries(log.network, fmt, chunk_size=5)
    _bulk(log.network, 30, [member_a])
    large = _queries(log.network, fmt, chunk_size=5)
    # Per chunk: participants, organizations, regions (keys only), codings (and memos
    # for JSON). The coding and memo tables of the ZIP have cursors of their own.
    assert large - small == 6 * per_chunk


def test_the_csv_export_takes_a_fixed_number_of_queries(log, django_assert_num_queries):
    # codes (for their paths), the names of regions, participants and organizations,
    # the observations, 4 per chunk (1 chunk), codings, codebook, memos; plus the
    # snapshot: a savepoint and its release here (SET TRANSACTION on PostgreSQL
    # outside a test's transaction).
    with django_assert_num_queries(1 + 3 + 1 + 4 + 3 + 2):
        for _chunk in log_export_stream(network=log.network, fmt="csv", pseudonymized=False):
            pass


# --- the command -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "name"), [("csv", "log.zip"), ("xlsx", "log.xlsx"), ("json", "log.json")]
)
def test_command_writes_each_format(log, tmp_path, fmt, name):
    target = tmp_path / name
    out = io.StringIO()
    call_command("export_observations", "alpha", "--format", fmt, "-o", str(target), stdout=out)
    tables = _parse(target.read_bytes(), fmt)
    assert tables["observations"][1] == _expected_note(log)
    assert f"Wrote {target}" in out.getvalue() and "2 observations" in out.getvalue()
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary left


def test_command_writes_observations_csv_alone_when_the_file_ends_in_csv(log, tmp_path):
    target = tmp_path / "observations.csv"
    call_command(
        "export_observations", "alpha", "--format", "csv", "-o", str(target), stdout=io.StringIO()
    )
    rows = _read_csv(target.read_bytes())
    assert rows[1] == _expected_note(log)


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_command_writes_to_standard_output(log, fmt):
    out = io.StringIO()
    call_command(
        "export_observations", "alpha", "--format", fmt, "--pseudonymize", "-o", "-", stdout=out
    )
    text = out.getvalue()
    assert "Member A" not in text and pseudonym(log.network, log.people[0].pk) in text
    if fmt == "json":
        assert json.loads(text)["pseudonymized"] is True
    else:
        rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline="")))
        assert [row["id"] for row in rows] == [str(log.measurement.pk), str(log.note.pk)]


def test_command_pseudonymizes_a_file(log, tmp_path):
    target = tmp_path / "log.xlsx"
    call_command(
        "export_observations",
        "alpha",
        "--format",
        "xlsx",
        "--pseudonymize",
        "-o",
        str(target),
        stdout=io.StringIO(),
    )
    text = _all_text(target.read_bytes(), "xlsx")
    for secret in _secrets(log):
        assert secret not in text, secret


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope", "--format", "json", "-o", "{dir}/out.json"], "No network with the slug nope"),
        (["alpha", "--format", "pdf", "-o", "{dir}/out.pdf"], "Unknown format 'pdf'"),
        (["alpha", "--format", "xlsx", "-o", "-"], "cannot go to standard output"),
        (["alpha", "--format", "json", "-o", "{dir}"], "is a folder"),
        (["alpha", "--format", "json", "-o", "{dir}/no/such/out.json"], "Cannot write"),
    ],
)
def test_command_refuses_bad_input_and_writes_nothing(log, tmp_path, args, message):
    args = [arg.format(dir=tmp_path) for arg in args]
    out = io.StringIO()
    with pytest.raises(CommandError, match=message):
        call_command("export_observations", *args, stdout=out)
    assert list(tmp_path.iterdir()) == []
    assert out.getvalue() == ""


def test_command_exits_non_zero_on_bad_input(log, tmp_path, capsys):
    utility = ManagementUtility(
        ["manage.py", "export_observations", "alpha", "--format", "pdf", "-o", str(tmp_path / "x")]
    )
    with pytest.raises(SystemExit) as exit_info:
        utility.execute()
    assert exit_info.value.code != 0
    assert "Unknown format" in capsys.readouterr().err


def test_command_keeps_an_older_file_when_the_export_fails(log, tmp_path, monkeypatch):
    target = tmp_path / "log.json"
    target.write_bytes(b"older export")

    def broken(export):
        yield b"half a file"
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export_log, "_json", broken)
    with pytest.raises(CommandError, match="No space left"):
        call_command("export_observations", "alpha", "--format", "json", "-o", str(target))
    assert target.read_bytes() == b"older export"
    assert [p.name for p in tmp_path.iterdir()] == ["log.json"]


# --- the export page ---------------------------------------------------------------------


def _page(slug: str = "alpha") -> str:
    return reverse("observation_export", kwargs={"slug": slug})


def _content(response) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("coordinator", 200),
        ("researcher", 200),
        ("identified_researcher", 200),
        ("member_a", 404),
        ("outsider", 404),
        ("stranger", 404),
    ],
)
def test_the_page_is_for_coordinators_and_researchers(client, log, request, role, status):
    user = request.getfixturevalue(role)
    client.force_login(getattr(user, "user", None) or user)
    assert client.get(_page()).status_code == status
    response = client.post(_page(), {"format": "json"})
    assert response.status_code == status
    if status == 404:
        assert not response.streaming


def test_anonymous_is_sent_to_sign_in(client, log):
    for response in (client.get(_page()), client.post(_page(), {"format": "csv"})):
        assert response.status_code == 302
        assert response.url.startswith(reverse("account_login"))


def test_an_unknown_network_is_not_found(client, log, coordinator):
    client.force_login(coordinator)
    assert client.get(_page("nope")).status_code == 404


@pytest.mark.parametrize(
    ("role", "choice"),
    [("coordinator", True), ("identified_researcher", True), ("researcher", False)],
)
def test_only_those_who_may_see_names_choose_pseudonymisation(client, log, request, role, choice):
    client.force_login(request.getfixturevalue(role))
    page = client.get(_page()).content.decode()
    assert ('name="pseudonymize"' in page) is choice
    assert ('id="always-pseudonymised"' in page) is not choice


def test_the_page_takes_the_log_filters_and_says_which_apply(client, log, coordinator):
    client.force_login(coordinator)
    page = client.get(_page(), {"category": "collaboration", "participant": log.people[0].pk})
    text = page.content.decode()
    assert "<strong>Category</strong>: Collaboration" in text
    assert "<strong>Participant</strong>: Member A" in text
    assert "1 observation<" in text
    assert f'action="?{page.wsgi_request.GET.urlencode()}"'.replace("&", "&amp;") in text

    everything = client.get(_page()).content.decode()
    assert "No filter applies" in everything and "2 observations" in everything


def test_a_researcher_sees_filters_under_pseudonyms(client, log, researcher):
    client.force_login(researcher)
    text = client.get(_page(), {"participant": log.people[0].pk}).content.decode()
    assert f"<strong>Participant</strong>: {pseudonym(log.network, log.people[0].pk)}" in text
    assert "Member A" not in text


def test_invalid_filters_export_nothing(client, log, coordinator):
    client.force_login(coordinator)
    query = "?date_from=2025-06-01&date_to=2025-01-01"
    response = client.post(_page() + query, {"format": "csv"})
    assert response.status_code == 200 and not response.streaming
    assert 'id="filter-errors"' in response.content.decode()


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_coordinator_streams_csv_and_json_with_names(client, log, coordinator, fmt):
    client.force_login(coordinator)
    response = client.post(_page(), {"format": fmt})
    assert response.status_code == 200 and response.streaming
    today = timezone.localdate().isoformat()
    extension = "zip" if fmt == "csv" else "json"
    assert response["Content-Disposition"] == (
        f'attachment; filename="observations-alpha-{today}.{extension}"'
    )
    assert response["Cache-Control"] == "private, no-store"
    tables = _parse(_content(response), fmt)
    assert _by_id(tables["observations"])[str(log.note.pk)] == _expected_note(log)


def test_a_small_workbook_is_built_in_the_request(client, log, coordinator):
    client.force_login(coordinator)
    response = client.post(_page(), {"format": "xlsx", "pseudonymize": "on"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert response["Cache-Control"] == "private, no-store"
    assert response["Content-Disposition"].endswith('.xlsx"')
    data = _content(response)
    assert "Member A" not in _all_text(data, "xlsx")
    assert not ExportJob.objects.exists()


def test_the_export_follows_the_filters_in_the_query_string(client, log, coordinator):
    client.force_login(coordinator)
    response = client.post(_page() + "?kind=quantitative", {"format": "json"})
    payload = json.loads(_content(response))
    assert [o["id"] for o in payload["observations"]] == [log.measurement.pk]


@pytest.mark.parametrize(
    "posted", [{}, {"pseudonymize": ""}, {"pseudonymize": "off"}, {"pseudonymize": "0"}]
)
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_researcher_without_identified_access_always_gets_pseudonyms(
    client, log, researcher, fmt, posted
):
    client.force_login(researcher)
    response = client.post(_page(), {"format": fmt, **posted})
    assert response.status_code == 200
    text = _all_text(_content(response), fmt)
    for secret in _secrets(log):
        assert secret not in text, secret
    assert pseudonym(log.network, log.people[0].pk) in text


def test_an_identified_researcher_chooses(client, log, identified_researcher):
    client.force_login(identified_researcher)
    named = _content(client.post(_page(), {"format": "json"}))
    assert json.loads(named)["pseudonymized"] is False and "Member A" in named.decode()
    hidden = _content(client.post(_page(), {"format": "json", "pseudonymize": "on"}))
    assert json.loads(hidden)["pseudonymized"] is True and "Member A" not in hidden.decode()


def test_an_unknown_format_is_refused_on_the_page(client, log, coordinator):
    client.force_login(coordinator)
    response = client.post(_page(), {"format": "pdf"})
    assert response.status_code == 200 and not response.streaming
    assert "Select a valid choice" in response.content.decode()


# --- background workbooks ----------------------------------------------------------------


@pytest.fixture
def small_inline_limit(monkeypatch):
    monkeypatch.setattr(export_log, "XLSX_INLINE_MAX_ROWS", 0)


def _request_job(client, user, query: str = "", **posted) -> ExportJob:
    client.force_login(user)
    response = client.post(_page() + query, {"format": "xlsx", **posted})
    assert response.status_code == 302
    assert response.url == _page() + query
    return ExportJob.objects.filter(requested_by=user).latest("pk")


def _download(job: ExportJob) -> str:
    return reverse("observation_export_job_download", args=[job.network.slug, job.pk])


def test_a_large_workbook_becomes_a_job_listed_on_the_page(
    client, log, researcher, small_inline_limit, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        job = _request_job(client, researcher, "?category=collaboration")
    assert len(callbacks) == 1  # enqueued once the job was committed
    job.refresh_from_db()
    assert (job.status, job.format, job.pseudonymized, job.row_count) == ("done", "xlsx", True, 1)
    assert job.parameters == {"category": "collaboration"}
    assert job.file.name.startswith("exports/") and job.file.name.endswith(".xlsx")
    assert job.started_at <= job.finished_at

    page = client.get(_page()).content.decode()
    assert _download(job) in page and "Ready" in page
    response = client.get(_download(job))
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    assert response["Content-Disposition"] == (
        f'attachment; filename="observations-alpha-{timezone.localdate().isoformat()}.xlsx"'
    )
    tables = _parse(_content(response), "xlsx")
    assert [row["id"] for row in tables["observations"]] == [str(log.note.pk)]
    assert tables["observations"][0]["participants"].startswith("P-")


def test_a_pending_job_refreshes_the_page_and_has_no_download(
    client, log, coordinator, small_inline_limit
):
    job = _request_job(client, coordinator)  # on_commit never runs in this test's transaction
    assert job.status == ExportJob.Status.PENDING
    page = client.get(_page()).content.decode()
    assert '<meta http-equiv="refresh" content="5">' in page
    assert _download(job) not in page
    assert client.get(_download(job)).status_code == 404


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("researcher", 200),  # the requester
        ("coordinator", 200),
        ("identified_researcher", 404),  # another researcher
        ("member_a", 404),
        ("outsider", 404),
        ("stranger", 404),
    ],
)
def test_a_job_file_is_for_its_requester_and_the_coordinator(
    client,
    log,
    researcher,
    request,
    role,
    status,
    small_inline_limit,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        job = _request_job(client, researcher)
    user = request.getfixturevalue(role)
    client.force_login(getattr(user, "user", None) or user)
    assert client.get(_download(job)).status_code == status


def test_a_job_file_needs_sign_in_and_the_right_network(
    client, log, researcher, outsider, small_inline_limit, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = _request_job(client, researcher)
    client.logout()
    response = client.get(_download(job))
    assert response.status_code == 302 and response.url.startswith(reverse("account_login"))
    client.force_login(outsider)  # coordinator of beta, asking through beta's url
    assert (
        client.get(reverse("observation_export_job_download", args=["beta", job.pk])).status_code
        == 404
    )


def test_a_named_file_is_not_served_once_identified_access_is_withdrawn(
    client, log, identified_researcher, small_inline_limit, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = _request_job(client, identified_researcher)
    assert job.pseudonymized is False
    assert client.get(_download(job)).status_code == 200
    NetworkRole.objects.filter(user=identified_researcher).update(identified_access=False)
    client.force_login(identified_researcher)  # a fresh user object: roles recomputed
    assert client.get(_download(job)).status_code == 404


def _job(log, user, **fields) -> ExportJob:
    return ExportJob.objects.create(network=log.network, requested_by=user, format="xlsx", **fields)


def test_running_the_task_twice_changes_nothing(log, researcher, settings):
    from observations.tasks import build_observation_export

    job = _job(log, researcher)
    assert build_observation_export(job.pk) == "done"
    job.refresh_from_db()
    before = (job.status, job.file.name, job.row_count, job.started_at, job.finished_at)
    files = sorted(p for p in (settings.MEDIA_ROOT / "exports").rglob("*") if p.is_file())
    assert build_observation_export(job.pk) == "skipped"
    job.refresh_from_db()
    assert (job.status, job.file.name, job.row_count, job.started_at, job.finished_at) == before
    assert sorted(p for p in (settings.MEDIA_ROOT / "exports").rglob("*") if p.is_file()) == files
    assert build_observation_export(job.pk + 1000) == "skipped"  # gone: quietly nothing


def test_a_failing_job_keeps_its_error(log, researcher, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(export_log, "log_export_write", broken)
    job = export_log.export_job_run(job_id=_job(log, researcher).pk)
    assert job.status == ExportJob.Status.FAILED
    assert job.error == "RuntimeError: disk on fire"
    assert job.finished_at is not None and not job.file


def test_a_job_whose_filters_no_longer_hold_fails_instead_of_exporting_everything(log, researcher):
    job = _job(log, researcher, parameters={"code": "999999"})
    job = export_log.export_job_run(job_id=job.pk)
    assert job.status == ExportJob.Status.FAILED
    assert "no longer valid" in job.error


def test_a_failed_job_shows_its_error_on_the_page(client, log, researcher):
    _job(log, researcher, status=ExportJob.Status.FAILED, error="ValueError: boom")
    client.force_login(researcher)
    page = client.get(_page()).content.decode()
    assert "Failed" in page and "ValueError: boom" in page


@pytest.mark.parametrize("jobs", [2, 12])
def test_the_page_takes_a_fixed_number_of_queries(
    client, log, researcher, jobs, django_assert_max_num_queries
):
    for _ in range(jobs):
        _job(log, researcher, status=ExportJob.Status.DONE, row_count=3, file="exports/x/y.xlsx")
    _job(log, log.coordinator)  # someone else's job is not listed
    client.force_login(researcher)
    with django_assert_max_num_queries(16):
        page = client.get(_page()).content.decode()
    assert page.count("/download") == min(jobs, 10)
