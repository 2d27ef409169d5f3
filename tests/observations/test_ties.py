"""The collaboration-tie registry: the import (service, command, web upload), the staff
pages by role, the participant's report and the coordinator's confirmation."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from coordination.models import Participant
from coordination.tables import TableError
from observations import selectors, services
from observations.models import Tie
from tests import factories

HEADER = ["source_email", "target_email", "kind", "started_on", "ended_on", "initiated_by", "note"]


def csv_bytes(rows, *, encoding: str = "utf-8", bom: bool = False) -> bytes:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    data = buffer.getvalue().encode(encoding)
    return b"\xef\xbb\xbf" + data if bom else data


def xlsx_bytes(rows) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def run_import(network, rows, *, dry_run: bool = False, filename: str = "ties.csv", **kw):
    data = xlsx_bytes(rows) if filename.endswith(".xlsx") else csv_bytes(rows, **kw)
    return services.ties_import(network=network, data=data, filename=filename, dry_run=dry_run)


def errors_of(network, rows) -> list[tuple[int | None, str | None]]:
    with pytest.raises(TableError) as info:
        run_import(network, rows)
    return [(e.row, e.column) for e in info.value.errors]


@pytest.fixture
def people(network, coordinator, member_a, member_b):
    me = Participant.objects.get(user=coordinator)
    return {"coord": me, "a": member_a, "b": member_b}


GOOD = [
    HEADER,
    [
        "Member.A@example.com",
        "member.b@example.com",
        "joint_project",
        "2025-05-01",
        "",
        "coord@example.com",
        "大阪で試作",
    ],
    ["member.b@example.com", "coord@example.com", "acquaintance", "2025-04-20", "", "", ""],
]


def _one(network, a, b, kind="joint_project") -> Tie:
    return Tie.objects.get(
        network=network, kind=kind, source__email__in=[a, b], target__email__in=[a, b]
    )


# --- import service --------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"bom": True},
        {"encoding": "cp932"},
        {"filename": "ties.xlsx"},
    ],
    ids=["utf-8", "utf-8-bom", "cp932", "xlsx"],
)
def test_good_file_imports_in_every_encoding(network, people, options):
    result = run_import(network, GOOD, **options)
    assert (result.created, result.updated, result.unchanged) == (2, 0, 0)
    tie = _one(network, "member.a@example.com", "member.b@example.com")
    assert tie.started_on == dt.date(2025, 5, 1)
    assert tie.initiated_by == people["coord"]
    assert tie.note == "大阪で試作"
    assert tie.status == Tie.Status.CONFIRMED


def test_reimport_changes_nothing_and_matches_either_order(network, people):
    run_import(network, GOOD)
    swapped = [HEADER, [GOOD[1][1], GOOD[1][0].upper(), *GOOD[1][2:]], GOOD[2]]
    result = run_import(network, swapped)
    assert (result.created, result.updated, result.unchanged) == (0, 0, 2)
    assert Tie.objects.count() == 2


def test_reimport_updates_end_broker_and_note_in_place(network, people):
    run_import(network, GOOD)
    before = _one(network, "member.a@example.com", "member.b@example.com")
    changed = [HEADER, [*GOOD[1][:4], "2026-01-31", "", "finished"], GOOD[2]]
    result = run_import(network, changed)
    assert (result.created, result.updated, result.unchanged) == (0, 1, 1)
    after = Tie.objects.get(pk=before.pk)
    assert after.ended_on == dt.date(2026, 1, 31)
    assert after.initiated_by is None
    assert after.note == "finished"
    assert after.history.count() == 2


@pytest.mark.parametrize(
    ("row", "where"),
    [
        (
            ["nobody@example.com", "member.b@example.com", "transaction", "2025-05-01", "", "", ""],
            "source_email",
        ),
        (
            [
                "member.a@example.com",
                "MEMBER.A@example.com",
                "transaction",
                "2025-05-01",
                "",
                "",
                "",
            ],
            "target_email",
        ),
        (
            [
                "member.a@example.com",
                "member.b@example.com",
                "friendship",
                "2025-05-01",
                "",
                "",
                "",
            ],
            "kind",
        ),
        (["member.a@example.com", "member.b@example.com", "", "2025-05-01", "", "", ""], "kind"),
        (
            ["member.a@example.com", "member.b@example.com", "transaction", "1/5/2025", "", "", ""],
            "started_on",
        ),
        (
            [
                "member.a@example.com",
                "member.b@example.com",
                "transaction",
                "2025-05-01",
                "2025-04-01",
                "",
                "",
            ],
            "ended_on",
        ),
        (
            [
                "member.a@example.com",
                "member.b@example.com",
                "transaction",
                "2025-05-01",
                "",
                "ghost@example.com",
                "",
            ],
            "initiated_by",
        ),
        (
            [
                "member.a@example.com",
                "member.b@example.com",
                "transaction",
                "2025-05-01",
                "",
                "member.b@example.com",
                "",
            ],
            "initiated_by",
        ),
    ],
    ids=[
        "unknown-email",
        "same-person",
        "bad-kind",
        "no-kind",
        "bad-date",
        "ends-before",
        "unknown-broker",
        "broker-is-an-end",
    ],
)
def test_bad_row_is_reported_with_row_and_column_and_changes_nothing(network, people, row, where):
    run_import(network, GOOD)
    before = list(Tie.objects.order_by("pk").values())
    bad = [HEADER, [*GOOD[1][:4], "2026-01-31", "", "would change"], row]
    assert errors_of(network, bad) == [(3, where)]
    assert list(Tie.objects.order_by("pk").values()) == before


def test_the_same_pair_kind_and_start_twice_in_a_file_is_an_error(network, people):
    rows = [HEADER, GOOD[1], [GOOD[1][1], GOOD[1][0], *GOOD[1][2:]]]
    assert errors_of(network, rows) == [(3, "started_on")]
    assert not Tie.objects.exists()


def test_unknown_column_is_an_error(network, people):
    rows = [[*HEADER, "strength"], [*GOOD[1], "3"]]
    assert errors_of(network, rows) == [(1, "strength")]


def test_every_problem_is_listed_at_once(network, people):
    rows = [
        HEADER,
        ["x@example.com", "member.b@example.com", "bad", "2025-05-01", "", "", ""],
        ["member.a@example.com", "member.b@example.com", "transaction", "2025-13-01", "", "", ""],
    ]
    assert errors_of(network, rows) == [(2, "kind"), (2, "source_email"), (3, "started_on")]


def test_participants_of_another_network_are_unknown(network, other_network, people):
    factories.ParticipantFactory(network=other_network, email="elsewhere@example.com")
    rows = [
        HEADER,
        ["elsewhere@example.com", "member.b@example.com", "transaction", "2025-05-01", "", "", ""],
    ]
    assert errors_of(network, rows) == [(2, "source_email")]


def test_dry_run_reports_and_changes_nothing(network, people):
    result = run_import(network, GOOD, dry_run=True)
    assert result.dry_run and result.created == 2
    assert not Tie.objects.exists()


# --- the command ---------------------------------------------------------------------


def test_command_imports_and_dry_runs(network, people, tmp_path, capsys):
    path = tmp_path / "ties.csv"
    path.write_bytes(csv_bytes(GOOD))
    call_command("import_ties", "alpha", str(path), "--dry-run")
    assert "2 created" in capsys.readouterr().out
    assert not Tie.objects.exists()
    call_command("import_ties", "alpha", str(path))
    assert Tie.objects.count() == 2
    call_command("import_ties", "alpha", str(path))
    assert "2 unchanged" in capsys.readouterr().out


def test_command_fails_with_every_problem_on_stderr(network, people, tmp_path):
    path = tmp_path / "ties.csv"
    path.write_bytes(
        csv_bytes(
            [
                HEADER,
                ["member.a@example.com", "nobody@example.com", "bad", "2025-05-01", "", "", ""],
            ]
        )
    )
    err = io.StringIO()
    with pytest.raises(CommandError, match="2 problem"):
        call_command("import_ties", "alpha", str(path), stderr=err)
    assert "row 2, column target_email" in err.getvalue()
    assert "row 2, column kind" in err.getvalue()
    assert not Tie.objects.exists()


def test_command_refuses_an_unknown_network(db, tmp_path):
    path = tmp_path / "ties.csv"
    path.write_bytes(csv_bytes(GOOD))
    with pytest.raises(CommandError, match="No network"):
        call_command("import_ties", "nope", str(path))


# --- staff pages by role ---------------------------------------------------------------


@pytest.fixture
def tie(network, people):
    return Tie.objects.create(
        network=network,
        source=people["a"],
        target=people["b"],
        kind=Tie.Kind.TRANSACTION,
        started_on=dt.date(2025, 6, 1),
        initiated_by=people["coord"],
    )


def _pages(network, tie):
    slug = network.slug
    return {
        "list": reverse("tie_list", args=[slug]),
        "detail": reverse("tie_detail", args=[slug, tie.pk]),
        "create": reverse("tie_create", args=[slug]),
        "edit": reverse("tie_edit", args=[slug, tie.pk]),
        "import": reverse("tie_import", args=[slug]),
    }


def test_coordinator_sees_every_staff_page(client, coordinator, network, tie):
    client.force_login(coordinator)
    for name, url in _pages(network, tie).items():
        response = client.get(url)
        assert response.status_code == 200, name
    assert "Member A – Member B" in client.get(_pages(network, tie)["list"]).content.decode()


def test_a_researcher_without_identified_access_does_not_see_the_ties(
    client, researcher, network, tie
):
    client.force_login(researcher)
    for name, url in _pages(network, tie).items():
        assert client.get(url).status_code == 404, name


def test_researcher_reads_but_cannot_change(client, identified_researcher, network, tie):
    client.force_login(identified_researcher)
    pages = _pages(network, tie)
    assert client.get(pages["list"]).status_code == 200
    assert client.get(pages["detail"]).status_code == 200
    for name in ("create", "edit", "import"):
        assert client.get(pages[name]).status_code == 404, name
    action = reverse("tie_action", args=[network.slug, tie.pk])
    assert client.post(action, {"action": "delete"}).status_code == 404
    assert Tie.objects.get(pk=tie.pk).deleted_at is None


@pytest.mark.parametrize("who", ["member", "outsider", "stranger"])
def test_others_get_404_on_staff_pages(client, network, tie, member_a, outsider, stranger, who):
    client.force_login({"member": member_a.user, "outsider": outsider, "stranger": stranger}[who])
    for name, url in _pages(network, tie).items():
        assert client.get(url).status_code == 404, name
    action = reverse("tie_action", args=[network.slug, tie.pk])
    assert client.post(action, {"action": "delete"}).status_code == 404


def test_anonymous_is_sent_to_sign_in(client, network, tie):
    for url in [*_pages(network, tie).values(), reverse("portal_tie_report", args=[network.slug])]:
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_tie_of_another_network_is_404(client, coordinator, network, other_network, tie):
    stray = Tie.objects.create(
        network=other_network,
        source=factories.ParticipantFactory(network=other_network),
        target=factories.ParticipantFactory(network=other_network),
        kind=Tie.Kind.TRANSACTION,
        started_on=dt.date(2025, 6, 1),
    )
    client.force_login(coordinator)
    assert client.get(reverse("tie_detail", args=[network.slug, stray.pk])).status_code == 404


def test_list_filters(client, coordinator, network, people, region_b, tie):
    Tie.objects.create(
        network=network,
        source=people["coord"],
        target=people["a"],
        kind=Tie.Kind.ACQUAINTANCE,
        started_on=dt.date(2025, 1, 1),
        ended_on=dt.date(2025, 3, 1),
        status=Tie.Status.REPORTED,
    )

    def shown(**params):
        return [
            t.kind
            for t in client.get(reverse("tie_list", args=[network.slug]), params).context["page"]
        ]

    client.force_login(coordinator)
    assert sorted(shown()) == ["acquaintance", "transaction"]
    assert shown(kind="acquaintance") == ["acquaintance"]
    assert shown(status="reported") == ["acquaintance"]
    assert shown(region=region_b.pk) == ["transaction"]
    assert shown(participant=people["coord"].pk) == ["acquaintance"]
    assert shown(active_on="2025-02-01") == ["acquaintance"]
    assert shown(active_on="2025-03-01") == []
    assert shown(active_on="2025-07-01") == ["transaction"]


def test_tie_list_query_count_is_pinned(
    client, coordinator, network, people, django_assert_num_queries
):
    others = factories.ParticipantFactory.create_batch(12, network=network)
    for i, person in enumerate(others):
        Tie.objects.create(
            network=network,
            source=people["a"],
            target=person,
            kind=Tie.Kind.TRANSACTION,
            started_on=dt.date(2025, 1, 1) + dt.timedelta(days=i),
            initiated_by=people["coord"],
        )
    client.force_login(coordinator)
    url = reverse("tie_list", args=[network.slug])
    client.get(url)
    # session, user, network, staff roles, participation, the filter form's region and
    # participant choices, the count, the page of rows
    with django_assert_num_queries(9):
        response = client.get(url)
    assert len(response.context["page"]) == 12


def test_coordinator_creates_a_tie(client, coordinator, network, people):
    client.force_login(coordinator)
    response = client.post(
        reverse("tie_create", args=[network.slug]),
        {
            "source": people["a"].pk,
            "target": people["b"].pk,
            "kind": "joint_project",
            "started_on": "2025-07-01",
            "initiated_by": people["coord"].pk,
            "note": "kick-off",
        },
    )
    tie = Tie.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("tie_detail", args=[network.slug, tie.pk])
    assert (tie.status, tie.created_by, tie.initiated_by) == (
        "confirmed",
        coordinator,
        people["coord"],
    )


def test_form_refuses_one_person_twice_and_other_networks(
    client, coordinator, network, other_network, people
):
    client.force_login(coordinator)
    url = reverse("tie_create", args=[network.slug])
    base = {"kind": "transaction", "started_on": "2025-07-01"}
    response = client.post(url, {**base, "source": people["a"].pk, "target": people["a"].pk})
    assert "two different participants" in response.content.decode()
    elsewhere = factories.ParticipantFactory(network=other_network)
    response = client.post(url, {**base, "source": people["a"].pk, "target": elsewhere.pk})
    assert response.context["form"].errors["target"]
    assert not Tie.objects.exists()


def test_a_duplicate_of_an_active_tie_is_refused(client, coordinator, network, people, tie):
    client.force_login(coordinator)
    url = reverse("tie_create", args=[network.slug])
    # The same pair in the other order, same kind, starting later while the first still runs.
    response = client.post(
        url,
        {
            "source": people["b"].pk,
            "target": people["a"].pk,
            "kind": "transaction",
            "started_on": "2025-09-01",
        },
    )
    assert response.status_code == 200
    assert "already have an active tie of this kind" in response.content.decode()
    response = client.post(
        url,
        {
            "source": people["b"].pk,
            "target": people["a"].pk,
            "kind": "transaction",
            "started_on": "2025-06-01",
        },
    )
    assert "already have a tie of this kind starting on 2025-06-01" in response.content.decode()
    assert Tie.objects.count() == 1
    # Once ended, a new period of the same collaboration may be recorded.
    tie.ended_on = dt.date(2025, 8, 1)
    tie.save()
    client.post(
        url,
        {
            "source": people["b"].pk,
            "target": people["a"].pk,
            "kind": "transaction",
            "started_on": "2025-09-01",
        },
    )
    assert Tie.objects.count() == 2


def test_edit_records_history_with_who_and_what(client, coordinator, network, people, tie):
    client.force_login(coordinator)
    client.post(
        reverse("tie_edit", args=[network.slug, tie.pk]),
        {
            "source": people["a"].pk,
            "target": people["b"].pk,
            "kind": "transaction",
            "started_on": "2025-06-01",
            "ended_on": "2025-12-31",
            "note": "closed",
        },
    )
    tie.refresh_from_db()
    assert tie.ended_on == dt.date(2025, 12, 31) and tie.initiated_by is None
    history = selectors.tie_history(tie=tie)
    assert history[0].who == coordinator
    changed = {str(label): (old, new) for label, old, new in history[0].changes}
    assert changed["brokered by"] == (people["coord"].full_name, "–")
    assert changed["ended on"] == ("–", dt.date(2025, 12, 31))
    page = client.get(reverse("tie_detail", args=[network.slug, tie.pk])).content.decode()
    assert "coord@example.com" in page and "closed" in page


def test_soft_delete_hides_the_tie_but_keeps_its_history(client, coordinator, network, tie):
    client.force_login(coordinator)
    response = client.post(reverse("tie_action", args=[network.slug, tie.pk]), {"action": "delete"})
    assert response["Location"] == reverse("tie_list", args=[network.slug])
    assert list(client.get(reverse("tie_list", args=[network.slug])).context["page"]) == []
    assert client.get(reverse("tie_detail", args=[network.slug, tie.pk])).status_code == 404
    kept = Tie.objects.get(pk=tie.pk)
    assert kept.deleted_at is not None
    assert [h.history_type for h in kept.history.order_by("history_date")] == ["+", "~"]
    assert kept.history.latest().history_user == coordinator


# --- web import ------------------------------------------------------------------------


def test_web_import_previews_then_applies(client, coordinator, network, people):
    client.force_login(coordinator)
    url = reverse("tie_import", args=[network.slug])
    upload = SimpleUploadedFile("ties.csv", csv_bytes(GOOD, encoding="cp932"), "text/csv")
    preview = client.post(url, {"file": upload})
    assert preview.status_code == 200
    assert preview.context["result"].created == 2
    assert not Tie.objects.exists()
    hidden = preview.context["apply_form"].initial
    assert base64.b64decode(hidden["content"]) == csv_bytes(GOOD, encoding="cp932")
    applied = client.post(url, {**hidden, "apply": "1"})
    assert applied.status_code == 302
    assert Tie.objects.count() == 2


def test_web_import_shows_errors_and_changes_nothing(client, coordinator, network, people):
    client.force_login(coordinator)
    rows = [
        HEADER,
        [
            "member.a@example.com",
            "member.b@example.com",
            "joint_project",
            "2025-05-01",
            "2025-01-01",
            "",
            "",
        ],
    ]
    response = client.post(
        reverse("tie_import", args=[network.slug]),
        {"file": SimpleUploadedFile("t.csv", csv_bytes(rows))},
    )
    assert [(e.row, e.column) for e in response.context["errors"]] == [(2, "ended_on")]
    assert "apply_form" not in response.context
    assert not Tie.objects.exists()


def test_web_import_refuses_a_damaged_hidden_file(client, coordinator, network, people):
    client.force_login(coordinator)
    url = reverse("tie_import", args=[network.slug])
    response = client.post(url, {"filename": "t.csv", "content": "not base64!!", "apply": "1"})
    assert response.status_code == 302
    assert not Tie.objects.exists()


# --- portal report and confirmation ------------------------------------------------------


def test_member_reports_and_coordinator_confirms(client, coordinator, network, people):
    member = people["a"]
    client.force_login(member.user)
    url = reverse("portal_tie_report", args=[network.slug])
    page = client.get(url)
    assert page.status_code == 200
    choices = list(page.context["form"].fields["other"].queryset)
    assert member not in choices and people["b"] in choices
    response = client.post(
        url,
        {
            "kind": "joint_project",
            "other": people["b"].pk,
            "started_on": "2025-08-01",
            "note": "a new jig",
        },
    )
    assert response.status_code == 302
    tie = Tie.objects.get()
    assert (tie.status, tie.reported_by, tie.source, tie.target) == (
        "reported",
        member,
        member,
        people["b"],
    )
    assert "Reported (awaiting confirmation)" in client.get(url).content.decode()

    client.force_login(coordinator)
    pending = client.get(reverse("tie_list", args=[network.slug]), {"status": "reported"})
    assert list(pending.context["page"]) == [tie]
    client.post(reverse("tie_action", args=[network.slug, tie.pk]), {"action": "confirm"})
    assert Tie.objects.get().status == "confirmed"
    # Confirming twice is refused and changes nothing.
    client.post(reverse("tie_action", args=[network.slug, tie.pk]), {"action": "reject"})
    assert Tie.objects.get().status == "confirmed"

    client.force_login(member.user)
    assert "Confirmed" in client.get(url).content.decode()


def test_coordinator_rejects_a_report(client, coordinator, network, people):
    tie = services.tie_report(
        participant=people["a"],
        data={"kind": "transaction", "other": people["b"], "started_on": dt.date(2025, 8, 1)},
    )
    client.force_login(coordinator)
    client.post(reverse("tie_action", args=[network.slug, tie.pk]), {"action": "reject"})
    assert Tie.objects.get().status == "rejected"


def test_member_cannot_report_with_someone_of_another_network(
    client, network, other_network, people
):
    elsewhere = factories.ParticipantFactory(network=other_network)
    client.force_login(people["a"].user)
    response = client.post(
        reverse("portal_tie_report", args=[network.slug]),
        {"kind": "transaction", "other": elsewhere.pk, "started_on": "2025-08-01"},
    )
    assert response.context["form"].errors["other"]
    assert not Tie.objects.exists()


def test_member_cannot_report_a_tie_that_already_runs(client, network, people, tie):
    client.force_login(people["b"].user)
    response = client.post(
        reverse("portal_tie_report", args=[network.slug]),
        {"kind": "transaction", "other": people["a"].pk, "started_on": "2025-09-01"},
    )
    assert "already have an active tie" in response.content.decode()
    assert Tie.objects.count() == 1


def test_staff_without_participation_cannot_use_the_portal_report(
    client, researcher, outsider, network
):
    for user in (researcher, outsider):
        client.force_login(user)
        assert client.get(reverse("portal_tie_report", args=[network.slug])).status_code == 404


def test_a_racing_duplicate_gets_the_message_not_an_error(network, people, tie, monkeypatch):
    # Both requests passed the check before either saved: the constraint decides.
    monkeypatch.setattr("observations.services.ties._check_duplicate", lambda **kwargs: None)
    data = {
        "source": people["b"],
        "target": people["a"],
        "kind": Tie.Kind.TRANSACTION,
        "started_on": tie.started_on,
    }
    with pytest.raises(services.TieError, match="already have a tie"):
        services.tie_save(network=network, data=data, user=None)
    assert Tie.objects.count() == 1
