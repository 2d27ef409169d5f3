"""Qualitative coding: the codebook, codings and memos.

Also the coding panel's text: an observation's Markdown source cut into segments at
every passage boundary, each segment knowing its offsets in the source and the codings
that cover it. For a pseudonymous viewer the segments are also cut at every name the
Masker would replace, and such a segment shows the pseudonym instead of the name (and
is flagged `masked`): the page shows exactly the masked text, the highlights stay where
the source offsets say, and a selection can be turned back into source offsets as long
as it does not touch a masked name (static/js/highlight.js refuses those)."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import combinations, pairwise

from django.db.models import Count, Q, QuerySet
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from coordination.models import Network, Region

from ..models import Code, Coding, Memo, Observation
from ..pseudonyms import Namer
from .log import Criteria, observation_queryset

__all__ = [
    "CodeNode",
    "CodeOverview",
    "PassageContext",
    "Segment",
    "code_codings",
    "code_get",
    "code_overview",
    "code_tree",
    "codebook_csv",
    "coding_get",
    "memo_get",
    "memo_list",
    "observation_codings",
    "overview_csv",
    "passage_contexts",
    "text_segments",
]

SEPARATOR = "/"  # services.coding.PATH_SEPARATOR; a code name cannot contain it


# --- the codebook -------------------------------------------------------------------------


@dataclass
class CodeNode:
    """A code in the tree, with its path and (when asked for) its counts over live
    codings of live observations."""

    code: Code
    depth: int
    path: str
    children: list[CodeNode] = field(default_factory=list)
    observations: int = 0  # observations carrying this code (whole or a passage)
    passages: int = 0
    wholes: int = 0  # whole-observation codings
    with_subcodes: int = 0  # observations carrying this code or one of its sub-codes

    @property
    def parent_path(self) -> str:
        return self.path.rpartition(SEPARATOR)[0]


def code_tree(*, network: Network, counts: bool = False) -> list[CodeNode]:
    """The live codes, depth first, siblings by name; one query (two with counts)."""
    codes = list(
        Code.objects.filter(network=network, deleted_at__isnull=True).order_by("name", "pk")
    )
    by_parent: dict[int | None, list[Code]] = defaultdict(list)
    live = {code.pk for code in codes}
    for code in codes:
        # A child of a deleted parent should not exist (deleting is refused then);
        # if one does, it shows at the top level rather than disappearing.
        by_parent[code.parent_id if code.parent_id in live else None].append(code)
    flat: list[CodeNode] = []

    def walk(parent_id, parent_node: CodeNode | None) -> None:
        for code in by_parent.get(parent_id, []):
            node = CodeNode(
                code=code,
                depth=parent_node.depth + 1 if parent_node else 0,
                path=f"{parent_node.path}{SEPARATOR}{code.name}" if parent_node else code.name,
            )
            if parent_node:
                parent_node.children.append(node)
            flat.append(node)
            walk(code.pk, node)

    walk(None, None)
    if counts:
        _count(network, flat)
    return flat


def _count(network: Network, flat: list[CodeNode]) -> None:
    rows = (
        Coding.objects.filter(
            code__network=network,
            deleted_at__isnull=True,
            code__deleted_at__isnull=True,
            observation__deleted_at__isnull=True,
        )
        .values("code_id", "observation_id")
        .annotate(
            passages=Count("pk", filter=Q(start__isnull=False)),
            wholes=Count("pk", filter=Q(start__isnull=True)),
        )
        .order_by()
    )
    observations: dict[int, set[int]] = defaultdict(set)
    nodes = {node.code.pk: node for node in flat}
    for row in rows:
        node = nodes.get(row["code_id"])
        if node is None:
            continue
        node.observations += 1
        node.passages += row["passages"]
        node.wholes += row["wholes"]
        observations[row["code_id"]].add(row["observation_id"])

    def subtree(node: CodeNode) -> set[int]:
        found = set(observations.get(node.code.pk, ()))
        for child in node.children:
            found |= subtree(child)
        node.with_subcodes = len(found)
        return found

    for node in flat:
        if node.depth == 0:
            subtree(node)


def code_get(*, network: Network, pk: int) -> Code | None:
    return (
        Code.objects.filter(network=network, pk=pk, deleted_at__isnull=True)
        .select_related("parent")
        .first()
    )


def code_codings(*, code: Code) -> QuerySet[Coding]:
    """Every live coding of the code on a live observation, newest observation first,
    passages in text order."""
    return (
        Coding.objects.filter(
            code=code, deleted_at__isnull=True, observation__deleted_at__isnull=True
        )
        .select_related("observation", "code", "created_by")
        .order_by("-observation__observed_on", "-observation_id", "start", "pk")
    )


def observation_codings(*, observation: Observation) -> list[Coding]:
    """The observation's live codings with their codes: whole-observation ones first,
    then the passages in text order."""
    codings = Coding.objects.filter(
        observation=observation, deleted_at__isnull=True, code__deleted_at__isnull=True
    ).select_related("code", "created_by")
    return sorted(codings, key=lambda c: (c.start is not None, c.start or 0, c.end or 0, c.pk))


def coding_get(*, observation: Observation, pk: int) -> Coding | None:
    return (
        Coding.objects.filter(observation=observation, pk=pk, deleted_at__isnull=True)
        .select_related("code")
        .first()
    )


# --- memos -----------------------------------------------------------------------------------


def memo_list(
    *,
    network: Network,
    code: Code | None = None,
    observation: Observation | None = None,
) -> QuerySet[Memo]:
    """Live memos on the code, on the observation, or (neither given) the journal's."""
    memos = Memo.objects.filter(network=network, deleted_at__isnull=True).select_related("author")
    if code is not None:
        memos = memos.filter(code=code)
    elif observation is not None:
        memos = memos.filter(observation=observation)
    else:
        memos = memos.filter(code__isnull=True, observation__isnull=True)
    return memos.order_by("-created_at", "-pk")


def memo_get(*, network: Network, pk: int) -> Memo | None:
    return (
        Memo.objects.filter(network=network, pk=pk, deleted_at__isnull=True)
        .filter(Q(code__isnull=True) | Q(code__deleted_at__isnull=True))
        .filter(Q(observation__isnull=True) | Q(observation__deleted_at__isnull=True))
        .select_related("author", "code", "observation")
        .first()
    )


# --- the text, cut into segments ------------------------------------------------------------


@dataclass
class Segment:
    start: int  # offsets in the observation's source text
    end: int
    text: str  # as shown: the source, or a pseudonym where a name was
    masked: bool = False
    codings: list[Coding] = field(default_factory=list)

    @property
    def html(self) -> SafeString:
        # A carriage return written as a character reference survives the HTML
        # parser (a literal one is turned into a line feed), so that the page's text
        # has the same characters, and offsets, as the source.
        return mark_safe(escape(self.text).replace("\r", "&#13;"))

    @property
    def colours(self) -> str:
        seen: list[str] = []
        for coding in self.codings:
            if coding.code.colour not in seen:
                seen.append(coding.code.colour)
        return ",".join(seen)

    @property
    def title(self) -> str:
        return "; ".join(dict.fromkeys(coding.code.name for coding in self.codings))


def _mask_spans(namer: Namer, text: str) -> list[tuple[int, int, str]]:
    """Where the namer masks something in `text`, and with what (the Masker's own
    matches, so that the panel and the masked text never disagree)."""
    return namer.spans(text) if namer.pseudonymous else []


def text_segments(
    text: str,
    codings: list[Coding],
    *,
    namer: Namer,
    start: int = 0,
    end: int | None = None,
) -> list[Segment]:
    """`text[start:end]` cut at every passage boundary (and masked name), each segment
    with the passages covering it. Codings without offsets are ignored."""
    end = len(text) if end is None else min(end, len(text))
    start = max(0, min(start, end))

    def clamp(p: int) -> int:
        return max(start, min(p, end))

    passages = [c for c in codings if c.start is not None and c.end is not None]
    spans = [s for s in _mask_spans(namer, text) if s[0] < end and s[1] > start]
    cuts = {start, end}
    for coding in passages:
        cuts.update((clamp(coding.start), clamp(coding.end)))
    for span_start, span_end, _label in spans:
        cuts.update((clamp(span_start), clamp(span_end)))
    points = sorted(cuts)
    segments: list[Segment] = []
    span_index = 0
    for a, b in pairwise(points):
        while span_index < len(spans) and spans[span_index][1] <= a:
            span_index += 1
        span = spans[span_index] if span_index < len(spans) else None
        covering = [c for c in passages if c.start <= a and c.end >= b]
        if span is not None and span[0] <= a and b <= span[1]:
            # The pseudonym once, in the first piece of the name that shows.
            shown = span[2] if a == max(span[0], start) else ""
            segments.append(Segment(a, b, shown, masked=True, codings=covering))
        else:
            segments.append(Segment(a, b, text[a:b], codings=covering))
    return segments


@dataclass
class PassageContext:
    """A coding as the code's page lists it: a passage with some text around it, or a
    whole observation."""

    coding: Coding
    segments: list[Segment]
    more_before: bool = False
    more_after: bool = False


def passage_contexts(*, codings, namer: Namer, width: int = 80) -> list[PassageContext]:
    """The listed codings with `width` characters of text each side of a passage."""
    contexts = []
    for coding in codings:
        if coding.start is None or coding.needs_review:
            # A lost passage's offsets are only a hint: the page shows its quote.
            contexts.append(PassageContext(coding=coding, segments=[]))
            continue
        body = coding.observation.body
        start, end = max(0, coding.start - width), min(len(body), coding.end + width)
        segments = text_segments(body, [coding], namer=namer, start=start, end=end)
        contexts.append(
            PassageContext(
                coding=coding,
                segments=segments,
                more_before=start > 0,
                more_after=end < len(body),
            )
        )
    return contexts


# --- the code overview: counts and co-occurrence ---------------------------------------------


@dataclass
class CodeOverview:
    codes: list[CodeNode]  # the codes applied in the selection, in codebook order
    observations: int  # observations in the selection, coded or not
    coded: int  # of those, observations with at least one code
    # matrix[i][j]: observations carrying both codes i and j; the diagonal, code i.
    matrix: list[list[int]]
    # overlaps[i][j]: pairs of overlapping passages of codes i and j; the diagonal,
    # the passages of code i.
    overlaps: list[list[int]]
    categories: list[tuple[str, str]]  # (value, label)
    by_category: list[list[int]]  # [code][category]: observations
    regions: list[Region]
    by_region: list[list[int]]  # [code][region]: observations
    unused: int  # live codes not applied in the selection (left out of the tables)

    @property
    def rows(self):
        """(node, matrix row, overlap row) for the templates."""
        return list(zip(self.codes, self.matrix, self.overlaps, strict=True))

    @property
    def category_rows(self):
        return list(zip(self.codes, self.by_category, strict=True))

    @property
    def region_rows(self):
        return list(zip(self.codes, self.by_region, strict=True))


def code_overview(*, network: Network, criteria: Criteria | None = None) -> CodeOverview:
    """Counts per code and code × code co-occurrence over the observations the log's
    filters select. A fixed number of queries: the codes, one of the codings, the
    observation count, the regions and the three ways an observation is in a region
    (as the log's region filter has them); the rest is counted here."""
    selected = observation_queryset(network=network, criteria=criteria)
    selected_ids = selected.values("pk")
    tree = code_tree(network=network)
    nodes = {node.code.pk: node for node in tree}
    rows = Coding.objects.filter(
        observation_id__in=selected_ids,
        deleted_at__isnull=True,
        code__deleted_at__isnull=True,
    ).values_list(
        "observation_id",
        "code_id",
        "start",
        "end",
        "observation__category",
        "observation__event__region_id",
    )
    codes_of: dict[int, set[int]] = defaultdict(set)
    passages_of: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    category_of: dict[int, str] = {}
    regions_of: dict[int, set[int]] = defaultdict(set)
    for observation_id, code_id, start, end, category, event_region in rows:
        if code_id not in nodes:
            continue
        codes_of[observation_id].add(code_id)
        category_of[observation_id] = category
        if event_region:
            regions_of[observation_id].add(event_region)
        if start is not None:
            passages_of[observation_id].append((code_id, start, end))

    used = [node for node in tree if any(node.code.pk in codes for codes in codes_of.values())]
    index = {node.code.pk: i for i, node in enumerate(used)}
    size = len(used)
    matrix = [[0] * size for _ in range(size)]
    overlaps = [[0] * size for _ in range(size)]
    for codes in codes_of.values():
        positions = sorted(index[c] for c in codes)
        for i in positions:
            matrix[i][i] += 1
        for i, j in combinations(positions, 2):
            matrix[i][j] += 1
            matrix[j][i] += 1
    for passages in passages_of.values():
        for code_id, _start, _end in passages:
            overlaps[index[code_id]][index[code_id]] += 1
        for (a, a_start, a_end), (b, b_start, b_end) in combinations(passages, 2):
            if a != b and a_start < b_end and b_start < a_end:
                overlaps[index[a]][index[b]] += 1
                overlaps[index[b]][index[a]] += 1

    categories = list(Observation.Category.choices)
    category_index = {value: i for i, (value, _label) in enumerate(categories)}
    by_category = [[0] * len(categories) for _ in range(size)]
    for observation_id, codes in codes_of.items():
        column = category_index.get(category_of[observation_id])
        if column is None:
            continue
        for code_id in codes:
            by_category[index[code_id]][column] += 1

    if codes_of:
        for through, region in (
            (Observation.regions.through, "region_id"),
            (Observation.organizations.through, "organization__region_id"),
            (Observation.participants.through, "participant__organization__region_id"),
        ):
            pairs = through.objects.filter(
                observation_id__in=selected_ids, **{f"{region}__isnull": False}
            ).values_list("observation_id", region)
            for observation_id, region_id in pairs:
                regions_of[observation_id].add(region_id)
    regions = list(Region.objects.filter(network=network).order_by("name", "pk"))
    region_index = {region.pk: i for i, region in enumerate(regions)}
    by_region = [[0] * len(regions) for _ in range(size)]
    for observation_id, codes in codes_of.items():
        for region_id in regions_of.get(observation_id, ()):
            column = region_index.get(region_id)
            if column is None:
                continue
            for code_id in codes:
                by_region[index[code_id]][column] += 1

    return CodeOverview(
        codes=used,
        observations=selected.count(),
        coded=len(codes_of),
        matrix=matrix,
        overlaps=overlaps,
        categories=categories,
        by_category=by_category,
        regions=regions,
        by_region=by_region,
        unused=len(tree) - size,
    )


# --- CSV downloads ------------------------------------------------------------------------------


def _csv(rows) -> bytes:
    # UTF-8 with BOM and CRLF, so that Excel (also on Japanese Windows) opens it.
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8")


def codebook_csv(*, network: Network) -> bytes:
    """The codebook as `codebook_import` reads it: name, path, parent_path,
    description, colour; parents before their children."""
    rows = [["name", "path", "parent_path", "description", "colour"]]
    for node in code_tree(network=network):
        code = node.code
        rows.append([code.name, node.path, node.parent_path, code.description, code.colour])
    return _csv(rows)


def overview_csv(overview: CodeOverview, *, what: str = "observations") -> bytes:
    """One table of the overview: "observations" (co-occurrence), "passages"
    (overlapping passages), "categories" or "regions" (observations per code)."""
    paths = [node.path for node in overview.codes]
    if what == "passages":
        header, body = paths, overview.overlaps
    elif what == "categories":
        header, body = [value for value, _label in overview.categories], overview.by_category
    elif what == "regions":
        header, body = [region.name for region in overview.regions], overview.by_region
    else:
        header, body = paths, overview.matrix
    rows = [["code", *header]]
    rows += [[path, *counts] for path, counts in zip(paths, body, strict=True)]
    return _csv(rows)
