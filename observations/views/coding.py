"""Qualitative coding: the codebook, codings and memos.

Coordinators and researchers (perm do_research) read and write codes, codings and
memos; everyone else gets a 404 (anonymous visitors the sign-in page). A memo is
changed or deleted by its author or a coordinator. Names go through the page's Namer:
pseudonyms and masked texts for researchers without identified access."""

from __future__ import annotations

import base64

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from coordination.paging import page_of, querystring_without_page
from coordination.permissions import get_network_for_user
from coordination.tables import TableError

from .. import selectors, services
from ..forms.coding import (
    CodebookImportApplyForm,
    CodebookImportForm,
    CodeForm,
    MemoForm,
    PassageCodingForm,
    ReanchorForm,
    WholeCodingForm,
)
from ..forms.log import ObservationFilterForm
from ..models import Code, Memo
from ..permissions import get_observation_for_user
from ..pseudonyms import namer_for

__all__ = [
    "code_cooccurrence",
    "code_create",
    "code_delete",
    "code_detail",
    "code_edit",
    "code_memo_add",
    "codebook",
    "codebook_export",
    "codebook_import",
    "coding_add",
    "coding_reanchor",
    "coding_remove",
    "memo_delete",
    "memo_edit",
    "memo_journal",
    "observation_detail",
    "observation_memo_add",
]

RESEARCH = "coordination.do_research"
MANAGE = "coordination.manage_network"


# --- access: the object if the user may do research in its network, else 404 --------------


def _network_for(user, slug: str):
    return get_network_for_user(user, slug, RESEARCH)


def _code_for(user, slug: str, pk: int) -> Code:
    network = _network_for(user, slug)
    code = selectors.code_get(network=network, pk=pk)
    if code is None:
        raise Http404
    code.network = network
    return code


def _memo_for(user, slug: str, pk: int, *, change: bool = False) -> Memo:
    network = _network_for(user, slug)
    memo = selectors.memo_get(network=network, pk=pk)
    if memo is None:
        raise Http404
    memo.network = network
    if change and not _may_change(user, memo):
        raise PermissionDenied
    return memo


def _may_change(user, memo: Memo) -> bool:
    return memo.author_id == user.pk or user.has_perm(MANAGE, memo.network)


def _mark_changeable(user, network, memos) -> list[Memo]:
    coordinator = user.has_perm(MANAGE, network)
    memos = list(memos)
    for memo in memos:
        memo.may_change = coordinator or memo.author_id == user.pk
    return memos


def _observation_url(observation, anchor: str = "") -> str:
    url = reverse("observation_detail", args=[observation.network.slug, observation.pk])
    return f"{url}#{anchor}" if anchor else url


def _memo_home(memo: Memo) -> str:
    slug = memo.network.slug
    if memo.observation_id:
        return reverse("observation_detail", args=[slug, memo.observation_id]) + "#memos"
    if memo.code_id:
        return reverse("code_detail", args=[slug, memo.code_id]) + "#memos"
    return reverse("memo_journal", args=[slug])


def _csv_response(data: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


# --- the codebook -------------------------------------------------------------------------


@login_required
def codebook(request, slug):
    network = _network_for(request.user, slug)
    tree = selectors.code_tree(network=network, counts=True)
    return render(
        request,
        "observations/codebook.html",
        {"network": network, "tree": tree, "roots": [node for node in tree if node.depth == 0]},
    )


def _code_form(request, network, *, code: Code | None = None):
    nodes = selectors.code_tree(network=network)
    initial = {}
    if code is not None:
        initial = {
            "name": code.name,
            "parent": code.parent_id,
            "description": code.description,
            "colour": code.colour,
        }
    elif request.GET.get("parent", "").isdigit():
        initial = {"parent": request.GET["parent"]}
    form = CodeForm(request.POST or None, nodes=nodes, code=code, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if code is None:
                saved = services.code_create(network=network, user=request.user, **data)
            else:
                saved = services.code_update(code=code, user=request.user, **data)
        except services.CodingError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Saved."))
            return redirect("code_detail", network.slug, saved.pk)
    return render(
        request,
        "observations/code_form.html",
        {
            "network": network,
            "form": form,
            "code": code,
            "title": _("Edit code") if code else _("New code"),
            "cancel_url": reverse("code_detail", args=[network.slug, code.pk])
            if code
            else reverse("codebook", args=[network.slug]),
        },
    )


@login_required
def code_create(request, slug):
    return _code_form(request, _network_for(request.user, slug))


@login_required
def code_edit(request, slug, pk):
    code = _code_for(request.user, slug, pk)
    return _code_form(request, code.network, code=code)


@login_required
def code_delete(request, slug, pk):
    """GET: what deleting would remove; POST: delete (`confirm` also removes codings)."""
    code = _code_for(request.user, slug, pk)
    network = code.network
    node = next(n for n in selectors.code_tree(network=network, counts=True) if n.code == code)
    if request.method == "POST":
        try:
            removed = services.code_delete(
                code=code, user=request.user, with_codings="confirm" in request.POST
            )
        except services.CodeInUse as exc:
            messages.warning(request, str(exc))
        except services.CodingError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request,
                _("The code %(code)s is deleted (with %(n)s coding(s)); its history is kept.")
                % {"code": code.name, "n": removed},
            )
            return redirect("codebook", slug)
    return render(
        request,
        "observations/code_delete.html",
        {"network": network, "code": code, "node": node, "codings": node.passages + node.wholes},
    )


@login_required
def code_detail(request, slug, pk):
    code = _code_for(request.user, slug, pk)
    network = code.network
    namer = namer_for(request.user, network)
    tree = selectors.code_tree(network=network, counts=True)
    node = next(n for n in tree if n.code.pk == code.pk)
    page = page_of(request, selectors.code_codings(code=code))
    return render(
        request,
        "observations/code_detail.html",
        {
            "network": network,
            "code": code,
            "node": node,
            "namer": namer,
            "page": page,
            "contexts": selectors.passage_contexts(codings=page.object_list, namer=namer),
            "querystring": querystring_without_page(request),
            "memos": _mark_changeable(
                request.user, network, selectors.memo_list(network=network, code=code)
            ),
            "memo_form": MemoForm(),
        },
    )


@login_required
def codebook_export(request, slug):
    network = _network_for(request.user, slug)
    day = timezone.localdate().isoformat()
    return _csv_response(
        selectors.codebook_csv(network=network), f"codebook-{network.slug}-{day}.csv"
    )


@login_required
def codebook_import(request, slug):
    """Upload → dry run and preview (the file rides along in a hidden field) → apply."""
    network = _network_for(request.user, slug)
    context = {"network": network, "columns": services.CODEBOOK_COLUMNS}
    form = CodebookImportForm()
    if request.method == "POST" and "apply" in request.POST:
        apply_form = CodebookImportApplyForm(request.POST)
        if not apply_form.is_valid():
            messages.error(request, _("The file was damaged on the way; upload it again."))
            return redirect("codebook_import", slug)
        data, filename = apply_form.cleaned_data["content"], apply_form.cleaned_data["filename"]
        dry_run = False
    elif request.method == "POST":
        form = CodebookImportForm(request.POST, request.FILES)
        if not form.is_valid():
            return render(request, "observations/codebook_import.html", {**context, "form": form})
        upload = form.cleaned_data["file"]
        data, filename = upload.read(), upload.name
        dry_run = True
    else:
        return render(request, "observations/codebook_import.html", {**context, "form": form})

    try:
        result = services.codebook_import(
            network=network, data=data, filename=filename, dry_run=dry_run, user=request.user
        )
    except TableError as exc:
        context.update(errors=exc.errors, filename=filename)
        if not dry_run:
            messages.error(request, _("The data changed since the preview; nothing was imported."))
        return render(request, "observations/codebook_import.html", {**context, "form": form})
    if not dry_run:
        messages.success(request, _("Imported: %(summary)s.") % {"summary": result.summary()})
        return redirect("codebook", slug)
    context.update(
        result=result,
        filename=filename,
        apply_form=CodebookImportApplyForm(
            initial={"filename": filename, "content": base64.b64encode(data).decode("ascii")}
        ),
        form=form,
    )
    return render(request, "observations/codebook_import.html", context)


OVERVIEW_TABLES = ("observations", "passages", "categories", "regions")


@login_required
def code_cooccurrence(request, slug):
    """Counts per code and co-occurrence, over the observations the log's filters
    select; ?format=csv&what=observations|passages|categories|regions downloads one
    table."""
    network = _network_for(request.user, slug)
    namer = namer_for(request.user, network)
    filters = ObservationFilterForm(request.GET or None, network=network, namer=namer)
    overview = selectors.code_overview(network=network, criteria=filters.criteria)
    if request.GET.get("format") == "csv":
        what = request.GET.get("what", "observations")
        if what not in OVERVIEW_TABLES:
            raise Http404
        day = timezone.localdate().isoformat()
        return _csv_response(
            selectors.overview_csv(overview, what=what), f"codes-{what}-{network.slug}-{day}.csv"
        )
    params = request.GET.copy()
    for name in ("format", "what", "page"):
        params.pop(name, None)
    return render(
        request,
        "observations/cooccurrence.html",
        {
            "network": network,
            "filters": filters,
            "overview": overview,
            "filtered": bool(filters.criteria and any(filters.criteria.values())),
            "querystring": params.urlencode(),
        },
    )


# --- an observation and its codings --------------------------------------------------------


def _detail_context(request, observation, **forms) -> dict:
    network = observation.network
    namer = namer_for(request.user, network)
    nodes = selectors.code_tree(network=network)
    paths = {node.code.pk: node.path for node in nodes}
    codings = selectors.observation_codings(observation=observation)
    for coding in codings:
        coding.path = paths.get(coding.code_id, coding.code.name)
    flagged = [c for c in codings if c.needs_review]
    for coding in flagged:
        coding.form = forms.get("reanchor_forms", {}).get(coding.pk) or ReanchorForm(
            auto_id=f"id_r{coding.pk}_%s", initial={"quote": namer.text(coding.quote)}
        )
    highlighted = [c for c in codings if c.start is not None and not c.needs_review]
    return {
        "network": network,
        "observation": observation,
        "namer": namer,
        "segments": selectors.text_segments(observation.body, highlighted, namer=namer),
        "codings": codings,
        "flagged": flagged,
        "nodes": nodes,
        "whole_form": forms.get("whole_form") or WholeCodingForm(nodes=nodes, auto_id="id_w_%s"),
        "passage_form": forms.get("passage_form") or PassageCodingForm(nodes=nodes),
        "memos": _mark_changeable(
            request.user, network, selectors.memo_list(network=network, observation=observation)
        ),
        "memo_form": forms.get("memo_form") or MemoForm(),
    }


@login_required
def observation_detail(request, slug, pk):
    observation = get_observation_for_user(request.user, slug, pk, RESEARCH)
    return render(
        request, "observations/observation_detail.html", _detail_context(request, observation)
    )


def _say_where(request, coding) -> None:
    if getattr(coding, "occurrences", 1) > 1:
        messages.info(
            request,
            _(
                "The passage occurs %(n)s times in the text; the one you asked for (the first "
                "unless you gave an occurrence number) was coded."
            )
            % {"n": coding.occurrences},
        )


@login_required
@require_POST
def coding_add(request, slug, pk):
    observation = get_observation_for_user(request.user, slug, pk, RESEARCH)
    nodes = selectors.code_tree(network=observation.network)
    whole = request.POST.get("mode") == "whole"
    if whole:
        form = WholeCodingForm(request.POST, nodes=nodes, auto_id="id_w_%s")
    else:
        form = PassageCodingForm(request.POST, nodes=nodes)
    if form.is_valid():
        data = form.cleaned_data
        passage = {}
        if not whole:
            passage = {k: data[k] for k in ("start", "end", "quote", "occurrence")}
        try:
            coding = services.coding_add(
                observation=observation,
                user=request.user,
                code=data["code"],
                new_code_name=data["new_code"],
                **passage,
            )
        except services.CodingError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Coded with %(code)s.") % {"code": coding.code.name})
            _say_where(request, coding)
            return redirect(_observation_url(observation, "codings"))
    context = _detail_context(
        request, observation, **{"whole_form" if whole else "passage_form": form}
    )
    return render(request, "observations/observation_detail.html", context)


def _coding_for(request, slug, pk, coding_pk):
    observation = get_observation_for_user(request.user, slug, pk, RESEARCH)
    coding = selectors.coding_get(observation=observation, pk=coding_pk)
    if coding is None:
        raise Http404
    return observation, coding


@login_required
@require_POST
def coding_remove(request, slug, pk, coding_pk):
    observation, coding = _coding_for(request, slug, pk, coding_pk)
    services.coding_remove(coding=coding, user=request.user)
    messages.success(request, _("The coding is removed; its history is kept."))
    return redirect(_observation_url(observation, "codings"))


@login_required
@require_POST
def coding_reanchor(request, slug, pk, coding_pk):
    observation, coding = _coding_for(request, slug, pk, coding_pk)
    form = ReanchorForm(request.POST, auto_id=f"id_r{coding.pk}_%s")
    if form.is_valid():
        try:
            coding = services.coding_reanchor(coding=coding, user=request.user, **form.cleaned_data)
        except services.CodingError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("The passage is highlighted again."))
            _say_where(request, coding)
            return redirect(_observation_url(observation, "codings"))
    context = _detail_context(request, observation, reanchor_forms={coding.pk: form})
    return render(request, "observations/observation_detail.html", context)


# --- memos ---------------------------------------------------------------------------------------


def _memo_add(request, network, back: str, **about):
    form = MemoForm(request.POST)
    if form.is_valid():
        try:
            services.memo_create(
                network=network, author=request.user, body=form.cleaned_data["body"], **about
            )
        except services.CodingError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("The memo is saved."))
    else:
        messages.error(request, _("A memo needs some text."))
    return redirect(back)


@login_required
@require_POST
def observation_memo_add(request, slug, pk):
    observation = get_observation_for_user(request.user, slug, pk, RESEARCH)
    return _memo_add(
        request,
        observation.network,
        _observation_url(observation, "memos"),
        observation=observation,
    )


@login_required
@require_POST
def code_memo_add(request, slug, pk):
    code = _code_for(request.user, slug, pk)
    back = reverse("code_detail", args=[slug, code.pk]) + "#memos"
    return _memo_add(request, code.network, back, code=code)


@login_required
def memo_journal(request, slug):
    """The research journal: memos about neither a code nor an observation."""
    network = _network_for(request.user, slug)
    if request.method == "POST":
        return _memo_add(request, network, reverse("memo_journal", args=[slug]))
    return render(
        request,
        "observations/memo_journal.html",
        {
            "network": network,
            "namer": namer_for(request.user, network),
            "memos": _mark_changeable(request.user, network, selectors.memo_list(network=network)),
            "memo_form": MemoForm(),
        },
    )


@login_required
def memo_edit(request, slug, pk):
    memo = _memo_for(request.user, slug, pk, change=True)
    form = MemoForm(request.POST or None, initial={"body": memo.body})
    if request.method == "POST" and form.is_valid():
        try:
            services.memo_update(memo=memo, body=form.cleaned_data["body"], user=request.user)
        except services.CodingError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("The memo is saved."))
            return redirect(_memo_home(memo))
    return render(
        request,
        "observations/memo_form.html",
        {"network": memo.network, "memo": memo, "form": form, "cancel_url": _memo_home(memo)},
    )


@login_required
@require_POST
def memo_delete(request, slug, pk):
    memo = _memo_for(request.user, slug, pk, change=True)
    services.memo_delete(memo=memo, user=request.user)
    messages.success(request, _("The memo is deleted; its history is kept."))
    return redirect(_memo_home(memo))
