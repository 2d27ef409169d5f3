"""The demo network's mutual-support data: capabilities and needs of the Tsubame and
Uonuma firms, one agreement, and one past drill with its results. Idempotent."""

from __future__ import annotations

import datetime as dt
import secrets

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from coordination.models import Event, Network, Organization, Participant

from . import services
from .models import Agreement, Capability, Incident, Need, Reply

# organization, category, process, description, quantity
CAPABILITIES = [
    ("山本金属工業株式会社", "process", "press", "200tサーボプレス", "2台・夜間稼働可"),
    ("有限会社佐藤研磨製作所", "process", "polishing", "バフ研磨（ステンレス洋食器）", "職人4名"),
    ("松本めっき工業株式会社", "process", "plating", "ニッケル・クロムめっきライン", "月3万個"),
    ("渡辺精密株式会社", "process", "machining", "5軸マシニングセンタ", "3台"),
    ("高橋洋食器株式会社", "material", "", "SUS304板材の在庫", "約3t"),
    ("高橋洋食器株式会社", "space", "", "倉庫", "200㎡"),
    (
        "中村プラスチック工業株式会社",
        "process",
        "injection_moulding",
        "射出成形機 100〜350t",
        "8台",
    ),
    ("加藤鉄工所", "process", "machining", "マシニングセンタ", "2台"),
    ("加藤鉄工所", "process", "press", "110tプレス", "1台"),
    ("吉田食品機械株式会社", "skill", "", "溶接技能者（TIG）", "3名"),
    ("吉田食品機械株式会社", "transport", "", "4tトラック", "2台"),
]
# organization, category, process, description, critical
NEEDS = [
    ("山本金属工業株式会社", "process", "press", "プレス加工の代替生産（月2万ショット）", True),
    ("山本金属工業株式会社", "process", "plating", "めっき外注先の代替", True),
    ("有限会社佐藤研磨製作所", "process", "polishing", "研磨工程の代替", True),
    ("中村プラスチック工業株式会社", "process", "injection_moulding", "射出成形の代替生産", True),
    ("中村プラスチック工業株式会社", "process", "machining", "金型の修理", True),
    ("中村プラスチック工業株式会社", "transport", "", "製品の緊急輸送", False),
    ("加藤鉄工所", "process", "plating", "めっき外注先の代替", True),
]
AGREEMENT = ("山本金属工業株式会社", "中村プラスチック工業株式会社")
DRILL_TITLE = "燕市被災想定の相互支援訓練（2026年3月）"
DRILL_START = dt.datetime(2026, 3, 10, 10, 0)
# Uonuma's answers in the drill: organization, can help, what, hours, minutes after the ask
DRILL_ANSWERS = {
    "加藤鉄工所": (True, "110tプレスで一部代替可能", 24, 18),
    "中村プラスチック工業株式会社": (True, "倉庫と輸送を提供", 72, 35),
    "吉田食品機械株式会社": (False, "", None, 52),
}


def _org(network: Network, name: str) -> Organization | None:
    return Organization.objects.filter(network=network, name=name).first()


def _contact(organization: Organization) -> Participant | None:
    return organization.participants.order_by("joined_on", "pk").first()


@transaction.atomic
def continuity_demo_seed(*, network: Network) -> dict[str, int]:
    """Adds what is missing; running it again changes nothing."""
    from coordination.demo import COORDINATOR_EMAIL

    user = get_user_model().objects.filter(email=COORDINATOR_EMAIL).first()
    added = {"capabilities": 0, "needs": 0, "agreements": 0, "drills": 0}
    for name, category, process, description, quantity in CAPABILITIES:
        org = _org(network, name)
        if org is None:
            continue
        if not Capability.objects.filter(organization=org, description=description).exists():
            services.capability_save(
                organization=org,
                data={
                    "category": category,
                    "process": process,
                    "description": description,
                    "quantity": quantity,
                },
            )
            added["capabilities"] += 1
    for name, category, process, description, critical in NEEDS:
        org = _org(network, name)
        if org is None:
            continue
        if not Need.objects.filter(organization=org, description=description).exists():
            services.need_save(
                organization=org,
                data={
                    "category": category,
                    "process": process,
                    "description": description,
                    "critical": critical,
                },
            )
            added["needs"] += 1

    a, b = (_org(network, name) for name in AGREEMENT)
    if a and b and not Agreement.objects.filter(organization_a=a, organization_b=b).exists():
        contact_a, contact_b = _contact(a), _contact(b)
        if contact_a and contact_b:
            services.agreement_save(
                network=network,
                data={
                    "organization_a": a,
                    "organization_b": b,
                    "contact_a": contact_a,
                    "contact_b": contact_b,
                    "offers_a": "プレス加工の代替生産、金型の保管スペース",
                    "offers_b": "射出成形の代替生産、倉庫と輸送",
                    "status": Agreement.Status.IN_FORCE,
                    "signed_on": dt.date(2025, 10, 1),
                    "review_on": dt.date(2027, 4, 1),
                    "note": "2004年中越地震の教訓から、被災時の代替生産と人の派遣を事前に取り決め。",
                },
                user=user,
            )
            added["agreements"] += 1

    if not Incident.objects.filter(network=network, title=DRILL_TITLE).exists():
        added["drills"] += _past_drill(network, user)
    return added


def _past_drill(network: Network, user) -> int:
    """A finished drill, its answers and results, without sending any mail."""
    names = ("山本金属工業株式会社", "有限会社佐藤研磨製作所")
    down = [o for o in (_org(network, name) for name in names) if o]
    if not down:
        return 0
    start = timezone.make_aware(DRILL_START)
    incident = services.drill_schedule(
        network=network,
        data={
            "title": DRILL_TITLE,
            "region": down[0].region,
            "starts_at": start,
            "ends_at": start + dt.timedelta(hours=2),
            "description": "震度6強の地震で燕市の工場が停止した想定。"
            "山本金属工業と佐藤研磨製作所が操業不能、プレスと研磨の工程が失われた。",
        },
        organizations=down,
        user=user,
    )
    Incident.objects.filter(pk=incident.pk).update(
        status=Incident.Status.ACTIVE, activated_at=start
    )
    incident.refresh_from_db()
    requests = services._build_requests(incident)
    partners = services.incident_partners(incident=incident, requests=requests)
    for org in Organization.objects.filter(pk__in=partners.organizations):
        contact = _contact(org)
        if contact is None:
            continue
        reply = Reply.objects.create(
            incident=incident,
            participant=contact,
            organization=org,
            via_agreement=org.pk in partners.by_agreement,
            via_capability=org.pk in partners.by_capability,
            digest=secrets.token_hex(32),  # no link was mailed: nothing can match it
            notified_at=start,
        )
        answer = DRILL_ANSWERS.get(org.name)
        if answer is None:
            continue
        can_help, what, hours, minutes = answer
        offered = [r.pk for r in requests if org.pk in partners.providers.get(r.pk, set())]
        services.reply_answer(
            reply=reply,
            can_help=can_help,
            request_ids=offered if can_help else [],
            what=what,
            hours=hours,
            now=start + dt.timedelta(minutes=minutes),
        )
    services.incident_close(incident=incident, user=user, now=start + dt.timedelta(hours=2))
    Event.objects.filter(pk=incident.event_id).update(status=Event.Status.HELD)
    return 1
