"""The observation log pages: the filtered log, the full and the quick entry form, edit,
soft delete and restore, history, and the network's metrics."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from coordination.models import Event, Invitation, Participant
from coordination.paging import page_of, querystring_without_page
from coordination.permissions import get_network_for_user

from .. import selectors, services
from ..forms.log import MetricForm, ObservationFilterForm, ObservationForm, QuickObservationForm
from ..models import Metric, Observation
from ..permissions import get_observation_for_user
from ..pseudonyms import namer_for

VIEW = "coordination.view_network"
RESEARCH = "coordination.do_research"
MANAGE = "coordination.manage_network"


def _detail_url(observation: Observation) -> str:
    return reverse("observation_detail", args=[observation.network.slug, observation.pk])


@login_required
def observation_list(request, slug):
    network = get_network_for_user(request.user, slug, VIEW)
    namer = namer_for(request.user, network)
    filters = ObservationFilterForm(request.GET or None, network=network, namer=namer)
    observations = selectors.observation_list(network=network, criteria=filters.criteria)
    querystring = querystring_without_page(request)
    return render(
        request,
        "observations/observation_list.html",
        {
            "network": network,
            "namer": namer,
            "filters": filters,
            "page": page_of(request, observations),
            "querystring": querystring,
            "can_write": request.user.has_perm(RESEARCH, network),
            "export_url": reverse("observation_export", args=[network.slug])
            + (f"?{querystring}" if querystring else ""),
        },
    )


def _messages_for_reanchoring(request, outcome: dict) -> None:
    if outcome.get("moved"):
        messages.info(
            request,
            _("%(count)d coded passage(s) moved with the edited text.")
            % {"count": outcome["moved"]},
        )
    if outcome.get("flagged"):
        messages.warning(
            request,
            _("%(count)d coded passage(s) were lost in the edit and need review.")
            % {"count": outcome["flagged"]},
        )


def _save(request, network, form, *, observation=None):
    data = {name: form.cleaned_data[name] for name in form.cleaned_data}
    try:
        if observation is None:
            saved = services.observation_create(network=network, data=data, user=request.user)
            outcome = {}
        else:
            outcome = services.observation_update(
                observation=observation, data=data, user=request.user
            )
            saved = observation
    except services.ObservationError as exc:
        form.add_error(None, str(exc))
        return None
    _messages_for_reanchoring(request, outcome)
    saved.network = network
    return saved


def _initial(request, network) -> dict:
    now = timezone.localtime()
    initial = {
        "observed_on": now.date(),
        "observed_time": now.time().replace(second=0, microsecond=0),
    }
    event_id = request.GET.get("event")
    if event_id and event_id.isdigit():
        initial["event"] = Event.objects.filter(network=network, pk=event_id).first()
    return initial


@login_required
def observation_create(request, slug):
    network = get_network_for_user(request.user, slug, RESEARCH)
    namer = namer_for(request.user, network)
    form = ObservationForm(
        request.POST or None, network=network, namer=namer, initial=_initial(request, network)
    )
    if request.method == "POST" and form.is_valid():
        saved = _save(request, network, form)
        if saved is not None:
            messages.success(request, _("Observation saved."))
            return redirect(_detail_url(saved))
    return render(
        request,
        "observations/observation_form.html",
        {
            "form": form,
            "network": network,
            "title": _("New observation"),
            "cancel_url": reverse("observation_list", args=[network.slug]),
        },
    )


def _current_event(network) -> Event | None:
    """The event going on now (or today) is the likely context of a quick note."""
    now = timezone.now()
    going_on = (
        Event.objects.filter(network=network, starts_at__lte=now + dt.timedelta(hours=1))
        .filter(ends_at__gte=now - dt.timedelta(hours=2))
        .exclude(status=Event.Status.CANCELLED)
        .order_by("starts_at")
        .first()
    )
    if going_on is not None:
        return going_on
    today = timezone.localdate()
    return (
        Event.objects.filter(network=network, starts_at__date=today)
        .exclude(status=Event.Status.CANCELLED)
        .order_by("starts_at")
        .first()
    )


@login_required
def observation_quick(request, slug):
    """A phone form for notes during a meeting: saves with today's date and the time,
    then comes back empty for the next note, keeping the event."""
    network = get_network_for_user(request.user, slug, RESEARCH)
    namer = namer_for(request.user, network)
    event = None
    event_id = request.POST.get("event") or request.GET.get("event")
    if event_id and str(event_id).isdigit():
        event = Event.objects.filter(network=network, pk=event_id).first()
    if event is None and request.method == "GET":
        event = _current_event(network)
    attendees = None
    if event is not None:
        attendees = (
            Participant.objects.filter(
                network=network,
                invitations__event=event,
            )
            .exclude(invitations__answer=Invitation.Answer.NO)
            .distinct()
        )
        if not attendees.exists():
            attendees = None
    form = QuickObservationForm(
        request.POST or None,
        network=network,
        namer=namer,
        attendees=attendees,
        initial={"event": event, "category": Observation.Category.MEETING_ATMOSPHERE},
    )
    if request.method == "POST" and form.is_valid():
        now = timezone.localtime()
        form.cleaned_data["observed_on"] = now.date()
        form.cleaned_data["observed_time"] = now.time().replace(second=0, microsecond=0)
        saved = _save(request, network, form)
        if saved is not None:
            messages.success(
                request, _("Saved “%(title)s”. Next note?") % {"title": namer.text(saved.title)}
            )
            url = reverse("observation_quick", args=[network.slug])
            if saved.event_id:
                url += f"?event={saved.event_id}"
            return redirect(url)
    return render(
        request,
        "observations/observation_quick.html",
        {
            "form": form,
            "network": network,
            "namer": namer,
            "event": event,
            "has_metrics": Metric.objects.filter(network=network, is_active=True).exists(),
            "recent": selectors.observation_list(network=network).filter(
                author=request.user, observed_on=timezone.localdate()
            )[:5],
        },
    )


@login_required
def observation_edit(request, slug, pk):
    observation = get_observation_for_user(request.user, slug, pk, RESEARCH)
    network = observation.network
    namer = namer_for(request.user, network)
    # The form writes into the instance while validating; keep the stored text.
    original = {"title": observation.title, "body": observation.body}
    form = ObservationForm(request.POST or None, instance=observation, network=network, namer=namer)
    if namer.pseudonymous:
        # The text holds real names that this reader may not see; editing it here
        # would show them. The researcher codes and writes memos instead.
        for name in ("title", "body"):
            form.fields[name].disabled = True
            form.fields[name].help_text = _("Only people who may see names can edit the text.")
        form.initial["title"] = namer.text(observation.title)
        form.initial["body"] = namer.text(observation.body)
    if request.method == "POST" and form.is_valid():
        if namer.pseudonymous:
            form.cleaned_data.update(original)
        saved = _save(request, network, form, observation=observation)
        if saved is not None:
            messages.success(request, _("Saved."))
            return redirect(_detail_url(saved))
    return render(
        request,
        "observations/observation_form.html",
        {
            "form": form,
            "network": network,
            "title": _("Edit observation"),
            "cancel_url": _detail_url(observation),
        },
    )


@login_required
@require_POST
def observation_delete(request, slug, pk):
    observation = get_observation_for_user(request.user, slug, pk, RESEARCH)
    services.observation_delete(observation=observation, user=request.user)
    messages.success(
        request, _("Observation deleted. It stays in the history and can be restored.")
    )
    return redirect("observation_list", observation.network.slug)


@login_required
def observation_deleted(request, slug):
    network = get_network_for_user(request.user, slug, VIEW)
    return render(
        request,
        "observations/observation_deleted.html",
        {
            "network": network,
            "namer": namer_for(request.user, network),
            "page": page_of(request, selectors.deleted_observations(network=network)),
            "querystring": querystring_without_page(request),
            "can_write": request.user.has_perm(RESEARCH, network),
        },
    )


@login_required
@require_POST
def observation_restore(request, slug, pk):
    network = get_network_for_user(request.user, slug, RESEARCH)
    observation = Observation.objects.filter(network=network, pk=pk).first()
    if observation is None:
        raise Http404
    services.observation_restore(observation=observation, user=request.user)
    observation.network = network
    messages.success(request, _("Observation restored."))
    return redirect(_detail_url(observation))


@login_required
def observation_history(request, slug, pk):
    network = get_network_for_user(request.user, slug, VIEW)
    # Deleted observations keep their history page (that is where a deletion shows).
    observation = Observation.objects.filter(network=network, pk=pk).first()
    if observation is None:
        raise Http404
    observation.network = network
    namer = namer_for(request.user, network)
    return render(
        request,
        "observations/observation_history.html",
        {
            "network": network,
            "observation": observation,
            "namer": namer,
            "history": selectors.observation_history(observation=observation, namer=namer),
        },
    )


# --- metrics -------------------------------------------------------------------------


@login_required
def metric_list(request, slug):
    network = get_network_for_user(request.user, slug, VIEW)
    can_write = request.user.has_perm(RESEARCH, network)
    form = MetricForm(request.POST or None)
    if request.method == "POST":
        if not can_write:
            raise Http404
        if request.POST.get("action") == "suggested":
            added = services.metrics_add_suggested(network=network)
            messages.success(request, _("%(count)d metric(s) added.") % {"count": added})
            return redirect("metric_list", network.slug)
        if form.is_valid():
            try:
                services.metric_save(network=network, data=form.cleaned_data)
            except services.ObservationError as exc:
                form.add_error("name", str(exc))
            else:
                messages.success(request, _("Metric added."))
                return redirect("metric_list", network.slug)
    return render(
        request,
        "observations/metric_list.html",
        {
            "network": network,
            "metrics": selectors.metric_usage(network=network),
            "form": form,
            "can_write": can_write,
        },
    )


@login_required
def metric_edit(request, slug, pk):
    network = get_network_for_user(request.user, slug, RESEARCH)
    metric = Metric.objects.filter(network=network, pk=pk).first()
    if metric is None:
        raise Http404
    form = MetricForm(
        request.POST or None,
        initial={
            "name": metric.name,
            "unit": metric.unit,
            "description": metric.description,
            "is_active": metric.is_active,
        },
    )
    if request.method == "POST":
        if request.POST.get("action") == "delete":
            try:
                services.metric_delete(metric=metric)
            except services.ObservationError as exc:
                messages.error(request, str(exc))
                return redirect("metric_edit", network.slug, metric.pk)
            messages.success(request, _("Metric deleted."))
            return redirect("metric_list", network.slug)
        if form.is_valid():
            try:
                services.metric_save(network=network, metric=metric, data=form.cleaned_data)
            except services.ObservationError as exc:
                form.add_error("name", str(exc))
            else:
                messages.success(request, _("Saved."))
                return redirect("metric_list", network.slug)
    return render(
        request,
        "observations/metric_edit.html",
        {"network": network, "metric": metric, "form": form},
    )
