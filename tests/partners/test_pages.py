"""The partner finder's pages for every role: coordinators upload, search and add
regions; researchers read; everyone else gets a 404."""

from __future__ import annotations

import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from coordination.models import Region
from partners import synthetic
from partners.models import Dataset, PartnerSearch

pytestmark = pytest.mark.django_db

BAD_CSV = (
    "code,name,prefecture,latitude,longitude,population,a,b,c\r\n"
    "15213,燕市,新潟県,37.67,138.88,77000,1,2,x\r\n"
    "15208,小千谷市,新潟県,37.31,138.79,34000,2,3,4\r\n"
    "20521,坂城町,長野県,36.46,138.18,14000,4,1,3\r\n"
    "20522,Nowhere,長野県,,,100,1,1,1\r\n"
    "20523,Village,長野県,36.3,138.1,900,3,3,2\r\n"
).encode()


def _upload(client, network, data: bytes, name="stats.csv", **fields):
    upload = io.BytesIO(data)
    upload.name = name
    return client.post(
        reverse("partner_dataset_upload", args=[network.slug]),
        {"layout": "generic", "file": upload, "name": "", "source_note": "", "year": "", **fields},
    )


def _pages(network, dataset, search) -> dict[str, str]:
    s = network.slug
    return {
        "home": reverse("partner_home", args=[s]),
        "dataset": reverse("partner_dataset_detail", args=[s, dataset.pk]),
        "download": reverse("partner_dataset_download", args=[s, dataset.pk]),
        "search": reverse("partner_search_detail", args=[s, search.pk]),
        "csv": reverse("partner_search_export", args=[s, search.pk, "csv"]),
        "xlsx": reverse("partner_search_export", args=[s, search.pk, "xlsx"]),
    }


def _writes(network, dataset, search) -> dict[str, str]:
    s = network.slug
    return {
        "upload": reverse("partner_dataset_upload", args=[s]),
        "new_search": reverse("partner_search_create", args=[s, dataset.pk]),
        "delete": reverse("partner_dataset_delete", args=[s, dataset.pk]),
        "resolve": reverse("partner_dataset_resolve", args=[s, dataset.pk]),
        "rerun": reverse("partner_search_rerun", args=[s, search.pk]),
        "region": reverse("partner_make_region", args=[s, search.pk]),
    }


# --- who may see what ---------------------------------------------------------------------


@pytest.mark.parametrize("role", ["coordinator", "researcher", "identified_researcher"])
def test_staff_of_the_network_read_datasets_and_results(
    request, client, network, done_search, role
):
    client.force_login(request.getfixturevalue(role))
    for name, url in _pages(network, done_search.dataset, done_search).items():
        assert client.get(url).status_code == 200, name


def test_researchers_change_nothing(client, researcher, network, done_search):
    client.force_login(researcher)
    for name, url in _writes(network, done_search.dataset, done_search).items():
        assert client.get(url).status_code in (404, 405), name
        assert (
            client.post(url, {"code": synthetic.TWIN_CODE, "drop": "indicators"}).status_code == 404
        ), name
    page = client.get(reverse("partner_search_detail", args=[network.slug, done_search.pk]))
    assert "Make it a region" not in page.content.decode()
    assert not Region.objects.filter(municipality_code=synthetic.TWIN_CODE).exists()
    assert Dataset.objects.count() == 1 and PartnerSearch.objects.count() == 1


@pytest.mark.parametrize("role", ["outsider", "stranger", "member_a"])
def test_everyone_else_gets_a_404_everywhere(request, client, network, done_search, role):
    person = request.getfixturevalue(role)
    client.force_login(person.user if role == "member_a" else person)
    urls = {
        **_pages(network, done_search.dataset, done_search),
        **_writes(network, done_search.dataset, done_search),
    }
    for name, url in urls.items():
        assert client.get(url).status_code in (404, 405), name
        assert client.post(url, {"code": synthetic.TWIN_CODE}).status_code in (404, 405), name
    assert not Region.objects.filter(municipality_code=synthetic.TWIN_CODE).exists()


def test_anonymous_visitors_are_sent_to_sign_in(client, network, done_search):
    response = client.get(reverse("partner_home", args=[network.slug]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_dataset_of_another_network_is_not_found_through_this_one(
    client, outsider, other_network, network, done_search
):
    client.force_login(outsider)
    url = reverse("partner_dataset_detail", args=[other_network.slug, done_search.dataset.pk])
    assert client.get(url).status_code == 404
    url = reverse("partner_search_detail", args=[other_network.slug, done_search.pk])
    assert client.get(url).status_code == 404


# --- the coordinator's way through ----------------------------------------------------------


def test_a_coordinator_uploads_searches_and_sees_the_twin_first(
    client, coordinator, network, synthetic_csv, django_capture_on_commit_callbacks
):
    client.force_login(coordinator)
    response = _upload(
        client, network, synthetic_csv, name="synthetic.csv", source_note="Synthetic", year="2026"
    )
    dataset = Dataset.objects.get()
    assert response.status_code == 302 and response["Location"] == dataset.get_absolute_url()
    assert dataset.is_ready and dataset.row_count == 400 and len(dataset.indicators) == 70
    assert dataset.source_note == "Synthetic" and dataset.year == 2026 and dataset.version

    form_url = reverse("partner_search_create", args=[network.slug, dataset.pk])
    page = client.get(form_url).content.decode()
    assert synthetic.TARGET_CODE in page and "北山県" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            form_url,
            {
                "target": synthetic.TARGET_CODE,
                "min_km": "30",
                "min_hours": "3",
                "max_hours": "4",
                "similarity": "pearson",
                "circuity": "1.3",
                "speed": "60",
                "top": "10",
            },
        )
    search = PartnerSearch.objects.get()
    assert response.status_code == 302 and response["Location"] == search.get_absolute_url()
    # Eager in the tests: the task ran when the request committed.
    search.refresh_from_db()
    assert search.status == "done" and search.progress == 100
    assert search.dataset_version == dataset.version
    assert search.parameters["min_hours"] == 3 and search.parameters["algorithm"]

    page = client.get(search.get_absolute_url()).content.decode()
    assert page.index('<tr id="candidate-') == page.index(
        f'<tr id="candidate-{synthetic.TWIN_CODE}"'
    )
    assert "<svg" in page and "scree-bar kept" in page and 'class="point top"' in page
    assert "find_partners" in page and "--min-hours 3" in page
    assert page.count('<tr id="candidate-') <= 10


def test_the_results_list_the_twin_first_with_its_drivers(
    client, coordinator, network, done_search
):
    client.force_login(coordinator)
    page = client.get(done_search.get_absolute_url()).content.decode()
    start = page.index('<tr id="candidate-')
    first_row = page[start : page.index("</tr>", start)]
    assert synthetic.TWIN_CODE in first_row and "双葉市" in first_row
    assert "<details>" in first_row and "C1" in first_row
    assert page.count('<tr id="candidate-') == 10


def test_the_progress_page_refreshes_until_the_search_is_done(
    client, coordinator, network, dataset
):
    search = PartnerSearch.objects.create(
        network=network,
        dataset=dataset,
        dataset_version=dataset.version,
        target_code=synthetic.TARGET_CODE,
        target_name="燕谷市",
        parameters={"target": synthetic.TARGET_CODE},
        status="running",
        progress=40,
    )
    client.force_login(coordinator)
    page = client.get(search.get_absolute_url()).content.decode()
    assert '<meta http-equiv="refresh"' in page
    assert '<progress class="w-100" max="100" value="40">' in page


def test_a_failed_search_shows_its_reason(client, coordinator, network, dataset, run_search):
    search = run_search(dataset, coordinator, components=80)
    assert search.status == "failed"
    client.force_login(coordinator)
    page = client.get(search.get_absolute_url()).content.decode()
    assert 'id="search-error"' in page and "80 components asked for" in page


def test_a_file_that_is_not_a_table_is_refused_by_row_and_column(client, coordinator, network):
    client.force_login(coordinator)
    response = _upload(client, network, b"code,name,latitude\r\n1,2,3\r\n")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="upload-errors"' in page and "<code>population</code>" in page
    assert Dataset.objects.count() == 0


def test_an_ssdse_file_uploaded_as_a_plain_table_is_explained(client, coordinator, network):
    data, _coordinates = synthetic.synthetic_ssdse(municipalities=12)
    client.force_login(coordinator)
    response = _upload(client, network, data)
    assert response.status_code == 200 and "looks like an SSDSE-A file" in response.content.decode()


def test_ssdse_with_coordinates_is_uploaded_with_its_source(client, coordinator, network):
    data, coordinates = synthetic.synthetic_ssdse(municipalities=40)
    client.force_login(coordinator)
    places = io.BytesIO(coordinates)
    places.name = "localgovjp-utf8.csv"
    response = _upload(
        client, network, data, name="SSDSE-A-2026.csv", layout="ssdse_a", coordinates=places
    )
    dataset = Dataset.objects.get()
    assert response.status_code == 302 and dataset.is_ready and dataset.row_count == 40
    assert dataset.year == 2026 and "SSDSE-A-2026" in dataset.source_note
    page = client.get(dataset.get_absolute_url()).content.decode()
    assert "Employees: manufacturing (%)" in page


def test_problems_are_previewed_and_dropping_the_indicators_resolves_them(
    client, coordinator, network
):
    client.force_login(coordinator)
    _upload(client, network, BAD_CSV)
    dataset = Dataset.objects.get()
    assert dataset.status == "review" and dataset.municipalities.count() == 0
    page = client.get(dataset.get_absolute_url()).content.decode()
    assert 'id="problems"' in page and "&#x27;x&#x27; is not a number" in page
    assert "<code>c</code>" in page and "row unusable" in page
    assert 'id="drop-indicators"' in page and 'id="drop-municipalities"' in page
    assert (
        client.get(reverse("partner_search_create", args=[network.slug, dataset.pk])).status_code
        == 302
    )

    client.post(
        reverse("partner_dataset_resolve", args=[network.slug, dataset.pk]), {"drop": "indicators"}
    )
    dataset.refresh_from_db()
    assert dataset.is_ready and dataset.indicators == ["a", "b"] and dataset.row_count == 4
    assert dataset.dropped["indicators"] == ["c"]
    assert [m["code"] for m in dataset.dropped["municipalities"]] == ["20522"]
    page = client.get(dataset.get_absolute_url()).content.decode()
    assert 'id="dropped"' in page and "Nowhere" in page


def test_dropping_the_municipalities_keeps_every_indicator(client, coordinator, network):
    client.force_login(coordinator)
    _upload(client, network, BAD_CSV)
    dataset = Dataset.objects.get()
    client.post(
        reverse("partner_dataset_resolve", args=[network.slug, dataset.pk]),
        {"drop": "municipalities"},
    )
    dataset.refresh_from_db()
    assert dataset.indicators == ["a", "b", "c"] and dataset.row_count == 3
    assert dataset.resolution == "municipalities"
    # A second choice is refused: the dataset is ready.
    response = client.post(
        reverse("partner_dataset_resolve", args=[network.slug, dataset.pk]),
        {"drop": "indicators"},
        follow=True,
    )
    assert "ready already" in response.content.decode()


def test_the_dataset_download_is_the_clean_table_with_its_version(
    client, researcher, network, dataset
):
    import hashlib

    client.force_login(researcher)
    response = client.get(reverse("partner_dataset_download", args=[network.slug, dataset.pk]))
    assert response["Content-Disposition"].startswith("attachment")
    assert hashlib.sha256(response.content).hexdigest() == dataset.version


def test_results_export_as_csv_and_xlsx(client, researcher, network, done_search):
    from openpyxl import load_workbook

    client.force_login(researcher)
    csv_text = client.get(
        reverse("partner_search_export", args=[network.slug, done_search.pk, "csv"])
    ).content
    assert csv_text.startswith(b"\xef\xbb\xbf")
    lines = csv_text.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("rank,code,name,prefecture,similarity,distance_km,hours")
    assert lines[1].startswith(f"1,{synthetic.TWIN_CODE},双葉市")
    assert len(lines) == 1 + len(done_search.result["candidates"])
    xlsx = client.get(
        reverse("partner_search_export", args=[network.slug, done_search.pk, "xlsx"])
    ).content
    book = load_workbook(io.BytesIO(xlsx), read_only=True)
    assert book.sheetnames == ["Candidates", "Components", "Parameters"]
    rows = list(book["Parameters"].iter_rows(values_only=True))
    assert ("Dataset version (SHA-256)", done_search.dataset_version) in rows
    assert list(book["Candidates"].iter_rows(values_only=True))[1][1] == synthetic.TWIN_CODE
    assert (
        client.get(
            reverse("partner_search_export", args=[network.slug, done_search.pk, "pdf"])
        ).status_code
        == 404
    )


def test_one_click_makes_a_candidate_a_region_and_a_second_is_refused(
    client, coordinator, network, done_search
):
    client.force_login(coordinator)
    url = reverse("partner_make_region", args=[network.slug, done_search.pk])
    response = client.post(url, {"code": synthetic.TWIN_CODE}, follow=True)
    region = Region.objects.get(network=network, municipality_code=synthetic.TWIN_CODE)
    assert region.name == "双葉市" and region.prefecture == "東野県" and region.population == 86000
    assert region.latitude == pytest.approx(synthetic.TWIN_LOCATION[0])
    assert "is now a region" in response.content.decode()
    page = response.content.decode()
    row = page[page.index(f'id="candidate-{synthetic.TWIN_CODE}"') :]
    assert row[: row.index("</tr>")].count("Make it a region") == 0
    response = client.post(url, {"code": synthetic.TWIN_CODE}, follow=True)
    assert "already a region of this network" in response.content.decode()
    assert (
        Region.objects.filter(network=network, municipality_code=synthetic.TWIN_CODE).count() == 1
    )


def test_run_again_reproduces_the_stored_result(
    client, coordinator, network, done_search, django_capture_on_commit_callbacks
):
    client.force_login(coordinator)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("partner_search_rerun", args=[network.slug, done_search.pk]))
    again = PartnerSearch.objects.exclude(pk=done_search.pk).get()
    assert response["Location"] == again.get_absolute_url()
    again.refresh_from_db()
    assert again.result == done_search.result and again.parameters == done_search.parameters


def test_change_and_search_again_starts_from_the_earlier_parameters(
    client, coordinator, network, dataset, run_search
):
    search = run_search(dataset, coordinator, min_km=55, population_ratio=(0.5, 2), top=7)
    client.force_login(coordinator)
    url = reverse("partner_search_create", args=[network.slug, dataset.pk]) + f"?from={search.pk}"
    form = client.get(url).context["form"]
    assert form.initial["min_km"] == 55 and form.initial["population_low"] == 0.5
    assert form.initial["top"] == 7 and form.initial["target"] == synthetic.TARGET_CODE


def test_the_search_form_rejects_inconsistent_bands(client, coordinator, network, dataset):
    client.force_login(coordinator)
    response = client.post(
        reverse("partner_search_create", args=[network.slug, dataset.pk]),
        {
            "target": synthetic.TARGET_CODE,
            "min_km": "30",
            "min_hours": "5",
            "max_hours": "3",
            "population_low": "2",
            "similarity": "pearson",
            "circuity": "1.3",
            "speed": "60",
            "top": "10",
        },
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "max_hours" in errors and "population_high" in errors
    assert PartnerSearch.objects.count() == 0


def test_a_measured_time_table_is_used_and_kept_with_the_search(
    client, coordinator, network, dataset, django_capture_on_commit_callbacks
):
    client.force_login(coordinator)
    times = io.BytesIO(
        f"origin,destination,minutes\r\n{synthetic.TARGET_CODE},{synthetic.TWIN_CODE},200\r\n".encode()
    )
    times.name = "times.csv"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("partner_search_create", args=[network.slug, dataset.pk]),
            {
                "target": synthetic.TARGET_CODE,
                "min_km": "30",
                "min_hours": "3",
                "max_hours": "4",
                "similarity": "pearson",
                "circuity": "1.3",
                "speed": "60",
                "top": "10",
                "travel_times": times,
            },
        )
    search = PartnerSearch.objects.get()
    assert search.travel_times == {synthetic.TWIN_CODE: pytest.approx(200 / 60)}
    assert search.travel_times_filename == "times.csv"
    assert [c["code"] for c in search.result["candidates"]] == [synthetic.TWIN_CODE]
    assert "measured (times.csv)" in client.get(search.get_absolute_url()).content.decode()


def test_deleting_a_dataset_asks_first_and_takes_its_searches(
    client, coordinator, network, done_search
):
    client.force_login(coordinator)
    url = reverse("partner_dataset_delete", args=[network.slug, done_search.dataset.pk])
    assert "1 search" in client.get(url).content.decode()
    assert client.post(url)["Location"] == reverse("partner_home", args=[network.slug])
    assert Dataset.objects.count() == 0 and PartnerSearch.objects.count() == 0


# --- query counts ---------------------------------------------------------------------------


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_the_home_page_does_not_grow_queries_with_datasets_and_searches(
    client, coordinator, network, dataset, run_search, synthetic_csv
):
    from partners import services

    client.force_login(coordinator)
    url = reverse("partner_home", args=[network.slug])
    run_search(dataset, coordinator)
    few = _queries(client, url)
    for _ in range(3):
        more = services.dataset_upload(
            network=network,
            user=coordinator,
            name="again",
            layout="generic",
            filename="s.csv",
            data=BAD_CSV,
        )
        assert more.status == "review"
        run_search(dataset, coordinator, min_km=40)
    assert _queries(client, url) == few


def test_the_home_page_query_count_is_pinned(
    client, coordinator, network, done_search, django_assert_num_queries
):
    client.force_login(coordinator)
    url = reverse("partner_home", args=[network.slug])
    client.get(url)
    # session, user, network, staff roles, participation, datasets, searches
    with django_assert_num_queries(7):
        client.get(url)


def test_the_results_page_query_count_is_pinned(
    client, coordinator, network, done_search, django_assert_num_queries
):
    client.force_login(coordinator)
    client.get(done_search.get_absolute_url())
    # session, user, network, roles, participation, the search with its dataset, regions
    with django_assert_num_queries(7):
        client.get(done_search.get_absolute_url())


def test_researchers_see_staff_as_pseudonyms(client, researcher, coordinator, network, done_search):
    client.force_login(researcher)
    for url in (
        reverse("partner_home", args=[network.slug]),
        done_search.dataset.get_absolute_url(),
        done_search.get_absolute_url(),
    ):
        assert coordinator.email not in client.get(url).content.decode(), url
    client.force_login(coordinator)
    assert coordinator.email in client.get(done_search.get_absolute_url()).content.decode()


def test_the_study_area_must_include_the_target(client, coordinator, network, dataset):
    client.force_login(coordinator)
    response = client.post(
        reverse("partner_search_create", args=[network.slug, dataset.pk]),
        {
            "target": synthetic.TARGET_CODE,
            "prefectures": ["東野県"],
            "min_km": "30",
            "similarity": "pearson",
            "circuity": "1.3",
            "speed": "60",
            "top": "10",
        },
    )
    assert "must include the target&#x27;s prefecture (北山県)" in response.content.decode()
    assert PartnerSearch.objects.count() == 0
