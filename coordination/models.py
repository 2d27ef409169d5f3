"""Who and when: networks, their regions, organizations and participants."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

LATITUDE = [MinValueValidator(-90), MaxValueValidator(90)]
LONGITUDE = [MinValueValidator(-180), MaxValueValidator(180)]


class Network(models.Model):
    slug = models.SlugField(
        _("slug"), max_length=60, unique=True, help_text=_("Short name used in addresses.")
    )
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("network")
        verbose_name_plural = _("networks")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("network_detail", args=[self.slug])


class NetworkRole(models.Model):
    """A staff role in one network. Participants get their access from Participant.user."""

    class Role(models.TextChoices):
        COORDINATOR = "coordinator", _("Coordinator")
        RESEARCHER = "researcher", _("Researcher")

    network = models.ForeignKey(
        Network, on_delete=models.CASCADE, related_name="staff_roles", verbose_name=_("network")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="network_roles",
        verbose_name=_("user"),
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)

    class Meta:
        verbose_name = _("network role")
        verbose_name_plural = _("network roles")
        constraints = [
            models.UniqueConstraint(fields=["network", "user"], name="networkrole_one_per_user"),
            models.CheckConstraint(
                condition=Q(role__in=["coordinator", "researcher"]), name="networkrole_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} – {self.get_role_display()} ({self.network})"


class Region(models.Model):
    network = models.ForeignKey(
        Network, on_delete=models.CASCADE, related_name="regions", verbose_name=_("network")
    )
    name = models.CharField(_("name"), max_length=200)
    prefecture = models.CharField(_("prefecture"), max_length=50, blank=True)
    latitude = models.FloatField(_("latitude"), null=True, blank=True, validators=LATITUDE)
    longitude = models.FloatField(_("longitude"), null=True, blank=True, validators=LONGITUDE)
    population = models.PositiveIntegerField(_("population"), null=True, blank=True)
    municipality_code = models.CharField(
        _("municipality code"),
        max_length=6,
        blank=True,
        validators=[RegexValidator(r"^\d{5,6}$", _("Use the 5- or 6-digit municipal code."))],
        help_text=_("Kept as text so that leading zeros stay (01100 is Sapporo)."),
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("region")
        verbose_name_plural = _("regions")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["network", "name"], name="region_name_unique"),
            models.CheckConstraint(
                condition=Q(latitude__isnull=True) | Q(latitude__gte=-90, latitude__lte=90),
                name="region_latitude_range",
            ),
            models.CheckConstraint(
                condition=Q(longitude__isnull=True) | Q(longitude__gte=-180, longitude__lte=180),
                name="region_longitude_range",
            ),
            models.CheckConstraint(
                condition=Q(latitude__isnull=True, longitude__isnull=True)
                | Q(latitude__isnull=False, longitude__isnull=False),
                name="region_coordinates_both_or_neither",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("region_detail", args=[self.network.slug, self.pk])


class OrganizationKind(models.TextChoices):
    FIRM = "firm", _("Firm")
    CHAMBER_OF_COMMERCE = "chamber_of_commerce", _("Chamber of commerce")
    MUNICIPALITY = "municipality", _("Municipality")
    SUPPORT_AGENCY = "support_agency", _("Support agency")
    UNIVERSITY = "university", _("University")
    TRADE_ASSOCIATION = "trade_association", _("Trade association")
    OTHER = "other", _("Other")


class Organization(models.Model):
    Kind = OrganizationKind

    network = models.ForeignKey(
        Network, on_delete=models.CASCADE, related_name="organizations", verbose_name=_("network")
    )
    name = models.CharField(_("name"), max_length=200)
    name_kana = models.CharField(_("name (kana)"), max_length=200, blank=True)
    kind = models.CharField(
        _("kind"), max_length=30, choices=OrganizationKind.choices, default=OrganizationKind.FIRM
    )
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="organizations", verbose_name=_("region")
    )
    industry = models.CharField(_("industry"), max_length=200, blank=True)
    website = models.URLField(_("website"), blank=True)
    latitude = models.FloatField(_("latitude"), null=True, blank=True, validators=LATITUDE)
    longitude = models.FloatField(_("longitude"), null=True, blank=True, validators=LONGITUDE)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["network", "name"], name="organization_name_unique"),
            models.CheckConstraint(
                condition=Q(kind__in=OrganizationKind.values),
                name="organization_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(latitude__isnull=True, longitude__isnull=True)
                | Q(latitude__isnull=False, longitude__isnull=False),
                name="organization_coordinates_both_or_neither",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("organization_detail", args=[self.network.slug, self.pk])

    @property
    def location(self) -> tuple[float, float] | None:
        """The organization's own point, else its region's centre."""
        if self.latitude is not None and self.longitude is not None:
            return (self.latitude, self.longitude)
        if self.region.latitude is not None and self.region.longitude is not None:
            return (self.region.latitude, self.region.longitude)
        return None


class Participant(models.Model):
    """A person taking part as an individual (not as their firm)."""

    class Role(models.TextChoices):
        MEMBER = "member", _("Member")
        COORDINATOR = "coordinator", _("Coordinator")
        OBSERVER = "observer", _("Observer")

    class Consent(models.TextChoices):
        PENDING = "pending", _("Not yet asked")
        GIVEN = "given", _("Given")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    class Language(models.TextChoices):
        JA = "ja", _("Japanese")
        EN = "en", _("English")

    network = models.ForeignKey(
        Network, on_delete=models.CASCADE, related_name="participants", verbose_name=_("network")
    )
    full_name = models.CharField(_("full name"), max_length=200)
    name_kana = models.CharField(_("name (kana)"), max_length=200, blank=True)
    email = models.EmailField(_("e-mail address"))
    organization = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="participants",
        verbose_name=_("organization"),
    )
    position = models.CharField(_("position"), max_length=200, blank=True)
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.MEMBER)
    joined_on = models.DateField(_("joined on"))
    left_on = models.DateField(_("left on"), null=True, blank=True)
    recruited_by = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="recruits",
        verbose_name=_("recruited by"),
    )
    research_consent = models.CharField(
        _("research consent"), max_length=20, choices=Consent.choices, default=Consent.PENDING
    )
    consent_given_on = models.DateField(_("consent given on"), null=True, blank=True)
    consent_withdrawn_on = models.DateField(_("consent withdrawn on"), null=True, blank=True)
    bulletin_opt_out = models.BooleanField(
        _("no bulletins"), default=False, help_text=_("Receives no bulletin e-mails.")
    )
    preferred_language = models.CharField(
        _("preferred language"), max_length=5, choices=Language.choices, default=Language.JA
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="participations",
        verbose_name=_("sign-in account"),
    )
    invited_at = models.DateTimeField(_("invited at"), null=True, blank=True)
    invitation_sent_at = models.DateTimeField(_("invitation sent at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("participant")
        verbose_name_plural = _("participants")
        ordering = ["name_kana", "full_name"]
        constraints = [
            models.UniqueConstraint(
                "network", Lower("email"), name="participant_email_ci_unique_in_network"
            ),
            models.CheckConstraint(
                condition=Q(left_on__isnull=True) | Q(left_on__gte=models.F("joined_on")),
                name="participant_left_after_joined",
            ),
            models.CheckConstraint(
                condition=Q(role__in=["member", "coordinator", "observer"]),
                name="participant_role_valid",
            ),
            models.CheckConstraint(
                condition=~Q(recruited_by=models.F("pk")), name="participant_not_self_recruited"
            ),
            models.CheckConstraint(
                condition=~Q(research_consent="given") | Q(consent_given_on__isnull=False),
                name="participant_consent_given_has_date",
            ),
            models.CheckConstraint(
                condition=~Q(research_consent="withdrawn") | Q(consent_withdrawn_on__isnull=False),
                name="participant_consent_withdrawn_has_date",
            ),
        ]
        indexes = [models.Index(fields=["network", "role"])]

    def __str__(self) -> str:
        return self.full_name

    def get_absolute_url(self) -> str:
        return reverse("participant_detail", args=[self.network.slug, self.pk])

    def is_active_on(self, day: dt.date) -> bool:
        return self.joined_on <= day and (self.left_on is None or self.left_on > day)

    @property
    def is_active(self) -> bool:
        return self.is_active_on(timezone.localdate())


class ImportRun(models.Model):
    """An uploaded table kept between its preview and its application."""

    class Kind(models.TextChoices):
        REGIONS = "regions", _("Regions")
        PARTICIPANTS = "participants", _("Participants")

    class Status(models.TextChoices):
        PREVIEWED = "previewed", _("Previewed")
        INVALID = "invalid", _("Has errors")
        APPLIED = "applied", _("Applied")

    network = models.ForeignKey(
        Network, on_delete=models.CASCADE, related_name="imports", verbose_name=_("network")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    filename = models.CharField(_("file name"), max_length=255)
    content = models.BinaryField(_("content"))
    status = models.CharField(_("status"), max_length=20, choices=Status.choices)
    report = models.JSONField(_("report"), default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, verbose_name=_("by")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    applied_at = models.DateTimeField(_("applied at"), null=True, blank=True)

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.filename}"
