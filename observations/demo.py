"""The demo network's collaborations (DESIGN's model case): ties the coordinator
brokered at the first meetings, across and within the two towns, and two firms that met
at a meeting and started several joint projects on their own."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from coordination.demo import COORDINATOR_EMAIL
from coordination.models import Event, Network, Participant

from .models import Tie

# source, target, kind, started_on, brokered by the coordinator, met at (event title)
TIES = [
    (
        "k.yamamoto@example.jp",
        "n.kobayashi@example.jp",
        "acquaintance",
        "2025-04-19",
        True,
        "キックオフ会議",
    ),
    (
        "m.sato@example.jp",
        "y.nakamura@example.jp",
        "acquaintance",
        "2025-04-19",
        True,
        "キックオフ会議",
    ),
    (
        "m.takahashi@example.jp",
        "t.kato@example.jp",
        "information_exchange",
        "2025-04-19",
        True,
        "キックオフ会議",
    ),
    (
        "k.watanabe@example.jp",
        "m.yoshida@example.jp",
        "information_exchange",
        "2025-08-23",
        True,
        "燕の工場見学（研磨・プレス）",
    ),
    (
        "o.saito@example.jp",
        "k.yamamoto@example.jp",
        "information_exchange",
        "2025-08-23",
        True,
        "燕の工場見学（研磨・プレス）",
    ),
    ("m.sato@example.jp", "m.takahashi@example.jp", "transaction", "2025-06-01", False, ""),
    (
        "y.nakamura@example.jp",
        "k.yamamoto@example.jp",
        "acquaintance",
        "2025-11-08",
        False,
        "第2回交流会：災害時の相互支援を考える",
    ),
    (
        "y.nakamura@example.jp",
        "k.yamamoto@example.jp",
        "joint_project",
        "2026-01-15",
        False,
        "第2回交流会：災害時の相互支援を考える",
    ),
    ("y.nakamura@example.jp", "k.yamamoto@example.jp", "joint_project", "2026-06-01", False, ""),
    (
        "y.nakamura@example.jp",
        "k.yamamoto@example.jp",
        "mutual_support_agreement",
        "2026-07-01",
        True,
        "",
    ),
    (
        "s.matsumoto@example.jp",
        "n.kobayashi@example.jp",
        "transaction",
        "2026-05-16",
        False,
        "魚沼の工場見学（樹脂成形）",
    ),
    (
        "a.inoue@example.jp",
        "m.sato@example.jp",
        "acquaintance",
        "2026-10-17",
        False,
        "第3回交流会：共同受注の進め方",
    ),
]


@transaction.atomic
def ties_seed(*, network: Network) -> int:
    """Idempotent: a tie that exists (same pair, kind and start) is left alone."""
    people = {p.email: p for p in Participant.objects.filter(network=network)}
    events = {e.title: e for e in Event.objects.filter(network=network)}
    coordinator = people.get(COORDINATOR_EMAIL)
    created = 0
    for source, target, kind, started, brokered, met_at in TIES:
        a, b = people[source], people[target]
        started_on = dt.date.fromisoformat(started)
        exists = Tie.objects.filter(
            network=network, kind=kind, started_on=started_on, deleted_at__isnull=True
        ).filter(source__in=[a, b], target__in=[a, b])
        if exists.exists():
            continue
        Tie.objects.create(
            network=network,
            source=a,
            target=b,
            kind=kind,
            started_on=started_on,
            initiated_by=coordinator if brokered else None,
            origin_event=events.get(met_at),
        )
        created += 1
    return created


# --- the observation log ---------------------------------------------------------------

METRICS = [("参加企業数", "社"), ("地域間取引件数", "件"), ("新規共同プロジェクト数", "件")]

# name, parent, colour, description
CODES = [
    ("態度の変化", "", "#ffb74d", "経営者の考え方や関わり方の変化"),
    ("当事者意識", "態度の変化", "#ffcc80", "コーディネーター任せから自分たちで動くへ"),
    ("警戒・ためらい", "態度の変化", "#ffe0b2", "技術やノウハウを見せることへの迷い"),
    ("相互学習", "", "#81c784", "地域を越えて学び合う場面"),
    ("技術の学び", "相互学習", "#a5d6a7", ""),
    ("経営の学び", "相互学習", "#c8e6c9", ""),
    ("支援機関の姿勢", "", "#64b5f6", "自治体・商工会・支援機関の関わり方"),
    ("災害時の相互支援", "", "#e57373", "BCP・代替生産・人の派遣"),
]

# date, time, event title, category, kind, title, body, people (e-mails),
# metric, value, rating, [(code, quoted passage or "" for the whole observation)], memo
OBSERVATIONS = [
    (
        "2025-04-19",
        "15:30",
        "キックオフ会議",
        "meeting_atmosphere",
        "qualitative",
        "初対面の緊張、名刺交換で和らぐ",
        "最初の30分は各地域で固まって座っていた。名刺交換のあと、山本 健一さんが"
        "中村プラスチック工業株式会社の成形品を手に取り、質問を始めてから空気が変わった。\n\n"
        "終了後も15分ほど立ち話が続いた。",
        ["k.yamamoto@example.jp", "y.nakamura@example.jp"],
        None,
        None,
        3,
        [("相互学習", "質問を始めてから空気が変わった"), ("態度の変化", "")],
        "初回は地域ごとの席配置が固定化を招いた。次回は混成テーブルにする。",
    ),
    (
        "2025-04-19",
        "17:00",
        "キックオフ会議",
        "network_expansion",
        "quantitative",
        "キックオフ時点の参加企業",
        "燕市5社、魚沼市4社と商工会。",
        [],
        "参加企業数",
        9,
        None,
        [],
        "",
    ),
    (
        "2025-08-23",
        "11:00",
        "燕の工場見学（研磨・プレス）",
        "mutual_learning",
        "qualitative",
        "研磨工程の見学で技術の話が弾む",
        "佐藤研磨製作所の研磨ラインで、吉田 真理子さんが食品機械の部品の仕上げについて"
        "具体的な相談をした。佐藤 美咲さんは「うちのやり方を見せるのは初めて」と言い、"
        "少しためらいながらも工程を説明した。",
        ["m.sato@example.jp", "m.yoshida@example.jp"],
        None,
        None,
        4,
        [
            ("技術の学び", "食品機械の部品の仕上げについて具体的な相談をした"),
            ("警戒・ためらい", "少しためらいながらも工程を説明した"),
        ],
        "",
    ),
    (
        "2025-08-23",
        "16:00",
        "燕の工場見学（研磨・プレス）",
        "stakeholder_stance",
        "qualitative",
        "商工会が次回の会場提供を申し出る",
        "魚沼市商工会（デモ）の斎藤 修さんが、次回の魚沼での見学会に会議室を提供すると"
        "申し出た。自治体の担当者は参加していない。",
        ["o.saito@example.jp"],
        None,
        None,
        None,
        [("支援機関の姿勢", "会議室を提供すると申し出た")],
        "",
    ),
    (
        "2025-11-08",
        "14:00",
        "第2回交流会：災害時の相互支援を考える",
        "bcp",
        "qualitative",
        "中越地震の経験談に全員が聞き入る",
        "加藤 隆さんが2004年の中越地震で取引先から人が来て機械を直してくれた話をした。"
        "「事前に決めていたわけではなかった」という言葉に、燕の参加者が深くうなずいていた。"
        "その場で、代替生産の可能性をリストにしようという提案が出た。",
        ["t.kato@example.jp"],
        None,
        None,
        5,
        [
            ("災害時の相互支援", "代替生産の可能性をリストにしようという提案が出た"),
            ("当事者意識", "その場で、代替生産の可能性をリストにしようという提案が出た"),
        ],
        "提案したのは参加者自身で、コーディネーターではない。自走化の最初の兆しとして記録。",
    ),
    (
        "2025-12-01",
        "",
        "",
        "collaboration",
        "quantitative",
        "2025年の地域間取引",
        "佐藤研磨製作所と高橋洋食器の取引を含む（同一地域内は除く）。",
        [],
        "地域間取引件数",
        1,
        None,
        [],
        "",
    ),
    (
        "2026-01-20",
        "",
        "",
        "attitude_change",
        "qualitative",
        "共同プロジェクトを自分たちで始めた",
        "中村 由美さんと山本 健一さんが、コーディネーターを介さずに共同での試作を始めたと"
        "電話で知らせてくれた。「森田さんに頼らずにやってみたかった」とのこと。",
        ["y.nakamura@example.jp", "k.yamamoto@example.jp"],
        None,
        None,
        5,
        [("当事者意識", "コーディネーターを介さずに共同での試作を始めた")],
        "",
    ),
    (
        "2026-05-16",
        "13:30",
        "魚沼の工場見学（樹脂成形）",
        "mutual_learning",
        "qualitative",
        "樹脂成形とめっきの組み合わせ",
        "松本めっき工業株式会社の松本 翔太さんが、樹脂へのめっきの可能性について"
        "小林電子の小林 直樹さんと長く話していた。後日見積もりのやり取りが始まった。",
        ["s.matsumoto@example.jp", "n.kobayashi@example.jp"],
        None,
        None,
        4,
        [("技術の学び", "樹脂へのめっきの可能性について"), ("経営の学び", "")],
        "",
    ),
    (
        "2026-06-30",
        "",
        "",
        "collaboration",
        "quantitative",
        "上半期の新規共同プロジェクト",
        "山本金属工業と中村プラスチック工業の2件目を含む。",
        [],
        "新規共同プロジェクト数",
        2,
        None,
        [],
        "",
    ),
    (
        "2026-10-17",
        "15:00",
        "第3回交流会：共同受注の進め方",
        "meeting_atmosphere",
        "qualitative",
        "司会を参加者が務めた",
        "今回は山本 健一さんが司会を務め、森田は記録に回った。議論は前回より活発で、"
        "井上木工所の井上 彩さんが初参加ながら積極的に発言した。",
        ["k.yamamoto@example.jp", "a.inoue@example.jp"],
        None,
        None,
        4,
        [("当事者意識", "山本 健一さんが司会を務め、森田は記録に回った")],
        "ハブとしての役割が小さくなりつつある。指標の hub dependence と照らし合わせる。",
    ),
]

CODE_MEMOS = {
    "当事者意識": "自走化の判断に使う中心的なコード。誰が提案・実行したかを必ず記録する。",
}


@transaction.atomic
def log_seed(*, network: Network) -> int:
    """Idempotent: an observation with the same title and date is left alone; metrics
    and codes are matched by name."""
    from django.contrib.auth import get_user_model

    from coordination.demo import RESEARCHER_EMAIL

    from .models import Code, Coding, Memo, Metric, Observation

    users = {
        u.email: u
        for u in get_user_model().objects.filter(email__in=[COORDINATOR_EMAIL, RESEARCHER_EMAIL])
    }
    coordinator = users.get(COORDINATOR_EMAIL)
    people = {p.email: p for p in Participant.objects.filter(network=network)}
    events = {e.title: e for e in Event.objects.filter(network=network)}
    metrics = {}
    for position, (name, unit) in enumerate(METRICS):
        metrics[name], _ = Metric.objects.get_or_create(
            network=network, name=name, defaults={"unit": unit, "position": position}
        )
    codes: dict[str, Code] = {}
    for name, parent, colour, description in CODES:
        codes[name], _ = Code.objects.get_or_create(
            network=network,
            name=name,
            parent=codes.get(parent),
            deleted_at__isnull=True,
            defaults={"colour": colour, "description": description},
        )
    for name, body in CODE_MEMOS.items():
        Memo.objects.get_or_create(
            network=network, code=codes[name], body=body, defaults={"author": coordinator}
        )
    created = 0
    for (
        day,
        time,
        event,
        category,
        kind,
        title,
        body,
        emails,
        metric,
        value,
        rating,
        codings,
        memo,
    ) in OBSERVATIONS:
        observed_on = dt.date.fromisoformat(day)
        if Observation.objects.filter(
            network=network, title=title, observed_on=observed_on
        ).exists():
            continue
        observation = Observation.objects.create(
            network=network,
            observed_on=observed_on,
            observed_time=dt.time.fromisoformat(time) if time else None,
            event=events.get(event),
            author=coordinator,
            kind=kind,
            category=category,
            title=title,
            body=body,
            metric=metrics.get(metric),
            value=value,
            unit=metrics[metric].unit if metric else "",
            rating=rating,
        )
        subjects = [people[email] for email in emails]
        observation.participants.set(subjects)
        observation.organizations.set({p.organization for p in subjects})
        observation.regions.set({p.organization.region for p in subjects})
        for code, quote in codings:
            if quote:
                start = body.index(quote)
                Coding.objects.create(
                    observation=observation,
                    code=codes[code],
                    start=start,
                    end=start + len(quote),
                    quote=quote,
                    created_by=coordinator,
                )
            else:
                Coding.objects.create(
                    observation=observation, code=codes[code], created_by=coordinator
                )
        if memo:
            Memo.objects.create(
                network=network, observation=observation, body=memo, author=coordinator
            )
        created += 1
    return created
