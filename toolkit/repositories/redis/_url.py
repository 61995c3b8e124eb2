"""Redis URLs: which the toolkit accepts, and how a server is named in messages."""

from __future__ import annotations

from urllib.parse import urlsplit

from toolkit.errors import ConfigurationError

__all__ = ["redis_location", "validate_redis_url"]


def validate_redis_url(url: str) -> str:
    """``url`` when it names database 0 of a Redis server; `ConfigurationError` otherwise."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (parsing the port is what checks it)
    except ValueError as exc:
        raise ConfigurationError("REDIS_URL is not a valid Redis URL") from exc
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise ConfigurationError("REDIS_URL must be a redis:// or rediss:// URL with a host")
    database = parts.path.strip("/") or "0"
    for pair in parts.query.split("&"):
        name, _, value = pair.partition("=")
        if name == "db":
            database = value
    if database != "0":
        raise ConfigurationError(
            f"REDIS_URL names database {database!r}: RediSearch indexes database 0 only; "
            "share a server between applications with REDIS_KEY_PREFIX instead"
        )
    return url


def redis_location(url: str) -> str:
    """Where the server is, for messages: host and port, never the password."""
    parts = urlsplit(url)
    return f"Redis at {parts.hostname}:{parts.port or 6379}"
