"""What people click, in a real browser."""

from __future__ import annotations

import io
import re

import pytest
from django.core import mail
from django.core.management import call_command

from coordination import demo
from coordination.models import Participant

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CODE = re.compile(r"^\s*([A-Z0-9]{4}-[A-Z0-9]{4})\s*$", re.MULTILINE)


@pytest.fixture
def demo_network(settings):
    settings.LANGUAGE_CODE = "ja"
    call_command("seed_demo", stdout=io.StringIO())


def _sign_in_with_password(page, email, password):
    page.goto(page.base + "/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", password)
    page.click("form[action='/accounts/login/'] button[type=submit]")


def test_demo_coordinator_sees_both_regions_and_every_participant(page, demo_network):
    _sign_in_with_password(page, demo.COORDINATOR_EMAIL, demo.PASSWORD)
    page.click(f"text={demo.NAME}")
    assert page.locator("h1").inner_text() == demo.NAME
    page.click("#nav-people")  # the people menu
    page.click("nav .dropdown-menu >> text=参加者")
    rows = page.locator("table.table-participants tbody tr")
    assert rows.count() == len(demo.PEOPLE)
    body = page.locator("table").inner_text()
    assert "燕市" in body and "魚沼市" in body
    page.select_option("select[name=region]", label="魚沼市")
    page.click("form.filters button")
    assert page.locator("table.table-participants tbody tr").count() == 6


def test_participant_signs_in_by_code_and_sees_the_portal(page, demo_network):
    page.goto(page.base + "/")
    page.click("#login-by-code")
    page.fill("input[name=email]", "k.yamamoto@example.jp")
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r"/accounts/login/code/confirm/"))
    code = CODE.search(mail.outbox[-1].body).group(1)
    page.fill("input[name=code]", code)
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r"/n/demo/portal/"))
    text = page.locator("main").inner_text()
    assert "山本 健一" in text and "中村 由美" in text and "魚沼市商工会（デモ）" in text
    assert "m.sato@example.jp" not in text  # names and organizations, not contact data

    page.click("text=プロフィールと設定")
    page.check("input[name=bulletin_opt_out]")
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r"/n/demo/portal/$"))
    assert Participant.objects.get(email="k.yamamoto@example.jp").bulletin_opt_out is True


def test_language_switcher_turns_the_page_english(page, demo_network):
    _sign_in_with_password(page, demo.COORDINATOR_EMAIL, demo.PASSWORD)
    page.goto(page.base + "/n/demo/participants/")
    assert page.locator("h1").inner_text() == "参加者"
    page.click("button[name=language][value=en]")
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Participants"


def test_coordinator_imports_participants_with_a_preview(page, demo_network, tmp_path):
    csv_file = tmp_path / "newcomers.csv"
    csv_file.write_bytes(
        "full_name,email,organization,region,joined_on,recruited_by\n"
        "新田 一郎,i.nitta@example.jp,新田製作所,燕市,2026-10-01,k.yamamoto@example.jp\n".encode(
            "cp932"
        )
    )
    _sign_in_with_password(page, demo.COORDINATOR_EMAIL, demo.PASSWORD)
    page.goto(page.base + "/n/demo/import/participants/")
    page.set_input_files("input[type=file]", str(csv_file))
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r"/n/demo/imports/\d+/"))
    assert "新田 一郎" in page.locator("#import-rows").inner_text()
    assert not Participant.objects.filter(email="i.nitta@example.jp").exists()
    page.click("main form button[type=submit]")
    page.wait_for_selector(".alert-success")
    newcomer = Participant.objects.get(email="i.nitta@example.jp")
    assert newcomer.recruited_by.email == "k.yamamoto@example.jp"


def test_import_errors_are_shown_by_row_and_column(page, demo_network, tmp_path):
    csv_file = tmp_path / "bad.csv"
    csv_file.write_text(
        "full_name,email,organization,region,joined_on\n"
        "Good Person,good@example.jp,Good Co,燕市,2026-10-01\n"
        "Bad Person,not-an-address,Bad Co,Atlantis,2026-13-01\n",
        encoding="utf-8",
    )
    _sign_in_with_password(page, demo.COORDINATOR_EMAIL, demo.PASSWORD)
    page.goto(page.base + "/n/demo/import/participants/")
    page.set_input_files("input[type=file]", str(csv_file))
    page.click("main form button[type=submit]")
    table = page.locator("#import-errors").inner_text()
    assert "email" in table and "region" in table and "joined_on" in table
    assert all(line.startswith("3") for line in table.splitlines()[1:])
    assert not Participant.objects.filter(email="good@example.jp").exists()


def test_portal_works_on_a_phone(phone, demo_network, client):
    user = Participant.objects.get(email="m.sato@example.jp").user
    client.force_login(user)
    phone.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": phone.base}]
    )
    phone.goto(phone.base + "/n/demo/portal/")
    assert "佐藤 美咲" in phone.locator("main").inner_text()
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing forces sideways scrolling
