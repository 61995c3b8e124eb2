"""Settings: read from the environment once, overridable by explicit arguments.

| variable | meaning | default |
|---|---|---|
| ``STORAGE_BACKEND`` | backend used when none is named | ``sqlite`` |
| ``POSTGRES_DATABASE_URL`` | PostgreSQL URL, async or sync form | see `Settings.postgres_url` |
| ``SQLITE_DATABASE_URL`` | SQLite URL, async or sync form | ``sqlite+aiosqlite:///./toolkit.db`` |
| ``REDIS_URL`` | Redis URL, database 0 only | ``redis://127.0.0.1:6379/0`` |
| ``REDIS_KEY_PREFIX`` | first part of every Redis key and index name | ``toolkit`` |
| ``STORAGE_POOL_SIZE`` | connections kept per pool | ``5`` |
| ``STORAGE_MAX_OVERFLOW`` | connections allowed above the pool size | ``10`` |
| ``STORAGE_POOL_TIMEOUT`` | seconds to wait for a free pooled connection | ``30`` |
| ``STORAGE_POOL_RECYCLE`` | seconds before a pooled connection is replaced; -1: never | ``-1`` |
| ``STORAGE_POOL_PRE_PING`` | test a pooled connection before handing it out | ``true`` |
| ``STORAGE_CONNECT_TIMEOUT`` | seconds allowed to open a connection | ``5`` |
| ``STORAGE_COMMAND_TIMEOUT`` | seconds allowed for one statement | ``30`` |
| ``STORAGE_AUTO_CREATE`` | create a model's missing tables on first use | ``true`` |
| ``STORAGE_ECHO`` | log every statement (SQLAlchemy's ``echo``) | ``false`` |
| ``STORAGE_CURSOR_SECRET`` | the key that signs page cursors (one value everywhere) | built in |
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, TypedDict, Unpack

from toolkit.errors import ConfigurationError

__all__ = ["DEFAULT_BACKEND", "Settings", "SettingsChanges", "UrlField"]

DEFAULT_BACKEND = "sqlite"

# Without a secret of the application's own, cursors are still tamper-evident to anyone who
# does not read this source; a cursor only ever names a position within the caller's own query.
_DEFAULT_CURSOR_SECRET = "toolkit page cursor"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the toolkit can be configured with; see the module docstring for the variables."""

    backend: str = DEFAULT_BACKEND
    postgres_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    sqlite_url: str = "sqlite+aiosqlite:///./toolkit.db"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_key_prefix: str = "toolkit"
    pool_size: int = 5
    max_overflow: int = 10
    pool_timeout: float = 30.0
    pool_recycle: int = -1
    pool_pre_ping: bool = True
    connect_timeout: float = 5.0
    command_timeout: float = 30.0
    auto_create: bool = True
    echo: bool = False
    cursor_secret: str = dataclasses.field(default="", repr=False)

    def __post_init__(self) -> None:
        if not self.redis_key_prefix or any(c in self.redis_key_prefix for c in " :{}*?[]"):
            raise ConfigurationError(
                f"redis_key_prefix must be a non-empty word without spaces, ':' or glob "
                f"characters, not {self.redis_key_prefix!r}"
            )
        for name in ("pool_size", "max_overflow"):
            if getattr(self, name) < 0:
                raise ConfigurationError(f"{name} must be 0 or more, not {getattr(self, name)}")
        for name in ("pool_timeout", "connect_timeout", "command_timeout"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigurationError(f"{name} must be a positive number, not {value}")

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **overrides: Unpack[SettingsChanges]
    ) -> Settings:
        """Read the environment (``os.environ`` unless given); keyword arguments win over it."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            if overrides.get(field.name) is not None:
                continue  # an explicit argument wins; the environment's value is not read
            raw = env.get(_ENV_NAMES[field.name])
            if raw is not None and raw.strip() != "":
                values[field.name] = _parse(_ENV_NAMES[field.name], raw.strip(), field.default)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls()._changed(values)

    def cursor_key(self) -> bytes:
        """The key page cursors are signed with."""
        return (self.cursor_secret or _DEFAULT_CURSOR_SECRET).encode()

    def replace(self, **changes: Unpack[SettingsChanges]) -> Settings:
        """Return a copy with ``changes`` applied."""
        return self._changed(dict(changes))

    def with_url(self, field: UrlField, url: str) -> Settings:
        """Return a copy whose URL setting ``field`` is ``url``."""
        return self._changed({field: url})

    def _changed(self, changes: dict[str, Any]) -> Settings:
        unknown = set(changes) - {field.name for field in dataclasses.fields(self)}
        if unknown:
            raise ConfigurationError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)


UrlField: TypeAlias = Literal["postgres_url", "sqlite_url", "redis_url"]
"""The settings that hold a backend's URL."""


class SettingsChanges(TypedDict, total=False):
    """Keyword arguments of `Settings.from_env` and `Settings.replace`: any field of `Settings`."""

    backend: str
    postgres_url: str
    sqlite_url: str
    redis_url: str
    redis_key_prefix: str
    pool_size: int
    max_overflow: int
    pool_timeout: float
    pool_recycle: int
    pool_pre_ping: bool
    connect_timeout: float
    command_timeout: float
    auto_create: bool
    echo: bool
    cursor_secret: str


_ENV_NAMES = {
    "backend": "STORAGE_BACKEND",
    "postgres_url": "POSTGRES_DATABASE_URL",
    "sqlite_url": "SQLITE_DATABASE_URL",
    "redis_url": "REDIS_URL",
    "redis_key_prefix": "REDIS_KEY_PREFIX",
    "pool_size": "STORAGE_POOL_SIZE",
    "max_overflow": "STORAGE_MAX_OVERFLOW",
    "pool_timeout": "STORAGE_POOL_TIMEOUT",
    "pool_recycle": "STORAGE_POOL_RECYCLE",
    "pool_pre_ping": "STORAGE_POOL_PRE_PING",
    "connect_timeout": "STORAGE_CONNECT_TIMEOUT",
    "command_timeout": "STORAGE_COMMAND_TIMEOUT",
    "auto_create": "STORAGE_AUTO_CREATE",
    "echo": "STORAGE_ECHO",
    "cursor_secret": "STORAGE_CURSOR_SECRET",
}


def _parse(name: str, raw: str, default: object) -> object:
    """Convert an environment value to the type of the setting's default."""
    if isinstance(default, bool):
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise ConfigurationError(f"{name} must be true or false, not {raw!r}")
    if isinstance(default, int | float):
        try:
            return type(default)(raw)
        except ValueError:
            kind = "an integer" if isinstance(default, int) else "a number"
            raise ConfigurationError(f"{name} must be {kind}, not {raw!r}") from None
    return raw
