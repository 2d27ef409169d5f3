"""Network export: GraphML, GEXF, node-link JSON and CSV-in-ZIP, pseudonymisation, the
command and the download view."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
import zipfile
from types import SimpleNamespace

import networkx as nx
import pytest
from django.core.management import ManagementUtility, call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from coordination.models import Event, Participant
from observations import export
from observations.export import network_export, network_rows, pseudonym, pseudonymize
from observations.models import Tie
from tests import factories

FORMATS = ["graphml", "gexf", "json", "csv"]


def _tie(network, source, target, kind, **fields) -> Tie:
    fields.setdefault("started_on", dt.date(2025, 6, 1))
    return Tie.objects.create(network=network, source=source, target=target, kind=kind, **fields)


@pytest.fixture
def world(network, region_a, region_b, coordinator, member_a, member_b):
    """Three members, the coordinator, two parallel confirmed ties A–B (one brokered by
    the coordinator at a kickoff named after a firm) and three ties that must not be
    exported (reported, rejected, deleted)."""
    hub = Participant.objects.get(network=network, user=coordinator)
    member_a.name_kana = "メンバーエー"
    member_a.position = "Managing director"
    member_a.save()
    member_a.organization.name_kana = "エーワークス"
    member_a.organization.save()
    member_c = factories.ParticipantFactory(
        network=network,
        full_name="Chiyo Cee",
        name_kana="チヨシー",
        email="chiyo@example.org",
        position="Head of sales",
        role=Participant.Role.MEMBER,
        joined_on=dt.date(2025, 4, 19),
        left_on=dt.date(2026, 3, 31),
        organization=factories.OrganizationFactory(
            network=network, region=region_b, name="Uonuma Chamber", kind="chamber_of_commerce"
        ),
    )
    starts = timezone.make_aware(dt.datetime(2025, 5, 10, 14, 0))
    kickoff = Event.objects.create(
        network=network,
        title="Kickoff at A Works",
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=3),
    )
    brokered = _tie(
        network,
        member_a,
        member_b,
        Tie.Kind.ACQUAINTANCE,
        initiated_by=hub,
        origin_event=kickoff,
        note="Met over coffee; private remark",
    )
    project = _tie(
        network,
        member_b,
        member_a,
        Tie.Kind.JOINT_PROJECT,
        started_on=dt.date(2025, 9, 1),
        ended_on=dt.date(2026, 2, 1),
    )
    reported = _tie(network, member_a, member_c, Tie.Kind.TRANSACTION, status=Tie.Status.REPORTED)
    rejected = _tie(network, member_b, member_c, Tie.Kind.TRANSACTION, status=Tie.Status.REJECTED)
    deleted = _tie(network, member_b, member_c, Tie.Kind.ACQUAINTANCE, deleted_at=timezone.now())
    return SimpleNamespace(
        network=network,
        hub=hub,
        a=member_a,
        b=member_b,
        c=member_c,
        kickoff=kickoff,
        brokered=brokered,
        project=project,
        hidden=[reported, rejected, deleted],
        people=[hub, member_a, member_b, member_c],
    )


def _export(network, fmt: str, *, pseudonymized: bool = False) -> bytes:
    buffer = io.BytesIO()
    network_export(network=network, fmt=fmt, fp=buffer, pseudonymized=pseudonymized)
    return buffer.getvalue()


def _read_csv(archive: zipfile.ZipFile, name: str) -> list[dict[str, str]]:
    raw = archive.read(name)
    assert raw.startswith(b"\xef\xbb\xbf"), f"{name} has no UTF-8 BOM"
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))


def _parse(data: bytes, fmt: str) -> nx.MultiGraph:
    """Reads an export back into a multigraph, whatever its format."""
    if fmt == "graphml":
        return nx.read_graphml(io.BytesIO(data), force_multigraph=True)
    if fmt == "gexf":
        graph = nx.read_gexf(io.BytesIO(data))
        return graph if graph.is_multigraph() else nx.MultiGraph(graph)
    if fmt == "json":
        payload = json.loads(data)
        assert payload["directed"] is False and payload["multigraph"] is True
        return nx.node_link_graph(payload, edges="links")
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert sorted(archive.namelist()) == ["edges.csv", "nodes.csv"]
    graph = nx.MultiGraph()
    for row in _read_csv(archive, "nodes.csv"):
        graph.add_node(row.pop("id"), **row)
    for row in _read_csv(archive, "edges.csv"):
        graph.add_edge(row.pop("source"), row.pop("target"), key=row.pop("id"), **row)
    return graph


def _edges_by_kind(graph: nx.MultiGraph) -> dict[str, dict]:
    return {data["kind"]: {**data, "ends": {u, v}} for u, v, data in graph.edges(data=True)}


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_reads_back_with_nodes_edges_and_attributes(world, fmt):
    graph = _parse(_export(world.network, fmt), fmt)

    assert not graph.is_directed()
    assert set(graph.nodes) == {f"p{p.pk}" for p in world.people}
    a = graph.nodes[f"p{world.a.pk}"]
    assert a["full_name"] == "Member A"
    assert a["email"] == "member.a@example.com"
    assert a["region"] == "Tsubame"
    assert a["organization"] == "A Works"
    assert a["organization_kind"] == "firm"
    assert a["role"] == "member"
    assert a["joined_on"] == "2025-04-19"
    assert a["left_on"] == ""
    c = graph.nodes[f"p{world.c.pk}"]
    assert (c["region"], c["organization_kind"], c["left_on"]) == (
        "Uonuma",
        "chamber_of_commerce",
        "2026-03-31",
    )
    assert graph.nodes[f"p{world.hub.pk}"]["role"] == "coordinator"

    # Two confirmed ties of different kinds between the same pair: two edges.
    assert graph.number_of_edges() == 2
    assert graph.number_of_edges(f"p{world.a.pk}", f"p{world.b.pk}") == 2
    edges = _edges_by_kind(graph)
    assert set(edges) == {"acquaintance", "joint_project"}
    met = edges["acquaintance"]
    assert met["ends"] == {f"p{world.a.pk}", f"p{world.b.pk}"}
    assert met["started_on"] == "2025-06-01"
    assert met["ended_on"] == ""
    assert met["initiated_by"] == f"p{world.hub.pk}"
    assert met["status"] == "confirmed"
    assert met["origin_event"] == "Kickoff at A Works"
    assert met["origin_event_on"] == "2025-05-10"
    project = edges["joint_project"]
    assert (project["started_on"], project["ended_on"]) == ("2025-09-01", "2026-02-01")
    assert (project["initiated_by"], project["origin_event"]) == ("", "")


@pytest.mark.parametrize("fmt", FORMATS)
def test_unconfirmed_and_deleted_ties_are_not_exported(world, fmt):
    graph = _parse(_export(world.network, fmt), fmt)
    # C is a participant, so a node, but every tie of C's is reported, rejected or deleted.
    assert graph.degree(f"p{world.c.pk}") == 0
    keys = {key for _u, _v, key in graph.edges(keys=True)}
    assert keys == {f"t{world.brokered.pk}", f"t{world.project.pk}"}
    assert "transaction" not in {d["kind"] for _u, _v, d in graph.edges(data=True)}


def test_gexf_describes_the_export_in_its_meta(world):
    data = _export(world.network, "gexf", pseudonymized=True).decode()
    assert "<description>Hubless network alpha (Alpha network), exported at " in data
    assert "pseudonymized: true</description>" in data


def test_json_has_the_network_metadata(world):
    payload = json.loads(_export(world.network, "json", pseudonymized=True))
    assert payload["graph"]["name"] == "Alpha network"
    assert payload["graph"]["pseudonymized"] is True
    assert dt.datetime.fromisoformat(payload["graph"]["exported_at"])
    assert {"nodes", "links"} <= payload.keys()
    assert len(payload["nodes"]) == 4 and len(payload["links"]) == 2


def _personal_strings(world) -> list[str]:
    strings = []
    for person in world.people:
        strings += [person.full_name, person.email, person.organization.name]
        strings += [
            s for s in (person.name_kana, person.position, person.organization.name_kana) if s
        ]
    strings += ["private remark", world.kickoff.title]
    return strings


@pytest.mark.parametrize("fmt", FORMATS)
def test_pseudonymised_output_names_nobody(world, fmt):
    data = _export(world.network, fmt, pseudonymized=True)
    texts = [data]
    if fmt == "csv":  # the CSV files are compressed inside the ZIP
        archive = zipfile.ZipFile(io.BytesIO(data))
        texts = [archive.read(name) for name in archive.namelist()]
    for text in texts:
        for secret in _personal_strings(world):
            assert secret.encode() not in text, secret
            # XML writers may escape non-ASCII as character references.
            assert secret.encode("ascii", "xmlcharrefreplace") not in text, secret

    graph = _parse(data, fmt)
    ids = {pseudonym(world.network, p.pk) for p in world.people}
    assert set(graph.nodes) == ids
    for node_id in graph.nodes:
        assert node_id.startswith("P-") and len(node_id) == 10
        int(node_id[2:], 16)
    a = graph.nodes[pseudonym(world.network, world.a.pk)]
    assert "full_name" not in a and "email" not in a
    assert a["organization"] == pseudonym(world.network, world.a.organization.pk, "organization")
    assert a["organization"].startswith("O-") and len(a["organization"]) == 10
    # The study's variables stay.
    assert (a["region"], a["organization_kind"], a["role"]) == ("Tsubame", "firm", "member")
    met = _edges_by_kind(graph)["acquaintance"]
    assert met["initiated_by"] == pseudonym(world.network, world.hub.pk)
    assert met["origin_event"].startswith("E-")
    assert met["origin_event_on"] == "2025-05-10"
    assert graph.number_of_edges() == 2


def test_pseudonyms_are_stable_within_a_network_and_differ_across_networks(world, other_network):
    first = json.loads(_export(world.network, "json", pseudonymized=True))
    second = json.loads(_export(world.network, "json", pseudonymized=True))
    assert [n["id"] for n in first["nodes"]] == [n["id"] for n in second["nodes"]]
    assert len({n["id"] for n in first["nodes"]}) == 4

    # The same pk in another network (the pseudonym is keyed on both) gets another name.
    assert pseudonym(world.network, world.a.pk) != pseudonym(other_network, world.a.pk)
    # And a participant and an organization with the same pk do not share a pseudonym.
    assert pseudonym(world.network, 7)[2:] != pseudonym(world.network, 7, "organization")[2:]


def test_pseudonyms_depend_on_the_secret_key(world, settings):
    before = pseudonym(world.network, world.a.pk)
    settings.SECRET_KEY = settings.SECRET_KEY + "-rotated"
    assert pseudonym(world.network, world.a.pk) != before


def test_pseudonymize_leaves_the_original_rows_alone(world):
    nodes, edges = network_rows(world.network)
    pseudonymize(nodes, edges, world.network)
    assert {n["id"] for n in nodes} == {f"p{p.pk}" for p in world.people}
    assert any(n.get("full_name") == "Member A" for n in nodes)


def _crowd(network, region, n: int) -> None:
    people = [
        factories.ParticipantFactory(
            network=network,
            organization=factories.OrganizationFactory(network=network, region=region),
        )
        for _ in range(n)
    ]
    for left, right in itertools.pairwise(people):
        _tie(network, left, right, Tie.Kind.ACQUAINTANCE, initiated_by=people[0])


@pytest.mark.parametrize("size", [5, 50])
def test_network_rows_take_two_queries_whatever_the_size(
    network, region_a, size, django_assert_num_queries
):
    _crowd(network, region_a, size)
    with django_assert_num_queries(2):
        nodes, edges = network_rows(network)
    assert (len(nodes), len(edges)) == (size, size - 1)


def test_an_empty_network_exports_in_every_format(network):
    for fmt in FORMATS:
        graph = _parse(_export(network, fmt), fmt)
        assert graph.number_of_nodes() == 0


# --- the command -------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_command_writes_the_file(world, tmp_path, fmt):
    target = tmp_path / f"net.{fmt}"
    out = io.StringIO()
    call_command("export_network", "alpha", "--format", fmt, "-o", str(target), stdout=out)
    graph = _parse(target.read_bytes(), fmt)
    assert graph.number_of_nodes() == 4 and graph.number_of_edges() == 2
    assert str(target) in out.getvalue()
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no temporary left


def test_command_pseudonymizes(world, tmp_path):
    target = tmp_path / "net.json"
    call_command(
        "export_network",
        "alpha",
        "--format",
        "json",
        "--pseudonymize",
        "-o",
        str(target),
        stdout=io.StringIO(),
    )
    data = target.read_bytes()
    assert b"Member A" not in data and b"member.a@example.com" not in data
    assert json.loads(data)["graph"]["pseudonymized"] is True


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope", "--format", "json"], "No network with the slug nope"),
        (["alpha", "--format", "pajek"], "Unknown format 'pajek'"),
    ],
)
def test_command_refuses_bad_input_and_writes_nothing(world, tmp_path, args, message):
    target = tmp_path / "out.file"
    with pytest.raises(CommandError, match=message):
        call_command("export_network", *args, "-o", str(target), stdout=io.StringIO())
    assert list(tmp_path.iterdir()) == []


def test_command_refuses_an_unwritable_path(world, tmp_path):
    missing = tmp_path / "no" / "such" / "folder" / "net.json"
    with pytest.raises(CommandError, match="Cannot write"):
        call_command("export_network", "alpha", "--format", "json", "-o", str(missing))
    with pytest.raises(CommandError, match="is a folder"):
        call_command("export_network", "alpha", "--format", "json", "-o", str(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_command_keeps_an_older_file_when_the_export_fails(world, tmp_path, monkeypatch):
    target = tmp_path / "net.json"
    target.write_bytes(b"older export")

    def broken(nodes, edges, fp, meta):
        fp.write(b"half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setitem(export.FORMATS, "json", export.ExportFormat(broken, "json", "x"))
    with pytest.raises(CommandError, match="No space left"):
        call_command("export_network", "alpha", "--format", "json", "-o", str(target))
    assert target.read_bytes() == b"older export"
    assert [p.name for p in tmp_path.iterdir()] == ["net.json"]


def test_command_exits_non_zero_on_bad_input(world, tmp_path, capsys):
    utility = ManagementUtility(
        ["manage.py", "export_network", "alpha", "--format", "pajek", "-o", str(tmp_path / "x")]
    )
    with pytest.raises(SystemExit) as exit_info:
        utility.execute()
    assert exit_info.value.code != 0
    assert "Unknown format" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


# --- the download view -------------------------------------------------------------


def _url(fmt: str, slug: str = "alpha") -> str:
    return reverse("network_export", kwargs={"slug": slug, "fmt": fmt})


def _download(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.mark.parametrize("fmt", FORMATS)
def test_coordinator_downloads_with_names_by_default(client, world, coordinator, fmt):
    client.force_login(coordinator)
    response = client.get(_url(fmt))
    assert response.status_code == 200
    today = timezone.localdate().isoformat()
    extension = "zip" if fmt == "csv" else fmt
    assert response["Content-Disposition"] == (
        f'attachment; filename="network-alpha-{today}.{extension}"'
    )
    graph = _parse(_download(response), fmt)
    assert graph.nodes[f"p{world.a.pk}"]["full_name"] == "Member A"
    assert graph.number_of_edges() == 2


def test_coordinator_may_ask_for_pseudonyms(client, world, coordinator):
    client.force_login(coordinator)
    data = _download(client.get(_url("json"), {"pseudonymize": "1"}))
    assert b"Member A" not in data
    assert json.loads(data)["graph"]["pseudonymized"] is True


@pytest.mark.parametrize("query", [{}, {"pseudonymize": "0"}, {"pseudonymize": ""}])
@pytest.mark.parametrize("fmt", FORMATS)
def test_researcher_always_gets_pseudonyms(client, world, researcher, fmt, query):
    client.force_login(researcher)
    response = client.get(_url(fmt), query)
    assert response.status_code == 200
    data = _download(response)
    if fmt == "csv":
        archive = zipfile.ZipFile(io.BytesIO(data))
        data = b"".join(archive.read(name) for name in archive.namelist())
    for secret in _personal_strings(world):
        assert secret.encode() not in data
        assert secret.encode("ascii", "xmlcharrefreplace") not in data
    assert pseudonym(world.network, world.a.pk).encode() in data


@pytest.mark.parametrize("role", ["member_a", "outsider", "stranger"])
def test_others_get_not_found(client, world, role, request):
    user = request.getfixturevalue(role)
    client.force_login(getattr(user, "user", user))
    assert client.get(_url("json")).status_code == 404


def test_anonymous_is_sent_to_sign_in(client, world):
    response = client.get(_url("json"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


def test_unknown_format_or_network_is_not_found(client, world, coordinator):
    client.force_login(coordinator)
    assert client.get(_url("pajek")).status_code == 404
    assert client.get(_url("json", slug="nope")).status_code == 404


def test_outsider_coordinator_cannot_export_another_network(client, world, outsider):
    # outsider coordinates "beta" only
    client.force_login(outsider)
    assert client.get(_url("json", slug="alpha")).status_code == 404
    assert client.get(_url("json", slug="beta")).status_code == 200
