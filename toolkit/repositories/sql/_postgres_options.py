"""PostgreSQL URL options: the libpq options both drivers honour, and how each is given them.

psycopg2 hands options to libpq as they are. asyncpg takes none of them as keyword arguments:
it reads most from a DSN of its own, as libpq would (``sslmode`` becomes its ``ssl``, and
``application_name`` and ``options`` go to the server with the connection's start-up), and
``connect_timeout`` is its ``timeout``. An option either driver would not honour is a
`ConfigurationError` naming it, on both paths alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.engine import URL

from toolkit.config import Settings
from toolkit.errors import ConfigurationError

__all__ = ["SUPPORTED_OPTIONS", "PostgresOptions", "without_options"]

# Both drivers read these as libpq does (asyncpg from its DSN).
_LIBPQ = (
    "application_name",
    "options",
    "passfile",
    "sslcert",
    "sslcrl",
    "sslkey",
    "sslmode",
    "sslpassword",
    "sslrootcert",
    "ssl_max_protocol_version",
    "ssl_min_protocol_version",
    "target_session_attrs",
)
_IN_URL = ("host", "port")  # SQLAlchemy reads these itself, for either driver
SUPPORTED_OPTIONS = tuple(sorted((*_LIBPQ, *_IN_URL, "connect_timeout")))

_CHOICES = {
    "sslmode": ("disable", "allow", "prefer", "require", "verify-ca", "verify-full"),
    "target_session_attrs": (
        "any",
        "read-write",
        "read-only",
        "primary",
        "standby",
        "prefer-standby",
    ),
}
# ``-c name=value`` or ``--name=value`` settings, the form the server reads from both drivers.
_SERVER_OPTIONS = re.compile(r"\s*(?:(?:(?:-c\s*|--)[A-Za-z_][\w.]*=(?:\\\s|\S)+)\s*)+")


@dataclass(frozen=True, slots=True)
class PostgresOptions:
    """The options of a PostgreSQL URL, checked."""

    libpq: dict[str, str]
    connect_timeout: int | None

    @classmethod
    def of(cls, url: URL, setting: str) -> PostgresOptions:
        """The options of ``url``; `ConfigurationError` for one either driver would not honour."""
        libpq: dict[str, str] = {}
        connect_timeout = None
        for name, value in url.query.items():
            if not isinstance(value, str):
                raise ConfigurationError(f"{setting} option {name!r} is given more than once")
            if name == "connect_timeout":
                connect_timeout = _seconds(value, setting)
            elif name in _LIBPQ:
                libpq[name] = _checked(name, value, setting)
            elif name not in _IN_URL:
                raise ConfigurationError(
                    f"{setting} option {name!r} is not honoured by both PostgreSQL drivers "
                    f"(asyncpg and psycopg2); supported: {', '.join(SUPPORTED_OPTIONS)}"
                )
        return cls(libpq, connect_timeout)

    def asyncpg_arguments(self, settings: Settings) -> dict[str, Any]:
        """asyncpg's ``connect()`` arguments: its DSN carries the libpq options."""
        arguments: dict[str, Any] = {
            # `timeout` bounds connecting (60 s by default), `command_timeout` a query.
            "timeout": self.connect_timeout or settings.connect_timeout,
            "command_timeout": settings.command_timeout,
        }
        given = {name: value for name, value in self.libpq.items() if value}
        if given:
            # Only the options: SQLAlchemy passes host, user and database, which take precedence.
            arguments["dsn"] = f"postgresql://?{urlencode(given)}"
        return arguments

    def psycopg2_arguments(self, settings: Settings) -> dict[str, Any]:
        """psycopg2's ``connect()`` arguments beside the URL's options, which it gives libpq as
        they are: these two win over the URL's namesakes."""
        # libpq takes whole seconds, at least 2; psycopg2 waits forever unless told.
        statement_ms = max(1, round(settings.command_timeout * 1000))  # 0 would mean none
        given = self.libpq.get("options")
        return {
            "connect_timeout": self.connect_timeout or max(2, round(settings.connect_timeout)),
            # The URL's own server settings last: they win.
            "options": f"-c statement_timeout={statement_ms} {given or ''}".strip(),
        }


def without_options(url: URL) -> URL:
    """``url`` keeping only the options SQLAlchemy reads itself."""
    return url.set(query={name: value for name, value in url.query.items() if name in _IN_URL})


_LONGEST_WAIT = 86_400  # seconds: a day, within what both drivers take


def _seconds(value: str, setting: str) -> int:
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= _LONGEST_WAIT:
        raise ConfigurationError(
            f"{setting} option 'connect_timeout' must be a whole number of seconds, 1 to 86400, "
            f"not {value!r}"
        )
    return int(value)


def _checked(name: str, value: str, setting: str) -> str:
    choices = _CHOICES.get(name)
    if choices is not None and value not in choices:
        raise ConfigurationError(
            f"{setting} option {name!r} must be one of {', '.join(choices)}, not {value!r}"
        )
    if name == "options" and value and not _SERVER_OPTIONS.fullmatch(value):
        raise ConfigurationError(
            f"{setting} option 'options' must be server settings as -c name=value, not {value!r}"
        )
    return value
