"""Settings from the environment, URL derivation and backend names: no database needed."""

from __future__ import annotations

import logging
import traceback
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from pydantic import ValidationError as PydanticValidationError

from toolkit.config import Settings
from toolkit.errors import ConfigurationError
from toolkit.repositories.redis._url import SUPPORTED_OPTIONS as REDIS_OPTIONS
from toolkit.repositories.redis._url import RedisUrl
from toolkit.repositories.sql._postgres import POSTGRES
from toolkit.repositories.sql._postgres_options import SUPPORTED_OPTIONS as PG_OPTIONS
from toolkit.repositories.sql._sqlite import SQLITE
from toolkit.storage_dependencies import get_provider
from toolkit.sync_storage_dependencies import get_sync_provider

ENV_NAMES = (
    "STORAGE_BACKEND",
    "POSTGRES_DATABASE_URL",
    "SQLITE_DATABASE_URL",
    "REDIS_URL",
    "STORAGE_POOL_SIZE",
    "STORAGE_MAX_OVERFLOW",
    "STORAGE_POOL_TIMEOUT",
    "STORAGE_POOL_RECYCLE",
    "STORAGE_POOL_PRE_PING",
    "STORAGE_CONNECT_TIMEOUT",
    "STORAGE_COMMAND_TIMEOUT",
    "STORAGE_AUTO_CREATE",
    "STORAGE_ECHO",
)
OTHER_ENV_NAMES = ("REDIS_KEY_PREFIX", "STORAGE_CURSOR_SECRET")

PASSWORD = "s3cret-pw"

DEFAULTS = {
    "backend": "sqlite",
    "postgres_url": "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres",
    "sqlite_url": "sqlite+aiosqlite:///./toolkit.db",
    "redis_url": "redis://127.0.0.1:6379/0",
    "pool_size": 5,
    "max_overflow": 10,
    "pool_timeout": 30.0,
    "pool_recycle": -1,
    "pool_pre_ping": True,
    "connect_timeout": 5.0,
    "command_timeout": 30.0,
    "auto_create": True,
    "echo": False,
}


@pytest.fixture(autouse=True)
def no_dotenv_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A working directory without a ``.env`` file, which `Settings.from_env` would read."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """``os.environ`` without any of the toolkit's variables."""
    for name in (*ENV_NAMES, *OTHER_ENV_NAMES):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def as_dict(settings: Settings) -> dict[str, object]:
    values = {name: getattr(settings, name) for name in DEFAULTS}
    return {
        name: value.get_secret_value() if isinstance(value, SecretStr) else value
        for name, value in values.items()
    }


def assert_secret_kept(exc: BaseException) -> None:
    """Neither the error nor its printed traceback (causes included) shows the password."""
    assert PASSWORD not in str(exc)
    assert PASSWORD not in repr(exc)
    assert PASSWORD not in "".join(traceback.format_exception(exc))


# --- Settings.from_env -------------------------------------------------------------------------


def test_defaults_when_the_environment_is_empty(clean_environ: pytest.MonkeyPatch) -> None:
    from_os = Settings.from_env()

    assert as_dict(from_os) == DEFAULTS
    assert as_dict(Settings.from_env({})) == DEFAULTS
    assert from_os == Settings()
    assert type(from_os.pool_timeout) is float
    assert type(from_os.pool_size) is int


def test_every_variable_is_read_and_typed() -> None:
    environ = {
        "STORAGE_BACKEND": "postgres",
        "POSTGRES_DATABASE_URL": "postgresql://app:pw@db.example:6543/app",
        "SQLITE_DATABASE_URL": "sqlite:///data/app.db",
        "REDIS_URL": "redis://cache:6380/2",
        "STORAGE_POOL_SIZE": "7",
        "STORAGE_MAX_OVERFLOW": "0",
        "STORAGE_POOL_TIMEOUT": "2.5",
        "STORAGE_POOL_RECYCLE": "1800",
        "STORAGE_POOL_PRE_PING": "false",
        "STORAGE_CONNECT_TIMEOUT": "4",
        "STORAGE_COMMAND_TIMEOUT": "0.5",
        "STORAGE_AUTO_CREATE": "no",
        "STORAGE_ECHO": "on",
    }
    assert set(environ) == set(ENV_NAMES)

    settings = Settings.from_env(environ)

    assert as_dict(settings) == {
        "backend": "postgres",
        "postgres_url": "postgresql://app:pw@db.example:6543/app",
        "sqlite_url": "sqlite:///data/app.db",
        "redis_url": "redis://cache:6380/2",
        "pool_size": 7,
        "max_overflow": 0,
        "pool_timeout": 2.5,
        "pool_recycle": 1800,
        "pool_pre_ping": False,
        "connect_timeout": 4.0,
        "command_timeout": 0.5,
        "auto_create": False,
        "echo": True,
    }
    assert type(settings.connect_timeout) is float
    assert type(settings.pool_size) is int
    assert type(settings.pool_recycle) is int


def test_os_environ_is_read_when_no_mapping_is_given(clean_environ: pytest.MonkeyPatch) -> None:
    clean_environ.setenv("STORAGE_BACKEND", "postgres")
    clean_environ.setenv("STORAGE_POOL_SIZE", "3")
    clean_environ.setenv("STORAGE_AUTO_CREATE", "0")

    settings = Settings.from_env()

    assert (settings.backend, settings.pool_size, settings.auto_create) == ("postgres", 3, False)
    assert settings.max_overflow == DEFAULTS["max_overflow"]


def test_values_are_stripped_and_blank_values_mean_the_default() -> None:
    settings = Settings.from_env(
        {"STORAGE_POOL_SIZE": "  9 ", "STORAGE_ECHO": " TRUE ", "STORAGE_MAX_OVERFLOW": "   "}
    )

    assert settings.pool_size == 9
    assert settings.echo is True
    assert settings.max_overflow == DEFAULTS["max_overflow"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        *[(raw, True) for raw in ("1", "true", "True", "YES", "on")],
        *[(raw, False) for raw in ("0", "false", "FALSE", "no", "Off")],
    ],
)
def test_boolean_spellings(raw: str, expected: bool) -> None:
    settings = Settings.from_env({"STORAGE_POOL_PRE_PING": raw, "STORAGE_AUTO_CREATE": raw})

    assert settings.pool_pre_ping is expected
    assert settings.auto_create is expected


def test_explicit_keyword_overrides_win_over_the_environment() -> None:
    environ = {"STORAGE_BACKEND": "postgres", "STORAGE_POOL_SIZE": "7", "STORAGE_ECHO": "true"}

    settings = Settings.from_env(environ, backend="sqlite", pool_size=2, echo=False)

    assert (settings.backend, settings.pool_size, settings.echo) == ("sqlite", 2, False)


def test_an_unknown_override_is_a_configuration_error() -> None:
    # Typed callers cannot pass one (the keywords are a TypedDict); untyped ones are checked.
    unknown: dict[str, Any] = {"pool": 3, "colour": "blue"}

    with pytest.raises(ConfigurationError, match=r"unknown setting\(s\): colour, pool"):
        Settings.from_env({}, **unknown)
    with pytest.raises(ConfigurationError, match=r"unknown setting\(s\): colour, pool"):
        Settings().replace(**unknown)


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("STORAGE_POOL_SIZE", "abc", "STORAGE_POOL_SIZE must be an integer, not 'abc'"),
        ("STORAGE_POOL_SIZE", "2.5", "STORAGE_POOL_SIZE must be an integer, not '2.5'"),
        ("STORAGE_MAX_OVERFLOW", "ten", "STORAGE_MAX_OVERFLOW must be an integer, not 'ten'"),
        ("STORAGE_POOL_RECYCLE", "1h", "STORAGE_POOL_RECYCLE must be an integer, not '1h'"),
        ("STORAGE_POOL_TIMEOUT", "soon", "STORAGE_POOL_TIMEOUT must be a number, not 'soon'"),
        ("STORAGE_AUTO_CREATE", "maybe", "STORAGE_AUTO_CREATE must be true or false, not 'maybe'"),
        ("STORAGE_POOL_PRE_PING", "2", "STORAGE_POOL_PRE_PING must be true or false, not '2'"),
        ("STORAGE_ECHO", "yes please", "STORAGE_ECHO must be true or false, not 'yes please'"),
        ("STORAGE_POOL_SIZE", "-1", "STORAGE_POOL_SIZE must be 0 or more, not -1"),
        ("STORAGE_MAX_OVERFLOW", "-3", "STORAGE_MAX_OVERFLOW must be 0 or more, not -3"),
        *[
            (name, raw, f"{name} must be a positive number, not {shown}")
            for name, raw, shown in (
                ("STORAGE_POOL_TIMEOUT", "0", "0.0"),
                ("STORAGE_CONNECT_TIMEOUT", "0", "0.0"),
                ("STORAGE_COMMAND_TIMEOUT", "-1.5", "-1.5"),
                ("STORAGE_COMMAND_TIMEOUT", "nan", "nan"),
                ("STORAGE_CONNECT_TIMEOUT", "inf", "inf"),
                ("STORAGE_POOL_TIMEOUT", "1e400", "inf"),
            )
        ],
        (
            "REDIS_KEY_PREFIX",
            "a:b",
            "REDIS_KEY_PREFIX must be a non-empty word without spaces, ':' or glob characters, "
            "not 'a:b'",
        ),
    ],
)
def test_a_bad_environment_value_is_a_configuration_error(
    name: str, raw: str, message: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env({name: raw})

    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("field", "value"),
    [("pool_size", -1), ("max_overflow", -1), ("connect_timeout", 0.0), ("pool_timeout", -2.0)],
)
def test_a_bad_keyword_value_is_a_configuration_error(field: str, value: float) -> None:
    change: dict[str, Any] = {field: value}

    with pytest.raises(ConfigurationError, match=field):
        Settings(**change)
    with pytest.raises(ConfigurationError, match=field):
        Settings.from_env({}, **change)
    with pytest.raises(ConfigurationError, match=field):
        Settings().replace(**change)


def test_zero_pool_size_and_overflow_are_allowed() -> None:
    settings = Settings.from_env({"STORAGE_POOL_SIZE": "0", "STORAGE_MAX_OVERFLOW": "0"})

    assert (settings.pool_size, settings.max_overflow) == (0, 0)


def test_settings_built_from_arguments_do_not_read_the_environment(
    clean_environ: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_environ.setenv("STORAGE_POOL_SIZE", "9")
    (tmp_path / ".env").write_text("STORAGE_ECHO=true\n")

    assert Settings().pool_size == DEFAULTS["pool_size"]
    assert Settings(max_overflow=1).echo is False
    assert Settings.from_env().pool_size == 9


def test_settings_are_frozen_and_hashable_by_value() -> None:
    one = Settings(postgres_url=f"postgresql://app:{PASSWORD}@db/app", cursor_secret="k")
    same = Settings(postgres_url=f"postgresql://app:{PASSWORD}@db/app", cursor_secret="k")
    other = same.replace(cursor_secret="other")

    assert one == same
    assert hash(one) == hash(same)
    assert {one: "engine"}[same] == "engine"
    assert one != other
    assert one.replace() == one
    with pytest.raises(PydanticValidationError):
        one.pool_size = 3  # type: ignore[misc]  # frozen: the assignment is what is tested


# --- .env files ----------------------------------------------------------------------------------


def test_a_dotenv_file_that_is_not_utf8_is_a_configuration_error(tmp_path: Path) -> None:
    env_file = tmp_path / "bad.env"
    env_file.write_bytes(b"STORAGE_BACKEND=sqlite\nREDIS_KEY_PREFIX=\xff\n")
    with pytest.raises(ConfigurationError, match="cannot be read"):
        Settings.from_env({}, env_file=env_file)


def test_a_dotenv_file_is_read_beneath_the_environment(tmp_path: Path) -> None:
    env_file = tmp_path / "app.env"
    env_file.write_text(
        "# the application's own variables are left alone\n"
        "APP_DEBUG=1\n"
        "STORAGE_POOL_SIZE=7\n"
        "REDIS_KEY_PREFIX='fromfile'\n"
        "STORAGE_ECHO=true\n"
        f'POSTGRES_DATABASE_URL="postgresql://app:{PASSWORD}@db.example/app"\n'
    )

    settings = Settings.from_env({"STORAGE_ECHO": "false"}, env_file=env_file, max_overflow=3)

    assert settings.pool_size == 7
    assert settings.redis_key_prefix == "fromfile"
    assert settings.echo is False  # the environment wins over the file
    assert settings.max_overflow == 3  # and an argument over both
    assert settings.postgres_url.get_secret_value() == f"postgresql://app:{PASSWORD}@db.example/app"


def test_the_dotenv_file_of_the_working_directory_is_read_by_default(
    clean_environ: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("STORAGE_BACKEND=redis\nSTORAGE_POOL_SIZE=4\n")

    assert (Settings.from_env().backend, Settings.from_env().pool_size) == ("redis", 4)
    assert Settings.from_env({}).backend == "redis"
    assert Settings.from_env(env_file=None).backend == DEFAULTS["backend"]
    assert Settings.from_env(env_file=tmp_path / "missing.env").backend == DEFAULTS["backend"]


def test_a_bad_value_in_a_dotenv_file_is_a_configuration_error_naming_it(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("STORAGE_POOL_TIMEOUT=soon\n")

    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env({}, env_file=env_file)

    assert str(caught.value) == "STORAGE_POOL_TIMEOUT must be a number, not 'soon'"


# --- secrets -------------------------------------------------------------------------------------


def secret_settings() -> Settings:
    return Settings(
        postgres_url=f"postgresql+asyncpg://app:{PASSWORD}@db.example:6543/app",
        sqlite_url=f"sqlite://user:{PASSWORD}@/x.db",
        redis_url=f"redis://:{PASSWORD}@cache:6380/0?password={PASSWORD}",
        cursor_secret=PASSWORD,
    )


def test_repr_and_str_show_urls_with_the_password_masked_and_no_cursor_secret() -> None:
    settings = secret_settings()

    for shown in (repr(settings), str(settings), f"{settings}", f"{settings!r}"):
        assert PASSWORD not in shown
        assert "postgresql+asyncpg://app:***@db.example:6543/app" in shown
        assert "redis://:***@cache:6380/0?password=***" in shown
    assert PASSWORD not in settings.model_dump_json()
    assert settings.cursor_key() == PASSWORD.encode()


def test_logging_the_settings_never_shows_a_secret(caplog: pytest.LogCaptureFixture) -> None:
    settings = secret_settings()
    logger = logging.getLogger("toolkit.tests")

    with caplog.at_level(logging.DEBUG):
        logger.info("settings: %s", settings)
        logger.info("settings: %r", settings)
        logger.info("urls: %s %s", settings.postgres_url, settings.redis_url)

    assert len(caplog.records) == 3
    assert "app:***@db.example" in caplog.text
    assert PASSWORD not in caplog.text


@pytest.mark.parametrize("field", ["postgres_url", "sqlite_url", "redis_url", "cursor_secret"])
def test_a_secret_of_the_wrong_type_is_refused_without_its_value(field: str) -> None:
    value: dict[str, Any] = {field: 12345}

    with pytest.raises(ConfigurationError) as caught:
        Settings(**value)

    assert str(caught.value) == f"{field} must be a string"


# --- URLs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "given",
    [
        f"postgresql+asyncpg://app:{PASSWORD}@db.example:6543/app",
        f"postgresql+psycopg2://app:{PASSWORD}@db.example:6543/app",
        f"postgresql://app:{PASSWORD}@db.example:6543/app",
        f"postgres://app:{PASSWORD}@db.example:6543/app",
    ],
)
def test_any_postgres_url_form_gives_both_driver_urls(given: str) -> None:
    settings = Settings(postgres_url=given)

    async_url = POSTGRES.url(settings, is_async=True)
    sync_url = POSTGRES.url(settings, is_async=False)

    rest = f"app:{PASSWORD}@db.example:6543/app"
    assert async_url.render_as_string(hide_password=False) == f"postgresql+asyncpg://{rest}"
    assert sync_url.render_as_string(hide_password=False) == f"postgresql+psycopg2://{rest}"
    assert (sync_url.username, sync_url.password, sync_url.host) == ("app", PASSWORD, "db.example")
    assert (sync_url.port, sync_url.database) == (6543, "app")


def test_a_postgres_url_keeps_its_query_for_psycopg2_and_gives_it_to_asyncpg_as_arguments() -> None:
    settings = Settings(postgres_url="postgresql://app@db/app?application_name=toolkit&port=5")

    assert POSTGRES.url(settings, is_async=False).query == {
        "application_name": "toolkit",
        "port": "5",
    }
    # SQLAlchemy would pass the options to asyncpg as keyword arguments it does not know.
    assert POSTGRES.url(settings, is_async=True).query == {"port": "5"}


@pytest.mark.parametrize(
    ("given", "database"),
    [
        ("sqlite+aiosqlite:///./toolkit.db", "./toolkit.db"),
        ("sqlite+pysqlite:///./toolkit.db", "./toolkit.db"),
        ("sqlite:///./toolkit.db", "./toolkit.db"),
        ("sqlite:////var/lib/app/app.db", "/var/lib/app/app.db"),
        ("sqlite+aiosqlite://", None),
        ("sqlite:///:memory:", ":memory:"),
    ],
)
def test_any_sqlite_url_form_gives_both_driver_urls(given: str, database: str | None) -> None:
    settings = Settings(sqlite_url=given)

    async_url = SQLITE.url(settings, is_async=True)
    sync_url = SQLITE.url(settings, is_async=False)

    assert async_url.drivername == "sqlite+aiosqlite"
    assert sync_url.drivername == "sqlite+pysqlite"
    assert async_url.database == sync_url.database == database
    assert async_url.set(drivername="sqlite+pysqlite") == sync_url


@pytest.mark.parametrize(
    ("dialect_name", "raw", "message"),
    [
        (
            "postgres",
            f"mysql://app:{PASSWORD}@db.example/app",
            "POSTGRES_DATABASE_URL must be a postgresql:// URL, not mysql://",
        ),
        (
            "postgres",
            f"sqlite+aiosqlite:///{PASSWORD}.db",
            "POSTGRES_DATABASE_URL must be a postgresql:// URL, not sqlite+aiosqlite://",
        ),
        (
            "sqlite",
            f"mysql://app:{PASSWORD}@db.example/app",
            "SQLITE_DATABASE_URL must be a sqlite:// URL, not mysql://",
        ),
        (
            "sqlite",
            f"postgresql://app:{PASSWORD}@db.example/app",
            "SQLITE_DATABASE_URL must be a sqlite:// URL, not postgresql://",
        ),
        (
            "sqlite",
            f"sqlite://app:{PASSWORD}@db.example/app.db",
            "SQLITE_DATABASE_URL names a host; a file is given as sqlite:///path/to/file.db",
        ),
        *[
            (dialect_name, raw, f"{setting} is not a valid database URL")
            for dialect_name, setting in (
                ("postgres", "POSTGRES_DATABASE_URL"),
                ("sqlite", "SQLITE_DATABASE_URL"),
            )
            for raw in (
                f"not a url {PASSWORD}",
                f"app:{PASSWORD}@db.example/app",
                f"postgresql://app:{PASSWORD}@db.example:port/app",
                "",
            )
        ],
    ],
)
def test_a_wrong_or_malformed_url_is_a_configuration_error_without_the_password(
    dialect_name: str, raw: str, message: str
) -> None:
    dialect = POSTGRES if dialect_name == "postgres" else SQLITE
    settings = Settings(postgres_url=raw, sqlite_url=raw)

    for is_async in (True, False):
        with pytest.raises(ConfigurationError) as caught:
            dialect.url(settings, is_async=is_async)
        assert str(caught.value) == message
        assert_secret_kept(caught.value)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "keepalives=1",
            "POSTGRES_DATABASE_URL option 'keepalives' is not honoured by both PostgreSQL "
            f"drivers (asyncpg and psycopg2); supported: {', '.join(PG_OPTIONS)}",
        ),
        (
            "prepared_statement_cache_size=0",
            "POSTGRES_DATABASE_URL option 'prepared_statement_cache_size' is not honoured by "
            f"both PostgreSQL drivers (asyncpg and psycopg2); supported: {', '.join(PG_OPTIONS)}",
        ),
        (
            "sslmode=sometimes",
            "POSTGRES_DATABASE_URL option 'sslmode' must be one of disable, allow, prefer, "
            "require, verify-ca, verify-full, not 'sometimes'",
        ),
        (
            "connect_timeout=abc",
            "POSTGRES_DATABASE_URL option 'connect_timeout' must be a whole number of seconds, "
            "1 to 86400, not 'abc'",
        ),
        (
            "connect_timeout=0",
            "POSTGRES_DATABASE_URL option 'connect_timeout' must be a whole number of seconds, "
            "1 to 86400, not '0'",
        ),
        (
            "connect_timeout=%C2%B2",
            "POSTGRES_DATABASE_URL option 'connect_timeout' must be a whole number of seconds, "
            "1 to 86400, not '\u00b2'",
        ),
        (
            "connect_timeout=99999999999999999999",
            "POSTGRES_DATABASE_URL option 'connect_timeout' must be a whole number of seconds, "
            "1 to 86400, not '99999999999999999999'",
        ),
        (
            "options=statement_timeout%3D5",
            "POSTGRES_DATABASE_URL option 'options' must be server settings as -c name=value, "
            "not 'statement_timeout=5'",
        ),
        (
            "sslmode=disable&sslmode=require",
            "POSTGRES_DATABASE_URL option 'sslmode' is given more than once",
        ),
        (
            "target_session_attrs=whatever",
            "POSTGRES_DATABASE_URL option 'target_session_attrs' must be one of any, read-write, "
            "read-only, primary, standby, prefer-standby, not 'whatever'",
        ),
    ],
)
async def test_a_postgres_url_option_a_driver_would_not_honour_is_refused_on_both_paths(
    query: str, message: str
) -> None:
    # Nothing listens on port 1: the error comes before any connection is tried.
    url = f"postgresql://app:{PASSWORD}@127.0.0.1:1/app?{query}"
    settings = Settings(postgres_url=url)

    for is_async in (True, False):
        with pytest.raises(ConfigurationError) as caught:
            POSTGRES.url(settings, is_async=is_async)
        assert str(caught.value) == message
    with pytest.raises(ConfigurationError) as async_caught:
        async with get_provider("postgres", settings=settings):
            pytest.fail("a refused option must not open a provider")
    with (
        pytest.raises(ConfigurationError) as sync_caught,
        get_sync_provider("postgres", settings=settings),
    ):
        pytest.fail("a refused option must not open a provider")
    for error in (async_caught.value, sync_caught.value):
        assert str(error) == message
        assert_secret_kept(error)


def test_libpq_options_are_given_to_each_driver_in_its_own_terms() -> None:
    query = (
        "sslmode=disable&application_name=app&connect_timeout=7&target_session_attrs=any"
        "&options=-c%20lock_timeout%3D500&sslrootcert=/etc/ca.pem&host=127.0.0.1"
    )
    settings = Settings(postgres_url=f"postgresql://app@/app?{query}", command_timeout=2.5)

    async_options = POSTGRES.engine_options(
        POSTGRES.url(settings, is_async=True), settings, is_async=True
    )
    sync_options = POSTGRES.engine_options(
        POSTGRES.url(settings, is_async=False), settings, is_async=False
    )

    assert async_options["connect_args"] == {
        "timeout": 7,
        "command_timeout": 2.5,
        "dsn": "postgresql://?sslmode=disable&application_name=app&target_session_attrs=any"
        "&options=-c+lock_timeout%3D500&sslrootcert=%2Fetc%2Fca.pem",
    }
    # psycopg2 gives the URL's options to libpq; these two win over their namesakes there.
    assert sync_options["connect_args"] == {
        "connect_timeout": 7,
        "options": "-c statement_timeout=2500 -c lock_timeout=500",
    }


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "socket_timeout=abc",
            "REDIS_URL option 'socket_timeout' must be a positive number of seconds, at most "
            "86400, not 'abc'",
        ),
        (
            "socket_connect_timeout=-1",
            "REDIS_URL option 'socket_connect_timeout' must be a positive number of seconds, "
            "at most 86400, not '-1'",
        ),
        (
            "socket_connect_timeout=1e308",
            "REDIS_URL option 'socket_connect_timeout' must be a positive number of seconds, "
            "at most 86400, not '1e308'",
        ),
        (
            "socket_keepalive=maybe",
            "REDIS_URL option 'socket_keepalive' must be true or false, not 'maybe'",
        ),
        (
            "health_check_interval=often",
            "REDIS_URL option 'health_check_interval' must be a number of seconds, 0 to 86400, "
            "not 'often'",
        ),
        (
            "protocol=2",
            f"REDIS_URL option 'protocol' is not supported; supported: {', '.join(REDIS_OPTIONS)}",
        ),
        (
            "decode_responses=false",
            "REDIS_URL option 'decode_responses' is not supported; supported: "
            f"{', '.join(REDIS_OPTIONS)}",
        ),
        ("ssl_cert_reqs=none", "REDIS_URL option 'ssl_cert_reqs' needs a rediss:// URL"),
    ],
)
async def test_a_redis_url_option_a_client_would_not_honour_is_refused_on_both_paths(
    query: str, message: str
) -> None:
    settings = Settings(redis_url=f"redis://:{PASSWORD}@127.0.0.1:1/0?{query}")

    with pytest.raises(ConfigurationError) as async_caught:
        async with get_provider("redis", settings=settings):
            pytest.fail("a refused option must not open a provider")
    with (
        pytest.raises(ConfigurationError) as sync_caught,
        get_sync_provider("redis", settings=settings),
    ):
        pytest.fail("a refused option must not open a provider")

    for error in (async_caught.value, sync_caught.value):
        assert str(error) == message
        assert_secret_kept(error)


def test_redis_url_options_are_read_into_both_clients_arguments() -> None:
    parsed = RedisUrl.parse(
        f"rediss://:{PASSWORD}@cache:6380/0?socket_timeout=2.5&socket_keepalive=off"
        "&client_name=app&health_check_interval=0&ssl_cert_reqs=none&db=0"
    )

    assert parsed.url == f"rediss://:{PASSWORD}@cache:6380/0"
    assert parsed.options == {
        "socket_timeout": 2.5,
        "socket_keepalive": False,
        "client_name": "app",
        "health_check_interval": 0.0,
        "ssl_cert_reqs": "none",
    }
    assert parsed.location == "Redis at cache:6380"


# --- backend names -------------------------------------------------------------------------------


async def test_get_provider_of_an_unknown_backend_lists_the_valid_names(
    clean_environ: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        async with get_provider("nope"):
            pytest.fail("an unknown backend must not open a provider")

    assert (
        str(caught.value)
        == "unknown storage backend 'nope'; choose one of: postgres, redis, sqlite"
    )


def test_get_sync_provider_of_an_unknown_backend_lists_the_valid_names(
    clean_environ: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ConfigurationError) as caught, get_sync_provider("nope"):
        pytest.fail("an unknown backend must not open a provider")

    assert (
        str(caught.value)
        == "unknown storage backend 'nope'; choose one of: postgres, redis, sqlite"
    )


async def test_an_unknown_backend_from_the_environment_is_refused(
    clean_environ: pytest.MonkeyPatch,
) -> None:
    clean_environ.setenv("STORAGE_BACKEND", "mysql")

    with pytest.raises(ConfigurationError, match="'mysql'; choose one of: postgres, redis, sqlite"):
        async with get_provider():
            pytest.fail("an unknown backend must not open a provider")
    with (
        pytest.raises(ConfigurationError, match="'mysql'; choose one of: postgres, redis, sqlite"),
        get_sync_provider(),
    ):
        pytest.fail("an unknown backend must not open a provider")


async def test_backend_names_are_matched_ignoring_case_and_spaces() -> None:
    # Opening a provider connects nothing until a repository is used.
    settings = Settings(sqlite_url="sqlite://", postgres_url="postgresql://nobody@127.0.0.1:1/x")
    async with get_provider(" SQLite ", settings=settings) as provider:
        assert provider is not None
    with get_sync_provider("POSTGRES", settings=settings) as sync_provider:
        assert sync_provider is not None


async def test_a_url_argument_of_the_wrong_kind_is_refused_without_the_password() -> None:
    with pytest.raises(ConfigurationError) as caught:
        async with get_provider("postgres", url=f"mysql://app:{PASSWORD}@db.example/app"):
            pytest.fail("a wrong URL must not open a provider")
    assert str(caught.value) == "POSTGRES_DATABASE_URL must be a postgresql:// URL, not mysql://"
    assert_secret_kept(caught.value)

    with (
        pytest.raises(ConfigurationError) as sync_caught,
        get_sync_provider("sqlite", url=f"garbage {PASSWORD}"),
    ):
        pytest.fail("a malformed URL must not open a provider")
    assert str(sync_caught.value) == "SQLITE_DATABASE_URL is not a valid database URL"
    assert_secret_kept(sync_caught.value)
