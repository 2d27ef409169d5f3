"""Pseudonymised exports name nobody: a property test over generated names (Japanese,
kana, Latin with spaces and accents), e-mail addresses and organization names (with and
without their legal form), put into participants, organizations, staff and every free
text, checked against every pseudonymised format of the observation export and of the
network export. Then the cases the export masks beyond Masker, and what is still
missed."""

from __future__ import annotations

import datetime as dt
import html
import io
import json
import re
import zipfile
from itertools import count

import openpyxl
import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from coordination.models import Event, Network, NetworkRole, Organization, Participant, Region
from observations.export import network_export
from observations.export_log import log_export_write
from observations.models import Code, Coding, Memo, Observation, Tie
from observations.pseudonyms import MIN_PART, pseudonym
from tests import factories

# Text every export holds whatever the data (the GEXF writer's name and description,
# GraphML's booleans): a generated name that is part of it proves nothing, so skipped.
NEUTRAL = "Hubless network NetworkX True False"
OBSERVATION_FORMATS = ["csv", "xlsx", "json"]
NETWORK_FORMATS = ["graphml", "gexf", "csv", "json"]

KANJI = "山田川本中村小林高橋佐藤鈴木伊渡辺加吉野松井森池上石原清水斎早坂大燕三条長岡魚沼"
KATAKANA = "".join(chr(c) for c in range(0x30A2, 0x30F3))
LATIN_LOWER = "abcdefghijklmnopqrstuvwxyzéüøß"
LEGAL = ["株式会社{}", "{}株式会社", "有限会社{}", "(株){}", "{} Co., Ltd.", "{} Inc."]

kanji_word = st.text(alphabet=KANJI, min_size=1, max_size=3)
latin_word = st.text(alphabet=LATIN_LOWER, min_size=2, max_size=8).map(str.capitalize)
kana_word = st.text(alphabet=KATAKANA, min_size=2, max_size=5)

person_name = st.one_of(
    st.tuples(kanji_word, st.sampled_from([" ", "\u3000", ""]), kanji_word).map("".join),
    st.lists(latin_word, min_size=2, max_size=3).map(" ".join),
)
reading = st.lists(kana_word, min_size=1, max_size=2).map(" ".join)
email = st.builds(
    "{}.{}@{}.{}".format,
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=6),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=6),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=8),
    st.sampled_from(["jp", "co.jp", "com", "org"]),
)
# (name with its legal form, the name without it, a reading)
organization = st.tuples(
    st.one_of(st.tuples(kanji_word, kanji_word).map("".join), latin_word),
    st.sampled_from(LEGAL),
    st.one_of(st.just(""), reading),
).map(lambda t: (t[1].format(t[0]), t[0], t[2]))

people_strategy = st.lists(
    st.tuples(person_name, reading, email),
    min_size=2,
    max_size=4,
    unique_by=(lambda p: p[0], lambda p: p[2]),
)
organizations_strategy = st.lists(organization, min_size=1, max_size=3, unique_by=lambda o: o[0])
_networks = count()


class _Rollback(Exception):
    pass


def _build(people, organizations, staff_name) -> tuple[Network, list[str]]:
    """A network whose every free text names its people, firms and staff; returns it
    with the strings that must not survive a pseudonymised export."""
    network = Network.objects.create(slug=f"prop-{next(_networks)}", name="n-study")
    region = Region.objects.create(network=network, name="r-north")
    firms = [
        Organization.objects.create(network=network, region=region, name=name, name_kana=kana)
        for name, _bare, kana in organizations
    ]
    members = [
        Participant.objects.create(
            network=network,
            organization=firms[i % len(firms)],
            full_name=name,
            name_kana=kana,
            email=address,
            joined_on=dt.date(2025, 4, 1),
        )
        for i, (name, kana, address) in enumerate(people)
    ]
    staff = factories.UserFactory(email="staff.person@example.net", display_name=staff_name)
    NetworkRole.objects.create(network=network, user=staff, role=NetworkRole.Role.RESEARCHER)

    secrets = [staff_name, staff.email]
    mentions = [staff_name, staff.email]
    for name, kana, address in people:
        secrets += [name, kana, address]
        parts = [p for p in re.split(r"[\s\u3000]+", name) if len(p) >= MIN_PART]
        secrets += parts if len(parts) > 1 else []
        mentions += [name, kana, address, *parts]
    for name, bare, kana in organizations:
        secrets += [name, bare] if len(bare) >= MIN_PART else [name]
        secrets += [kana] if kana else []
        mentions += [name, bare, kana]
    text = (
        "、".join(mentions) + f"。 {people[0][0]}さんが{organizations[0][1]}を訪問 ({people[1][2]})"
    )

    starts = timezone.make_aware(dt.datetime(2025, 6, 1, 10, 0))
    event = Event.objects.create(
        network=network,
        title=f"{organizations[0][0]} 見学 with {people[0][0]}",
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=2),
    )
    observation = Observation.objects.create(
        network=network,
        observed_on=dt.date(2025, 6, 1),
        event=event,
        author=staff,
        category=Observation.Category.COLLABORATION,
        title=f"{people[1][0]} と {organizations[0][0]}",
        body=text,
    )
    observation.participants.set(members)
    observation.organizations.set(firms)
    observation.regions.set([region])
    code = Code.objects.create(
        network=network, name=f"{organizations[0][1]} の協力", description=text
    )
    Coding.objects.create(
        observation=observation, code=code, start=0, end=5, quote=text, created_by=staff
    )
    Coding.objects.create(observation=observation, code=code, created_by=staff)
    Memo.objects.create(network=network, observation=observation, author=staff, body=text)
    Memo.objects.create(network=network, code=code, body=text)
    Memo.objects.create(network=network, author=staff, body=f"journal: {text}")
    Tie.objects.create(
        network=network,
        source=members[0],
        target=members[1],
        kind=Tie.Kind.JOINT_PROJECT,
        started_on=dt.date(2025, 6, 2),
        initiated_by=members[-1],
        origin_event=event,
        note=text,
    )
    return network, sorted(set(secrets), key=len, reverse=True)


def _texts(data: bytes, fmt: str) -> list[str]:
    """Every way the file may hold a string: its decoded text (with XML entities
    resolved), the members of a ZIP, the cells of a workbook."""
    if fmt == "csv":
        archive = zipfile.ZipFile(io.BytesIO(data))
        return [archive.read(name).decode("utf-8-sig") for name in archive.namelist()]
    if fmt == "xlsx":
        # The cells (the workbook's own XML is full of words like "Excel" and "Target").
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
        cells = [str(v) for sheet in workbook for row in sheet.values for v in row if v]
        return ["\n".join(cells + workbook.sheetnames)]
    text = data.decode("utf-8")
    return [text, html.unescape(text)]


def _exports(network: Network) -> dict[str, bytes]:
    files = {}
    for fmt in OBSERVATION_FORMATS:
        buffer = io.BytesIO()
        log_export_write(network=network, fmt=fmt, fp=buffer, pseudonymized=True)
        files[f"observations.{fmt}"] = buffer.getvalue()
    for fmt in NETWORK_FORMATS:
        buffer = io.BytesIO()
        network_export(network=network, fmt=fmt, fp=buffer, pseudonymized=True)
        files[f"network.{fmt}"] = buffer.getvalue()
    return files


@pytest.mark.django_db
@settings(
    max_examples=10,
    deadline=None,
    database=None,  # nothing written into the checkout; failures print their example
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(people=people_strategy, organizations=organizations_strategy, staff_name=person_name)
def test_no_name_survives_any_pseudonymised_export(people, organizations, staff_name):
    names = [p[0] for p in people] + [o[0] for o in organizations] + [staff_name]
    assume(len(set(names)) == len(names))
    try:
        with transaction.atomic():  # each example leaves nothing behind
            network, secrets = _build(people, organizations, staff_name)
            assume(not any(secret in NEUTRAL for secret in secrets))
            for name, data in _exports(network).items():
                fmt = name.rsplit(".", 1)[1]
                for text in _texts(data, fmt):
                    for secret in secrets:
                        assert secret not in text, (name, secret)
                if name == "observations.json":
                    payload = json.loads(data)
                    assert payload["pseudonymized"] is True
                    observation = payload["observations"][0]
                    assert observation["participants"] == [
                        pseudonym(network, p.pk) for p in network.participants.order_by("pk")
                    ]
            raise _Rollback
    except _Rollback:
        pass


# --- stability -------------------------------------------------------------------------


def _observation_json(network) -> dict:
    buffer = io.BytesIO()
    log_export_write(network=network, fmt="json", fp=buffer, pseudonymized=True)
    return json.loads(buffer.getvalue())


def test_pseudonyms_are_the_same_in_both_exports_and_differ_between_networks(
    network, other_network, member_a, member_b
):
    observation = factories.ObservationFactory(network=network, title="Member A meets Member B")
    observation.participants.add(member_a, member_b)
    first, second = _observation_json(network), _observation_json(network)
    assert first["observations"] == second["observations"]
    names = first["observations"][0]["participants"]
    assert names == [pseudonym(network, member_a.pk), pseudonym(network, member_b.pk)]
    assert first["observations"][0]["title"] == f"{names[0]} meets {names[1]}"

    buffer = io.BytesIO()
    network_export(network=network, fmt="json", fp=buffer, pseudonymized=True)
    graph = json.loads(buffer.getvalue())
    assert set(names) <= {node["id"] for node in graph["nodes"]}  # one name in both exports

    # The same record keys in another network give other pseudonyms.
    assert pseudonym(other_network, member_a.pk) != names[0]
    assert pseudonym(other_network, member_a.organization.pk, "organization") != pseudonym(
        network, member_a.organization.pk, "organization"
    )


# --- what the export masks beyond Masker, and what it still misses ----------------------


def _masked_body(network, body: str) -> str:
    factories.ObservationFactory(network=network, title="t", body=body)
    return _observation_json(network)["observations"][0]["body"]


@pytest.mark.parametrize(
    ("full_name", "kana", "firm", "written"),
    [
        ("Jörg Straße", "", "Nord GmbH", "Straße"),  # folds to "strasse"
        ("Taro Suzuki", "", "ＡＢＣ精工", "ABC精工"),  # stored full-width, written ASCII
        ("Taro Suzuki", "", "XYZ精工", "ＸＹＺ精工"),  # stored ASCII, written full-width
        ("Taro Suzuki", "", "㈱燕精工", "燕精工"),  # ㈱ is (株) once normalised
        ("山田 太郎", "ヤマダ タロウ", "Lab", "やまだ"),  # the reading in hiragana
        ("山田 太郎", "ヤマダ タロウ", "Lab", "ﾔﾏﾀﾞ"),  # and in half-width katakana
    ],
)
def test_the_export_masks_what_masker_misses(network, region_a, full_name, kana, firm, written):
    organization = factories.OrganizationFactory(network=network, region=region_a, name=firm)
    factories.ParticipantFactory(
        network=network, organization=organization, full_name=full_name, name_kana=kana
    )
    body = _masked_body(network, f"会った: {written}。")
    assert written not in body
    assert re.search(r"[PO]-[0-9a-f]{8}", body)


def test_the_export_masks_staff_names(network, researcher):
    researcher.display_name = "佐藤 研究員"
    researcher.save()
    body = _masked_body(network, "佐藤 研究員 が記録")
    assert "佐藤" not in body
    assert pseudonym(network, researcher.pk, "user") in body


@pytest.mark.xfail(
    strict=True,
    reason="Masker splits names on spaces only: a name stored without one ('山田太郎') "
    "is not found by its family name ('山田さん'). Reported; store names with a space.",
)
def test_a_family_name_alone_is_masked_when_the_name_has_no_space(network, region_a):
    factories.ParticipantFactory(network=network, full_name="山田太郎", name_kana="ヤマダタロウ")
    assert "山田" not in _masked_body(network, "山田さんと話した")
