"""The doctor's checks of Redis: the server is reachable, at database 0, with the JSON and
Search modules, and each model's search index is the one the toolkit derives from the model
(`toolkit.repositories.redis._schema`). Read-only: no key or index is written."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, ResponseError
from redis.retry import Retry
from sqlmodel import SQLModel

from toolkit._doctor_check import Check, first_line
from toolkit.config import Settings
from toolkit.errors import ToolkitError
from toolkit.repositories.redis._documents import redis_table
from toolkit.repositories.redis._keys import redis_keys
from toolkit.repositories.redis._schema import (
    index_schema,
    info_map,
    missing_modules,
    module_name,
    no_index,
    stored_changes,
)
from toolkit.repositories.redis._url import RedisUrl

__all__ = ["redis_checks"]

_OLDEST_SEARCH = 21000  # RediSearch 2.10: INDEXMISSING and INDEXEMPTY, which the index uses
_MODULES_FIX = (
    "use a Redis with both modules loaded: Redis 8 built with its modules, or Redis Stack 7.4+"
)
_REBUILD = (
    "run the application once with STORAGE_AUTO_CREATE=true: the toolkit fills in the fields "
    "a model adds in the documents stored before, builds the index beside the old one and "
    "switches to it once complete"
)
_REWRITE = (
    "give a new field a default or make it nullable (a unique or foreign-key field: nullable, "
    "with no default), or rewrite those documents with the new model"
)
# The options that change what the index answers; SORTABLE fields also show UNF in FT.INFO.
_FLAGS = {"CASESENSITIVE", "INDEXEMPTY", "INDEXMISSING", "SORTABLE"}


def redis_checks(settings: Settings, models: Sequence[type[SQLModel]] | None) -> list[Check]:
    """The checks of the Redis server of ``settings``, and of ``models``' indexes on it."""
    try:
        url = RedisUrl.parse(settings.redis_url.get_secret_value())
    except ToolkitError as exc:  # a malformed URL, an option, a database other than 0
        return [Check("redis", False, str(exc), "fix REDIS_URL")]
    options: dict[str, Any] = {
        "socket_connect_timeout": settings.connect_timeout,
        "socket_timeout": settings.command_timeout,
        **url.options,  # the URL's own win, as in the toolkit's clients
        "decode_responses": True,
        "protocol": 3,  # FT.INFO's reply as maps
        "retry": Retry(NoBackoff(), 0),  # one try: the doctor reports, it does not wait
    }
    client: Redis[str] = Redis.from_url(url.url, **options)
    # redis-om's types-redis stubs do not type execute_command for RESP3 replies (maps).
    command: Any = client.execute_command
    try:
        try:
            version = str(client.info("server")["redis_version"])
        except (RedisError, OSError) as exc:
            return [
                Check(
                    "redis",
                    False,
                    f"cannot connect to {url.location}: {first_line(exc)}",
                    "start the server, or fix REDIS_URL (host, port, password)",
                )
            ]
        checks = [Check("redis", True, f"reachable: {url.location}, database 0, version {version}")]
        try:
            listed = command("MODULE", "LIST")
        except RedisError as exc:  # an ACL, or a managed Redis that hides its modules
            return [
                *checks,
                Check(
                    "redis",
                    False,
                    f"{url.location} does not list its modules: {first_line(exc)}",
                    "allow MODULE LIST for this user: the toolkit checks the modules with it too",
                ),
            ]
        modules = _module_check(listed, url.location, version)
        checks.append(modules)
        if modules.ok and models:
            checks += [_index_check(command, model, settings) for model in models]
        return checks
    finally:
        client.close()


def _module_check(reply: Any, location: str, version: str) -> Check:
    missing = missing_modules(reply)
    if missing:
        return Check(
            "redis",
            False,
            f"{location} (Redis {version}) lacks {' and '.join(missing)}",
            _MODULES_FIX,
        )
    search = next(entry for entry in reply if module_name(entry).lower() == "search")
    search_version = int(search.get("ver") or 0)
    if search_version < _OLDEST_SEARCH:
        return Check(
            "redis",
            False,
            f"{location} has RediSearch {_dotted(search_version)}, older than 2.10 (the index "
            "uses INDEXMISSING and INDEXEMPTY)",
            _MODULES_FIX,
        )
    return Check("redis", True, f"RedisJSON and RediSearch {_dotted(search_version)} present")


def _index_check(command: Any, model: type[SQLModel], settings: Settings) -> Check:
    """Whether the index that queries of ``model`` use is the one the toolkit derives from it."""
    try:
        described = redis_table(model)
    except ToolkitError as exc:
        return Check("redis", False, f"{model.__name__}: {exc}", "change the model")
    keys = redis_keys(settings.redis_key_prefix, described.table)
    expected = _schema_fields(index_schema(described, keys.documents))
    info: dict[str, Any] | None
    try:
        info = info_map(command("FT.INFO", keys.index))
    except ResponseError as exc:
        if not no_index(exc):
            raise
        info = None
    found = (
        {}
        if info is None
        else {str(a["attribute"]): _attribute(a) for a in info.get("attributes", [])}
    )
    parts = []
    index_action = ""  # what the toolkit does to the index on first use, if anything
    if info is None:
        parts.append(f"index {keys.index} is missing")
        index_action = "builds the index"
    else:
        differences = _differences(expected, found)
        prefixes = [str(p) for p in info.get("index_definition", {}).get("prefixes", [])]
        if prefixes != [keys.documents]:
            differences.append(f"it covers keys {', '.join(prefixes)}, not {keys.documents}")
        if differences:
            parts.append(f"index {keys.index} is out of date: {'; '.join(differences)}")
            index_action = "rebuilds the index"
    filled: tuple[str, ...] = ()
    unabsorbed: list[str] = []
    if int(command("ZCARD", keys.ids)) > 0:
        recorded = {str(name) for name in command("SMEMBERS", keys.fields)}
        changes = stored_changes(described, recorded, info)
        filled = changes.filled
        unabsorbed = [*_kind_changes(expected, found), *changes.refused]
    if filled:
        parts.append(f"documents stored before lack {', '.join(filled)}")
    if unabsorbed:
        return Check("redis", False, "; ".join([*parts, *unabsorbed]), _REWRITE)
    if not parts:
        return Check("redis", True, f"index {keys.index} matches {model.__name__}")
    what = "; ".join(parts)
    if settings.auto_create:
        actions = ["fills them in with their defaults"] if filled else []
        actions += [index_action] if index_action else []
        return Check("redis", True, f"{what}; the toolkit {' and '.join(actions)} on first use")
    return Check("redis", False, f"{what} (STORAGE_AUTO_CREATE is off)", _REBUILD)


def _kind_changes(
    expected: dict[str, tuple[str, frozenset[str]]], found: dict[str, tuple[str, frozenset[str]]]
) -> list[str]:
    """The fields whose kind of value changed, which documents stored before cannot follow."""
    return [
        f"documents stored before hold {name} as {found[name][0]}, not {expected[name][0]}"
        for name in sorted(expected.keys() & found.keys())
        if found[name][0] != expected[name][0]
    ]


def _differences(
    expected: dict[str, tuple[str, frozenset[str]]], found: dict[str, tuple[str, frozenset[str]]]
) -> list[str]:
    differences = [
        f"it misses field {name} ({kind})"
        for name, (kind, _) in expected.items()
        if name not in found
    ]
    differences += [
        f"it has field {name}, which the model lacks" for name in sorted(found.keys() - expected)
    ]
    for name in sorted(expected.keys() & found.keys()):
        if expected[name] != found[name]:
            differences.append(
                f"field {name} is {_kind(found[name])}, the model's {_kind(expected[name])}"
            )
    return differences


def _schema_fields(arguments: list[str]) -> dict[str, tuple[str, frozenset[str]]]:
    """FT.CREATE's SCHEMA arguments (``path AS name TYPE option...`` each) as name: (type,
    options)."""
    schema = arguments[arguments.index("SCHEMA") + 1 :]
    fields: dict[str, tuple[str, frozenset[str]]] = {}
    starts = [i for i, token in enumerate(schema) if token.startswith("$")] + [len(schema)]
    for start, end in itertools.pairwise(starts):
        _path, _as, name, kind, *options = schema[start:end]
        fields[name] = (kind, frozenset(options) & _FLAGS)
    return fields


def _attribute(attribute: dict[str, Any]) -> tuple[str, frozenset[str]]:
    """An FT.INFO attribute (a RESP3 map) as (type, options)."""
    flags = frozenset(str(flag) for flag in attribute.get("flags", []))
    return str(attribute["type"]), flags & _FLAGS


def _kind(field: tuple[str, frozenset[str]]) -> str:
    kind, flags = field
    return " ".join([kind, *sorted(flags)])


def _dotted(version: int) -> str:
    return f"{version // 10000}.{version // 100 % 100}.{version % 100}"
