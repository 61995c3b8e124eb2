"""The repository's own statements run on the driver's cursor (``toolkit/repositories/sql/_direct``)
unless someone observes the connection. Both ways store and read the same values, and an
observer (``STORAGE_ECHO``, an engine event listener) sees every statement."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, event
from sqlmodel import SQLModel

from tests.conftest import SQL_BACKENDS
from tests.value_models import (
    ValueDecimal,
    ValueDocument,
    ValueKeyed,
    ValueLevel,
    ValueMoment,
    ValueMood,
    ValueNumber,
    ValueText,
)
from toolkit.config import Settings
from toolkit.errors import ConflictError, ValidationError
from toolkit.repositories.sql._direct import DirectStatement
from toolkit.storage_dependencies import get_provider
from toolkit.sync_storage_dependencies import get_sync_provider

ROWS: list[SQLModel] = [
    ValueText(text="näive ☃ 'quoted' %s %(x)s ?", short="ab", email="a.b@example.com"),
    ValueKeyed(id="key with spaces and % and ?", label=None),
    ValueNumber(small=-(2**15), regular=2**31 - 1, big=-(2**63), flag=True, real=2.0),
    ValueNumber(small=0, regular=0, big=2**63 - 1, flag=False, real=-1.5e-300),
    ValueDecimal(amount=Decimal("1E-30"), price=Decimal("1234567890.12")),
    ValueDecimal(amount=Decimal("-12345.6789012345"), price=Decimal("0.00")),
    ValueMoment(
        at=datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5))),
        day=date(1, 1, 1),
        token=uuid.UUID(int=2**128 - 1),
        mood=ValueMood.__members__[next(iter(ValueMood.__members__))],
        level=ValueLevel(max(level.value for level in ValueLevel)),
    ),
    ValueDocument(data={"a": [1, 2.5, None, "x"], "b": {"c": True}}, anything=[1, "two"]),
]


@pytest.fixture(params=SQL_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def direct_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The SQL of each statement read on the driver's cursor while the test runs."""
    seen: list[str] = []
    read = DirectStatement.rows

    def counted(self: DirectStatement, *args: Any) -> Any:
        seen.append(self.sql)
        return read(self, *args)

    monkeypatch.setattr(DirectStatement, "rows", counted)
    return seen


def fields(instance: SQLModel) -> dict[str, tuple[type, Any]]:
    """Each field's value and its exact type."""
    return {name: (type(value), value) for name, value in instance.model_dump().items()}


async def test_values_written_and_read_directly_are_those_sqlalchemy_reads(
    settings: Settings, direct_reads: list[str]
) -> None:
    for row in ROWS:
        async with get_provider(settings=settings) as provider:
            repository = provider.get_repository(type(row))
            stored = await repository.create(row.model_copy())
            direct = await repository.get_one(stored.__dict__["id"])
        listener = _count_statements()
        try:
            async with get_provider(settings=settings) as provider:
                through_sqlalchemy = await provider.get_repository(type(row)).get_one(
                    stored.__dict__["id"]
                )
        finally:
            event.remove(Engine, "before_cursor_execute", listener)
        assert fields(direct) == fields(stored) == fields(through_sqlalchemy)
        assert listener.__dict__["count"] == 1  # the observed read went through SQLAlchemy
        assert len(direct_reads) == 2  # the write and the first read went to the driver
        direct_reads.clear()
        if isinstance(row, ValueMoment):
            assert isinstance(direct, ValueMoment)
            assert direct.at == row.at
            assert direct.at is not None
            assert direct.at.tzinfo == UTC


def test_sync_values_written_and_read_directly_are_those_sqlalchemy_reads(
    settings: Settings, direct_reads: list[str]
) -> None:
    for row in ROWS:
        with get_sync_provider(settings=settings) as provider:
            repository = provider.get_repository(type(row))
            stored = repository.create(row.model_copy())
            direct = repository.get_one(stored.__dict__["id"])
        listener = _count_statements()
        try:
            with get_sync_provider(settings=settings) as provider:
                through_sqlalchemy = provider.get_repository(type(row)).get_one(
                    stored.__dict__["id"]
                )
        finally:
            event.remove(Engine, "before_cursor_execute", listener)
        assert fields(direct) == fields(stored) == fields(through_sqlalchemy)
        assert listener.__dict__["count"] == 1
        assert len(direct_reads) == 2
        direct_reads.clear()


def _count_statements() -> Any:
    def count(*_args: Any) -> None:
        count.__dict__["count"] += 1

    count.__dict__["count"] = 0
    event.listen(Engine, "before_cursor_execute", count)
    return count


async def test_an_event_listener_sees_every_statement_of_every_call(
    settings: Settings, statements: list[str]
) -> None:
    async with get_provider(settings=settings) as provider:
        repository = provider.get_repository(ValueText)
        made = await repository.create(ValueText(text="seen"))
        await repository.get(made.id or 0)
        await repository.update(made)
        await repository.delete(made.id or 0)
    verbs = [text.lstrip().split()[0].upper() for text in statements]
    assert verbs[-4:] == ["INSERT", "SELECT", "UPDATE", "DELETE"]


async def test_echo_logs_the_statements_run_directly_otherwise(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    async with get_provider(settings=settings.replace(echo=True)) as provider:
        repository = provider.get_repository(ValueText)
        with caplog.at_level(logging.INFO, logger="sqlalchemy.engine"):
            made = await repository.create(ValueText(text="logged"))
            await repository.get(made.id or 0)
    logged = [record.getMessage().lstrip().split()[0] for record in caplog.records]
    assert "INSERT" in logged
    assert "SELECT" in logged


async def test_driver_errors_of_direct_statements_are_the_toolkits(settings: Settings) -> None:
    async with get_provider(settings=settings) as provider:
        repository = provider.get_repository(ValueKeyed)
        await repository.create(ValueKeyed(id="taken"))
        with pytest.raises(ConflictError) as conflict:
            await repository.create(ValueKeyed(id="taken"))
        assert conflict.value.__cause__ is not None  # the driver's error, chained
        assert await repository.get("taken") is not None  # the connection still serves
        numbers = provider.get_repository(ValueNumber)
        with pytest.raises(ValidationError):
            await numbers.get(2**70)  # no row could have it: refused before the driver


def test_sync_driver_errors_of_direct_statements_are_the_toolkits(settings: Settings) -> None:
    with get_sync_provider(settings=settings) as provider:
        repository = provider.get_repository(ValueKeyed)
        repository.create(ValueKeyed(id="taken"))
        with pytest.raises(ConflictError) as conflict:
            repository.create(ValueKeyed(id="taken"))
        assert conflict.value.__cause__ is not None
        assert repository.get("taken") is not None
