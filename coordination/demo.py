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
    return DemoResult(network=network, created=created, participants=people)
