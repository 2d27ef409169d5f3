"""The coding pages: who may open them, what coders do there (with and without
JavaScript), what pseudonymous researchers see, and pinned query counts."""

from __future__ import annotations

import base64
import csv
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from observations import services
from observations.models import Code, Coding, Memo
from tests import factories

BODY = "Tanaka Ichiro showed the press line.\r\nBoth firms agreed to visit each other."


@pytest.fixture
def tanaka(network, region_a):
    return factories.ParticipantFactory(
        network=network,
        full_name="Tanaka Ichiro",
        email="tanaka@example.jp",
        organization=factories.OrganizationFactory(
            network=network, region=region_a, name="株式会社燕精工"
        ),
    )


@pytest.fixture
def note(network, coordinator, tanaka):
    observation = factories.ObservationFactory(
        network=network, body=BODY, title="Visit to 燕精工", author=coordinator
    )
    observation.participants.add(tanaka)
    return observation


@pytest.fixture
def trust(network):
    return services.code_create(network=network, name="Trust", colour="#ff8800")


def url(name, network, *args):
    return reverse(name, args=[network.slug, *args])


def pages(network, note, trust):
    return [
        url("codebook", network),
        url("code_create", network),
        url("codebook_import", network),
        url("codebook_export", network),
        url("code_cooccurrence", network),
        url("code_detail", network, trust.pk),
        url("code_edit", network, trust.pk),
        url("code_delete", network, trust.pk),
        url("observation_detail", network, note.pk),
        url("memo_journal", network),
    ]


# --- who may ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["coordinator", "researcher", "identified_researcher"])
def test_coordinators_and_researchers_open_every_coding_page(
    client, request, role, network, note, trust
):
    client.force_login(request.getfixturevalue(role))
    for address in pages(network, note, trust):
        assert client.get(address).status_code == 200, address


@pytest.mark.parametrize("role", ["member_a", "outsider", "stranger"])
def test_everyone_else_gets_a_404(client, request, role, network, note, trust):
    person = request.getfixturevalue(role)
    client.force_login(getattr(person, "user", person))
    for address in pages(network, note, trust):
        assert client.get(address).status_code == 404, address
    coding = services.coding_add(observation=note, code=trust, user=None)
    memo = services.memo_create(network=network, author=None, body="x", observation=note)
    posts = [
        (url("coding_add", network, note.pk), {"mode": "whole", "code": trust.pk}),
        (url("coding_remove", network, note.pk, coding.pk), {}),
        (url("observation_memo_add", network, note.pk), {"body": "sneaky"}),
        (url("code_memo_add", network, trust.pk), {"body": "sneaky"}),
        (url("memo_delete", network, memo.pk), {}),
        (url("code_delete", network, trust.pk), {"confirm": "1"}),
    ]
    for address, data in posts:
        assert client.post(address, data).status_code == 404, address
    assert Coding.objects.filter(deleted_at__isnull=True).count() == 1
    assert Memo.objects.filter(deleted_at__isnull=True).count() == 1
    assert Code.objects.filter(deleted_at__isnull=True).count() == 1


def test_anonymous_visitors_are_sent_to_sign_in(client, network, note, trust):
    for address in pages(network, note, trust):
        response = client.get(address)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_another_networks_objects_are_not_found(client, outsider, other_network, note, trust):
    client.force_login(outsider)
    assert client.get(url("code_detail", other_network, trust.pk)).status_code == 404
    assert client.get(url("observation_detail", other_network, note.pk)).status_code == 404


# --- the codebook ---------------------------------------------------------------------------------


def test_the_codebook_shows_the_tree_with_counts_and_swatches(
    client, researcher, network, note, trust
):
    child = services.code_create(network=network, name="Between regions", parent=trust)
    services.coding_add(observation=note, code=child, quote="agreed to visit", user=None)
    client.force_login(researcher)
    html = client.get(url("codebook", network)).content.decode()
    tree = html[html.index('id="codebook"') :]
    assert tree.index("Trust") < tree.index("Between regions")
    assert 'fill="#ff8800"' in tree
    assert "1 passage" in tree and "1 observation" in tree


def test_a_researcher_creates_moves_and_deletes_codes(client, researcher, network, note, trust):
    client.force_login(researcher)
    response = client.post(
        url("code_create", network),
        {"name": "Openness", "parent": trust.pk, "description": "", "colour": "#00aa00"},
    )
    openness = Code.objects.get(name="Openness")
    assert response.status_code == 302 and openness.parent == trust
    assert openness.history.get().history_user == researcher

    # Moving Trust under its own child is refused (not even offered).
    response = client.post(
        url("code_edit", network, trust.pk),
        {"name": "Trust", "parent": openness.pk, "colour": "#ff8800"},
    )
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    client.post(
        url("code_edit", network, openness.pk),
        {"name": "Openness", "parent": "", "colour": "#00aa00"},
    )
    openness.refresh_from_db()
    assert openness.parent is None

    services.coding_add(observation=note, code=trust, user=None)
    page = client.get(url("code_delete", network, trust.pk)).content.decode()
    assert "applied 1 time" in page
    client.post(url("code_delete", network, trust.pk))  # without confirming
    trust.refresh_from_db()
    assert trust.deleted_at is None
    response = client.post(url("code_delete", network, trust.pk), {"confirm": "1"})
    assert response.status_code == 302
    trust.refresh_from_db()
    assert trust.deleted_at is not None
    assert not Coding.objects.filter(deleted_at__isnull=True).exists()


def test_a_code_with_sub_codes_is_not_deleted_from_the_page(client, researcher, network, trust):
    services.code_create(network=network, name="Child", parent=trust)
    client.force_login(researcher)
    page = client.get(url("code_delete", network, trust.pk)).content.decode()
    assert 'id="delete-refused"' in page and '<form method="post">' not in page
    client.post(url("code_delete", network, trust.pk), {"confirm": "1"})
    trust.refresh_from_db()
    assert trust.deleted_at is None


def test_the_codebook_downloads_as_csv_and_imports_with_a_preview(
    client, researcher, network, other_network, trust
):
    services.code_create(network=network, name="Openness", parent=trust)
    client.force_login(researcher)
    response = client.get(url("codebook_export", network))
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    data = response.content
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[1:] == [
        ["Trust", "Trust", "", "", "#ff8800"],
        ["Openness", "Trust/Openness", "Trust", "", "#ffd54f"],
    ]

    upload = SimpleUploadedFile("codes.csv", b"path,description\nTrust,shared\nTrust/New,\n")
    preview = client.post(url("codebook_import", network), {"file": upload})
    assert preview.status_code == 200
    assert "1 to create, 1 to update" in preview.content.decode()
    assert not Code.objects.filter(name="New").exists()
    content = base64.b64encode(b"path,description\nTrust,shared\nTrust/New,\n").decode()
    done = client.post(
        url("codebook_import", network), {"apply": "1", "filename": "codes.csv", "content": content}
    )
    assert done.status_code == 302
    assert Code.objects.get(name="New").parent == trust


def test_codebook_import_errors_are_listed_by_row(client, researcher, network):
    client.force_login(researcher)
    upload = SimpleUploadedFile("codes.csv", b"path,colour\nA,#fff\nB/C,\n")
    html = client.post(url("codebook_import", network), {"file": upload}).content.decode()
    table = html[html.index('id="import-errors"') :]
    assert re.search(r"<td>2</td><td><code>colour</code>", table)
    assert re.search(r"<td>3</td><td><code>path</code>", table)
    assert not Code.objects.exists()


def test_the_code_page_lists_passages_in_context_and_whole_observations(
    client, researcher, network, note, trust
):
    services.coding_add(observation=note, code=trust, quote="agreed to visit", user=None)
    other = factories.ObservationFactory(network=network, title="Second meeting")
    services.coding_add(observation=other, code=trust, user=None)
    services.memo_create(network=network, author=researcher, body="What *trust* means", code=trust)
    client.force_login(researcher)
    html = client.get(url("code_detail", network, trust.pk)).content.decode()
    assert re.search(
        r'<mark class="coding-mark" data-colours="#ff8800" title="Trust">agreed to visit</mark>',
        html,
    )
    assert "Both firms " in html  # the context around the passage
    assert "The whole observation" in html and "Second meeting" in html
    assert reverse("observation_detail", args=[network.slug, note.pk]) in html
    assert "<em>trust</em>" in html


# --- the observation page ----------------------------------------------------------------------------


def test_the_observation_page_shows_its_facts_text_and_links(client, coordinator, network, note):
    client.force_login(coordinator)
    html = client.get(url("observation_detail", network, note.pk)).content.decode()
    assert "Visit to 燕精工" in html and "Tanaka Ichiro" in html and "株式会社燕精工" in html
    assert 'id="coding-source"' in html and 'id="passage-form"' in html
    assert "highlight.js" in html


def test_coding_a_selected_passage_stores_its_offsets(client, researcher, network, note, trust):
    client.force_login(researcher)
    start = BODY.index("agreed")
    response = client.post(
        url("coding_add", network, note.pk),
        # As a browser posts a selection: the offsets, the text with CR LF line ends.
        {
            "mode": "passage",
            "code": trust.pk,
            "start": start,
            "end": start + 15,
            "quote": "agreed to visit",
        },
    )
    assert response.status_code == 302 and response["Location"].endswith("#codings")
    coding = Coding.objects.get()
    assert (coding.start, coding.end, coding.quote, coding.created_by) == (
        start,
        start + 15,
        "agreed to visit",
        researcher,
    )
    html = client.get(url("observation_detail", network, note.pk)).content.decode()
    assert (
        f'<mark class="coding-mark" data-start="{start}" data-end="{start + 15}" data-colours="#ff8800" title="Trust">agreed to visit</mark>'
        in html
    )


def test_without_javascript_a_pasted_passage_is_coded_and_repeats_are_announced(
    client, researcher, network, trust
):
    note = factories.ObservationFactory(network=network, body="We agreed. Later we agreed again.")
    client.force_login(researcher)
    response = client.post(
        url("coding_add", network, note.pk),
        {"mode": "passage", "new_code": "Agreement", "quote": "agreed"},
        follow=True,
    )
    coding = Coding.objects.get()
    assert (coding.start, coding.code.name) == (3, "Agreement")
    assert "occurs 2 times" in response.content.decode()
    client.post(
        url("coding_add", network, note.pk),
        {"mode": "passage", "code": trust.pk, "quote": "agreed", "occurrence": "2"},
    )
    assert Coding.objects.get(code=trust).start == note.body.rindex("agreed")


def test_a_passage_that_is_not_in_the_text_is_refused_on_the_page(
    client, researcher, network, note, trust
):
    client.force_login(researcher)
    response = client.post(
        url("coding_add", network, note.pk),
        {"mode": "passage", "code": trust.pk, "quote": "never said"},
    )
    assert response.status_code == 200
    assert "This passage is not in the text" in response.content.decode()
    assert not Coding.objects.exists()


def test_the_whole_observation_is_coded_and_the_coding_removed(
    client, researcher, network, note, trust
):
    client.force_login(researcher)
    client.post(url("coding_add", network, note.pk), {"mode": "whole", "code": trust.pk})
    coding = Coding.objects.get()
    assert coding.start is None
    again = client.post(url("coding_add", network, note.pk), {"mode": "whole", "code": trust.pk})
    assert "already coded with Trust" in again.content.decode()
    client.post(url("coding_remove", network, note.pk, coding.pk))
    coding.refresh_from_db()
    assert coding.deleted_at is not None


def test_a_lost_passage_is_listed_with_a_warning_and_highlighted_again(
    client, researcher, network, note, trust
):
    coding = services.coding_add(observation=note, code=trust, quote="press line", user=None)
    old = note.body
    note.body = "Both firms agreed to visit each other."
    note.save()
    services.codings_reanchor(observation=note, old_body=old, user=None)
    client.force_login(researcher)
    html = client.get(url("observation_detail", network, note.pk)).content.decode()
    assert 'id="codings-to-review"' in html and "lost in an edit" in html
    response = client.post(
        url("coding_reanchor", network, note.pk, coding.pk), {"quote": "agreed to visit"}
    )
    assert response.status_code == 302
    coding.refresh_from_db()
    assert (coding.needs_review, coding.quote) == (False, "agreed to visit")


def test_a_pseudonymous_researcher_sees_no_name_anywhere_on_the_page(
    client, researcher, identified_researcher, network, note, trust, tanaka
):
    # The passage starts inside the name: its highlight must not reveal a piece of it.
    services.coding_add(observation=note, code=trust, start=3, end=20, quote=BODY[3:20], user=None)
    services.memo_create(
        network=network, author=researcher, body="Tanaka led the visit", observation=note
    )
    client.force_login(researcher)
    html = client.get(url("observation_detail", network, note.pk)).content.decode()
    for secret in ("Tanaka", "Ichiro", "naka Ichi", "燕精工", "tanaka@example.jp"):
        assert secret not in html, secret
    assert "data-masked" in html
    client.force_login(identified_researcher)
    assert (
        "Tanaka Ichiro" in client.get(url("observation_detail", network, note.pk)).content.decode()
    )


def test_memos_on_an_observation_are_added_edited_and_deleted_by_their_author(
    client, researcher, identified_researcher, coordinator, network, note
):
    client.force_login(researcher)
    client.post(url("observation_memo_add", network, note.pk), {"body": "A turning point"})
    memo = Memo.objects.get()
    assert (memo.author, memo.observation) == (researcher, note)
    client.post(url("memo_edit", network, memo.pk), {"body": "The turning point"})
    memo.refresh_from_db()
    assert memo.body == "The turning point"

    client.force_login(identified_researcher)  # another researcher
    assert client.get(url("memo_edit", network, memo.pk)).status_code == 403
    assert client.post(url("memo_delete", network, memo.pk)).status_code == 403
    client.force_login(coordinator)
    response = client.post(url("memo_delete", network, memo.pk))
    assert response["Location"].endswith(f"/observations/{note.pk}/#memos")
    memo.refresh_from_db()
    assert memo.deleted_at is not None


def test_the_journal_keeps_memos_about_the_study(client, researcher, network):
    client.force_login(researcher)
    client.post(url("memo_journal", network), {"body": "Week 1: first visit"})
    assert "Week 1: first visit" in client.get(url("memo_journal", network)).content.decode()
    assert Memo.objects.get().observation is None


# --- the overview ------------------------------------------------------------------------------------


def test_the_overview_filters_like_the_log_and_downloads_its_tables(
    client, researcher, network, trust
):
    learning = services.code_create(network=network, name="Learning")
    bcp = factories.ObservationFactory(network=network, category="bcp", body="abc")
    other = factories.ObservationFactory(network=network, category="collaboration", body="abc")
    for observation in (bcp, other):
        services.coding_add(observation=observation, code=trust, user=None)
    services.coding_add(observation=bcp, code=learning, quote="abc", user=None)
    client.force_login(researcher)
    page = client.get(url("code_cooccurrence", network), {"category": "collaboration"})
    overview = page.context["overview"]
    assert [n.path for n in overview.codes] == ["Trust"] and overview.matrix == [[1]]
    assert "format=csv&amp;what=observations" in page.content.decode()
    response = client.get(
        url("code_cooccurrence", network), {"format": "csv", "what": "observations"}
    )
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows == [["code", "Learning", "Trust"], ["Learning", "1", "1"], ["Trust", "1", "2"]]
    assert (
        client.get(url("code_cooccurrence", network), {"format": "csv", "what": "x"}).status_code
        == 404
    )


# --- pinned query counts -------------------------------------------------------------------------------


def _many(network, n, trust, leaf, author):
    codes = [
        services.code_create(network=network, name=f"C{Code.objects.count()}", parent=trust)
        for _ in range(n)
    ]
    observations = []
    for _ in range(n):
        observation = factories.ObservationFactory(network=network, body=BODY, author=author)
        observation.participants.add(factories.ParticipantFactory(network=network))
        for c in [*codes, leaf]:
            services.coding_add(observation=observation, code=c, quote="press line", user=author)
            services.coding_add(observation=observation, code=c, user=author)
        services.memo_create(network=network, author=author, body="memo", observation=observation)
        services.memo_create(network=network, author=author, body="memo", code=leaf)
        observations.append(observation)
    return observations


@pytest.mark.parametrize("role", ["coordinator", "researcher"])
def test_query_counts_of_the_coding_pages_are_pinned(
    client, request, role, network, trust, django_assert_num_queries
):
    user = request.getfixturevalue(role)
    client.force_login(user)
    leaf = services.code_create(network=network, name="Leaf", parent=trust)

    def count(address, expected):
        client.get(address)
        with django_assert_num_queries(expected):
            assert client.get(address).status_code == 200

    # session, user, network, the user's roles (staff, participant)
    base = 5
    # a pseudonymous page masks texts: the network's participants and organizations
    masker = 2 if role == "researcher" else 0
    for n in (2, 5):
        observations = _many(network, n, trust, leaf, user)
        # + codes, their counts
        count(url("codebook", network), base + 2)
        # + the code, codes, counts, the page's count and rows, memos
        count(url("code_detail", network, leaf.pk), base + 6 + masker)
        # + the observation, its participants, their organizations, organizations,
        # regions, codes, codings, memos
        count(url("observation_detail", network, observations[-1].pk), base + 8 + masker)
        # + the filter form's codes, regions, events, participants and authors; codes,
        # codings, the three ways into a region, regions, the count
        count(url("code_cooccurrence", network), base + 5 + 7)
