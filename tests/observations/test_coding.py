"""Qualitative coding: the codebook's hierarchy, codings of passages and whole
observations, passages that follow an edit of the text, memos, the codebook import and
the counts and co-occurrence read from it all."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coordination.tables import TableError
from observations import selectors, services
from observations.models import Code, Coding, Memo, Observation
from observations.pseudonyms import namer_for
from observations.selectors.coding import text_segments
from tests import factories

BODY = "The two firms compared their press lines and agreed to visit each other."


@pytest.fixture
def note(network, coordinator):
    return factories.ObservationFactory(network=network, body=BODY, author=coordinator)


def code(network, name, parent=None, **kw):
    return services.code_create(network=network, name=name, parent=parent, **kw)


def paths(network) -> list[str]:
    return [node.path for node in selectors.code_tree(network=network)]


def passage(observation, code, quote, **kw) -> Coding:
    start = observation.body.index(quote)
    return services.coding_add(
        observation=observation,
        code=code,
        start=start,
        end=start + len(quote),
        quote=quote,
        user=kw.pop("user", None),
        **kw,
    )


# --- the codebook ---------------------------------------------------------------------------


def test_codes_nest_to_any_depth_and_are_named_by_their_path(network):
    top = code(network, "Attitude")
    middle = code(network, "Openness", parent=top)
    code(network, "To newcomers", parent=middle)
    code(network, "Business continuity")
    assert paths(network) == [
        "Attitude",
        "Attitude/Openness",
        "Attitude/Openness/To newcomers",
        "Business continuity",
    ]
    assert [n.depth for n in selectors.code_tree(network=network)] == [0, 1, 2, 0]


def test_moving_a_code_carries_its_sub_codes(network):
    top = code(network, "Attitude")
    middle = code(network, "Openness", parent=top)
    code(network, "To newcomers", parent=middle)
    other = code(network, "Learning")
    services.code_update(code=middle, name="Openness", parent=other)
    assert paths(network) == [
        "Attitude",
        "Learning",
        "Learning/Openness",
        "Learning/Openness/To newcomers",
    ]


def test_a_code_cannot_move_under_itself_or_its_descendants(network):
    top = code(network, "Attitude")
    middle = code(network, "Openness", parent=top)
    leaf = code(network, "To newcomers", parent=middle)
    for parent in (top, middle, leaf):
        with pytest.raises(services.CodingError, match="under itself"):
            services.code_update(code=top, name="Attitude", parent=parent)
    top.refresh_from_db()
    assert top.parent is None


def test_siblings_need_different_names_but_cousins_may_share_one(network):
    a, b = code(network, "A"), code(network, "B")
    code(network, "Trust", parent=a)
    code(network, "Trust", parent=b)
    with pytest.raises(services.CodingError, match="already a code Trust"):
        code(network, "Trust", parent=a)
    code(network, "Trust")  # the top level is a level of its own
    with pytest.raises(services.CodingError):
        code(network, "Trust")


@pytest.mark.parametrize(
    ("name", "colour", "message"),
    [
        ("", "#ffd54f", "needs a name"),
        ("BCP/continuity", "#ffd54f", "cannot contain"),
        ("Trust", "red", "#rrggbb"),
        ("Trust", "#12345", "#rrggbb"),
    ],
)
def test_names_and_colours_are_checked(network, name, colour, message):
    with pytest.raises(services.CodingError, match=message):
        code(network, name, colour=colour)
    assert not Code.objects.exists()


def test_a_parent_from_another_network_is_refused(network, other_network):
    foreign = code(other_network, "Foreign")
    with pytest.raises(services.CodingError, match="this codebook"):
        code(network, "Mine", parent=foreign)


def test_history_records_who_changed_a_code_outside_a_request(network, coordinator):
    trust = code(network, "Trust", user=coordinator)
    services.code_update(
        code=trust, name="Mutual trust", parent=None, colour="#112233", user=coordinator
    )
    records = list(trust.history.order_by("history_date"))
    assert [r.name for r in records] == ["Trust", "Mutual trust"]
    assert {r.history_user for r in records} == {coordinator}


def test_a_code_with_sub_codes_cannot_be_deleted(network):
    top = code(network, "Attitude")
    code(network, "Openness", parent=top)
    with pytest.raises(services.CodingError, match="sub-code"):
        services.code_delete(code=top, with_codings=True)
    top.refresh_from_db()
    assert top.deleted_at is None


def test_deleting_a_code_in_use_asks_first_then_removes_its_codings(network, note, coordinator):
    trust = code(network, "Trust")
    passage(note, trust, "press lines")
    services.coding_add(observation=note, code=trust, user=None)
    with pytest.raises(services.CodeInUse) as refused:
        services.code_delete(code=trust, user=coordinator)
    assert refused.value.codings == 2
    assert Coding.objects.filter(deleted_at__isnull=True).count() == 2

    assert services.code_delete(code=trust, user=coordinator, with_codings=True) == 2
    trust.refresh_from_db()
    assert trust.deleted_at is not None
    assert not Coding.objects.filter(deleted_at__isnull=True).exists()
    # Nothing is erased: the codings' history shows who removed them.
    removals = Coding.history.filter(deleted_at__isnull=False)
    assert removals.count() == 2 and {r.history_user for r in removals} == {coordinator}
    assert paths(network) == []
    code(network, "Trust")  # the name is free again


# --- codings -----------------------------------------------------------------------------------


def test_a_passage_is_coded_by_its_offsets_and_its_text(network, note, coordinator):
    trust = code(network, "Trust")
    coding = passage(note, trust, "agreed to visit", user=coordinator)
    assert (coding.start, coding.end) == (BODY.index("agreed"), BODY.index(" each"))
    assert coding.quote == "agreed to visit"
    assert coding.created_by == coordinator and coding.needs_review is False
    assert coding.history.get().history_user == coordinator


def test_offsets_whose_text_is_not_the_quote_are_refused(network, note):
    trust = code(network, "Trust")
    with pytest.raises(services.CodingError, match="changed since the page was loaded"):
        services.coding_add(
            observation=note, code=trust, start=0, end=7, quote="The six", user=None
        )
    with pytest.raises(services.CodingError, match="not in the text"):
        services.coding_add(observation=note, code=trust, start=60, end=500, quote="x", user=None)
    assert not Coding.objects.exists()


def test_a_pasted_passage_is_found_in_the_text(network):
    body = "We met. Then we met again, and we met a third time."
    note = factories.ObservationFactory(network=network, body=body)
    first = services.coding_add(
        observation=note, code=code(network, "Trust"), quote=" we met ", user=None
    )
    assert (first.start, first.quote, first.occurrences) == (body.index("we met"), "we met", 2)


def test_a_pasted_passage_takes_the_first_occurrence_unless_told_otherwise(network):
    note = factories.ObservationFactory(network=network, body="met once, met twice, met thrice")
    trust, learning = code(network, "Trust"), code(network, "Learning")
    first = services.coding_add(observation=note, code=trust, quote="met", user=None)
    assert (first.start, first.end, first.occurrences) == (0, 3, 3)
    second = services.coding_add(
        observation=note, code=learning, quote="  met ", occurrence=2, user=None
    )
    assert (second.start, second.end) == (10, 13)
    with pytest.raises(services.CodingError, match="occurs 3 time"):
        services.coding_add(observation=note, code=trust, quote="met", occurrence=4, user=None)
    with pytest.raises(services.CodingError, match="not in the text"):
        services.coding_add(observation=note, code=trust, quote="never said", user=None)


def test_line_ends_compare_loosely_but_offsets_stay_in_the_source(network):
    note = factories.ObservationFactory(network=network, body="First line.\r\nSecond line.")
    trust = code(network, "Trust")
    # Pasted from a page: the browser sent LF where the source has CR LF.
    pasted = services.coding_add(observation=note, code=trust, quote="line.\nSecond", user=None)
    assert (pasted.start, pasted.end) == (6, 19)
    assert pasted.quote == "line.\r\nSecond"
    # Selected with the mouse: exact offsets, the quote as a form posts it.
    learning = code(network, "Learning")
    selected = services.coding_add(
        observation=note, code=learning, start=6, end=19, quote="line.\r\nSecond", user=None
    )
    assert selected.quote == note.body[6:19]


def test_the_same_code_cannot_mark_the_same_thing_twice(network, note):
    trust, learning = code(network, "Trust"), code(network, "Learning")
    passage(note, trust, "press lines")
    with pytest.raises(services.CodingError, match="passage is already coded with Trust"):
        passage(note, trust, "press lines")
    passage(note, learning, "press lines")  # another code may
    services.coding_add(observation=note, code=trust, user=None)
    with pytest.raises(services.CodingError, match="observation is already coded with Trust"):
        services.coding_add(observation=note, code=trust, user=None)
    assert Coding.objects.count() == 3


def test_a_removed_coding_can_be_made_again(network, note, coordinator):
    trust = code(network, "Trust")
    coding = passage(note, trust, "press lines")
    services.coding_remove(coding=coding, user=coordinator)
    coding.refresh_from_db()
    assert coding.deleted_at is not None
    assert passage(note, trust, "press lines").pk != coding.pk


def test_a_new_code_typed_in_the_form_is_created_once(network, note):
    first = services.coding_add(observation=note, new_code_name=" Trust ", user=None)
    again = services.coding_add(
        observation=note, new_code_name="Trust", quote="press lines", user=None
    )
    assert first.code == again.code and first.code.name == "Trust"
    assert Code.objects.count() == 1
    with pytest.raises(services.CodingError, match="not both"):
        services.coding_add(observation=note, code=first.code, new_code_name="X", user=None)
    with pytest.raises(services.CodingError, match="Choose a code"):
        services.coding_add(observation=note, user=None)


def test_codes_of_another_network_and_deleted_codes_cannot_be_applied(network, other_network, note):
    foreign = code(other_network, "Foreign")
    gone = code(network, "Gone")
    services.code_delete(code=gone)
    for bad in (foreign, gone):
        with pytest.raises(services.CodingError, match="code of this codebook"):
            services.coding_add(observation=note, code=bad, user=None)


def test_a_lost_passage_is_highlighted_again(network, note, coordinator):
    trust = code(network, "Trust")
    coding = passage(note, trust, "press lines")
    Coding.objects.filter(pk=coding.pk).update(needs_review=True, start=0, end=3)
    start = BODY.index("visit")
    again = services.coding_reanchor(
        coding=coding, user=coordinator, start=start, end=start + 5, quote="visit"
    )
    assert (again.start, again.end, again.quote, again.needs_review) == (
        start,
        start + 5,
        "visit",
        False,
    )


# --- following passages through an edit ---------------------------------------------------------


def edit(observation, new_body, user=None) -> dict:
    old = observation.body
    observation.body = new_body
    observation.save()
    return services.codings_reanchor(observation=observation, old_body=old, user=user)


def test_an_unchanged_passage_is_kept(network, note):
    coding = passage(note, code(network, "Trust"), "press lines")
    assert edit(note, BODY + " Later they did.") == {"kept": 1, "moved": 0, "flagged": 0}
    coding.refresh_from_db()
    assert note.body[coding.start : coding.end] == "press lines"
    assert coding.history.count() == 1  # nothing saved for a kept passage


def test_text_inserted_before_a_passage_moves_it(network, note, coordinator):
    coding = passage(note, code(network, "Trust"), "press lines")
    result = edit(note, "On 3 June, at the kickoff: " + BODY, user=coordinator)
    assert result == {"kept": 0, "moved": 1, "flagged": 0}
    coding.refresh_from_db()
    assert note.body[coding.start : coding.end] == "press lines"
    assert coding.needs_review is False
    assert coding.history.latest("history_date").history_user == coordinator


def test_text_typed_right_at_the_edges_stays_outside_the_passage(network):
    note = factories.ObservationFactory(network=network, body="AAA trust BBB")
    coding = passage(note, code(network, "Trust"), "trust")
    edit(note, "AAA [trust] BBB")
    coding.refresh_from_db()
    assert (note.body[coding.start : coding.end], coding.needs_review) == ("trust", False)


def test_an_edit_inside_a_passage_flags_it(network, note):
    coding = passage(note, code(network, "Trust"), "press lines")
    result = edit(note, BODY.replace("press lines", "stamping lines"))
    assert result == {"kept": 0, "moved": 0, "flagged": 1}
    coding.refresh_from_db()
    assert coding.needs_review is True
    assert coding.quote == "press lines"
    assert 0 <= coding.start < coding.end <= len(note.body)


def test_deleting_the_whole_text_flags_every_passage(network, note):
    trust, learning = code(network, "Trust"), code(network, "Learning")
    first = passage(note, trust, "press lines")
    second = passage(note, learning, "press lines")
    whole = services.coding_add(observation=note, code=trust, user=None)
    assert edit(note, "") == {"kept": 0, "moved": 0, "flagged": 2}
    for coding in (first, second):
        coding.refresh_from_db()
        assert coding.needs_review and coding.quote == "press lines"
        assert (coding.start, coding.end) == (0, 1)  # clamped; only a hint now
    whole.refresh_from_db()
    assert whole.start is None and whole.needs_review is False


def test_a_passage_moved_elsewhere_in_the_text_is_found_again(network):
    note = factories.ObservationFactory(
        network=network, body="First they doubted.\n\nThen they trusted each other."
    )
    coding = passage(note, code(network, "Trust"), "trusted each other")
    assert edit(note, "Then they trusted each other.\n\nFirst they doubted.")["moved"] == 1
    coding.refresh_from_db()
    assert (coding.start, coding.end) == (10, 28)


def test_a_repeated_quote_goes_to_the_nearest_occurrence(network):
    note = factories.ObservationFactory(network=network, body="yes. no. yes. no. yes.")
    coding = services.coding_add(
        observation=note, code=code(network, "Agree"), quote="yes", occurrence=2, user=None
    )
    assert coding.start == 9
    edit(note, "yes! no. yes? no. yes.")  # the passage itself changed
    coding.refresh_from_db()
    assert (coding.start, coding.needs_review) == (9, False)


def test_a_flagged_passage_is_found_again_by_a_later_edit(network, note):
    coding = passage(note, code(network, "Trust"), "press lines")
    edit(note, BODY.replace("press lines", "stamping lines"))
    assert edit(note, BODY) == {"kept": 0, "moved": 1, "flagged": 0}
    coding.refresh_from_db()
    assert coding.needs_review is False and note.body[coding.start : coding.end] == "press lines"


def test_two_passages_of_one_code_never_land_on_the_same_place(network):
    note = factories.ObservationFactory(network=network, body="abc xyz abc")
    trust = code(network, "Trust")
    services.coding_add(observation=note, code=trust, quote="abc", user=None)
    services.coding_add(observation=note, code=trust, quote="abc", occurrence=2, user=None)
    assert edit(note, "abc") == {"kept": 1, "moved": 0, "flagged": 1}
    spots = set(Coding.objects.values_list("start", "end"))
    assert len(spots) == 2


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    old=st.text(alphabet="ab c。日\n", min_size=1, max_size=40),
    new=st.text(alphabet="ab c。日\n", max_size=40),
    start=st.integers(0, 39),
    length=st.integers(1, 10),
)
def test_after_any_edit_a_passage_is_exact_or_flagged(network, old, new, start, length):
    start = min(start, len(old) - 1)
    end = min(len(old), start + length)
    note = factories.ObservationFactory(network=network, body=old)
    coding = services.coding_add(
        observation=note,
        code=code(network, f"C{note.pk}"),
        start=start,
        end=end,
        quote=old[start:end],
        user=None,
    )
    edit(note, new)
    coding.refresh_from_db()
    assert coding.quote == old[start:end]
    assert coding.start < coding.end
    if not coding.needs_review:
        assert new[coding.start : coding.end] == coding.quote


# --- memos -----------------------------------------------------------------------------------


def test_memos_are_about_a_code_an_observation_or_the_study(network, note, coordinator):
    trust = code(network, "Trust")
    on_code = services.memo_create(network=network, author=coordinator, body="Define", code=trust)
    on_note = services.memo_create(
        network=network, author=coordinator, body="Key moment", observation=note
    )
    journal = services.memo_create(network=network, author=coordinator, body="Week 3")
    assert list(selectors.memo_list(network=network, code=trust)) == [on_code]
    assert list(selectors.memo_list(network=network, observation=note)) == [on_note]
    assert list(selectors.memo_list(network=network)) == [journal]
    with pytest.raises(services.CodingError, match="not both"):
        services.memo_create(
            network=network, author=coordinator, body="x", code=trust, observation=note
        )
    with pytest.raises(services.CodingError, match="needs some text"):
        services.memo_create(network=network, author=coordinator, body="   ")


def test_a_memo_is_edited_and_deleted_softly_with_its_history(network, coordinator):
    memo = services.memo_create(network=network, author=coordinator, body="First")
    services.memo_update(memo=memo, body="Second", user=coordinator)
    services.memo_delete(memo=memo, user=coordinator)
    memo.refresh_from_db()
    assert memo.body == "Second" and memo.deleted_at is not None
    assert list(selectors.memo_list(network=network)) == []
    assert [h.body for h in memo.history.order_by("history_date")] == [
        "First",
        "Second",
        "Second",
    ]


# --- counts, segments and co-occurrence ------------------------------------------------------------


def test_the_codebook_counts_observations_passages_and_sub_codes(network, coordinator):
    attitude = code(network, "Attitude")
    openness = code(network, "Openness", parent=attitude)
    first = factories.ObservationFactory(network=network, body="open and open again")
    second = factories.ObservationFactory(network=network, body="open minds")
    gone = factories.ObservationFactory(
        network=network, body="open", deleted_at="2025-07-01T00:00Z"
    )
    services.coding_add(observation=first, code=openness, quote="open", user=None)
    services.coding_add(observation=first, code=openness, quote="open", occurrence=2, user=None)
    services.coding_add(observation=first, code=attitude, user=None)
    services.coding_add(observation=second, code=openness, quote="minds", user=None)
    removed = services.coding_add(observation=second, code=attitude, user=None)
    services.coding_remove(coding=removed)
    Coding.objects.create(observation=gone, code=attitude)
    nodes = {n.path: n for n in selectors.code_tree(network=network, counts=True)}
    top, child = nodes["Attitude"], nodes["Attitude/Openness"]
    assert (top.observations, top.passages, top.wholes, top.with_subcodes) == (1, 0, 1, 2)
    assert (child.observations, child.passages, child.wholes, child.with_subcodes) == (2, 3, 0, 2)


def test_segments_cut_the_text_at_every_passage_edge(network):
    body = "abcdefghij"
    one = Coding(start=2, end=6, code=Code(name="One", colour="#ff0000"))
    two = Coding(start=4, end=8, code=Code(name="Two", colour="#00ff00"))
    namer = namer_for(factories.UserFactory(is_superuser=True), network)
    segments = text_segments(body, [one, two], namer=namer)
    assert [(s.start, s.end, s.text) for s in segments] == [
        (0, 2, "ab"),
        (2, 4, "cd"),
        (4, 6, "ef"),
        (6, 8, "gh"),
        (8, 10, "ij"),
    ]
    assert [s.title for s in segments] == ["", "One", "One; Two", "Two", ""]
    assert segments[2].colours == "#ff0000,#00ff00"
    assert "".join(s.text for s in segments) == body


def test_a_carriage_return_survives_into_the_page(network):
    namer = namer_for(factories.UserFactory(is_superuser=True), network)
    (segment,) = text_segments("a\r\nb<c>", [], namer=namer)
    assert segment.html == "a&#13;\nb&lt;c&gt;"


def test_pseudonymous_segments_show_exactly_the_masked_text(network, researcher, region_a):
    person = factories.ParticipantFactory(
        network=network, full_name="Tanaka Ichiro", email="tanaka@example.jp"
    )
    body = "Tanaka Ichiro said (tanaka@example.jp) that Ichiro would come."
    # A passage that starts inside the name: no piece of the name may show.
    coding = Coding(start=3, end=24, code=Code(name="Trust", colour="#ff0000"))
    namer = namer_for(researcher, network)
    assert namer.pseudonymous
    segments = text_segments(body, [coding], namer=namer)
    shown = "".join(s.text for s in segments)
    assert shown == namer.text(body)
    assert "Tanaka" not in shown and "naka" not in shown and "Ichiro" not in shown
    assert "tanaka@" not in shown
    masked = [s for s in segments if s.masked]
    assert masked and all(body[s.start : s.end] not in shown for s in masked if s.text)
    assert person.pk  # the person is what the namer knows


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    pieces=st.lists(
        st.sampled_from(
            [
                "Tanaka Ichiro",
                "Ichiro",
                "燕精工",
                "株式会社燕精工",
                "tanaka@example.jp",
                "x@y.jp",
                " met ",
                "見学",
                "\r\n",
                "Tana",
                "ka",
            ]
        ),
        min_size=1,
        max_size=12,
    ),
    cuts=st.lists(st.tuples(st.integers(0, 120), st.integers(1, 30)), max_size=4),
)
def test_pseudonymous_segments_never_show_a_name_whatever_the_passages(
    network, researcher, region_a, pieces, cuts
):
    if not Code.objects.exists():
        factories.ParticipantFactory(
            network=network,
            full_name="Tanaka Ichiro",
            email="tanaka@example.jp",
            organization=factories.OrganizationFactory(
                network=network, region=region_a, name="株式会社燕精工"
            ),
        )
        Code.objects.create(network=network, name="Marker")
    body = "".join(pieces)
    marker = Code(name="Marker", colour="#ff0000")
    codings = [
        Coding(start=min(a, len(body)), end=min(a + n, len(body)), code=marker)
        for a, n in cuts
        if min(a, len(body)) < min(a + n, len(body))
    ]
    namer = namer_for(researcher, network)
    segments = text_segments(body, codings, namer=namer)
    shown = "".join(s.text for s in segments)
    assert shown == namer.text(body)
    assert "Tanaka" not in shown and "燕精工" not in shown and "tanaka@" not in shown
    assert [s.start for s in segments[1:]] == [s.end for s in segments[:-1]]


def test_the_overview_counts_co_occurrence_and_overlaps_on_a_hand_made_case(network, region_a):
    a, b, c = code(network, "A"), code(network, "B"), code(network, "C")
    unused = code(network, "Unused")
    one = factories.ObservationFactory(
        network=network, body="0123456789ABCDEFGHIJ", category="collaboration"
    )
    two = factories.ObservationFactory(network=network, body="0123456789", category="bcp")
    three = factories.ObservationFactory(network=network, body="xyz", category="bcp")
    three.regions.add(region_a)
    services.coding_add(observation=one, code=a, user=None)
    services.coding_add(observation=one, code=b, start=0, end=10, quote="0123456789", user=None)
    services.coding_add(observation=one, code=c, start=5, end=15, quote="56789ABCDE", user=None)
    services.coding_add(observation=one, code=c, start=16, end=18, quote="GH", user=None)
    services.coding_add(observation=two, code=a, start=0, end=3, quote="012", user=None)
    services.coding_add(observation=two, code=b, start=5, end=8, quote="567", user=None)
    services.coding_add(observation=three, code=c, user=None)
    overview = selectors.code_overview(network=network, criteria={})
    assert [n.path for n in overview.codes] == ["A", "B", "C"]
    assert overview.unused == 1 and unused.pk
    assert (overview.observations, overview.coded) == (3, 3)
    #           A  B  C
    assert overview.matrix == [
        [2, 2, 1],  # A: one, two; with B in both; with C in one
        [2, 2, 1],
        [1, 1, 2],  # C: one, three
    ]
    assert overview.overlaps == [
        [1, 0, 0],  # A's one passage (on two) overlaps nothing
        [0, 2, 1],  # B 0-10 overlaps C 5-15 on one; B 5-8 on two is alone
        [0, 1, 2],
    ]
    bcp = [value for value, _ in overview.categories].index("bcp")
    assert [row[bcp] for row in overview.by_category] == [1, 1, 1]
    assert [row[overview.regions.index(region_a)] for row in overview.by_region] == [0, 0, 1]

    only_bcp = selectors.code_overview(network=network, criteria={"category": "bcp"})
    assert [n.path for n in only_bcp.codes] == ["A", "B", "C"]
    assert only_bcp.matrix == [[1, 1, 0], [1, 1, 0], [0, 0, 1]]
    assert only_bcp.observations == 2

    rows = list(csv.reader(io.StringIO(selectors.overview_csv(overview).decode("utf-8-sig"))))
    assert rows == [
        ["code", "A", "B", "C"],
        ["A", "2", "2", "1"],
        ["B", "2", "2", "1"],
        ["C", "1", "1", "2"],
    ]


def test_the_overview_query_count_does_not_grow_with_codes_and_observations(
    network, region_a, django_assert_num_queries
):
    def grow(n):
        codes = [code(network, f"Code {len(paths(network))}") for _ in range(n)]
        for i in range(n):
            note = factories.ObservationFactory(network=network, body="alpha beta gamma")
            note.regions.add(region_a)
            for c in codes:
                services.coding_add(observation=note, code=c, quote="beta", user=None)
            services.coding_add(observation=note, code=codes[i], user=None)

    grow(2)
    # codes, codings, the three ways into a region, regions, the count
    with django_assert_num_queries(7):
        small = selectors.code_overview(network=network, criteria={"kind": "qualitative"})
    grow(5)
    with django_assert_num_queries(7):
        large = selectors.code_overview(network=network, criteria={"kind": "qualitative"})
    assert len(small.codes) == 2 and len(large.codes) == 7


# --- the codebook as a file -------------------------------------------------------------------------


def csv_bytes(rows, encoding="utf-8") -> bytes:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def import_rows(network, rows, dry_run=False, **kw):
    return services.codebook_import(
        network=network, data=csv_bytes(rows, **kw), filename="codes.csv", dry_run=dry_run
    )


def test_the_exported_codebook_imports_into_another_network_unchanged(network, other_network):
    top = code(network, "態度", description="参加者の構え", colour="#AA0000")
    code(network, "開放性", parent=top, description="新しい人に", colour="#00aa00")
    code(network, "BCP")
    data = selectors.codebook_csv(network=network)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows == [
        ["name", "path", "parent_path", "description", "colour"],
        ["BCP", "BCP", "", "", "#ffd54f"],
        ["態度", "態度", "", "参加者の構え", "#aa0000"],
        ["開放性", "態度/開放性", "態度", "新しい人に", "#00aa00"],
    ]
    result = services.codebook_import(
        network=other_network, data=data, filename="codebook.csv", dry_run=False
    )
    assert result.created == 3
    assert selectors.codebook_csv(network=other_network) == data
    again = services.codebook_import(
        network=other_network, data=data, filename="codebook.csv", dry_run=False
    )
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)


def test_an_import_updates_descriptions_and_colours_and_creates_children(network):
    top = code(network, "Attitude", description="old")
    result = import_rows(
        network,
        [
            ["path", "description", "colour"],
            ["Attitude/Openness/To newcomers", "", ""],
            ["Attitude", "new", "#123456"],
            ["Attitude/Openness", "", "#654321"],
        ],
    )
    assert [(r.row, r.action, r.label) for r in result.rows] == [
        (2, "created", "Attitude/Openness/To newcomers"),
        (3, "updated", "Attitude"),
        (4, "created", "Attitude/Openness"),
    ]
    top.refresh_from_db()
    assert (top.description, top.colour) == ("new", "#123456")
    assert paths(network) == ["Attitude", "Attitude/Openness", "Attitude/Openness/To newcomers"]


def test_an_import_by_name_and_parent_path_in_cp932(network):
    import_rows(
        network, [["name", "parent_path"], ["態度", ""], ["開放性", "態度"]], encoding="cp932"
    )
    assert paths(network) == ["態度", "態度/開放性"]


def test_a_dry_run_changes_nothing(network):
    result = import_rows(network, [["path"], ["A"], ["A/B"]], dry_run=True)
    assert result.created == 2
    assert not Code.objects.exists()


def test_a_codebook_with_errors_reports_each_row_and_imports_nothing(network):
    code(network, "Existing")
    with pytest.raises(TableError) as info:
        import_rows(
            network,
            [
                ["name", "path", "parent_path", "colour"],
                ["A", "A", "", "#ffffff"],  # 2: fine
                ["B", "B", "", "blue"],  # 3: not a colour
                ["", "Missing/C", "", ""],  # 4: parent neither here nor in the file
                ["A", "A", "", ""],  # 5: the same code as row 2
                ["X", "A/Y", "", ""],  # 6: name is not the path's last level
                ["", "A//Z", "", ""],  # 7: empty level
                ["Q", "A/Q", "B", ""],  # 8: parent path does not match
                ["", "", "", ""],  # blank rows are skipped
                ["", "", "", "#000000"],  # 10: no code at all
                ["R/S", "", "", ""],  # 11: a name with the path separator
            ],
        )
    assert [(e.row, e.column) for e in info.value.errors] == [
        (3, "colour"),
        (4, "path"),
        (5, "path"),
        (6, "name"),
        (7, "path"),
        (8, "parent_path"),
        (10, "path"),
        (11, "name"),
    ]
    assert paths(network) == ["Existing"]


def test_unknown_columns_and_a_file_without_a_code_column_are_refused(network):
    with pytest.raises(TableError) as unknown:
        import_rows(network, [["path", "weight"], ["A", "3"]])
    assert [(e.row, e.column) for e in unknown.value.errors] == [(1, "weight")]
    with pytest.raises(TableError) as nameless:
        import_rows(network, [["description"], ["x"]])
    assert [(e.row, e.column) for e in nameless.value.errors] == [(1, "path")]


def test_deleted_observations_leave_the_codebook_counts(network):
    trust = code(network, "Trust")
    note = factories.ObservationFactory(network=network)
    services.coding_add(observation=note, code=trust, user=None)
    Observation.objects.filter(pk=note.pk).update(deleted_at="2025-07-01T00:00Z")
    (node,) = selectors.code_tree(network=network, counts=True)
    assert node.observations == 0
    assert Memo.objects.count() == 0
