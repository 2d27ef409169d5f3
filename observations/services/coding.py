"""Qualitative coding: the codebook, codings and memos.

Codes nest (a parent and its children, any depth); a code is named by its path,
"Parent/Child", so a name cannot contain "/". A coding applies a code to a whole
observation (no offsets) or to a passage: characters start..end of the observation's
Markdown source, as Python string indices (code points), with the quoted text kept so
that `codings_reanchor` can follow the passage through an edit of the text, or flag it.

Deleting a code is soft and refused while it has live sub-codes (move or delete them
first: a deleted parent would leave its children without a path). A code that is in use
is deleted only when the caller confirms; its codings are then soft-deleted with it, so
every count stays consistent and the history (simple-history) still shows them.

Every write records its user for the history: the request middleware does so inside
a request; services called elsewhere (commands, tasks) set `_history_user`."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.utils import bulk_update_with_history

from coordination import tables
from coordination.models import Network
from coordination.services.imports import ImportResult, RowOutcome, _apply, _cells, _run
from coordination.tables import RowError, TableError

from ..models import Code, Coding, Memo, Observation

__all__ = [
    "CODEBOOK_COLUMNS",
    "DEFAULT_COLOUR",
    "PATH_SEPARATOR",
    "CodeInUse",
    "CodingError",
    "Passage",
    "code_create",
    "code_delete",
    "code_update",
    "codebook_import",
    "coding_add",
    "coding_reanchor",
    "coding_remove",
    "codings_reanchor",
    "memo_create",
    "memo_delete",
    "memo_update",
    "passage_locate",
]

DEFAULT_COLOUR = "#ffd54f"
PATH_SEPARATOR = "/"
CODEBOOK_COLUMNS = ["name", "path", "parent_path", "description", "colour"]
COLOUR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
NAME_MAX = Code._meta.get_field("name").max_length


class CodingError(Exception):
    """A coding write that is refused; the message says why, for the person who tried."""


class CodeInUse(CodingError):
    """Deleting the code would also delete its codings: the caller must confirm."""

    def __init__(self, message: str, *, codings: int):
        super().__init__(message)
        self.codings = codings


def _save(instance, user, **kwargs) -> None:
    # Outside a request (commands, tasks, tests) nobody tells simple-history who it was.
    if user is not None and getattr(user, "is_authenticated", False):
        instance._history_user = user
    instance.save(**kwargs)


# --- codes ----------------------------------------------------------------------------


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise CodingError(_("A code needs a name."))
    if PATH_SEPARATOR in name:
        raise CodingError(
            _('A code name cannot contain "%(sep)s": it separates the levels of a path.')
            % {"sep": PATH_SEPARATOR}
        )
    if len(name) > NAME_MAX:
        raise CodingError(_("A code name has at most %(n)s characters.") % {"n": NAME_MAX})
    return name


def _clean_colour(colour: str) -> str:
    colour = (colour or "").strip() or DEFAULT_COLOUR
    if not COLOUR_RE.match(colour):
        raise CodingError(_("A colour is written #rrggbb, e.g. #ffd54f."))
    return colour.lower()


def _check_name_free(*, network: Network, parent: Code | None, name: str, exclude_pk=None):
    siblings = Code.objects.filter(network=network, name=name, deleted_at__isnull=True)
    siblings = siblings.filter(parent=parent) if parent else siblings.filter(parent__isnull=True)
    if exclude_pk is not None:
        siblings = siblings.exclude(pk=exclude_pk)
    if siblings.exists():
        raise CodingError(_("There is already a code %(name)s at this level.") % {"name": name})


def _check_parent(*, network: Network, code: Code | None, parent: Code | None) -> None:
    if parent is None:
        return
    if parent.network_id != network.pk or parent.deleted_at is not None:
        raise CodingError(_("The parent code must be a code of this codebook."))
    if code is None:
        return
    # Locked: two researchers moving A under B and B under A at the same moment would
    # each pass the check below and together make a cycle.
    parents = dict(
        Code.objects.select_for_update()
        .filter(network=network)
        .values_list("pk", "parent_id")
        .order_by("pk")
    )
    ancestor = parent.pk
    seen = set()
    while ancestor is not None and ancestor not in seen:
        if ancestor == code.pk:
            raise CodingError(_("A code cannot be moved under itself or one of its sub-codes."))
        seen.add(ancestor)
        ancestor = parents.get(ancestor)


def _save_code(code: Code, user) -> None:
    # Two people creating the same name at once both pass the check; the unique
    # constraint lets one win and the other gets the same message.
    try:
        with transaction.atomic():
            _save(code, user)
    except IntegrityError:
        raise CodingError(
            _("There is already a code %(name)s at this level.") % {"name": code.name}
        ) from None


@transaction.atomic
def code_create(
    *,
    network: Network,
    name: str,
    parent: Code | None = None,
    description: str = "",
    colour: str = DEFAULT_COLOUR,
    user=None,
) -> Code:
    name = _clean_name(name)
    _check_parent(network=network, code=None, parent=parent)
    _check_name_free(network=network, parent=parent, name=name)
    code = Code(
        network=network,
        parent=parent,
        name=name,
        description=(description or "").strip(),
        colour=_clean_colour(colour),
    )
    _save_code(code, user)
    return code


@transaction.atomic
def code_update(
    *,
    code: Code,
    name: str,
    parent: Code | None,
    description: str = "",
    colour: str = DEFAULT_COLOUR,
    user=None,
) -> Code:
    """Rename, describe, recolour or move a code (under another parent, or to the top
    level); moving under itself or one of its descendants is refused."""
    if code.deleted_at is not None:
        raise CodingError(_("This code was deleted."))
    network = code.network
    name = _clean_name(name)
    _check_parent(network=network, code=code, parent=parent)
    _check_name_free(network=network, parent=parent, name=name, exclude_pk=code.pk)
    code.name = name
    code.parent = parent
    code.description = (description or "").strip()
    code.colour = _clean_colour(colour)
    _save_code(code, user)
    return code


@transaction.atomic
def code_delete(*, code: Code, user=None, with_codings: bool = False) -> int:
    """Soft-delete a code; returns how many codings were deleted with it. Refused while
    it has sub-codes; a code in use needs `with_codings=True` (CodeInUse otherwise)."""
    current = Code.objects.select_for_update().get(pk=code.pk)
    if current.deleted_at is not None:
        raise CodingError(_("This code was already deleted."))
    children = Code.objects.filter(parent=current, deleted_at__isnull=True).count()
    if children:
        raise CodingError(
            _("%(code)s has %(n)s sub-code(s); move them under another code or delete them first.")
            % {"code": current.name, "n": children}
        )
    codings = list(Coding.objects.filter(code=current, deleted_at__isnull=True))
    if codings and not with_codings:
        raise CodeInUse(
            _("%(code)s is applied %(n)s time(s); deleting it also removes those codings.")
            % {"code": current.name, "n": len(codings)},
            codings=len(codings),
        )
    now = timezone.now()
    for coding in codings:
        coding.deleted_at = now
    if codings:
        bulk_update_with_history(
            codings, Coding, ["deleted_at"], default_user=user, default_date=now
        )
    current.deleted_at = now
    _save(current, user)
    code.deleted_at = now
    return len(codings)


# --- passages ---------------------------------------------------------------------------


def _normalised(text: str) -> tuple[str, list[int]]:
    """The text with CR LF and lone CR as LF, and for each of its characters (and its
    end) the index in the original: forms and browsers change line ends freely."""
    chars: list[str] = []
    where: list[int] = []
    i = 0
    while i < len(text):
        char = text[i]
        where.append(i)
        if char == "\r":
            chars.append("\n")
            i += 2 if text[i + 1 : i + 2] == "\n" else 1
        else:
            chars.append(char)
            i += 1
    where.append(len(text))
    return "".join(chars), where


def _same_text(a: str, b: str) -> bool:
    return _normalised(a)[0] == _normalised(b)[0]


def _occurrences(haystack: str, needle: str) -> list[int]:
    found, at = [], haystack.find(needle)
    while at != -1:
        found.append(at)
        at = haystack.find(needle, at + 1)
    return found


@dataclass(frozen=True)
class Passage:
    start: int
    end: int
    occurrences: int  # how often the quote occurs in the text (1 when offsets were given)


def passage_locate(
    body: str,
    *,
    start: int | None = None,
    end: int | None = None,
    quote: str = "",
    occurrence: int | None = None,
) -> Passage:
    """Where a passage is in `body`: by offsets, checked against the quote (the text may
    have changed since the page was loaded), or, without offsets, by searching the quote
    (the first occurrence, or the `occurrence`-th). Line ends compare loosely."""
    if start is not None or end is not None:
        if start is None or end is None or not (0 <= start < end <= len(body)):
            raise CodingError(
                _(
                    "The selected passage is not in the text (it may have been edited); select it again."
                )
            )
        if not quote or not _same_text(body[start:end], quote):
            raise CodingError(
                _("The text changed since the page was loaded; select the passage again.")
            )
        return Passage(start, end, 1)
    quote = (quote or "").strip()
    if not quote:
        raise CodingError(_("Select a passage in the text, or paste it exactly."))
    text, where = _normalised(body)
    needle = _normalised(quote)[0]
    found = _occurrences(text, needle)
    if not found:
        raise CodingError(
            _(
                "This passage is not in the text. Paste it exactly as it is written "
                "(names shown as pseudonyms cannot be part of a pasted passage)."
            )
        )
    if occurrence is not None and not (1 <= occurrence <= len(found)):
        raise CodingError(
            _("The passage occurs %(n)s time(s) in the text; choose 1 to %(n)s.")
            % {"n": len(found)}
        )
    at = found[(occurrence or 1) - 1]
    return Passage(where[at], where[at + len(needle)], len(found))


def _live_observation(observation: Observation) -> None:
    if observation.deleted_at is not None:
        raise CodingError(_("This observation was deleted."))


def _usable_code(*, network_id: int, code: Code) -> None:
    if code.network_id != network_id or code.deleted_at is not None:
        raise CodingError(_("Choose a code of this codebook."))


def _code_by_name(*, network: Network, name: str, user) -> Code:
    """A new code typed in the coding form: an existing top-level code of that name is
    reused rather than refused."""
    name = _clean_name(name)
    existing = Code.objects.filter(
        network=network, parent__isnull=True, name=name, deleted_at__isnull=True
    ).first()
    return existing or code_create(network=network, name=name, user=user)


def _save_coding(coding: Coding, user, message: str) -> None:
    try:
        with transaction.atomic():
            _save(coding, user)
    except IntegrityError:
        raise CodingError(message) from None


@transaction.atomic
def coding_add(
    *,
    observation: Observation,
    user,
    code: Code | None = None,
    new_code_name: str = "",
    start: int | None = None,
    end: int | None = None,
    quote: str = "",
    occurrence: int | None = None,
) -> Coding:
    """Code the whole observation (no offsets, no quote) or a passage of its text (see
    `passage_locate`). `new_code_name` creates a top-level code (or reuses one) instead
    of `code`. The coding's `occurrences` says how often a pasted quote occurs."""
    observation = Observation.objects.select_for_update().get(pk=observation.pk)
    _live_observation(observation)
    if code is not None and new_code_name.strip():
        raise CodingError(_("Choose a code or type a new one, not both."))
    if code is None:
        if not new_code_name.strip():
            raise CodingError(_("Choose a code or type the name of a new one."))
        code = _code_by_name(network=observation.network, name=new_code_name, user=user)
    _usable_code(network_id=observation.network_id, code=code)
    whole = start is None and end is None and not (quote or "").strip()
    coding = Coding(observation=observation, code=code, created_by=user)
    if whole:
        live = Coding.objects.filter(
            observation=observation, code=code, start__isnull=True, deleted_at__isnull=True
        )
        message = _("This observation is already coded with %(code)s.") % {"code": code.name}
        if live.exists():
            raise CodingError(message)
        coding.occurrences = 1
        _save_coding(coding, user, message)
        return coding
    passage = passage_locate(
        observation.body, start=start, end=end, quote=quote, occurrence=occurrence
    )
    message = _("This passage is already coded with %(code)s.") % {"code": code.name}
    if Coding.objects.filter(
        observation=observation,
        code=code,
        start=passage.start,
        end=passage.end,
        deleted_at__isnull=True,
    ).exists():
        raise CodingError(message)
    coding.start, coding.end = passage.start, passage.end
    coding.quote = observation.body[passage.start : passage.end]
    coding.occurrences = passage.occurrences
    _save_coding(coding, user, message)
    return coding


@transaction.atomic
def coding_remove(*, coding: Coding, user=None) -> Coding:
    """Soft delete: the coding leaves every page and count; its history stays."""
    current = Coding.objects.select_for_update().get(pk=coding.pk)
    if current.deleted_at is None:
        current.deleted_at = timezone.now()
        _save(current, user)
    return current


@transaction.atomic
def coding_reanchor(
    *,
    coding: Coding,
    user,
    start: int | None = None,
    end: int | None = None,
    quote: str = "",
    occurrence: int | None = None,
) -> Coding:
    """Highlight a passage again (one that an edit lost, or moved wrongly): new offsets
    in the current text, the quote taken from it, the review flag cleared."""
    current = (
        Coding.objects.select_for_update().select_related("observation", "code").get(pk=coding.pk)
    )
    if current.deleted_at is not None:
        raise CodingError(_("This coding was removed."))
    if current.start is None:
        raise CodingError(_("This coding is about the whole observation; it has no passage."))
    observation = current.observation
    _live_observation(observation)
    passage = passage_locate(
        observation.body, start=start, end=end, quote=quote, occurrence=occurrence
    )
    message = _("This passage is already coded with %(code)s.") % {"code": current.code.name}
    if (
        Coding.objects.filter(
            observation=observation,
            code=current.code,
            start=passage.start,
            end=passage.end,
            deleted_at__isnull=True,
        )
        .exclude(pk=current.pk)
        .exists()
    ):
        raise CodingError(message)
    current.start, current.end = passage.start, passage.end
    current.quote = observation.body[passage.start : passage.end]
    current.needs_review = False
    current.occurrences = passage.occurrences
    _save_coding(current, user, message)
    return current


# --- following passages through an edit ---------------------------------------------------


class _Mapper:
    """Maps positions of the old text to the new one through difflib's opcodes. A start
    goes with the text that follows it, an end with the text before it, so that text
    typed right at a passage's edge stays outside the passage."""

    def __init__(self, old: str, new: str):
        # Most edits touch one place: the common head and tail are matched directly,
        # and only the middle goes through SequenceMatcher (quadratic at worst).
        head = 0
        limit = min(len(old), len(new))
        while head < limit and old[head] == new[head]:
            head += 1
        tail = 0
        while tail < limit - head and old[-1 - tail] == new[-1 - tail]:
            tail += 1
        old_mid, new_mid = old[head : len(old) - tail], new[head : len(new) - tail]
        matcher = difflib.SequenceMatcher(None, old_mid, new_mid, autojunk=False)
        self.opcodes = [("equal", 0, head, 0, head)] if head else []
        self.opcodes += [
            (tag, i1 + head, i2 + head, j1 + head, j2 + head)
            for tag, i1, i2, j1, j2 in matcher.get_opcodes()
        ]
        if tail:
            self.opcodes.append(("equal", len(old) - tail, len(old), len(new) - tail, len(new)))
        self.old_len, self.new_len = len(old), len(new)

    def start(self, p: int) -> int:
        for tag, i1, i2, j1, _j2 in self.opcodes:
            if tag == "equal" and i1 <= p < i2:
                return j1 + p - i1
        for tag, i1, i2, j1, _j2 in self.opcodes:
            if tag != "equal" and i1 <= p < i2:
                return j1
        return self.new_len

    def end(self, p: int) -> int:
        for tag, i1, i2, j1, _j2 in self.opcodes:
            if tag == "equal" and i1 < p <= i2:
                return j1 + p - i1
        for tag, i1, i2, _j1, j2 in self.opcodes:
            if tag != "equal" and i1 < p <= i2:
                return j2
        return 0


def _nearest(text: str, quote: str, near: int, taken) -> tuple[int, int] | None:
    for at in sorted(_occurrences(text, quote), key=lambda at: (abs(at - near), at)):
        if not taken(at, at + len(quote)):
            return at, at + len(quote)
    return None


@transaction.atomic
def codings_reanchor(*, observation: Observation, old_body: str, user=None) -> dict:
    """After the body changed from `old_body` to `observation.body`: every live passage
    is kept (same offsets, same text), moved (its quote found where the edit put it, or
    the nearest occurrence of the quote) or flagged needs_review (offsets clamped to the
    new text, quote kept) for a researcher to highlight again or remove. Passages
    flagged earlier are looked for again. Returns {"kept", "moved", "flagged"}."""
    new_body = observation.body
    codings = list(
        Coding.objects.select_for_update()
        .filter(observation=observation, start__isnull=False, deleted_at__isnull=True)
        .order_by("start", "end", "pk")
    )
    counts = {"kept": 0, "moved": 0, "flagged": 0}
    if not codings:
        return counts
    mapper = _Mapper(old_body, new_body)
    # (code, start, end) of every passage once this runs: one code may mark a passage once.
    used: set[tuple[int, int, int]] = set()
    plan: list[tuple[Coding, int, int, bool]] = []
    for coding in codings:

        def taken(s: int, e: int, code_id=coding.code_id) -> bool:
            return (code_id, s, e) in used

        quote = coding.quote
        start, end = mapper.start(coding.start), mapper.end(coding.end)
        target: tuple[int, int] | None = None
        if start < end and quote and new_body[start:end] == quote and not taken(start, end):
            target = (start, end)
        elif quote:
            target = _nearest(new_body, quote, start, taken)
        if target is not None:
            unchanged = target == (coding.start, coding.end) and not coding.needs_review
            counts["kept" if unchanged else "moved"] += 1
            plan.append((coding, *target, False))
        else:
            counts["flagged"] += 1
            length = len(new_body)
            start = min(coding.start, max(length - 1, 0))
            end = max(min(coding.end, length), start + 1)
            while taken(start, end):  # only a hint now; it just has to stay unique
                end += 1
            target = (start, end)
            plan.append((coding, start, end, True))
        used.add((coding.code_id, *target))

    pending = [
        (coding, start, end, flag)
        for coding, start, end, flag in plan
        if (coding.start, coding.end, coding.needs_review) != (start, end, flag)
    ]
    # A passage may move to where another one of the same code still is until that one
    # moves too: save in rounds, each failing save retried after the others.
    while pending:
        retry = []
        for coding, start, end, flag in pending:
            coding.start, coding.end, coding.needs_review = start, end, flag
            try:
                with transaction.atomic():
                    _save(coding, user)
            except IntegrityError:
                retry.append((coding, start, end, flag))
        if len(retry) == len(pending):
            raise CodingError(_("The passages could not be re-anchored; try again."))
        pending = retry
    return counts


# --- memos ------------------------------------------------------------------------------


def _clean_body(body: str) -> str:
    body = (body or "").strip()
    if not body:
        raise CodingError(_("A memo needs some text."))
    return body


@transaction.atomic
def memo_create(
    *,
    network: Network,
    author,
    body: str,
    code: Code | None = None,
    observation: Observation | None = None,
) -> Memo:
    """A memo on a code, on an observation, or (neither) in the research journal."""
    if code is not None and observation is not None:
        raise CodingError(_("A memo is about a code or an observation, not both."))
    if code is not None:
        _usable_code(network_id=network.pk, code=code)
    if observation is not None and (
        observation.network_id != network.pk or observation.deleted_at is not None
    ):
        raise CodingError(_("The observation must be one of this network."))
    memo = Memo(
        network=network, author=author, body=_clean_body(body), code=code, observation=observation
    )
    _save(memo, author)
    return memo


@transaction.atomic
def memo_update(*, memo: Memo, body: str, user=None) -> Memo:
    if memo.deleted_at is not None:
        raise CodingError(_("This memo was deleted."))
    memo.body = _clean_body(body)
    _save(memo, user)
    return memo


@transaction.atomic
def memo_delete(*, memo: Memo, user=None) -> Memo:
    """Soft delete; the memo's history stays."""
    if memo.deleted_at is None:
        memo.deleted_at = timezone.now()
        _save(memo, user)
    return memo


# --- codebook import ----------------------------------------------------------------------


def _split_path(value: str) -> list[str]:
    return [part.strip() for part in value.split(PATH_SEPARATOR)]


def _join(parts) -> str:
    return PATH_SEPARATOR.join(parts)


def _colour_cell(value: object) -> str:
    raw = tables.text(value, max_length=20)
    if raw and not COLOUR_RE.match(raw):
        raise tables.CellError(
            _("%(value)r is not a colour; write it as #rrggbb.") % {"value": raw}
        )
    return raw.lower()


def codebook_import(
    *, network: Network, data: bytes, filename: str, dry_run: bool, user=None
) -> ImportResult:
    """All or nothing, like the other imports. Each row names a code by its path
    ("Parent/Child"), or by name and parent_path; a row matches the live code of the
    same path, whose description and colour are updated (only the columns the file
    has), or creates it. A parent must be in the codebook or in the file."""
    table = tables.read_table(data, filename, allowed=CODEBOOK_COLUMNS, required=[])
    if "path" not in table.columns and "name" not in table.columns:
        raise TableError([RowError(1, "path", _("Give a path column, or a name column."))])
    parsers = {
        "name": lambda v: tables.text(v, max_length=NAME_MAX),
        "path": lambda v: tables.text(v, max_length=2000),
        "parent_path": lambda v: tables.text(v, max_length=2000),
        "description": lambda v: tables.text(v, max_length=5000),
        "colour": _colour_cell,
    }
    from ..selectors.coding import code_tree  # the codebook as it is, with paths

    existing = {tuple(_split_path(node.path)): node.code for node in code_tree(network=network)}
    errors: list[RowError] = []
    planned: dict[tuple[str, ...], tuple[int, dict]] = {}
    for number, row in table.rows:
        values = _cells(number, row, parsers, errors)
        name, path, parent_path = values["name"], values["path"], values["parent_path"]
        if name and PATH_SEPARATOR in name:
            errors.append(
                RowError(
                    number,
                    "name",
                    _('A code name cannot contain "%(sep)s": it separates the levels of a path.')
                    % {"sep": PATH_SEPARATOR},
                )
            )
            continue
        if path:
            parts = _split_path(path)
        elif name:
            parts = [*(_split_path(parent_path) if parent_path else []), name]
        else:
            if values["path"] is not None and values["name"] is not None:
                column = "path" if "path" in table.columns else "name"
                errors.append(RowError(number, column, _("This field is required.")))
            continue
        if any(not part for part in parts):
            errors.append(
                RowError(
                    number,
                    "path" if path else "parent_path",
                    _("A path has an empty level (two %(sep)s in a row, or one at an end).")
                    % {"sep": PATH_SEPARATOR},
                )
            )
            continue
        if any(len(part) > NAME_MAX for part in parts):
            errors.append(
                RowError(
                    number,
                    "path" if path else "name",
                    _("A code name has at most %(n)s characters.") % {"n": NAME_MAX},
                )
            )
            continue
        if path and name and name != parts[-1]:
            errors.append(
                RowError(
                    number,
                    "name",
                    _("The name is not the last level of the path (%(last)s).")
                    % {"last": parts[-1]},
                )
            )
        if path and parent_path and _split_path(parent_path) != parts[:-1]:
            errors.append(
                RowError(
                    number,
                    "parent_path",
                    _("The parent path does not match the path (%(parent)s).")
                    % {"parent": _join(parts[:-1]) or "–"},
                )
            )
        key = tuple(parts)
        if key in planned:
            errors.append(
                RowError(
                    number,
                    "path" if path else "name",
                    _("The code %(path)s is already on row %(row)s.")
                    % {"path": _join(parts), "row": planned[key][0]},
                )
            )
            continue
        planned[key] = (number, values)
    for key, (number, _values) in planned.items():
        parent = key[:-1]
        if parent and parent not in planned and parent not in existing:
            errors.append(
                RowError(
                    number,
                    "path" if "path" in table.columns else "parent_path",
                    _("The parent code %(parent)s is neither in the codebook nor in the file.")
                    % {"parent": _join(parent)},
                )
            )
    if errors:
        raise TableError(sorted(errors, key=lambda e: e.row or 0))

    def work(result: ImportResult) -> None:
        codes = dict(existing)
        for key in sorted(planned, key=lambda k: (len(k), planned[k][0])):
            number, values = planned[key]
            code = codes.get(key)
            if code is None:
                code = Code(network=network, parent=codes.get(key[:-1]), name=key[-1])
            wanted = {}
            if "description" in table.columns or code.pk is None:
                wanted["description"] = values["description"] or ""
            if values["colour"]:
                wanted["colour"] = values["colour"]
            elif code.pk is None:
                wanted["colour"] = DEFAULT_COLOUR
            if user is not None:
                code._history_user = user
            action = _apply(code, wanted)
            codes[key] = code
            result.rows.append(RowOutcome(number, action, _join(key)))
        result.rows.sort(key=lambda outcome: outcome.row)

    return _run(dry_run, work)
