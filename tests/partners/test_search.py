"""The computation of DESIGN.md ("Partner regions"), step by step, against an
independent numpy computation and the planted structure of the synthetic data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from partners import search, synthetic
from partners.search import SearchError, SearchParameters, find_partners
from partners.stats import StatsTable


@pytest.fixture(scope="module")
def table() -> StatsTable:
    return synthetic.synthetic_table()


def _params(**options) -> SearchParameters:
    return SearchParameters(target=synthetic.TARGET_CODE, **options)


def _independent_scores(values: np.ndarray, k: int | None):
    """PCA by SVD of the standardised matrix, written from the textbook, not from
    partners.search: eigenvalues s²/n, loadings from V, the sign rule, scores z·v/√λ."""
    keep = values.std(axis=0) > 0
    x = values[:, keep]
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    n = len(z)
    _u, s, vt = np.linalg.svd(z / np.sqrt(n), full_matrices=False)
    eigenvalues = s**2
    if k is None:
        k = int((eigenvalues >= 1 - 1e-9).sum())
    v = vt[:k].T
    for j in range(k):
        if v[np.argmax(np.abs(v[:, j])), j] < 0:
            v[:, j] = -v[:, j]
    return eigenvalues, v, z @ v / np.sqrt(eigenvalues[:k]), k


def test_the_planted_twin_ranks_first_and_the_near_copy_is_too_close(table):
    result = find_partners(table, _params())
    codes = [c["code"] for c in result.candidates]
    assert codes[0] == synthetic.TWIN_CODE
    assert result.candidates[0]["similarity"] > 0.99
    assert synthetic.DECOY_CODE not in codes
    assert result.excluded["too_close"] >= 1
    # Without the minimum distance the near copy is listed, just behind or ahead of the twin.
    near = [c["code"] for c in find_partners(table, _params(min_km=0)).candidates[:2]]
    assert set(near) == {synthetic.TWIN_CODE, synthetic.DECOY_CODE}


def test_kaiser_keeps_the_planted_factors(table):
    result = find_partners(table, _params())
    assert result.pca.k == 6
    assert result.pca.eigenvalues[5] >= 1 > result.pca.eigenvalues[6]


def test_results_equal_an_independent_svd_computation(table):
    result = find_partners(table, _params(min_km=0))
    eigenvalues, vectors, scores, k = _independent_scores(table.values, None)
    assert result.pca.k == k
    np.testing.assert_allclose(result.pca.eigenvalues, eigenvalues, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(result.pca.vectors[:, :k], vectors, atol=1e-9)
    np.testing.assert_allclose(result.pca.scores, scores, atol=1e-8)
    # Pearson r of each score vector with the target's, by np.corrcoef.
    target = table.index_of(synthetic.TARGET_CODE)
    expected = {
        table.codes[i]: np.corrcoef(scores[i], scores[target])[0, 1]
        for i in range(len(table))
        if i != target
    }
    for candidate in result.candidates:
        assert candidate["similarity"] == pytest.approx(expected[candidate["code"]], abs=1e-9)
    ranked = sorted(expected, key=lambda code: (-expected[code], code))
    assert [c["code"] for c in result.candidates] == ranked


def test_cosine_similarity_equals_the_normalised_dot_product(table):
    result = find_partners(table, _params(similarity="cosine", components=4, min_km=0))
    _eigenvalues, _vectors, scores, _k = _independent_scores(table.values, 4)
    target = table.index_of(synthetic.TARGET_CODE)
    for candidate in result.candidates[:20]:
        row = scores[table.index_of(candidate["code"])]
        expected = row @ scores[target] / (np.linalg.norm(row) * np.linalg.norm(scores[target]))
        assert candidate["similarity"] == pytest.approx(expected, abs=1e-9)


def test_scores_are_standardised_per_component(table):
    fitted = search.pca(table.values, table.indicators, components=None)
    np.testing.assert_allclose(fitted.scores.mean(axis=0), 0, atol=1e-10)
    np.testing.assert_allclose(fitted.scores.std(axis=0), 1, atol=1e-10)


def test_every_eigenvector_has_its_largest_loading_positive(table):
    fitted = search.pca(table.values, table.indicators, components=None)
    for j in range(fitted.vectors.shape[1]):
        column = fitted.vectors[:, j]
        assert column[np.argmax(np.abs(column))] > 0


def test_scaling_an_indicator_column_changes_nothing(table):
    before = find_partners(table, _params())
    scaled = table.take(np.arange(len(table)))
    scaled.values = table.values.copy()
    scaled.values[:, 3] *= 1000.0
    scaled.values[:, 10] = scaled.values[:, 10] * 0.001 + 42
    after = find_partners(scaled, _params())
    assert [c["code"] for c in after.candidates] == [c["code"] for c in before.candidates]
    np.testing.assert_allclose(
        [c["similarity"] for c in after.candidates],
        [c["similarity"] for c in before.candidates],
        atol=1e-9,
    )
    np.testing.assert_allclose(after.pca.eigenvalues, before.pca.eigenvalues, atol=1e-9)


def test_the_order_of_the_rows_changes_nothing(table):
    before = find_partners(table, _params())
    shuffled = table.take(np.random.default_rng(5).permutation(len(table)))
    after = find_partners(shuffled, _params())
    assert [c["code"] for c in after.candidates] == [c["code"] for c in before.candidates]
    for key in ("similarity", "distance_km", "hours", "population_ratio"):
        np.testing.assert_allclose(
            [c[key] for c in after.candidates], [c[key] for c in before.candidates], atol=1e-9
        )


def test_a_constant_indicator_is_left_out(table):
    constant = table.take(np.arange(len(table)))
    constant.values = np.column_stack([table.values, np.full(len(table), 7.0)])
    constant.indicators = [*table.indicators, "everywhere_the_same"]
    result = find_partners(constant, _params())
    assert result.pca.dropped == ["everywhere_the_same"]
    assert len(result.pca.eigenvalues) == len(table.indicators)
    assert result.candidates[0]["code"] == synthetic.TWIN_CODE


def test_a_chosen_number_of_components_is_kept(table):
    result = find_partners(table, _params(components=3))
    assert result.pca.k == 3 and result.pca.scores.shape == (len(table), 3)
    assert result.to_json()["components"] == 3


def test_more_components_than_the_rank_is_refused():
    values = np.random.default_rng(1).normal(size=(20, 3))
    values = np.column_stack([values, values[:, 0] + values[:, 1]])  # rank 3
    with pytest.raises(SearchError, match="only 3"):
        search.pca(values, ["a", "b", "c", "d"], components=4)


def test_pearson_with_a_single_component_is_refused(table):
    with pytest.raises(SearchError, match="at least 2 components"):
        find_partners(table, _params(components=1))
    assert find_partners(table, _params(components=1, similarity="cosine")).candidates


def test_haversine_matches_known_distances():
    # Tokyo station – Osaka station: about 403 km along the great circle.
    assert search.haversine_km(35.6812, 139.7671, 34.7025, 135.4959) == pytest.approx(403, abs=2)
    # A quarter of the meridian: exactly R·π/2.
    assert search.haversine_km(0, 0, 90, 0) == pytest.approx(6371.0088 * math.pi / 2)


def test_hours_are_estimated_from_distance_circuity_and_speed(table):
    result = find_partners(table, _params(circuity=1.5, speed=50))
    for c in result.candidates[:5]:
        assert c["hours"] == pytest.approx(c["distance_km"] * 1.5 / 50)


def test_filters_decide_who_is_listed_not_the_pca(table):
    everyone = find_partners(table, _params())
    banded = find_partners(
        table, _params(min_km=50, min_hours=3, max_hours=4, population_ratio=(0.5, 2))
    )
    np.testing.assert_array_equal(banded.pca.eigenvalues, everyone.pca.eigenvalues)
    assert banded.candidates[0]["code"] == synthetic.TWIN_CODE
    for c in banded.candidates:
        assert c["distance_km"] >= 50
        assert 3 <= c["hours"] <= 4
        assert 0.5 <= c["population_ratio"] <= 2
    sims = {c["code"]: c["similarity"] for c in everyone.candidates}
    assert all(sims[c["code"]] == c["similarity"] for c in banded.candidates)
    assert {"too_near_in_time", "too_far_in_time", "population"} <= set(banded.excluded)


def test_the_study_area_restricts_the_rows_the_pca_is_fitted_on(table):
    area = ("北山県", "東野県")
    result = find_partners(table, _params(prefectures=area))
    rows = sum(1 for p in table.prefectures if p in area)
    assert result.rows == rows and result.pca.scores.shape[0] == rows
    assert {c["prefecture"] for c in result.candidates} <= set(area)
    assert result.candidates[0]["code"] == synthetic.TWIN_CODE
    # Two-digit prefecture codes mean the same.
    by_code = find_partners(table, _params(prefectures=("01", "3")))
    assert by_code.to_json() == result.to_json()


def test_a_target_outside_the_study_area_is_refused(table):
    with pytest.raises(SearchError, match="outside the study area"):
        find_partners(table, _params(prefectures=("東野県",)))


def test_an_unknown_target_or_prefecture_is_refused(table):
    with pytest.raises(SearchError, match="not in the table"):
        find_partners(table, SearchParameters(target="99999"))
    with pytest.raises(SearchError, match="No municipality"):
        find_partners(table, _params(prefectures=("Atlantis",)))


def test_the_target_code_may_be_written_without_its_leading_zero(table):
    assert find_partners(table, SearchParameters(target="1001")).target["code"] == "01001"


@pytest.mark.parametrize(
    "options, message",
    [
        ({"similarity": "euclid"}, "Unknown similarity"),
        ({"circuity": 0.9}, "circuity"),
        ({"speed": 0}, "speed"),
        ({"min_hours": 4, "max_hours": 3}, "above the maximum"),
        ({"population_ratio": (2, 1)}, "LOW"),
        ({"components": 0}, "at least 1"),
    ],
)
def test_bad_parameters_are_refused_with_a_reason(table, options, message):
    with pytest.raises(SearchError, match=message):
        find_partners(table, _params(**options))


def test_a_measured_time_matrix_replaces_the_estimate(table):
    rows = [
        (synthetic.TARGET_CODE, synthetic.TWIN_CODE, 3.5),
        ("02017", synthetic.TARGET_CODE, 1.0),  # given the other way round
    ]
    times = search.travel_times_from_matrix(rows, synthetic.TARGET_CODE)
    assert times == {synthetic.TWIN_CODE: 3.5, "02017": 1.0}
    result = find_partners(table, _params(min_hours=3, max_hours=4), travel_times=times)
    assert [c["code"] for c in result.candidates] == [synthetic.TWIN_CODE]
    assert result.candidates[0]["hours"] == 3.5
    # Everyone else has no measured time, so a time band leaves them out.
    assert result.excluded["no_travel_time"] + result.excluded["too_close"] == len(table) - 3
    unbanded = find_partners(table, _params(), travel_times=times)
    assert unbanded.candidates[0]["hours"] == 3.5
    assert any(c["hours"] is None for c in unbanded.candidates)


def test_the_json_has_the_shape_of_the_design(table):
    data = find_partners(table, _params(top=3)).to_json()
    assert set(data) == {"components", "eigenvalues", "explained_variance", "candidates"}
    assert len(data["candidates"]) == 3
    assert set(data["candidates"][0]) == {
        "code",
        "name",
        "prefecture",
        "similarity",
        "distance_km",
        "hours",
        "population_ratio",
    }
    assert sum(data["explained_variance"]) == pytest.approx(1)
    assert data["eigenvalues"] == sorted(data["eigenvalues"], reverse=True)


def test_the_drivers_are_the_components_adding_most_to_the_similarity(table):
    result = find_partners(table, _params())
    record = result.to_record()
    twin = record["candidates"][0]
    assert 1 <= len(twin["drivers"]) <= 3
    contributions = [d["contribution"] for d in twin["drivers"]]
    assert contributions == sorted(contributions, reverse=True)
    _sims, parts = search.similarity(result.pca.scores, 0, "pearson")
    assert parts.sum(axis=1)[1] == pytest.approx(twin["similarity"])
    top = record["component_details"][0]["top_loadings"]
    assert len(top) == 5 and all(x["indicator"] in table.indicators for x in top)


def test_the_search_is_deterministic(table):
    first = find_partners(table, _params()).to_record()
    second = find_partners(table, _params()).to_record()
    assert first == second
