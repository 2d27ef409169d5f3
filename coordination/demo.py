"""The demo network, shaped like the study's model case (DESIGN.md): two Niigata towns
about 50 km apart, 4 firms in one and 4 firms and a chamber of commerce in the other,
9 founding participants, 2 recruited later by members, and a coordinator.

The towns and their city-office coordinates are real; every person and firm is
fictional. Built through the same import services as a coordinator's upload, so
running it again changes nothing.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from django.db import transaction

from . import services
from .models import Network, NetworkRole, Participant

SLUG = "demo"
NAME = "燕・魚沼ものづくり連携ネットワーク（デモ）"
DESCRIPTION = (
    "燕市と魚沼市の製造業経営者が互いの工場を訪ね、学び合い、災害時には助け合う"
    "ための地域間ネットワーク（デモデータ：人物・企業はすべて架空です）。"
)
PASSWORD = "hubless-demo-2026"
COORDINATOR_EMAIL = "morita@example.jp"
RESEARCHER_EMAIL = "researcher@example.jp"

REGIONS = [
    # name, prefecture, latitude, longitude, population (2020 census), municipality_code
    ("燕市", "新潟県", 37.673149, 138.882249, 77201, "15213"),
    ("魚沼市", "新潟県", 37.236431, 138.963775, 34988, "15225"),
]

# full_name, kana, email, organization, kind, region, role, joined_on, recruited_by
PEOPLE = [
    (
        "森田 陽子",
        "もりた ようこ",
        COORDINATOR_EMAIL,
        "にいがた地域連携研究室",
        "university",
        "燕市",
        "coordinator",
        "2025-04-01",
        "",
    ),
    (
        "山本 健一",
        "やまもと けんいち",
        "k.yamamoto@example.jp",
        "山本金属工業株式会社",
        "firm",
        "燕市",
        "member",
        "2025-04-19",
        "",
    ),
    (
        "佐藤 美咲",
        "さとう みさき",
        "m.sato@example.jp",
        "有限会社佐藤研磨製作所",
        "firm",
        "燕市",
        "member",
        "2025-04-19",
        "",
    ),
    (
        "高橋 誠",
        "たかはし まこと",
        "m.takahashi@example.jp",
        "高橋洋食器株式会社",
        "firm",
        "燕市",
        "member",
        "2025-04-19",
        "",
    ),
    (
        "渡辺 浩二",
        "わたなべ こうじ",
        "k.watanabe@example.jp",
        "渡辺精密株式会社",
        "firm",
        "燕市",
        "member",
        "2025-04-19",
        "",
    ),
    (
        "小林 直樹",
        "こばやし なおき",
        "n.kobayashi@example.jp",
        "小林電子株式会社",
        "firm",
        "魚沼市",
        "member",
        "2025-04-19",
        "",
    ),
    (
        "中村 由美",
        "なかむら ゆみ",
        "y.nakamura@example.jp",
        "中村プラスチック工業株式会社",
        "firm",
        "魚沼市",
        "member",
        "2025-04-19",
        "",
    ),
    (
        "加藤 隆",
        "かとう たかし",
        "t.kato@example.jp",
        "加藤鉄工所",
        "firm",
        "魚沼市",
        "member",
        "2025-04-19",
        "",
    ),
    (
        "吉田 真理子",
        "よしだ まりこ",
        "m.yoshida@example.jp",
        "吉田食品機械株式会社",
        "firm",
        "魚沼市",
        "member",
        "2025-04-19",
        "",
    ),
    (
        "斎藤 修",
        "さいとう おさむ",
        "o.saito@example.jp",
        "魚沼市商工会（デモ）",
        "chamber_of_commerce",
        "魚沼市",
        "member",
        "2025-04-19",
        "",
    ),
    (
        "松本 翔太",
        "まつもと しょうた",
        "s.matsumoto@example.jp",
        "松本めっき工業株式会社",
        "firm",
        "燕市",
        "member",
        "2025-11-08",
        "m.sato@example.jp",
    ),
    (
        "井上 彩",
        "いのうえ あや",
        "a.inoue@example.jp",
        "井上木工所",
        "firm",
        "魚沼市",
        "member",
        "2026-05-16",
        "y.nakamura@example.jp",
    ),
]


@dataclass
class DemoResult:
    network: Network
    created: bool
    participants: services.ImportResult


def _csv(header: list[str], rows: list[tuple]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


@transaction.atomic
def demo_seed() -> DemoResult:
    network, created = Network.objects.get_or_create(
        slug=SLUG, defaults={"name": NAME, "description": DESCRIPTION}
    )
    services.regions_import(
        network=network,
        data=_csv(services.REGION_COLUMNS, REGIONS),
        filename="regions.csv",
        dry_run=False,
    )
    header = ["full_name", "name_kana", "email", "organization", "organization_kind"]
    header += ["region", "role", "joined_on", "recruited_by"]
    people = services.participants_import(
        network=network, data=_csv(header, PEOPLE), filename="participants.csv", dry_run=False
    )
    for email, role in (
        (COORDINATOR_EMAIL, NetworkRole.Role.COORDINATOR),
        (RESEARCHER_EMAIL, NetworkRole.Role.RESEARCHER),
    ):
        user = services.user_for_email(email=email)
        user.is_staff = True
        user.set_password(PASSWORD)
        user.save()
        user.emailaddress_set.filter(email=email).update(verified=True)
        services.network_role_set(network=network, user=user, role=role)
    # Every demo participant can sign in by code straight away.
    for participant in Participant.objects.filter(network=network, user__isnull=True):
        participant.user = services.user_for_email(
            email=participant.email, display_name=participant.full_name
        )
        participant.save(update_fields=["user"])
    _seed_events(network)
    _seed_bulletins(network)
    return DemoResult(network=network, created=created, participants=people)


# title, kind, start (Asia/Tokyo), hours, region, venue, host organization, status
EVENTS = [
    (
        "キックオフ会議",
        "kickoff",
        "2025-04-19 13:30",
        4,
        "燕市",
        "燕市産業史料館 研修室",
        "",
        "held",
    ),
    (
        "燕の工場見学（研磨・プレス）",
        "site_visit",
        "2025-08-23 10:00",
        5,
        "燕市",
        "有限会社佐藤研磨製作所",
        "有限会社佐藤研磨製作所",
        "held",
    ),
    (
        "第2回交流会：災害時の相互支援を考える",
        "meeting",
        "2025-11-08 14:00",
        3,
        "魚沼市",
        "魚沼市小出郷文化会館",
        "",
        "held",
    ),
    (
        "魚沼の工場見学（樹脂成形）",
        "site_visit",
        "2026-05-16 10:00",
        5,
        "魚沼市",
        "中村プラスチック工業株式会社",
        "中村プラスチック工業株式会社",
        "held",
    ),
    (
        "第3回交流会：共同受注の進め方",
        "meeting",
        "2026-10-17 14:00",
        3,
        "燕市",
        "燕三条地場産業振興センター",
        "",
        "held",
    ),
    (
        "新年交流会と2027年の計画",
        "meeting",
        "2027-01-23 14:00",
        3,
        "魚沼市",
        "魚沼市商工会 会議室",
        "",
        "scheduled",
    ),
]


def _seed_events(network: Network) -> None:
    """Five past meetings and visits with attendance, and one coming meeting with
    some answers in: the portal and the event pages have something to show. Built
    directly (no e-mails go out for history)."""
    import datetime as dt
    import zoneinfo

    from .models import Event, Invitation, Organization, Region

    tokyo = zoneinfo.ZoneInfo("Asia/Tokyo")
    people = list(Participant.objects.filter(network=network).order_by("pk"))
    for index, (title, kind, start, hours, region, venue, host, status) in enumerate(EVENTS):
        starts = dt.datetime.strptime(start, "%Y-%m-%d %H:%M").replace(tzinfo=tokyo)
        event, created = Event.objects.get_or_create(
            network=network,
            title=title,
            defaults={
                "kind": kind,
                "starts_at": starts,
                "ends_at": starts + dt.timedelta(hours=hours),
                "region": Region.objects.get(network=network, name=region),
                "venue": venue,
                "host_organization": Organization.objects.filter(
                    network=network, name=host
                ).first(),
                "status": status,
                "attendance_recorded": status == "held",
                "capacity": 20,
                "rsvp_deadline": starts - dt.timedelta(days=7),
                "reminder_days": [7, 1],
                "description": "燕市・魚沼市の参加者の交流と学び合いの場です。\n\n- 各社の近況報告\n- 見学・意見交換\n- 懇親会（希望者）",
            },
        )
        if not created:
            continue
        invited = [p for p in people if p.joined_on <= starts.date()]
        invitations = []
        for number, person in enumerate(invited):
            if status == "held":
                # Most come; a rotating few cannot.
                answer = "no" if (number + index) % 5 == 0 else "yes"
            else:
                answer = ["yes", "yes", "maybe", "pending", "no"][number % 5]
            invitations.append(
                Invitation(
                    event=event,
                    participant=person,
                    answer=answer,
                    answered_at=None if answer == "pending" else starts - dt.timedelta(days=10),
                    attended=status == "held" and answer == "yes",
                    mailed_sequence=event.sequence,
                    mailed_at=starts - dt.timedelta(days=30),
                )
            )
        Invitation.objects.bulk_create(invitations)


# subject, kind, sent on
BULLETINS = [
    ("キックオフ会議のご案内", "invitation", "2025-03-20"),
    ("キックオフを終えて：両地域の強みと課題", "reflection", "2025-04-28"),
    ("燕の工場見学のご案内", "invitation", "2025-07-25"),
    ("文献紹介：中越地震と事業継続の教訓", "literature_digest", "2025-09-10"),
    ("第2回交流会を振り返って", "reflection", "2025-11-20"),
    ("魚沼の工場見学のご案内", "invitation", "2026-04-15"),
    ("他地域の視察から：地域間連携の先行事例", "literature_digest", "2026-07-08"),
    ("第3回交流会を振り返って：共同受注に向けて", "reflection", "2026-10-30"),
]


def _seed_bulletins(network: Network) -> None:
    """The eight bulletins of the model case, as sent, some read (no e-mails go out)."""
    import datetime as dt
    import zoneinfo

    from django.contrib.auth import get_user_model

    from .models import Bulletin, Delivery

    tokyo = zoneinfo.ZoneInfo("Asia/Tokyo")
    author = get_user_model().objects.filter(email=COORDINATOR_EMAIL).first()
    people = list(Participant.objects.filter(network=network).order_by("pk"))
    for index, (subject, kind, day) in enumerate(BULLETINS):
        sent = dt.datetime.fromisoformat(day).replace(hour=9, tzinfo=tokyo)
        bulletin, created = Bulletin.objects.get_or_create(
            network=network,
            subject=subject,
            defaults={
                "kind": kind,
                "body": f"{subject}\n\n参加者の皆さま、いつもありがとうございます。\n\n"
                "- 前回の振り返り\n- 次回に向けて\n\nコーディネーター 森田",
                "audience": {"everyone": True},
                "status": Bulletin.Status.SENT,
                "author": author,
                "started_at": sent,
                "finished_at": sent + dt.timedelta(minutes=2),
            },
        )
        if not created:
            continue
        Delivery.objects.bulk_create(
            [
                Delivery(
                    bulletin=bulletin,
                    participant=person,
                    status=Delivery.Status.SENT,
                    attempts=1,
                    sent_at=sent,
                    # Earlier bulletins were read more than the later ones.
                    read_at=sent + dt.timedelta(hours=number + 1)
                    if (number + index) % 3 != 0
                    else None,
                )
                # The founders were on the list before the kickoff; recruits from joining.
                for number, person in enumerate(
                    p for p in people if p.recruited_by_id is None or p.joined_on <= sent.date()
                )
            ]
        )
