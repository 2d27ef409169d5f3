"""Names on research pages go through the page's Namer: real names for those who may
see them, pseudonyms (and masked texts) for everyone else.

    {% load research %}
    {{ participant|person:namer }} {{ organization|org:namer }} {{ event|event_title:namer }}
    {{ observation.body|masked:namer|markdown }}
"""

from django import template

register = template.Library()


@register.filter
def person(participant, namer) -> str:
    return namer.person(participant)


@register.filter
def org(organization, namer) -> str:
    return namer.organization(organization)


@register.filter
def event_title(event, namer) -> str:
    return namer.event(event)


@register.filter
def staff(user, namer) -> str:
    return namer.user(user)


@register.filter
def masked(text, namer) -> str:
    return namer.text(text or "")
