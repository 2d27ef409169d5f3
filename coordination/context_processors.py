def navigation(request):
    """Which navigation the page shows: the staff pages of a network, or its portal.

    Only the section is derived here; each view checked access before rendering."""
    match = getattr(request, "resolver_match", None)
    if not match or "slug" not in match.kwargs:
        return {"nav_section": None}
    section = "portal" if (match.url_name or "").startswith("portal") else "staff"
    return {"nav_section": section}
