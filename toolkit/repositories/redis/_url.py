"""Redis URLs: which the toolkit accepts, the options they may carry, and how a server is named.

The options are read here, not by redis-py: its async and sync clients read a few of them
differently (and leave unknown ones to fail at the first command), so an option either client
would not take, or a value it would misread, is a `ConfigurationError` naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from toolkit.errors import ConfigurationError

__all__ = ["SUPPORTED_OPTIONS", "RedisUrl"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_CERT_REQUIREMENTS = ("none", "optional", "required")


_LONGEST_WAIT = 86_400.0  # seconds: a day (socket timeouts beyond it overflow)


def _seconds(value: str) -> float:
    seconds = float(value)
    if not 0 < seconds <= _LONGEST_WAIT:  # NaN fails too
        raise ValueError
    return seconds


def _interval(value: str) -> float:
    seconds = float(value)
    if not 0 <= seconds <= _LONGEST_WAIT:
        raise ValueError
    return seconds


def _flag(value: str) -> bool:
    if value.lower() not in _TRUE | _FALSE:
        raise ValueError
    return value.lower() in _TRUE


def _cert_requirement(value: str) -> str:
    if value.lower() not in _CERT_REQUIREMENTS:
        raise ValueError
    return value.lower()


def _text(value: str) -> str:
    return value


# Each option, how it is read, and what a valid value is (for the message of an invalid one).
_OPTIONS: dict[str, tuple[Callable[[str], Any], str]] = {
    "socket_timeout": (_seconds, "a positive number of seconds, at most 86400"),
    "socket_connect_timeout": (_seconds, "a positive number of seconds, at most 86400"),
    "health_check_interval": (_interval, "a number of seconds, 0 to 86400"),
    "socket_keepalive": (_flag, "true or false"),
    "client_name": (_text, "a name"),
}
_TLS_OPTIONS: dict[str, tuple[Callable[[str], Any], str]] = {
    "ssl_cert_reqs": (_cert_requirement, f"one of {', '.join(_CERT_REQUIREMENTS)}"),
    "ssl_check_hostname": (_flag, "true or false"),
    "ssl_ca_certs": (_text, "a file"),
    "ssl_certfile": (_text, "a file"),
    "ssl_keyfile": (_text, "a file"),
}
SUPPORTED_OPTIONS = tuple(sorted(("db", *_OPTIONS, *_TLS_OPTIONS)))


@dataclass(frozen=True, slots=True)
class RedisUrl:
    """A Redis URL the toolkit accepts: database 0, and options both clients honour."""

    url: str
    """The URL without its options."""
    options: dict[str, Any]
    """redis-py's connection arguments, read from the options."""
    location: str
    """Where the server is, for messages: host and port, never the password."""

    @classmethod
    def parse(cls, url: str) -> RedisUrl:
        """``url`` checked and read; `ConfigurationError` when the toolkit cannot use it."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise ConfigurationError("REDIS_URL is not a valid Redis URL") from exc
        if parts.scheme not in ("redis", "rediss") or not parts.hostname:
            raise ConfigurationError("REDIS_URL must be a redis:// or rediss:// URL with a host")
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        _check_database(query.pop("db", "") or parts.path.strip("/") or "0")
        options = {
            name: _read(name, value, tls=parts.scheme == "rediss") for name, value in query.items()
        }
        return cls(
            urlunsplit(parts._replace(query="")),
            options,
            f"Redis at {parts.hostname}:{port or 6379}",
        )


def _check_database(database: str) -> None:
    if database != "0":
        raise ConfigurationError(
            f"REDIS_URL names database {database!r}: RediSearch indexes database 0 only; "
            "share a server between applications with REDIS_KEY_PREFIX instead"
        )


def _read(name: str, value: str, *, tls: bool) -> Any:
    known = _OPTIONS.get(name) or (_TLS_OPTIONS.get(name) if tls else None)
    if known is None:
        if name in _TLS_OPTIONS:
            raise ConfigurationError(f"REDIS_URL option {name!r} needs a rediss:// URL")
        raise ConfigurationError(
            f"REDIS_URL option {name!r} is not supported; supported: {', '.join(SUPPORTED_OPTIONS)}"
        )
    read, expected = known
    try:
        return read(value)
    except ValueError:
        raise ConfigurationError(
            f"REDIS_URL option {name!r} must be {expected}, not {value!r}"
        ) from None
