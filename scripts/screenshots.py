"""Take the README's screenshots of the real pages with headless chromium.

Starts its own server on a scratch SQLite database with the demo network, signs in
as the demo coordinator (password) and a demo participant (code read from the mail
folder), and writes PNGs into docs/screenshots/.

    .venv/bin/python scripts/screenshots.py
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
PORT = 8765
BASE = f"http://127.0.0.1:{PORT}"
CODE = re.compile(r"^\s*([A-Z0-9]{4}-[A-Z0-9]{4})\s*$", re.MULTILINE)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="hubless-shots-"))
    mail = scratch / "mail"
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")},
        "DATABASE_URL": f"sqlite:///{scratch}/db.sqlite3",
        "EMAIL_URL": f"file://{mail}",
        "SITE_URL": BASE,
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True)
    subprocess.run([*manage, "seed_demo"], env=env, check=True, stdout=subprocess.DEVNULL)
    bad = scratch / "participants-with-errors.csv"
    bad.write_bytes(
        "full_name,email,organization,region,joined_on,recruited_by\n"
        "新田 一郎,i.nitta@example.jp,新田製作所,燕市,2026-10-01,k.yamamoto@example.jp\n"
        "大野 二郎,ono@example,大野工業,長岡市,2026/10/01,\n"
        "山本 健一,K.Yamamoto@example.jp,山本金属工業株式会社,燕市,2025-04-19,nobody@example.jp\n".encode(
            "cp932"
        )
    )
    # An answer link as the invitation e-mail would carry it, for the RSVP page.
    rsvp_url = (
        subprocess.run(
            [
                *manage,
                "shell",
                "-c",
                "from coordination.models import Invitation; from coordination.services import rsvp_token_issue;"
                "i = Invitation.objects.filter(event__status='scheduled', participant__email='k.yamamoto@example.jp').get();"
                "print(f'/rsvp/{i.pk}/{rsvp_token_issue(invitation=i)}/?answer=yes')",
            ],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    server = subprocess.Popen(
        [*manage, "runserver", "--noreload", f"127.0.0.1:{PORT}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(BASE + "/healthz")
                break
            except OSError:
                time.sleep(0.2)
        shoot(mail, bad, rsvp_url)
    finally:
        server.terminate()
        server.wait()


def shoot(mail: Path, bad_csv: Path, rsvp_url: str) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        desk = browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 860})
        page = desk.new_page()
        page.goto(BASE + "/accounts/login/")
        page.screenshot(path=OUT / "login-ja.png", full_page=True)
        page.fill("input[name=login]", "morita@example.jp")
        page.fill("input[name=password]", "hubless-demo-2026")
        page.click("main form button[type=submit]")
        page.goto(BASE + "/n/demo/")
        page.screenshot(path=OUT / "network-ja.png", full_page=True)
        page.goto(BASE + "/n/demo/participants/")
        page.screenshot(path=OUT / "participants-ja.png", full_page=True)
        page.goto(BASE + "/n/demo/participants/?region=&q=&status=active")
        page.click("button[name=language][value=en]")
        page.wait_for_load_state()
        page.screenshot(path=OUT / "participants-en.png", full_page=True)
        page.click("button[name=language][value=ja]")
        page.goto(BASE + "/n/demo/import/participants/")
        page.set_input_files("input[type=file]", str(bad_csv))
        page.click("main form button[type=submit]")
        page.wait_for_load_state()
        page.screenshot(path=OUT / "import-errors-ja.png", full_page=True)
        page.goto(BASE + "/n/demo/events/?when=all")
        page.screenshot(path=OUT / "events-ja.png", full_page=True)
        page.click("text=新年交流会と2027年の計画")
        page.wait_for_load_state()
        event_url = page.url
        page.screenshot(path=OUT / "event-detail-ja.png", full_page=True)
        page.click("button[name=language][value=en]")
        page.wait_for_load_state()
        page.screenshot(path=OUT / "event-detail-en.png", full_page=True)
        page.goto(BASE + "/n/demo/bulletins/")
        page.screenshot(path=OUT / "bulletins-en.png", full_page=True)
        page.goto(event_url)
        page.click("button[name=language][value=ja]")
        page.wait_for_load_state()
        page.goto(event_url + "invite/?regions=1")
        page.screenshot(path=OUT / "event-audience-ja.png", full_page=True)
        page.goto(BASE + "/n/demo/ties/")
        page.screenshot(path=OUT / "ties-ja.png", full_page=True)
        page.goto(BASE + "/n/demo/bulletins/")
        page.screenshot(path=OUT / "bulletins-ja.png", full_page=True)
        page.locator("main a", has_text="第3回交流会を振り返って").first.click()
        page.wait_for_load_state()
        page.screenshot(path=OUT / "bulletin-detail-ja.png", full_page=True)
        page.goto(BASE + "/n/demo/bulletins/new/")
        page.fill("input[name=subject]", "新年交流会のご案内")
        page.fill(
            "textarea[name=body]",
            "# 新年交流会のご案内\n\n皆さま、**1月23日（土）**に魚沼市で新年交流会を開きます。\n\n"
            "- 各社の近況報告\n- 2027年の計画づくり\n\n<script>alert(1)</script>",
        )
        page.wait_for_timeout(1200)  # the live preview waits for typing to pause
        page.screenshot(path=OUT / "bulletin-compose-ja.png", full_page=True)
        # The research side: the log, an observation with its coding panel, the
        # codebook and its overview, the dashboard, the staff page.
        page.goto(BASE + "/n/demo/observations/")
        page.screenshot(path=OUT / "observations-ja.png", full_page=True)
        page.locator("#observations a", has_text="中越地震").first.click()
        page.wait_for_load_state()
        page.screenshot(path=OUT / "observation-coding-ja.png", full_page=True)
        page.goto(BASE + "/n/demo/codes/")
        page.screenshot(path=OUT / "codebook-ja.png", full_page=True)
        page.goto(BASE + "/n/demo/codes/overview/")
        page.screenshot(path=OUT / "code-overview-ja.png", full_page=True)
        page.goto(BASE + "/n/demo/dashboard/")
        page.wait_for_selector("#graph[data-ready=true]")
        page.wait_for_timeout(500)
        page.screenshot(path=OUT / "dashboard-ja.png", full_page=True)
        page.click("button[name=language][value=en]")
        page.wait_for_load_state()
        page.wait_for_selector("#graph[data-ready=true]")
        page.wait_for_timeout(500)
        page.screenshot(path=OUT / "dashboard-en.png", full_page=True)
        page.click("button[name=language][value=ja]")
        page.wait_for_load_state()
        page.goto(BASE + "/n/demo/staff/")
        page.screenshot(path=OUT / "staff-ja.png", full_page=True)
        page.goto(BASE + "/n/demo/continuity/?q=めっき")
        page.screenshot(path=OUT / "continuity-ja.png", full_page=True)
        page.goto(BASE + "/n/demo/partners/")
        page.screenshot(path=OUT / "partners-ja.png", full_page=True)
        page.locator("main a[href*='/partners/searches/']").first.click()
        page.wait_for_load_state()
        page.screenshot(path=OUT / "partners-results-ja.png", full_page=True)
        cookies = desk.cookies()

        researcher = browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 860})
        page = researcher.new_page()
        page.goto(BASE + "/accounts/login/")
        page.fill("input[name=login]", "researcher@example.jp")
        page.fill("input[name=password]", "hubless-demo-2026")
        page.click("main form button[type=submit]")
        page.goto(BASE + "/n/demo/observations/")
        page.screenshot(path=OUT / "observations-researcher-ja.png", full_page=True)
        page.locator("#observations a", has_text="共同プロジェクト").first.click()
        page.wait_for_load_state()
        page.screenshot(path=OUT / "observation-researcher-ja.png", full_page=True)
        page.goto(BASE + "/n/demo/observations/export/")
        page.screenshot(path=OUT / "export-researcher-ja.png", full_page=True)

        phone_size = {
            "locale": "ja-JP",
            "viewport": {"width": 390, "height": 844},
            "is_mobile": True,
            "has_touch": True,
            "device_scale_factor": 2,
        }
        staff_phone = browser.new_context(**phone_size)
        staff_phone.add_cookies(cookies)
        page = staff_phone.new_page()
        page.goto(event_url + "check-in/")
        page.locator("#checkin-expected button").first.click()
        page.wait_for_load_state()
        page.screenshot(path=OUT / "checkin-phone-ja.png", full_page=True)
        page.goto(
            BASE + f"/n/demo/observations/quick/?event={event_url.rstrip('/').split('/')[-1]}"
        )
        page.fill("#id_body", "山本さんの司会で議論が活発。魚沼の参加者から質問が多い。")
        page.screenshot(path=OUT / "quick-note-phone-ja.png", full_page=True)

        phone = browser.new_context(**phone_size)
        page = phone.new_page()
        page.goto(BASE + rsvp_url)
        page.screenshot(path=OUT / "rsvp-link-phone-ja.png", full_page=True)
        page.goto(BASE + "/accounts/login/code/")
        page.fill("input[name=email]", "m.sato@example.jp")
        page.click("main form button[type=submit]")
        page.wait_for_url(re.compile(r"/confirm/"))
        page.screenshot(path=OUT / "login-code-phone-ja.png", full_page=True)
        newest = max(mail.iterdir(), key=lambda f: f.stat().st_mtime)
        page.fill("input[name=code]", CODE.search(newest.read_text()).group(1))
        page.click("main form button[type=submit]")
        page.wait_for_url(re.compile(r"/portal/"))
        page.screenshot(path=OUT / "portal-phone-ja.png", full_page=True)
        page.goto(BASE + "/n/demo/portal/profile/")
        page.screenshot(path=OUT / "profile-phone-ja.png", full_page=True)
        page.goto(BASE + "/n/demo/portal/bulletins/")
        page.screenshot(path=OUT / "portal-bulletins-phone-ja.png", full_page=True)
        page.goto(BASE + "/n/demo/portal/events/")
        page.screenshot(path=OUT / "portal-events-phone-ja.png", full_page=True)
        page.locator("main a", has_text="新年交流会").first.click()
        page.wait_for_load_state()
        page.screenshot(path=OUT / "portal-event-phone-ja.png", full_page=True)
        browser.close()
    print("screenshots written to", OUT)


if __name__ == "__main__":
    main()
