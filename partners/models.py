"""Where to look for a partner region: uploaded municipal statistics (datasets) and the
searches run on them, each kept with its parameters and the dataset's version."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from coordination.models import Network


class Dataset(models.Model):
    """A statistics table of a network. Uploaded with problems, it waits for the
    coordinator's choice (drop the indicators or the municipalities concerned); once
    ready its rows are the Municipality records and it never changes again, so its
    `version` (SHA-256 of the clean table in the generic format) identifies the data
    every search used."""

    class Layout(models.TextChoices):
        GENERIC = "generic", _("Statistics table (code, name, prefecture, …)")
        SSDSE_A = "ssdse_a", _("SSDSE-A with a coordinates table")

    class Status(models.TextChoices):
        REVIEW = "review", _("Has problems")
        READY = "ready", _("Ready")

    class Drop(models.TextChoices):
        INDICATORS = "indicators", _("Drop the indicators")
        MUNICIPALITIES = "municipalities", _("Drop the municipalities")

    network = models.ForeignKey(
        Network,
        on_delete=models.CASCADE,
        related_name="partner_datasets",
        verbose_name=_("network"),
    )
    name = models.CharField(_("name"), max_length=200)
    source_note = models.TextField(
        _("source"),
        blank=True,
        help_text=_("Where the figures come from, to cite them (survey, publisher, edition)."),
    )
    year = models.PositiveSmallIntegerField(_("year"), null=True, blank=True)
    layout = models.CharField(_("layout"), max_length=20, choices=Layout.choices)
    filename = models.CharField(_("file name"), max_length=255)
    # The files as uploaded: the problems and their resolution are computed from them.
    content = models.BinaryField(_("content"))
    coordinates_filename = models.CharField(_("coordinates file"), max_length=255, blank=True)
    coordinates_content = models.BinaryField(_("coordinates"), blank=True, default=b"")
    status = models.CharField(_("status"), max_length=20, choices=Status.choices)
    problems = models.JSONField(_("problems"), default=list, blank=True)
    problem_summary = models.JSONField(_("problem summary"), default=dict, blank=True)
    resolution = models.CharField(_("resolution"), max_length=20, choices=Drop.choices, blank=True)
    dropped = models.JSONField(_("dropped"), default=dict, blank=True)
    indicators = models.JSONField(_("indicators"), default=list, blank=True)
    row_count = models.PositiveIntegerField(_("municipalities"), default=0)
    version = models.CharField(_("version"), max_length=64, blank=True)
    meta = models.JSONField(_("file details"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("statistics dataset")
        verbose_name_plural = _("statistics datasets")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["network", "-created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["review", "ready"]), name="partner_dataset_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(layout__in=["generic", "ssdse_a"]), name="partner_dataset_layout_valid"
            ),
            # A ready dataset has its fingerprint; searches record it.
            models.CheckConstraint(
                condition=Q(status="review") | ~Q(version=""), name="partner_dataset_ready_version"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("partner_dataset_detail", args=[self.network.slug, self.pk])

    @property
    def is_ready(self) -> bool:
        return self.status == self.Status.READY


class Municipality(models.Model):
    """One row of a ready dataset; `values` follow `dataset.indicators`."""

    dataset = models.ForeignKey(
        Dataset, on_delete=models.CASCADE, related_name="municipalities", verbose_name=_("dataset")
    )
    position = models.PositiveIntegerField(_("position"))
    code = models.CharField(_("code"), max_length=20)
    name = models.CharField(_("name"), max_length=200)
    prefecture = models.CharField(_("prefecture"), max_length=50, blank=True)
    latitude = models.FloatField(_("latitude"))
    longitude = models.FloatField(_("longitude"))
    population = models.FloatField(_("population"))
    values = models.JSONField(_("values"), default=list)

    class Meta:
        verbose_name = _("municipality")
        verbose_name_plural = _("municipalities")
        ordering = ["dataset", "position"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "code"], name="partner_municipality_code"),
            models.UniqueConstraint(
                fields=["dataset", "position"], name="partner_municipality_position"
            ),
            models.CheckConstraint(
                condition=Q(latitude__gte=-90, latitude__lte=90)
                & Q(longitude__gte=-180, longitude__lte=180),
                name="partner_municipality_on_earth",
            ),
            models.CheckConstraint(
                condition=Q(population__gt=0), name="partner_municipality_population"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class PartnerSearch(models.Model):
    """One run of the search, in the background. Its parameters, the dataset's version
    and any measured travel times are kept with the result, so it can be reproduced
    (`find_partners` on the dataset's download with the same options)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    network = models.ForeignKey(
        Network,
        on_delete=models.CASCADE,
        related_name="partner_searches",
        verbose_name=_("network"),
    )
    dataset = models.ForeignKey(
        Dataset, on_delete=models.CASCADE, related_name="searches", verbose_name=_("dataset")
    )
    dataset_version = models.CharField(_("dataset version"), max_length=64)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("requested by"),
    )
    target_code = models.CharField(_("target"), max_length=20)
    target_name = models.CharField(_("target name"), max_length=200, blank=True)
    parameters = models.JSONField(_("parameters"), default=dict)
    # Hours from the target by code, when a measured time matrix replaced the estimate.
    travel_times = models.JSONField(_("travel times"), null=True, blank=True)
    travel_times_filename = models.CharField(_("travel-time file"), max_length=255, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    stage = models.CharField(_("stage"), max_length=40, blank=True)
    result = models.JSONField(_("result"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("partner search")
        verbose_name_plural = _("partner searches")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["network", "-created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "running", "done", "failed"]),
                name="partner_search_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(progress__lte=100), name="partner_search_progress_range"
            ),
            models.CheckConstraint(
                condition=~Q(status="done") | Q(result__isnull=False),
                name="partner_search_done_has_result",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.target_code} {self.target_name} ({self.get_status_display()})"

    def get_absolute_url(self) -> str:
        return reverse("partner_search_detail", args=[self.network.slug, self.pk])

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)
