"""Signing a browser page in as a user without the sign-in form (the form itself has
its own browser tests)."""


def log_in(page, client, user) -> None:
    """Log `user` in with Django's test client and hand its session cookie to `page`."""
    client.force_login(user)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": page.base}]
    )
