"""The demo's partner-region finder: the project's synthetic statistics and one finished
search, so that the pages have something to show. Idempotent (seed_demo runs it on
every start); never the real SSDSE-A data, which is not part of the repository."""

from __future__ import annotations

from django.db import transaction

from coordination.models import Network

from . import services, synthetic
from .models import Dataset, PartnerSearch
from .search import SearchParameters

DEMO_DATASET = "Synthetic municipalities (demo)"


@transaction.atomic
def partners_demo_seed(*, network: Network, user=None) -> Dataset:
    """The demo dataset of the network, created with a 3–4 hour search for the
    synthetic target if missing."""
    dataset = Dataset.objects.filter(network=network, name=DEMO_DATASET).first()
    if dataset is None:
        dataset = services.dataset_upload(
            network=network,
            user=user,
            name=DEMO_DATASET,
            layout=Dataset.Layout.GENERIC,
            filename="synthetic-400x70.csv",
            data=synthetic.synthetic_csv(),
            source_note="partners.synthetic (seed 2026): 400 fictional municipalities × 70 "
            "indicators driven by 6 latent factors, with a planted twin of the target.",
            year=2026,
        )
    if not PartnerSearch.objects.filter(dataset=dataset).exists():
        services.partner_search_create(
            dataset=dataset,
            user=user,
            parameters=SearchParameters(
                target=synthetic.TARGET_CODE, min_hours=3, max_hours=4, top=20
            ),
        )
    return dataset
