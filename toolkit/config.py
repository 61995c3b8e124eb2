"""Settings: explicit values, or read from the environment and a ``.env`` file by `from_env`.

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

The URLs and the cursor secret are secrets: ``repr`` and ``str`` show the URLs with their
passwords masked and the cursor secret not at all; ``.get_secret_value()`` gives the value.
"""

from __future__ import annotations

import functools
import math
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeAlias, TypedDict, Unpack

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_core import ErrorDetails, PydanticCustomError
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    SettingsConfigDict,
)

from toolkit.errors import ConfigurationError

__all__ = [
    "DEFAULT_BACKEND",
    "DEFAULT_ENV_FILE",
    "SecretUrl",
    "Settings",
    "SettingsChanges",
    "UrlField",
]

DEFAULT_BACKEND = "sqlite"
DEFAULT_ENV_FILE = ".env"
"""The file `Settings.from_env` reads beneath the environment, when it exists."""

# Without a secret of the application's own, cursors are still tamper-evident to anyone who
# does not read this source; a cursor only ever names a position within the caller's own query.
_DEFAULT_CURSOR_SECRET = "toolkit page cursor"
_MASK = "***"
# A query option whose value may be a password (libpq's password, sslpassword; Redis's password).
_SECRET_OPTION = re.compile(r"([?&][^=&#]*(?:pass|secret)[^=&#]*=)[^&#]*", re.IGNORECASE)


def _masked_url(url: str) -> str:
    """``url`` with its password, and any password-like query value, shown as ``***``."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        return "*" * 10  # not a URL: where a password might be is unknown
    rest = _SECRET_OPTION.sub(rf"\g<1>{_MASK}", rest)
    # The user part ends at the last "@" before the query (else the last "@" at all): an
    # unescaped password may hold any character, "/", "@" or "?" included.
    head = rest.partition("?")[0]
    end = (head if "@" in head else rest).rfind("@")
    if end >= 0 and ":" in rest[:end]:
        rest = f"{rest[:end].partition(':')[0]}:{_MASK}{rest[end:]}"
    return f"{scheme}://{rest}"


class SecretUrl(SecretStr):
    """A URL that shows with its password masked; ``.get_secret_value()`` gives it whole."""

    def _display(self) -> str:
        return _masked_url(self.get_secret_value())


class Settings(BaseSettings):
    """Everything the toolkit can be configured with; see the module docstring for the variables.

    ``Settings(...)`` holds the values given and the defaults; `from_env` reads the environment.
    Frozen and hashable: equal settings share engines and clients.
    """

    model_config = SettingsConfigDict(
        frozen=True,
        extra="forbid",
        validate_by_name=True,
        case_sensitive=True,
        hide_input_in_errors=True,
    )

    backend: str = Field(DEFAULT_BACKEND, validation_alias="STORAGE_BACKEND")
    postgres_url: SecretUrl = Field(
        SecretUrl("postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"),
        validation_alias="POSTGRES_DATABASE_URL",
    )
    sqlite_url: SecretUrl = Field(
        SecretUrl("sqlite+aiosqlite:///./toolkit.db"), validation_alias="SQLITE_DATABASE_URL"
    )
    redis_url: SecretUrl = Field(
        SecretUrl("redis://127.0.0.1:6379/0"), validation_alias="REDIS_URL"
    )
    redis_key_prefix: str = Field("toolkit", validation_alias="REDIS_KEY_PREFIX")
    pool_size: int = Field(5, validation_alias="STORAGE_POOL_SIZE")
    max_overflow: int = Field(10, validation_alias="STORAGE_MAX_OVERFLOW")
    pool_timeout: float = Field(30.0, validation_alias="STORAGE_POOL_TIMEOUT")
    pool_recycle: int = Field(-1, validation_alias="STORAGE_POOL_RECYCLE")
    pool_pre_ping: bool = Field(True, validation_alias="STORAGE_POOL_PRE_PING")
    connect_timeout: float = Field(5.0, validation_alias="STORAGE_CONNECT_TIMEOUT")
    command_timeout: float = Field(30.0, validation_alias="STORAGE_COMMAND_TIMEOUT")
    auto_create: bool = Field(True, validation_alias="STORAGE_AUTO_CREATE")
    echo: bool = Field(False, validation_alias="STORAGE_ECHO")
    cursor_secret: SecretStr = Field(SecretStr(""), validation_alias="STORAGE_CURSOR_SECRET")

    def __init__(self, **values: Unpack[SettingsChanges]) -> None:
        # BaseSettings.__init__ would read the environment: here only `from_env` does.
        try:
            BaseModel.__init__(self, **values)
        except ValidationError as exc:
            raise _configuration_error(exc) from exc

    @field_validator("redis_key_prefix")
    @classmethod
    def _one_word(cls, value: str) -> str:
        if not value or any(c in value for c in " :{}*?[]"):
            raise PydanticCustomError(
                "prefix",
                "must be a non-empty word without spaces, ':' or glob characters, not {value}",
                {"value": repr(value)},
            )
        return value

    @field_validator("pool_size", "max_overflow")
    @classmethod
    def _not_negative(cls, value: int) -> int:
        if value < 0:
            raise PydanticCustomError(
                "negative", "must be 0 or more, not {value}", {"value": value}
            )
        return value

    @field_validator("pool_timeout", "connect_timeout", "command_timeout")
    @classmethod
    def _positive(cls, value: float) -> float:
        if not (math.isfinite(value) and value > 0):
            raise PydanticCustomError(
                "not_positive", "must be a positive number, not {value}", {"value": value}
            )
        return value

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        env_file: str | Path | None = DEFAULT_ENV_FILE,
        **overrides: Unpack[SettingsChanges],
    ) -> Settings:
        """Read the environment (``os.environ`` unless given) over ``env_file`` (a ``.env``
        file, skipped when missing; None: none); keyword arguments win over both."""
        given: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
        _check_known(given)
        environ = os.environ if environ is None else environ
        from_file = _env_file_variables(cls, env_file)
        wanted = [variable for name, variable in _VARIABLES.items() if name not in given]
        found = _ours(wanted, environ, from_file)
        return _read(cls, tuple(sorted(found.items())), tuple(sorted(given.items())))

    def cursor_key(self) -> bytes:
        """The key page cursors are signed with."""
        return (self.cursor_secret.get_secret_value() or _DEFAULT_CURSOR_SECRET).encode()

    def replace(self, **changes: Unpack[SettingsChanges]) -> Settings:
        """Return a copy with ``changes`` applied."""
        return self._changed(dict(changes))

    def with_url(self, field: UrlField, url: str) -> Settings:
        """Return a copy whose URL setting ``field`` is ``url``."""
        return self._changed({field: url})

    def _changed(self, changes: dict[str, Any]) -> Settings:
        _check_known(changes)
        current = {name: getattr(self, name) for name in type(self).model_fields}
        return type(self)(**{**current, **changes})


UrlField: TypeAlias = Literal["postgres_url", "sqlite_url", "redis_url"]
"""The settings that hold a backend's URL."""


class SettingsChanges(TypedDict, total=False):
    """Keyword arguments of `Settings`, `Settings.from_env` and `Settings.replace`."""

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


class _Variables(EnvSettingsSource):
    """pydantic-settings' environment source, reading ``variables`` instead of ``os.environ``."""

    def __init__(self, settings_cls: type[BaseSettings], variables: Mapping[str, str]) -> None:
        self._variables = variables
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return self._variables


def _check_known(names: Iterable[str]) -> None:
    # Typed callers cannot pass an unknown name (the keywords are a TypedDict); others can.
    unknown = set(names) - set(Settings.model_fields)
    if unknown:
        raise ConfigurationError(f"unknown setting(s): {', '.join(sorted(unknown))}")


@functools.lru_cache(maxsize=32)
def _read(
    cls: type[Settings], variables: tuple[tuple[str, str], ...], given: tuple[tuple[str, Any], ...]
) -> Settings:
    """Settings of the toolkit's ``variables``, read by pydantic-settings, and of ``given``
    values. Cached: a provider opened per request reads the same environment each time."""
    return cls(**_Variables(cls, dict(variables))(), **dict(given))


def _env_file_variables(
    cls: type[Settings], env_file: str | Path | None
) -> Mapping[str, str | None]:
    """The variables of ``env_file``, read by pydantic-settings; none when it is missing."""
    if env_file is None or not Path(env_file).expanduser().is_file():
        return {}
    try:
        return DotEnvSettingsSource(cls, env_file=env_file).env_vars
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"the settings file {env_file} cannot be read: {exc}") from exc


def _ours(
    wanted: Iterable[str], environ: Mapping[str, str], from_file: Mapping[str, str | None]
) -> dict[str, str]:
    """The ``wanted`` variables, stripped, from ``environ`` over ``from_file``; a blank one is
    not set."""
    found = {name: _value(environ.get(name)) or _value(from_file.get(name)) for name in wanted}
    return {name: value for name, value in found.items() if value}


def _value(raw: str | None) -> str:
    return (raw or "").strip()


_VARIABLES = {name: str(field.validation_alias) for name, field in Settings.model_fields.items()}
"""Each setting's environment variable."""
# The secret settings, by field and by variable: an error names them, never their values.
_SECRETS = {
    name
    for field in ("postgres_url", "sqlite_url", "redis_url", "cursor_secret")
    for name in (field, _VARIABLES[field])
}
_KINDS = {
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "string": "a string",
}


def _configuration_error(exc: ValidationError) -> ConfigurationError:
    """The `ConfigurationError` for pydantic's ``exc``: each setting by the name it was given
    (the variable's, read from the environment), never a secret's value."""
    errors = exc.errors(include_url=False)
    unknown = sorted(str(e["loc"][0]) for e in errors if e["type"] == "extra_forbidden")
    messages = [_message(error) for error in errors if error["type"] != "extra_forbidden"]
    if unknown:
        messages.insert(0, f"unknown setting(s): {', '.join(unknown)}")
    return ConfigurationError("; ".join(messages))


def _message(error: ErrorDetails) -> str:
    name = str(error["loc"][0]) if error["loc"] else "settings"
    if error["type"] in ("prefix", "negative", "not_positive"):
        return f"{name} {error['msg']}"
    kind = _KINDS.get(error["type"].split("_")[0])
    if kind is None:
        return f"{name}: {error['msg']}"
    if name in _SECRETS:
        return f"{name} must be {kind}"
    return f"{name} must be {kind}, not {error['input']!r}"
