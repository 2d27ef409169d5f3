"""Every write of the partners app: datasets (upload, resolution of problems, deletion),
searches (request, the background run with its claim and progress) and turning a
candidate into a region of the network."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from coordination.models import Network, Region
from coordination.services import region_save
from coordination.tables import RowError, TableError

from . import selectors
from .models import Dataset, Municipality, PartnerSearch
from .search import ALGORITHM, SearchError, SearchParameters, find_partners
from .search import travel_times_from_matrix as _times_from
from .stats import ParsedTable, code_spellings, read_ssdse, read_stats

log = logging.getLogger(__name__)

# The preview lists this many problems; the summary counts all of them.
MAX_PROBLEMS_KEPT = 1000
# A search takes seconds; one running for this long has lost its worker.
STALE_AFTER = dt.timedelta(minutes=15)


class DatasetNotResolvable(Exception):
    """The dataset has no open problems to resolve (already ready)."""


class RegionRefused(Exception):
    """The candidate cannot become a region; the message says why."""


# --- datasets ------------------------------------------------------------------------------


def dataset_parse(
    *,
    layout: str,
    data: bytes,
    filename: str,
    coordinates: bytes = b"",
    coordinates_filename: str = "",
) -> ParsedTable:
    """The file read in its layout (TableError when it is not a table at all)."""
    if layout == Dataset.Layout.SSDSE_A:
        if not coordinates:
            raise TableError(
                [RowError(None, None, _("SSDSE-A needs a coordinates table (e.g. localgovjp)."))]
            )
        return read_ssdse(data, filename, coordinates, coordinates_filename or "coordinates.csv")
    return read_stats(data, filename)


def _source_note(parsed: ParsedTable) -> str:
    if parsed.meta.get("layout") != "ssdse_a":
        return ""
    return _(
        "%(edition)s (Standardized Statistical Data Set for Education, municipal "
        "edition), National Statistics Center of Japan; data years %(years)s. "
        "Coordinates: the coordinates table uploaded with it."
    ) % {
        "edition": parsed.meta.get("edition", "SSDSE-A"),
        "years": ", ".join(parsed.meta.get("data_years", [])),
    }


@transaction.atomic
def dataset_upload(
    *,
    network: Network,
    user,
    name: str,
    layout: str,
    filename: str,
    data: bytes,
    source_note: str = "",
    year: int | None = None,
    coordinates_filename: str = "",
    coordinates: bytes = b"",
) -> Dataset:
    """Reads and keeps an uploaded table. Without problems it is ready at once; with
    problems it waits (status review) for `dataset_resolve`. A file that is not a table
    at all raises TableError and nothing is kept."""
    parsed = dataset_parse(
        layout=layout,
        data=data,
        filename=filename,
        coordinates=coordinates,
        coordinates_filename=coordinates_filename,
    )
    dataset = Dataset.objects.create(
        network=network,
        name=name or filename,
        source_note=source_note or _source_note(parsed),
        year=year or parsed.meta.get("edition_year"),
        layout=layout,
        filename=filename,
        content=data,
        coordinates_filename=coordinates_filename if coordinates else "",
        coordinates_content=coordinates or b"",
        status=Dataset.Status.REVIEW,
        problems=[p.as_dict() for p in parsed.problems[:MAX_PROBLEMS_KEPT]],
        problem_summary=parsed.summary(),
        meta=parsed.meta,
        created_by=user,
    )
    if not parsed.problems:
        _dataset_store(dataset, parsed, drop=None)
    return dataset


def _dataset_store(dataset: Dataset, parsed: ParsedTable, *, drop: str | None) -> None:
    table, resolution = parsed.resolve(drop)
    Municipality.objects.bulk_create(
        [
            Municipality(
                dataset=dataset,
                position=i,
                code=table.codes[i],
                name=table.names[i],
                prefecture=table.prefectures[i],
                latitude=float(table.latitude[i]),
                longitude=float(table.longitude[i]),
                population=float(table.population[i]),
                values=[float(v) for v in table.values[i]],
            )
            for i in range(len(table))
        ],
        batch_size=500,
    )
    dataset.status = Dataset.Status.READY
    dataset.resolution = drop or ""
    dataset.dropped = resolution.as_dict()
    dataset.indicators = table.indicators
    dataset.row_count = len(table)
    dataset.version = table.version()
    dataset.save(
        update_fields=["status", "resolution", "dropped", "indicators", "row_count", "version"]
    )


@transaction.atomic
def dataset_resolve(*, dataset_id: int, drop: str) -> Dataset:
    """Applies the coordinator's choice to a dataset with problems: drop the indicators
    or the municipalities concerned. TableError when too little would be left."""
    dataset = Dataset.objects.select_for_update().get(pk=dataset_id)
    if dataset.status != Dataset.Status.REVIEW:
        raise DatasetNotResolvable(_("This dataset is ready already."))
    if drop not in Dataset.Drop.values:
        raise DatasetNotResolvable(_("Choose to drop the indicators or the municipalities."))
    parsed = dataset_parse(
        layout=dataset.layout,
        data=bytes(dataset.content),
        filename=dataset.filename,
        coordinates=bytes(dataset.coordinates_content or b""),
        coordinates_filename=dataset.coordinates_filename,
    )
    _dataset_store(dataset, parsed, drop=drop)
    return dataset


@transaction.atomic
def dataset_delete(*, dataset: Dataset) -> None:
    """Removes the dataset with its searches (their results were computed from it)."""
    Dataset.objects.filter(pk=dataset.pk).delete()


# --- searches ------------------------------------------------------------------------------


def _canonical_code(dataset: Dataset, code: str) -> Municipality | None:
    spellings = list(code_spellings(str(code).strip()))
    found = {m.code: m for m in Municipality.objects.filter(dataset=dataset, code__in=spellings)}
    for spelling in spellings:
        if spelling in found:
            return found[spelling]
    return None


@transaction.atomic
def partner_search_create(
    *,
    dataset: Dataset,
    user,
    parameters: SearchParameters,
    travel_matrix: Sequence[tuple[str, str, float]] | None = None,
    travel_times_filename: str = "",
) -> PartnerSearch:
    """Records the search and enqueues it once the record is committed. The target is
    checked now; the rest (study area, components) when it runs."""
    if not dataset.is_ready:
        raise SearchError(_("Resolve the dataset's problems before searching it."))
    parameters.check()
    target = _canonical_code(dataset, parameters.target)
    if target is None:
        raise SearchError(
            _("The target %(code)s is not in the dataset.") % {"code": parameters.target}
        )
    travel_times = None
    if travel_matrix is not None:
        travel_times = _times_from(travel_matrix, target.code)
        if not travel_times:
            raise SearchError(
                _("The travel-time table has no times from %(code)s.") % {"code": target.code}
            )
    parameters = SearchParameters.from_dict({**parameters.as_dict(), "target": target.code})
    search = PartnerSearch.objects.create(
        network=dataset.network,
        dataset=dataset,
        dataset_version=dataset.version,
        requested_by=user,
        target_code=target.code,
        target_name=target.name,
        parameters={**parameters.as_dict(), "algorithm": ALGORITHM},
        travel_times=travel_times,
        travel_times_filename=travel_times_filename if travel_times is not None else "",
    )
    from . import tasks

    transaction.on_commit(lambda: tasks.run_partner_search.delay(search.pk))
    return search


def partner_search_claim(*, search_id: int) -> PartnerSearch | None:
    """pending → running, or None when the search is gone or another run has (or had)
    it: the conditional UPDATE lets exactly one delivery of the task through. A search
    left running far longer than any search takes lost its worker (acks_late
    redelivers the task then) and is claimed again."""
    now = timezone.now()
    claimable = Q(status=PartnerSearch.Status.PENDING) | Q(
        status=PartnerSearch.Status.RUNNING, started_at__lt=now - STALE_AFTER
    )
    claimed = PartnerSearch.objects.filter(claimable, pk=search_id).update(
        status=PartnerSearch.Status.RUNNING, started_at=now, progress=5, stage="load"
    )
    if not claimed:
        return None
    return PartnerSearch.objects.select_related("dataset").get(pk=search_id)


def _progress(search_id: int, percent: int, stage: str) -> None:
    PartnerSearch.objects.filter(pk=search_id, status=PartnerSearch.Status.RUNNING).update(
        progress=percent, stage=stage
    )


def partner_search_run(*, search_id: int) -> PartnerSearch | None:
    """Runs a claimed search and stores its result; None when the search is gone or
    already claimed. A failure marks it failed with the reason kept (no retry: the
    same data and parameters would fail again)."""
    search = partner_search_claim(search_id=search_id)
    if search is None:
        return None
    try:
        dataset = search.dataset
        if dataset.version != search.dataset_version:
            raise SearchError(_("The dataset changed after the search was requested."))
        table = selectors.dataset_table(dataset=dataset)
        _progress(search_id, 15, "pca")
        result = find_partners(
            table,
            SearchParameters.from_dict(search.parameters),
            travel_times=search.travel_times,
            progress=lambda percent, stage: _progress(search_id, percent, stage),
        )
        record = result.to_record()
    except Exception as exc:
        if isinstance(exc, SearchError):
            error = str(exc)
        else:
            log.exception("partner search %s failed", search_id)
            error = f"{type(exc).__name__}: {exc}"
        PartnerSearch.objects.filter(pk=search_id, status=PartnerSearch.Status.RUNNING).update(
            status=PartnerSearch.Status.FAILED, error=error[:2000], finished_at=timezone.now()
        )
    else:
        PartnerSearch.objects.filter(pk=search_id, status=PartnerSearch.Status.RUNNING).update(
            status=PartnerSearch.Status.DONE,
            result=record,
            progress=100,
            stage="done",
            error="",
            finished_at=timezone.now(),
        )
    search.refresh_from_db()
    return search


@transaction.atomic
def partner_search_delete(*, search: PartnerSearch) -> None:
    PartnerSearch.objects.filter(pk=search.pk).delete()


# --- a candidate becomes a region ----------------------------------------------------------


@transaction.atomic
def candidate_region_create(*, search: PartnerSearch, code: str) -> Region:
    """Makes a municipality of the search's dataset (a candidate, or the target) a
    region of the network, with its name, prefecture, centre, population and code.
    Refused when the network has a region with that municipal code (or that name)."""
    network = search.network
    # Serialises additions per network, so two clicks cannot both pass the check.
    Network.objects.select_for_update().filter(pk=network.pk).first()
    municipality = Municipality.objects.filter(dataset=search.dataset, code=code).first()
    if municipality is None:
        raise RegionRefused(_("%(code)s is not in the dataset.") % {"code": code})
    existing = Region.objects.filter(network=network, municipality_code=municipality.code).first()
    if existing is not None:
        raise RegionRefused(
            _("%(name)s (%(code)s) is already a region of this network: %(region)s.")
            % {"name": municipality.name, "code": municipality.code, "region": existing.name}
        )
    data = {
        "name": municipality.name,
        "prefecture": municipality.prefecture[:50],
        "latitude": municipality.latitude,
        "longitude": municipality.longitude,
        "population": round(municipality.population),
        "municipality_code": municipality.code,
    }
    try:
        with transaction.atomic():
            return region_save(network=network, data=data)
    except ValidationError as exc:
        messages = [m for values in exc.message_dict.values() for m in values]
        raise RegionRefused(
            _("%(name)s cannot become a region: %(reasons)s")
            % {"name": municipality.name, "reasons": " ".join(messages)}
        ) from None
    except IntegrityError:
        raise RegionRefused(
            _("%(name)s is already a region of this network.") % {"name": municipality.name}
        ) from None
