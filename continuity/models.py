"""Mutual business-continuity support: what each organization can offer and would need
in a disaster, agreements between organizations, drills and real incidents with the
requests, the partners asked and their answers."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from coordination.models import Bulletin, Event, Network, Organization, Participant, Region


class Category(models.TextChoices):
    PROCESS = "process", _("Process or machine")
    MATERIAL = "material", _("Material or stock")
    SKILL = "skill", _("Staff skill")
    SPACE = "space", _("Space")
    TRANSPORT = "transport", _("Transport")
    OTHER = "other", _("Other")


class Process(models.TextChoices):
    PRESS = "press", _("Press")
    PLATING = "plating", _("Plating")
    POLISHING = "polishing", _("Polishing")
    MACHINING = "machining", _("Machining centre")
    INJECTION_MOULDING = "injection_moulding", _("Injection moulding")
    WELDING = "welding", _("Welding")
    CASTING = "casting", _("Casting")
    HEAT_TREATMENT = "heat_treatment", _("Heat treatment")
    PAINTING = "painting", _("Painting and coating")
    ASSEMBLY = "assembly", _("Assembly")
    OTHER = "other", _("Other process")


def match_key(category: str, process: str) -> str:
    """What a need and a capability are matched on: the category, and for processes
    the process too (a press cannot stand in for plating)."""
    return f"{category}:{process}" if category == Category.PROCESS and process else category


class Resource(models.Model):
    """What a capability and a need have in common."""

    network = models.ForeignKey(Network, on_delete=models.CASCADE, verbose_name=_("network"))
    category = models.CharField(_("category"), max_length=20, choices=Category.choices)
    process = models.CharField(
        _("process"),
        max_length=30,
        choices=Process.choices,
        blank=True,
        help_text=_("For processes and machines only."),
    )
    description = models.CharField(
        _("description"), max_length=300, help_text=_("e.g. 200 t servo press, zinc plating")
    )
    quantity = models.CharField(
        _("capacity or quantity"),
        max_length=200,
        blank=True,
        help_text=_("e.g. 2 shifts a week, 3 t of SUS304 sheet, 2 skilled operators"),
    )
    created_at = models.DateTimeField(_("added at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    # Removed entries stay so that the indicators can be recomputed for past dates.
    removed_at = models.DateTimeField(_("removed at"), null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["category", "process", "pk"]

    def __str__(self) -> str:
        return self.description

    @property
    def key(self) -> str:
        return match_key(self.category, self.process)

    @property
    def kind_label(self) -> str:
        if self.category == Category.PROCESS and self.process:
            return str(self.get_process_display())
        return str(self.get_category_display())


def _process_only_for_processes(name: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=Q(category="process") | Q(process=""), name=f"{name}_process_only_for_process"
    )


class Capability(Resource):
    """Something an organization could offer another one in a disaster."""

    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="capabilities",
        verbose_name=_("organization"),
    )

    class Meta(Resource.Meta):
        verbose_name = _("capability")
        verbose_name_plural = _("capabilities")
        constraints = [_process_only_for_processes("capability")]
        indexes = [models.Index(fields=["network", "category", "process"])]


class Need(Resource):
    """Something an organization would need from others if it were hit."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="needs", verbose_name=_("organization")
    )
    critical = models.BooleanField(
        _("critical"), default=False, help_text=_("Without it the business stops.")
    )

    class Meta(Resource.Meta):
        verbose_name = _("need")
        verbose_name_plural = _("needs")
        constraints = [_process_only_for_processes("need")]
        indexes = [models.Index(fields=["network", "category", "process"])]


class Agreement(models.Model):
    """A mutual-support agreement between two organizations (usually of two regions)."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        IN_FORCE = "in_force", _("In force")
        ENDED = "ended", _("Ended")

    network = models.ForeignKey(
        Network, on_delete=models.CASCADE, related_name="agreements", verbose_name=_("network")
    )
    organization_a = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="agreements_as_a",
        verbose_name=_("organization"),
    )
    organization_b = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="agreements_as_b",
        verbose_name=_("partner organization"),
    )
    offers_a = models.TextField(_("what the first offers"), blank=True)
    offers_b = models.TextField(_("what the partner offers"), blank=True)
    contact_a = models.ForeignKey(
        Participant,
        on_delete=models.PROTECT,
        related_name="agreements_as_a",
        verbose_name=_("contact"),
    )
    contact_b = models.ForeignKey(
        Participant,
        on_delete=models.PROTECT,
        related_name="agreements_as_b",
        verbose_name=_("partner's contact"),
    )
    signed_on = models.DateField(_("signed on"), null=True, blank=True)
    review_on = models.DateField(_("review on"), null=True, blank=True)
    ended_on = models.DateField(_("ended on"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.DRAFT
    )
    note = models.TextField(_("note"), blank=True)
    # The collaboration tie that makes the indicators count the agreement.
    tie = models.ForeignKey(
        "observations.Tie",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("tie"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("mutual-support agreement")
        verbose_name_plural = _("mutual-support agreements")
        ordering = ["-signed_on", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(organization_a=models.F("organization_b")),
                name="agreement_two_organizations",
            ),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(signed_on__isnull=False),
                name="agreement_signed_unless_draft",
            ),
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True)
                | Q(signed_on__isnull=False, ended_on__gte=models.F("signed_on")),
                name="agreement_ends_after_signing",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organization_a} – {self.organization_b}"

    def get_absolute_url(self) -> str:
        return reverse("continuity_agreement", args=[self.network.slug, self.pk])


class AgreementReminder(models.Model):
    """The claim of one review reminder: created before the mail goes, so a second run
    (or a second beat) finds it and sends nothing."""

    agreement = models.ForeignKey(
        Agreement, on_delete=models.CASCADE, related_name="reminders", verbose_name=_("agreement")
    )
    review_on = models.DateField(_("review on"))
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("review reminder")
        verbose_name_plural = _("review reminders")
        constraints = [
            models.UniqueConstraint(
                fields=["agreement", "review_on"], name="agreement_reminder_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agreement} ({self.review_on})"


class Incident(models.Model):
    """A region hit by a disaster (or, in a drill, pretending to be): the affected
    organizations, their requests and the partners asked to help."""

    class Kind(models.TextChoices):
        INCIDENT = "incident", _("Incident")
        DRILL = "drill", _("Drill")

    class Status(models.TextChoices):
        PENDING = "pending", _("Awaiting a second confirmation")
        PLANNED = "planned", _("Planned")
        ACTIVE = "active", pgettext_lazy("incident status", "Active")
        CLOSED = "closed", _("Closed")

    network = models.ForeignKey(
        Network, on_delete=models.CASCADE, related_name="incidents", verbose_name=_("network")
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="incidents", verbose_name=_("region hit")
    )
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(
        _("what happened"), blank=True, help_text=_("Markdown. For a drill: the scenario.")
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    event = models.OneToOneField(
        Event,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="drill",
        verbose_name=_("drill event"),
    )
    affected_organizations = models.ManyToManyField(
        Organization, related_name="incidents", blank=True, verbose_name=_("organizations down")
    )
    # A drill's scenario: these capabilities are lost (empty: all of the affected ones).
    lost_capabilities = models.ManyToManyField(
        Capability, related_name="+", blank=True, verbose_name=_("capabilities lost")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("declared at"), default=timezone.now)
    activated_at = models.DateTimeField(_("activated at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    # Results, kept when a drill (or an incident) is closed.
    coverage = models.FloatField(_("coverage"), null=True, blank=True)
    median_response_minutes = models.FloatField(_("median response time"), null=True, blank=True)

    class Meta:
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        ordering = ["-created_at"]
        constraints = [
            # Two members declaring the same region join one incident: the second
            # declaration is the confirmation.
            models.UniqueConstraint(
                fields=["network", "region"],
                condition=Q(kind="incident", status__in=["pending", "active"]),
                name="incident_one_open_per_region",
            ),
            models.CheckConstraint(
                condition=~Q(status="active") | Q(activated_at__isnull=False),
                name="incident_active_has_time",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("continuity_incident", args=[self.network.slug, self.pk])

    def get_portal_url(self) -> str:
        return reverse("portal_continuity_incident", args=[self.network.slug, self.pk])

    @property
    def is_drill(self) -> bool:
        return self.kind == self.Kind.DRILL


class Confirmation(models.Model):
    """One person declaring (or confirming) an incident."""

    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="confirmations", verbose_name=_("incident")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("by")
    )
    participant = models.ForeignKey(
        Participant,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("participant"),
    )
    as_coordinator = models.BooleanField(_("as coordinator"), default=False)
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("confirmation")
        verbose_name_plural = _("confirmations")
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "user"], name="confirmation_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.incident}"


class HelpRequest(models.Model):
    """What an affected organization needs (or, in a drill, a capability lost), tracked
    until it is fulfilled or closed."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        MATCHED = "matched", _("Matched")
        FULFILLED = "fulfilled", _("Fulfilled")
        CLOSED = "closed", _("Closed")

    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="requests", verbose_name=_("incident")
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", verbose_name=_("organization")
    )
    need = models.ForeignKey(
        Need, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    capability = models.ForeignKey(
        Capability, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    category = models.CharField(_("category"), max_length=20, choices=Category.choices)
    process = models.CharField(_("process"), max_length=30, choices=Process.choices, blank=True)
    description = models.CharField(_("description"), max_length=300)
    critical = models.BooleanField(_("critical"), default=False)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OPEN
    )
    matched_reply = models.ForeignKey(
        "Reply",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="matched_requests",
        verbose_name=_("matched with"),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("request")
        verbose_name_plural = _("requests")
        ordering = ["-critical", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="matched") | Q(matched_reply__isnull=False),
                name="request_matched_has_offer",
            ),
        ]

    def __str__(self) -> str:
        return self.description

    @property
    def key(self) -> str:
        return match_key(self.category, self.process)

    @property
    def kind_label(self) -> str:
        if self.category == Category.PROCESS and self.process:
            return str(self.get_process_display())
        return str(self.get_category_display())


class Reply(models.Model):
    """One partner asked to help, by a personal link in their e-mail, and their answer."""

    class Speed(models.IntegerChoices):
        HOURS = 4, _("Within a few hours")
        DAY = 24, _("Within a day")
        DAYS = 72, _("Within three days")
        WEEK = 168, _("Within a week")
        LATER = 336, _("Later")

    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="replies", verbose_name=_("incident")
    )
    participant = models.ForeignKey(
        Participant, on_delete=models.CASCADE, related_name="+", verbose_name=_("participant")
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", verbose_name=_("organization")
    )
    via_agreement = models.BooleanField(_("has an agreement"), default=False)
    via_capability = models.BooleanField(_("has a matching capability"), default=False)
    digest = models.CharField(_("link digest"), max_length=64, unique=True)
    bulletin = models.ForeignKey(
        Bulletin,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="continuity_replies",
        verbose_name=_("notice"),
    )
    notified_at = models.DateTimeField(_("asked at"))
    answered_at = models.DateTimeField(_("first answered at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("answer changed at"), null=True, blank=True)
    can_help = models.BooleanField(_("can help"), null=True)
    offered_for = models.ManyToManyField(
        HelpRequest, related_name="offers", blank=True, verbose_name=_("offers help with")
    )
    what = models.CharField(_("what"), max_length=300, blank=True)
    hours = models.PositiveIntegerField(_("how soon"), choices=Speed.choices, null=True)
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("partner asked")
        verbose_name_plural = _("partners asked")
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "participant"], name="reply_once"),
            models.CheckConstraint(
                condition=Q(answered_at__isnull=True) | Q(can_help__isnull=False),
                name="reply_answer_has_choice",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant} ({self.incident})"

    @property
    def response_minutes(self) -> float | None:
        if self.answered_at is None:
            return None
        return max((self.answered_at - self.notified_at).total_seconds() / 60, 0.0)
