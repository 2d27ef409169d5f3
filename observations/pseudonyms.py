"""Pseudonyms for research use, and the masking of known names inside free text.

A pseudonym is an HMAC of the network and the record's key under a secret derived from
SECRET_KEY: stable (the same person gets the same pseudonym in every export and page of
one network), different in another network, and not computable from the file without
the secret. `Masker` replaces every known name, kana reading, e-mail address and
organization name of the network inside a text with the matching pseudonym.
`Namer` is what pages and exports ask: real names for those who may see them,
pseudonyms for everyone else.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections import defaultdict
from functools import cached_property

from django.conf import settings

from coordination.models import Network, Organization, Participant

# A separate purpose per kind of thing keeps the pseudonym of participant 5 and of
# organization 5 unrelated, and keeps these keys apart from every other use of the
# SECRET_KEY (sessions, signed links).
_PURPOSE = {
    "participant": "hubless.observations.export.participant-pseudonym",
    "organization": "hubless.observations.export.organization-pseudonym",
    "event": "hubless.observations.export.event-pseudonym",
    "user": "hubless.observations.export.user-pseudonym",
}
_PREFIX = {"participant": "P-", "organization": "O-", "event": "E-", "user": "U-"}

# What an address looks like, for e-mails that belong to nobody in the network.
EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Legal forms that texts often leave out: "株式会社燕精工" is also "燕精工".
_LEGAL_FORMS = re.compile(
    r"(株式会社|有限会社|合同会社|合資会社|合名会社|一般社団法人|公益社団法人|"
    r"一般財団法人|公益財団法人|\(株\)|（株）|\(有\)|（有）|"
    r"\b(?:Co\.,?\s*Ltd\.?|Inc\.?|K\.K\.|Ltd\.?|LLC)\b)",
    re.IGNORECASE,
)
# Name parts shorter than this are not masked on their own (a one-letter given name
# would blank out half a text); the full name still is.
MIN_PART = 2
AMBIGUOUS = "[name]"
EMAIL_MASK = "[e-mail]"


def pseudonym(network: Network | int, pk: int, kind: str = "participant") -> str:
    network_pk = network if isinstance(network, int) else network.pk
    key = (settings.SECRET_KEY + _PURPOSE[kind]).encode()
    digest = hmac.new(key, f"{network_pk}:{pk}".encode(), hashlib.sha256).hexdigest()
    return _PREFIX[kind] + digest[:8]


def _variants(name: str, *, legal_forms: bool = False) -> set[str]:
    name = name.strip()
    if not name:
        return set()
    found = {name, re.sub(r"\s+", "", name)}
    parts = [part for part in re.split(r"[\s\u3000・]+", name) if len(part) >= MIN_PART]
    if len(parts) > 1:
        found.update(parts)
    if legal_forms:
        bare = _LEGAL_FORMS.sub("", name).strip(" ,.")
        if len(bare) >= MIN_PART:
            found.add(bare)
            found.add(re.sub(r"\s+", "", bare))
    return {variant for variant in found if variant}


class Masker:
    """Replaces the network's known names in free text with pseudonyms.

    Longer names win over their parts ("燕精工" inside "株式会社燕精工" is one match);
    a part shared by two people (a common family name) becomes "[name]"; e-mail
    addresses become the owner's pseudonym, or "[e-mail]" when nobody owns them."""

    def __init__(self, network: Network):
        self.network = network

    @cached_property
    def _table(self) -> tuple[re.Pattern | None, dict[str, str]]:
        owners: dict[str, set[str]] = defaultdict(set)
        emails: dict[str, str] = {}
        people = Participant.objects.filter(network=self.network).values_list(
            "pk", "full_name", "name_kana", "email"
        )
        for pk, full_name, kana, email in people:
            label = pseudonym(self.network, pk, "participant")
            for variant in _variants(full_name) | _variants(kana):
                owners[variant.casefold()].add(label)
            if email:
                emails[email.casefold()] = label
        organizations = Organization.objects.filter(network=self.network).values_list(
            "pk", "name", "name_kana"
        )
        for pk, name, kana in organizations:
            label = pseudonym(self.network, pk, "organization")
            for variant in _variants(name, legal_forms=True) | _variants(kana):
                owners[variant.casefold()].add(label)
        replacements = {
            variant: (next(iter(labels)) if len(labels) == 1 else AMBIGUOUS)
            for variant, labels in owners.items()
        }
        replacements.update(emails)
        if not replacements:
            return None, {}
        names = sorted(replacements, key=len, reverse=True)
        # E-mail addresses first (a name can be part of one), then names, longest first.
        pattern = re.compile(
            EMAIL_RE.pattern + "|" + "|".join(re.escape(name) for name in names),
            re.IGNORECASE,
        )
        return pattern, replacements

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        """Where `mask` replaces something in `text`, and with what, in order."""
        if not text:
            return []
        pattern, replacements = self._table
        found = []
        for match in (pattern or EMAIL_RE).finditer(text):
            label = replacements.get(match.group(0).casefold())
            if label is None:
                if not EMAIL_RE.fullmatch(match.group(0)):
                    continue
                label = EMAIL_MASK
            found.append((match.start(), match.end(), label))
        return found

    def mask(self, text: str) -> str:
        if not text:
            return text
        pieces, position = [], 0
        for start, end, label in self.spans(text):
            pieces.append(text[position:start])
            pieces.append(label)
            position = end
        pieces.append(text[position:])
        return "".join(pieces)


class Namer:
    """How a page or an export names people, firms and events: as they are, or as
    pseudonyms with known names masked in titles and texts."""

    def __init__(self, network: Network, *, pseudonymous: bool):
        self.network = network
        self.pseudonymous = pseudonymous
        self._masker = Masker(network) if pseudonymous else None

    def person(self, participant: Participant | None) -> str:
        if participant is None:
            return ""
        if self.pseudonymous:
            return pseudonym(self.network, participant.pk, "participant")
        return participant.full_name

    def organization(self, organization: Organization | None) -> str:
        if organization is None:
            return ""
        if self.pseudonymous:
            return pseudonym(self.network, organization.pk, "organization")
        return organization.name

    def user(self, user) -> str:
        """Authors of observations are staff: their e-mail, or a pseudonym."""
        if user is None:
            return ""
        if self.pseudonymous:
            return pseudonym(self.network, user.pk, "user")
        return user.email

    def text(self, text: str) -> str:
        return self._masker.mask(text) if self._masker else text

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        """Where `text` masks names (none for those who may see them)."""
        return self._masker.spans(text) if self._masker else []

    def event(self, event) -> str:
        if event is None:
            return ""
        return self.text(event.title)


def namer_for(user, network: Network) -> Namer:
    """Real names for those who may see coordination identities, else pseudonyms."""
    return Namer(network, pseudonymous=not user.has_perm("coordination.view_identities", network))
