"""The partner-region finder in a real browser: a coordinator uploads statistics,
resolves a bad file's problems, searches, reads the charts and adds the twin as a
region — with the CSP in force (no inline script or style)."""

from __future__ import annotations

import pytest

from coordination.models import Region
from partners import synthetic
from partners.models import Dataset, PartnerSearch
from tests.e2e.session import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

BAD = (
    "code,name,prefecture,latitude,longitude,population,a,b,c\r\n"
    "15213,燕市,新潟県,37.67,138.88,77000,1,2,x\r\n"
    "15208,小千谷市,新潟県,37.31,138.79,34000,2,3,4\r\n"
    "20521,坂城町,長野県,36.46,138.18,14000,4,1,3\r\n"
    "20523,Village,長野県,36.3,138.1,900,3,3,2\r\n"
).encode()


def _watch_csp(page) -> list[str]:
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return violations


def _upload(page, name: str, data: bytes) -> None:
    page.goto(page.base + "/n/alpha/partners/datasets/new/")
    page.set_input_files("#id_file", files=[{"name": name, "mimeType": "text/csv", "buffer": data}])
    page.click("#upload-form button[type=submit]")
    page.wait_for_load_state()


def test_a_coordinator_finds_the_twin_and_makes_it_a_region(page, client, coordinator, network):
    violations = _watch_csp(page)
    log_in(page, client, coordinator)
    page.goto(page.base + "/n/alpha/partners/")
    assert page.locator("#datasets").count() == 1
    _upload(page, "synthetic.csv", synthetic.synthetic_csv())
    assert page.locator("#row-count").inner_text() == "400"

    page.click("#new-search")
    page.select_option("#id_target", synthetic.TARGET_CODE)
    page.fill("#id_min_hours", "3")
    page.fill("#id_max_hours", "4")
    page.fill("#id_top", "10")
    page.click("#search-form button[type=submit]")
    page.wait_for_load_state()
    rows = page.locator("#candidate-table tbody tr")
    assert rows.count() >= 2
    assert rows.first.get_attribute("id") == f"candidate-{synthetic.TWIN_CODE}"
    # The charts are drawn: bars of the kept components, the candidates as points.
    assert page.locator("svg.scree rect.kept").count() == 6
    assert page.locator("svg.scatter circle.top").count() == rows.count()
    assert page.locator("svg.map rect.target").is_visible()
    # What makes the twin similar opens without JavaScript.
    rows.first.locator("summary").click()
    assert "C" in rows.first.locator("details li").first.inner_text()

    rows.first.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator(".alert-success").count() == 1
    region = Region.objects.get(network=network, municipality_code=synthetic.TWIN_CODE)
    assert region.name == "双葉市"
    assert page.locator(f"#candidate-{synthetic.TWIN_CODE} .badge").count() == 1
    assert PartnerSearch.objects.get().status == "done"
    assert violations == []


def test_a_bad_file_is_previewed_and_its_problems_resolved(page, client, coordinator, network):
    violations = _watch_csp(page)
    log_in(page, client, coordinator)
    _upload(page, "bad.csv", BAD)
    assert page.locator("#problems tbody tr").count() == 1
    assert "15213" in page.locator("#problems").inner_text()
    page.click("#drop-indicators")
    page.wait_for_load_state()
    assert page.locator(".alert-success").count() == 1
    dataset = Dataset.objects.get()
    assert dataset.is_ready and dataset.indicators == ["a", "b"] and dataset.row_count == 4
    assert page.locator("#dropped").is_visible()
    assert violations == []


def test_the_results_fit_on_a_phone(phone, client, coordinator, network):
    from partners import services
    from partners.search import SearchParameters

    dataset = services.dataset_upload(
        network=network,
        user=coordinator,
        name="Synthetic",
        layout="generic",
        filename="s.csv",
        data=synthetic.synthetic_csv(),
    )
    search = services.partner_search_create(
        dataset=dataset,
        user=coordinator,
        parameters=SearchParameters(target=synthetic.TARGET_CODE, top=10),
    )
    log_in(phone, client, coordinator)
    phone.goto(phone.base + search.get_absolute_url())
    assert phone.locator("#candidate-table").count() == 1
    # The wide table scrolls inside its box; the page itself does not scroll sideways.
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
