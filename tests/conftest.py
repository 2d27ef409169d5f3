"""Fixtures for the roles every permission test needs, and for fast, isolated tests."""

from __future__ import annotations

import datetime as dt

import pytest
from allauth.account.models import EmailAddress

from coordination.models import NetworkRole, Participant
from tests import factories


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path):
    # Celery tasks run in-process unless a test starts a real worker; mail goes to the
    # locmem outbox; the cache is per test so allauth's rate limits never leak.
    from hubless.celery import app

    app.conf.task_always_eager = True
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.LANGUAGE_CODE = "en"
    # Hashing passwords the production way costs a second per test user.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    from django.core.cache import cache

    cache.clear()
    yield
    # Eager tasks run from many threads at once (the concurrency tests) race on
    # Celery's global "inside a task" flag and can leave it set; every later
    # result.get() in this process would then refuse to wait.
    from celery import _state

    _state._set_task_join_will_block(False)


@pytest.fixture
def network(db):
    return factories.NetworkFactory(slug="alpha", name="Alpha network")


@pytest.fixture
def other_network(db):
    return factories.NetworkFactory(slug="beta", name="Beta network")


@pytest.fixture
def region_a(network):
    return factories.RegionFactory(
        network=network, name="Tsubame", latitude=37.67, longitude=138.88
    )


@pytest.fixture
def region_b(network):
    return factories.RegionFactory(network=network, name="Uonuma", latitude=37.24, longitude=138.96)


def _verified_user(email: str, password: str | None = None, **extra):
    user = factories.UserFactory(email=email, password=password, **extra)
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
    return user


@pytest.fixture
def coordinator(network, region_a):
    user = _verified_user("coord@example.com", "correct horse battery", is_staff=True)
    NetworkRole.objects.create(network=network, user=user, role=NetworkRole.Role.COORDINATOR)
    factories.ParticipantFactory(
        network=network,
        email=user.email,
        user=user,
        role=Participant.Role.COORDINATOR,
        organization=factories.OrganizationFactory(network=network, region=region_a, name="Lab"),
    )
    return user


@pytest.fixture
def researcher(network):
    user = _verified_user("research@example.com", "correct horse battery")
    NetworkRole.objects.create(network=network, user=user, role=NetworkRole.Role.RESEARCHER)
    return user


@pytest.fixture
def identified_researcher(network):
    """A researcher the coordinator allowed to see real names."""
    user = _verified_user("research.named@example.com", "correct horse battery")
    NetworkRole.objects.create(
        network=network, user=user, role=NetworkRole.Role.RESEARCHER, identified_access=True
    )
    return user


def _member(network, region, letter: str) -> Participant:
    user = _verified_user(f"member.{letter.lower()}@example.com")
    return factories.ParticipantFactory(
        network=network,
        email=user.email,
        user=user,
        full_name=f"Member {letter}",
        organization=factories.OrganizationFactory(
            network=network, region=region, name=f"{letter} Works"
        ),
        joined_on=dt.date(2025, 4, 19),
    )


@pytest.fixture
def member_a(network, region_a):
    """A participant (member) of region A, with a sign-in account."""
    return _member(network, region_a, "A")


@pytest.fixture
def member_b(network, region_b):
    """A participant (member) of region B, with a sign-in account."""
    return _member(network, region_b, "B")


@pytest.fixture
def outsider(other_network):
    """Belongs to another network only."""
    user = _verified_user("outsider@example.com", "correct horse battery")
    NetworkRole.objects.create(network=other_network, user=user, role=NetworkRole.Role.COORDINATOR)
    return user


@pytest.fixture
def stranger(db):
    """Signed in, but belongs to no network at all."""
    return _verified_user("stranger@example.com", "correct horse battery")


# --- a real Celery worker ------------------------------------------------------------


def _database_url() -> str:
    from django.db import connection

    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def worker(tmp_path):
    """Starts `celery worker` (solo pool) on Redis against this test's PostgreSQL
    database, with e-mail written to files; yields the mail folder. Skips without
    REDIS_URL and PostgreSQL, and fails instead under CI=true."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from django.db import connection

    from coordination.tasks import ping
    from hubless.celery import app

    if not os.environ.get("REDIS_URL") or connection.vendor != "postgresql":
        if os.environ.get("CI"):
            pytest.fail("CI must run the worker tests with REDIS_URL and PostgreSQL")
        pytest.skip("needs REDIS_URL and a PostgreSQL DATABASE_URL")
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    log = (tmp_path / "worker.log").open("w")
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "EMAIL_URL": f"file://{mail_dir}",
        "SITE_URL": "http://hubless.test",
    }
    app.control.purge()
    command = [sys.executable, "-m", "celery", "-A", "hubless", "worker", "--pool", "solo"]
    command += ["--without-mingle", "--without-gossip", "-l", "info"]
    process = subprocess.Popen(
        command,
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    app.conf.task_always_eager = False
    try:
        # The first round trip also waits for the worker to be ready.
        assert ping.delay("ready").get(timeout=90) == "pong:ready"
        yield mail_dir
    finally:
        app.conf.task_always_eager = True
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
