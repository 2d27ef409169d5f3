"""What happened: collaboration ties between participants (and, with later work, the
observation log, the codebook and indicator snapshots). This app reads coordination;
coordination never imports it."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Greatest, Least
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from coordination.models import Event, Network, Participant


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
