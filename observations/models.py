"""What happened: collaboration ties between participants, the observation log (field
notes and measurements), the qualitative codebook with its codings and memos, and
export jobs. This app reads coordination; coordination never imports it."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Greatest, Least
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from coordination.models import Event, Network, Organization, Participant, Region


class Tie(models.Model):
    """An undirected collaboration between two participants, with its dates."""

    class Kind(models.TextChoices):
        ACQUAINTANCE = "acquaintance", _("Acquaintance")
        INFORMATION_EXCHANGE = "information_exchange", _("Information exchange")
        TRANSACTION = "transaction", _("Transaction")
        JOINT_PROJECT = "joint_project", _("Joint project")
        SHARED_CUSTOMER = "shared_customer", _("Shared customer")
        MUTUAL_SUPPORT_AGREEMENT = "mutual_support_agreement", _("Mutual support agreement")

    class Status(models.TextChoices):
        REPORTED = "reported", _("Reported (awaiting confirmation)")
        CONFIRMED = "confirmed", _("Confirmed")
        REJECTED = "rejected", _("Rejected")

    network = models.ForeignKey(
        Network, on_delete=models.CASCADE, related_name="ties", verbose_name=_("network")
    )
    source = models.ForeignKey(
        Participant,
        on_delete=models.CASCADE,
        related_name="ties_out",
        verbose_name=_("participant"),
    )
    target = models.ForeignKey(
        Participant, on_delete=models.CASCADE, related_name="ties_in", verbose_name=_("with")
    )
    kind = models.CharField(_("kind"), max_length=30, choices=Kind.choices)
    started_on = models.DateField(_("started on"))
    ended_on = models.DateField(_("ended on"), null=True, blank=True)
    initiated_by = models.ForeignKey(
        Participant,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="ties_brokered",
        verbose_name=_("brokered by"),
        help_text=_(
            "Who brought the two together (often the coordinator); empty if they did it themselves."
        ),
    )
    origin_event = models.ForeignKey(
        Event,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="ties",
        verbose_name=_("met at"),
    )
    note = models.TextField(_("note"), blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.CONFIRMED
    )
    reported_by = models.ForeignKey(
        Participant,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="ties_reported",
        verbose_name=_("reported by"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        verbose_name=_("by"),
    )
    # Deletion is soft: the record and its history stay for the research.
    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("tie")
        verbose_name_plural = _("ties")
        ordering = ["-started_on", "pk"]
        constraints = [
            models.CheckConstraint(condition=~Q(source=F("target")), name="tie_two_people"),
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=F("started_on")),
                name="tie_ends_after_start",
            ),
            # One record per pair, kind and start: an undirected pair in either order.
            models.UniqueConstraint(
                "network",
                Least("source", "target"),
                Greatest("source", "target"),
                "kind",
                "started_on",
                condition=Q(deleted_at__isnull=True),
                name="tie_once_per_pair_kind_start",
            ),
        ]
        indexes = [models.Index(fields=["network", "status"])]

    def __str__(self) -> str:
        return f"{self.source} – {self.target} ({self.get_kind_display()})"

    def is_active_on(self, day: dt.date) -> bool:
        return self.started_on <= day and (self.ended_on is None or self.ended_on > day)


class Metric(models.Model):
    """What a quantitative observation measures; each network keeps its own list."""

    network = models.ForeignKey(
        Network, on_delete=models.CASCADE, related_name="metrics", verbose_name=_("network")
    )
    name = models.CharField(_("name"), max_length=100)
    unit = models.CharField(_("unit"), max_length=30, blank=True)
    description = models.TextField(_("description"), blank=True)
    is_active = models.BooleanField(
        _("offered in forms"),
        default=True,
        help_text=_("Retired metrics keep their observations but are no longer offered."),
    )
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("metric")
        verbose_name_plural = _("metrics")
        ordering = ["position", "name"]
        constraints = [
            models.UniqueConstraint(fields=["network", "name"], name="metric_name_once"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.unit})" if self.unit else self.name


class Observation(models.Model):
    """One entry of the researcher's log: a field note or a measurement."""

    class Kind(models.TextChoices):
        QUALITATIVE = "qualitative", _("Qualitative")
        QUANTITATIVE = "quantitative", _("Quantitative")

    class Category(models.TextChoices):
        ATTITUDE_CHANGE = "attitude_change", _("Attitude change")
        MUTUAL_LEARNING = "mutual_learning", _("Mutual learning")
        MEETING_ATMOSPHERE = "meeting_atmosphere", _("Meeting atmosphere")
        STAKEHOLDER_STANCE = "stakeholder_stance", _("Stakeholder stance")
        COLLABORATION = "collaboration", _("Collaboration")
        NETWORK_EXPANSION = "network_expansion", _("Network expansion")
        BCP = "bcp", _("Business continuity")
        OTHER = "other", _("Other")

    network = models.ForeignKey(
        Network, on_delete=models.CASCADE, related_name="observations", verbose_name=_("network")
    )
    observed_on = models.DateField(_("date"))
    observed_time = models.TimeField(_("time"), null=True, blank=True)
    event = models.ForeignKey(
        Event,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="observations",
        verbose_name=_("event"),
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="observations",
        verbose_name=_("author"),
    )
    kind = models.CharField(
        _("kind"), max_length=20, choices=Kind.choices, default=Kind.QUALITATIVE
    )
    category = models.CharField(_("category"), max_length=30, choices=Category.choices)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"), blank=True, help_text=_("Markdown."))
    participants = models.ManyToManyField(
        Participant, blank=True, related_name="observations", verbose_name=_("participants")
    )
    organizations = models.ManyToManyField(
        Organization, blank=True, related_name="observations", verbose_name=_("organizations")
    )
    regions = models.ManyToManyField(
        Region, blank=True, related_name="observations", verbose_name=_("regions")
    )
    metric = models.ForeignKey(
        Metric,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="observations",
        verbose_name=_("metric"),
    )
    value = models.DecimalField(_("value"), max_digits=16, decimal_places=4, null=True, blank=True)
    unit = models.CharField(_("unit"), max_length=30, blank=True)
    rating = models.PositiveSmallIntegerField(
        _("rating"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text=_("Optional, 1 (low) to 5 (high)."),
    )
    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    history = HistoricalRecords(m2m_fields=[participants, organizations, regions])

    class Meta:
        verbose_name = _("observation")
        verbose_name_plural = _("observations")
        ordering = ["-observed_on", "-observed_time", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="qualitative", metric__isnull=True, value__isnull=True)
                | Q(kind="quantitative", metric__isnull=False, value__isnull=False),
                name="observation_measurement_matches_kind",
            ),
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=5),
                name="observation_rating_1_to_5",
            ),
        ]
        indexes = [
            models.Index(fields=["network", "observed_on"]),
            models.Index(fields=["network", "category"]),
        ]

    def __str__(self) -> str:
        return self.title


class Code(models.Model):
    """A code of the network's codebook; codes nest (a parent and its children)."""

    network = models.ForeignKey(
        Network, on_delete=models.CASCADE, related_name="codes", verbose_name=_("network")
    )
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("parent code"),
    )
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    colour = models.CharField(
        _("colour"),
        max_length=7,
        default="#ffd54f",
        help_text=_("As #rrggbb; highlights of this code use it."),
    )
    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("code")
        verbose_name_plural = _("codes")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["network", "name"],
                condition=Q(parent__isnull=True, deleted_at__isnull=True),
                name="code_top_level_name_once",
            ),
            models.UniqueConstraint(
                fields=["parent", "name"],
                condition=Q(parent__isnull=False, deleted_at__isnull=True),
                name="code_child_name_once",
            ),
            models.CheckConstraint(
                condition=Q(colour__regex=r"^#[0-9a-fA-F]{6}$"), name="code_colour_hex"
            ),
            models.CheckConstraint(condition=~Q(parent=F("pk")), name="code_not_own_parent"),
        ]

    def __str__(self) -> str:
        return self.name


class Coding(models.Model):
    """A code applied to a whole observation (no offsets) or to a highlighted passage
    of its text: characters start..end of the body, with the quoted text kept so that
    an edit of the body can move the passage or flag it."""

    observation = models.ForeignKey(
        Observation, on_delete=models.CASCADE, related_name="codings", verbose_name=_("observation")
    )
    code = models.ForeignKey(
        Code, on_delete=models.CASCADE, related_name="codings", verbose_name=_("code")
    )
    start = models.PositiveIntegerField(_("start"), null=True, blank=True)
    end = models.PositiveIntegerField(_("end"), null=True, blank=True)
    quote = models.TextField(_("quoted text"), blank=True)
    # Set when an edit of the body lost the passage: the quote stays, a researcher
    # re-highlights or removes it.
    needs_review = models.BooleanField(_("passage lost in an edit"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        verbose_name=_("by"),
    )
    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("coding")
        verbose_name_plural = _("codings")
        ordering = ["observation", "start", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(start__isnull=True, end__isnull=True)
                | Q(start__isnull=False, end__isnull=False, end__gt=F("start")),
                name="coding_whole_or_passage",
            ),
            models.UniqueConstraint(
                fields=["observation", "code"],
                condition=Q(start__isnull=True, deleted_at__isnull=True),
                name="coding_whole_once",
            ),
            models.UniqueConstraint(
                fields=["observation", "code", "start", "end"],
                condition=Q(start__isnull=False, deleted_at__isnull=True),
                name="coding_passage_once",
            ),
        ]
        indexes = [models.Index(fields=["code", "observation"])]

    def __str__(self) -> str:
        return f"{self.code} @ {self.observation_id}"

    @property
    def is_passage(self) -> bool:
        return self.start is not None


class Memo(models.Model):
    """A researcher's note on a code, on an observation, or (neither) in the network's
    research journal."""

    network = models.ForeignKey(
        Network, on_delete=models.CASCADE, related_name="memos", verbose_name=_("network")
    )
    code = models.ForeignKey(
        Code,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="memos",
        verbose_name=_("code"),
    )
    observation = models.ForeignKey(
        Observation,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="memos",
        verbose_name=_("observation"),
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        verbose_name=_("author"),
    )
    body = models.TextField(_("memo"))
    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("memo")
        verbose_name_plural = _("memos")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(code__isnull=True) | Q(observation__isnull=True),
                name="memo_on_one_thing",
            ),
        ]

    def __str__(self) -> str:
        return self.body[:40]


class ExportJob(models.Model):
    """An export built in the background (large XLSX files); the file is offered for
    download when the job is done."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        RUNNING = "running", _("Running")
        DONE = "done", _("Ready")
        FAILED = "failed", _("Failed")

    network = models.ForeignKey(
        Network, on_delete=models.CASCADE, related_name="export_jobs", verbose_name=_("network")
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="export_jobs",
        verbose_name=_("requested by"),
    )
    what = models.CharField(_("what"), max_length=30, default="observations")
    format = models.CharField(_("format"), max_length=10)
    pseudonymized = models.BooleanField(_("pseudonymized"), default=True)
    parameters = models.JSONField(_("filters"), default=dict, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    file = models.FileField(_("file"), upload_to="exports/", blank=True)
    row_count = models.PositiveIntegerField(_("rows"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("export job")
        verbose_name_plural = _("export jobs")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["network", "requested_by", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.what}.{self.format} ({self.get_status_display()})"


class IndicatorSnapshot(models.Model):
    """The network's indicators as of one date, computed in the background; the
    dashboard only reads these."""

    network = models.ForeignKey(
        Network,
        on_delete=models.CASCADE,
        related_name="indicator_snapshots",
        verbose_name=_("network"),
    )
    as_of = models.DateField(_("as of"))
    values = models.JSONField(_("values"), default=dict)
    # Which parts were estimated (sampled shortest paths above a size), and how long it took.
    notes = models.JSONField(_("notes"), default=dict, blank=True)
    computed_at = models.DateTimeField(_("computed at"), auto_now=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)

    class Meta:
        verbose_name = _("indicator snapshot")
        verbose_name_plural = _("indicator snapshots")
        ordering = ["network", "as_of"]
        constraints = [
            models.UniqueConstraint(fields=["network", "as_of"], name="snapshot_once_per_day"),
        ]

    def __str__(self) -> str:
        return f"{self.network} @ {self.as_of}"
