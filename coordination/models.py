"""Who and when: networks, their regions, organizations and participants."""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from simple_history.models import HistoricalRecords

LATITUDE = [MinValueValidator(-90), MaxValueValidator(90)]
LONGITUDE = [MinValueValidator(-180), MaxValueValidator(180)]


class Network(models.Model):
    slug = models.SlugField(
        _("slug"), max_length=60, unique=True, help_text=_("Short name used in addresses.")
    )
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    members_schedule_directly = models.BooleanField(
        _("members schedule events directly"),
        default=False,
        help_text=_("Otherwise events proposed by members wait for the coordinator's approval."),
    )
    track_bulletin_opens = models.BooleanField(
        _("track bulletin opens"),
        default=False,
        help_text=_(
            "Adds an invisible image to bulletin e-mails to record opening. Off by default."
        ),
    )
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
    # Researchers see pseudonyms until the coordinator grants this (coordinators always
    # see names).
    identified_access = models.BooleanField(
        _("may see names"),
        default=False,
        help_text=_("A researcher with this sees real names instead of pseudonyms."),
    )

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
    calendar_token = models.CharField(
        _("calendar feed key"), max_length=64, unique=True, null=True, blank=True, editable=False
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


def _event_uid() -> str:
    return f"{uuid.uuid4()}@hubless"


class Event(models.Model):
    """A meeting, site visit or other gathering; one calendar entry (UID) for its life."""

    class Kind(models.TextChoices):
        KICKOFF = "kickoff", _("Kickoff")
        MEETING = "meeting", _("Meeting")
        SITE_VISIT = "site_visit", _("Site visit")
        WORKSHOP = "workshop", _("Workshop")
        ONLINE = "online", _("Online meeting")
        DRILL = "drill", _("Drill")
        OTHER = "other", _("Other")

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("Proposed (awaiting approval)")
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        CANCELLED = "cancelled", _("Cancelled")
        HELD = "held", _("Held")

    network = models.ForeignKey(
        Network, on_delete=models.CASCADE, related_name="events", verbose_name=_("network")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.MEETING)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(
        _("description"), blank=True, help_text=_("Markdown: **bold**, lists, links.")
    )
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    region = models.ForeignKey(
        Region,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="events",
        verbose_name=_("region"),
    )
    venue = models.CharField(_("venue"), max_length=200, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    host_organization = models.ForeignKey(
        Organization,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="hosted_events",
        verbose_name=_("host organization"),
    )
    online_url = models.URLField(_("online meeting link"), blank=True)
    capacity = models.PositiveIntegerField(
        _("capacity"), null=True, blank=True, help_text=_("Empty: no limit.")
    )
    rsvp_deadline = models.DateTimeField(_("answer by"), null=True, blank=True)
    reminder_days = models.JSONField(_("reminders (days before)"), default=list, blank=True)
    show_attendees = models.BooleanField(_("invitees see who else is coming"), default=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.DRAFT
    )
    proposed_by = models.ForeignKey(
        Participant,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="proposed_events",
        verbose_name=_("proposed by"),
    )
    uid = models.CharField(
        _("calendar UID"), max_length=100, unique=True, default=_event_uid, editable=False
    )
    sequence = models.PositiveIntegerField(_("calendar revision"), default=0, editable=False)
    attendance_recorded = models.BooleanField(_("attendance recorded"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="event_ends_after_start"
            ),
            models.CheckConstraint(
                condition=Q(capacity__isnull=True) | Q(capacity__gte=1),
                name="event_capacity_positive",
            ),
        ]
        indexes = [models.Index(fields=["network", "starts_at"])]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("event_detail", args=[self.network.slug, self.pk])

    def get_portal_url(self) -> str:
        return reverse("portal_event", args=[self.network.slug, self.pk])

    @property
    def answer_deadline(self) -> dt.datetime:
        return self.rsvp_deadline or self.starts_at

    def answers_open(self, now: dt.datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.status == self.Status.SCHEDULED and now <= self.answer_deadline


class Invitation(models.Model):
    """One participant invited to one event: their answer, place and attendance."""

    class Answer(models.TextChoices):
        PENDING = "pending", _("Not answered")
        YES = "yes", _("Yes")
        MAYBE = "maybe", _("Maybe")
        NO = "no", _("No")

    event = models.ForeignKey(
        Event, on_delete=models.CASCADE, related_name="invitations", verbose_name=_("event")
    )
    participant = models.ForeignKey(
        Participant,
        on_delete=models.CASCADE,
        related_name="invitations",
        verbose_name=_("participant"),
    )
    answer = models.CharField(
        _("answer"), max_length=10, choices=Answer.choices, default=Answer.PENDING
    )
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    # A yes beyond capacity waits here, in the order of waitlisted_at.
    waitlisted_at = models.DateTimeField(_("on the waiting list since"), null=True, blank=True)
    attended = models.BooleanField(_("attended"), default=False)
    checked_in_at = models.DateTimeField(_("checked in at"), null=True, blank=True)
    walk_in = models.BooleanField(_("walk-in"), default=False)
    # The event revision last e-mailed to this person; claims make each mail go once.
    mailed_sequence = models.IntegerField(_("calendar revision sent"), null=True, blank=True)
    mailed_at = models.DateTimeField(_("mailed at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        constraints = [
            models.UniqueConstraint(fields=["event", "participant"], name="invitation_once"),
            models.CheckConstraint(
                condition=Q(waitlisted_at__isnull=True) | Q(answer="yes"),
                name="invitation_only_yes_waits",
            ),
        ]
        indexes = [models.Index(fields=["event", "answer"])]

    def __str__(self) -> str:
        return f"{self.participant} → {self.event}"

    @property
    def is_waitlisted(self) -> bool:
        return self.waitlisted_at is not None

    @property
    def is_confirmed(self) -> bool:
        return self.answer == self.Answer.YES and self.waitlisted_at is None


class RsvpToken(models.Model):
    """A secret in one e-mail's answer links. Only its SHA-256 is stored."""

    invitation = models.ForeignKey(
        Invitation, on_delete=models.CASCADE, related_name="tokens", verbose_name=_("invitation")
    )
    digest = models.CharField(_("digest"), max_length=64, unique=True)
    expires_at = models.DateTimeField(_("expires at"))
    revoked = models.BooleanField(_("revoked"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("answer link")
        verbose_name_plural = _("answer links")

    def __str__(self) -> str:
        return f"{self.invitation} ({self.digest[:8]}…)"


class InvitationNotice(models.Model):
    """One notice (a reminder, a waiting-list promotion) to one invitee, by key.

    The row is created before the mail goes out, so a second run finds it and sends
    nothing; a failed send deletes it again so that a retry can."""

    invitation = models.ForeignKey(
        Invitation, on_delete=models.CASCADE, related_name="notices", verbose_name=_("invitation")
    )
    key = models.CharField(_("notice"), max_length=60)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("notice sent")
        verbose_name_plural = _("notices sent")
        constraints = [
            models.UniqueConstraint(fields=["invitation", "key"], name="notice_once"),
        ]

    def __str__(self) -> str:
        return f"{self.key}: {self.invitation}"


class Bulletin(models.Model):
    """An e-mailed bulletin: invitations, reflections after a meeting, findings."""

    class Kind(models.TextChoices):
        ANNOUNCEMENT = "announcement", _("Announcement")
        INVITATION = "invitation", pgettext_lazy("bulletin kind", "Invitation")
        REFLECTION = "reflection", _("Reflection")
        LITERATURE_DIGEST = "literature_digest", _("Literature digest")
        # Business-continuity notices (an incident, a drill): they reach people who
        # opted out of news too.
        CONTINUITY = "continuity", _("Continuity notice")
        OTHER = "other", _("Other")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", pgettext_lazy("bulletin status", "Scheduled")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        CANCELLED = "cancelled", _("Cancelled")

    network = models.ForeignKey(
        Network, on_delete=models.CASCADE, related_name="bulletins", verbose_name=_("network")
    )
    kind = models.CharField(
        _("kind"), max_length=30, choices=Kind.choices, default=Kind.ANNOUNCEMENT
    )
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("body"), help_text=_("Markdown: **bold**, lists, links."))
    event = models.ForeignKey(
        Event,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="bulletins",
        verbose_name=_("related event"),
    )
    # Who it goes to, as chosen: {"everyone": bool, "regions": [...], "kinds": [...],
    # "participant_ids": [...]}; resolved into deliveries when sending starts.
    audience = models.JSONField(_("audience"), default=dict, blank=True)
    scheduled_at = models.DateTimeField(_("send at"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.DRAFT
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="bulletins",
        verbose_name=_("author"),
    )
    started_at = models.DateTimeField(_("sending started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("sending finished"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("bulletin")
        verbose_name_plural = _("bulletins")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="scheduled") | Q(scheduled_at__isnull=False),
                name="bulletin_scheduled_has_time",
            ),
        ]

    def __str__(self) -> str:
        return self.subject

    def get_absolute_url(self) -> str:
        return reverse("bulletin_detail", args=[self.network.slug, self.pk])

    def get_portal_url(self) -> str:
        return reverse("portal_bulletin", args=[self.network.slug, self.pk])


class BulletinAttachment(models.Model):
    bulletin = models.ForeignKey(
        Bulletin, on_delete=models.CASCADE, related_name="attachments", verbose_name=_("bulletin")
    )
    file = models.FileField(_("file"), upload_to="bulletins/%Y/%m/")
    filename = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(_("type"), max_length=100)
    size = models.PositiveIntegerField(_("size"))

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.filename


class Delivery(models.Model):
    """One bulletin to one participant. Created when sending starts; claimed by a
    conditional update before each attempt, so a recipient gets one message."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped")

    bulletin = models.ForeignKey(
        Bulletin, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("bulletin")
    )
    participant = models.ForeignKey(
        Participant,
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name=_("participant"),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    skip_reason = models.CharField(_("reason skipped"), max_length=40, blank=True)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    retry_at = models.DateTimeField(_("retry at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    read_at = models.DateTimeField(_("first read at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        constraints = [
            models.UniqueConstraint(fields=["bulletin", "participant"], name="delivery_once"),
        ]
        indexes = [
            models.Index(fields=["bulletin", "status"]),
            models.Index(fields=["status", "claimed_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.bulletin} → {self.participant}"

    def message_id(self) -> str:
        """The same for every attempt, so that receivers recognise a repeat."""
        from email.utils import parseaddr

        domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].partition("@")[2] or "hubless.localhost"
        return f"<bulletin-{self.bulletin_id}.delivery-{self.pk}@{domain}>"
