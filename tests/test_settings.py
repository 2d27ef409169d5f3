"""Settings come from the environment; a bad value stops start-up and names itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CLEAN = {
    k: v
    for k, v in os.environ.items()
    if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "EMAIL_URL"}
}


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**CLEAN, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _settings(expr: str, **env: str) -> str:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import django; django.setup(); from django.conf import settings; print({expr})",
        ],
        cwd=ROOT,
        env={**CLEAN, "DJANGO_SETTINGS_MODULE": "hubless.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DEBUG", "maybe"),
        ("DATABASE_URL", "mysql://root@localhost/db"),
        ("DATABASE_URL", "postgres://localhost:notaport/db"),
        ("REDIS_URL", "localhost:6379"),
        ("EMAIL_URL", "smtp://"),
        ("EMAIL_URL", "smtp://mail.example.com?tls=perhaps"),
        ("CELERY_TASK_ALWAYS_EAGER", "perhaps"),
        ("LOG_LEVEL", "LOUD"),
        ("IMPORT_MAX_BYTES", "lots"),
        ("SITE_URL", "example.com"),
    ],
)
def test_a_bad_value_fails_at_start_naming_the_variable(variable, value):
    result = _manage("check", **{variable: value})
    assert result.returncode != 0
    assert variable in result.stderr


def test_production_mode_requires_a_secret_key_and_hosts():
    result = _manage("check", DEBUG="false", ALLOWED_HOSTS="hubless.example.jp")
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr
    result = _manage("check", DEBUG="false", SECRET_KEY="k" * 60)
    assert result.returncode != 0 and "ALLOWED_HOSTS" in result.stderr


def test_deploy_check_passes_in_production_mode():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        SECRET_KEY="a-long-random-secret-key-for-the-deploy-check-0123456789-abcdefghij",
        ALLOWED_HOSTS="hubless.example.jp",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_embedded_defaults_need_no_services():
    assert _settings("settings.DATABASES['default']['ENGINE']") == "django.db.backends.sqlite3"
    assert _settings("settings.CELERY_TASK_ALWAYS_EAGER") == "True"
    assert _settings("settings.EMAIL_BACKEND") == "django.core.mail.backends.console.EmailBackend"
    assert _settings("settings.CACHES['default']['BACKEND']").endswith("LocMemCache")


def test_services_come_from_urls():
    env = {
        "DATABASE_URL": "postgres://hub:s%40cret@db.example:5433/hubless",
        "REDIS_URL": "redis://cache.example:6379/2",
        "EMAIL_URL": "smtp://mailer:pw@smtp.example:587?tls=true",
    }
    assert (
        _settings("settings.DATABASES['default']['ENGINE']", **env)
        == "django.db.backends.postgresql"
    )
    assert _settings("settings.DATABASES['default']['PASSWORD']", **env) == "s@cret"
    assert _settings("settings.DATABASES['default']['PORT']", **env) == "5433"
    assert _settings("settings.CELERY_BROKER_URL", **env) == "redis://cache.example:6379/2"
    assert _settings("settings.CELERY_TASK_ALWAYS_EAGER", **env) == "False"
    assert _settings("settings.CACHES['default']['BACKEND']", **env).endswith("RedisCache")
    assert (
        _settings("(settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS)", **env)
        == "('smtp.example', 587, True)"
    )
    assert _settings("settings.EMAIL_BACKEND", EMAIL_URL="file:///tmp/hubless-mail").endswith(
        "filebased.EmailBackend"
    )


def test_production_turns_on_transport_security():
    env = {"DEBUG": "false", "SECRET_KEY": "s" * 60, "ALLOWED_HOSTS": "hubless.example.jp"}
    assert (
        _settings(
            "(settings.SECURE_HSTS_SECONDS > 0, settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE, settings.SECURE_SSL_REDIRECT)",
            **env,
        )
        == "(True, True, True, True)"
    )


def test_pages_carry_a_content_security_policy(client, db):
    response = client.get("/accounts/login/")
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
