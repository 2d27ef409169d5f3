"""Reading a bulletin in the portal, in a real browser."""

from __future__ import annotations

import pytest

from coordination import services
from coordination.models import Delivery

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_participant_reads_a_bulletin_in_the_portal(
    page, client, network, member_a, member_b, settings
):
    settings.LANGUAGE_CODE = "ja"
    bulletin = services.bulletin_save(
        network=network,
        data={
            "subject": "Reflections after the factory tour",
            "body": "What we learnt:\n\n- **polishing** at A Works\n- <script>alert(1)</script>",
            "audience": {"everyone": True},
        },
    )
    services.bulletin_send(bulletin=bulletin)  # eager tasks: delivered at once
    delivery = Delivery.objects.get(bulletin=bulletin, participant=member_a)
    assert delivery.status == "sent" and delivery.read_at is None

    client.force_login(member_a.user)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": page.base}]
    )
    page.goto(page.base + "/n/alpha/portal/bulletins/")
    link = page.locator("main a", has_text="Reflections after the factory tour").first
    assert link.is_visible()
    link.click()
    page.wait_for_load_state()
    main = page.locator("main")
    assert "polishing" in main.inner_text()
    assert main.locator("strong", has_text="polishing").count() == 1
    assert main.locator("script").count() == 0
    delivery.refresh_from_db()
    assert delivery.read_at is not None
