"""The async Redis client's send: written to the connection's stream, waited for only while the
stream holds what the socket has not taken, at most the socket timeout, and cancellable there.

(redis-py's own send waits through `asyncio.wait_for`, which on Python 3.11 returns normally
when the task is cancelled just as the send completes: a staged batch cancelled then committed
instead of rolling back.)"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from toolkit.repositories.redis._acompat import asend_packed


class Transport:
    def __init__(self, unsent: int) -> None:
        self.unsent = unsent

    def get_write_buffer_size(self) -> int:
        return self.unsent


class Writer:
    """A stream whose socket takes nothing (``unsent`` bytes stay buffered) until released."""

    def __init__(self, unsent: int) -> None:
        self.transport = Transport(unsent)
        self.written: list[bytes] = []
        self.drains = 0
        self.released = asyncio.Event()

    def write(self, data: bytes) -> None:
        self.written.append(data)

    async def drain(self) -> None:
        self.drains += 1
        await self.released.wait()


class Connection:
    def __init__(self, unsent: int = 0, socket_timeout: float | None = None) -> None:
        self._writer = Writer(unsent)
        self.is_connected = True
        self.socket_timeout = socket_timeout
        self.health_checks = 0

    async def check_health(self) -> None:
        self.health_checks += 1


def send(connection: Connection, wire: bytes) -> asyncio.Task[None]:
    return asyncio.create_task(asend_packed(cast(Any, connection), wire))


async def test_what_the_socket_takes_at_once_is_not_waited_for() -> None:
    connection = Connection()
    await send(connection, b"PING")
    assert connection._writer.written == [b"PING"]
    assert connection._writer.drains == 0
    assert connection.health_checks == 1


async def test_a_full_stream_is_waited_for_until_the_socket_takes_it() -> None:
    connection = Connection(unsent=1)
    sending = send(connection, b"PING")
    await asyncio.sleep(0.01)
    assert not sending.done()
    connection._writer.released.set()
    await sending
    assert connection._writer.drains == 1


async def test_a_cancellation_while_waiting_is_raised() -> None:
    connection = Connection(unsent=1, socket_timeout=60)
    sending = send(connection, b"PING")
    await asyncio.sleep(0.01)
    connection._writer.released.set()  # the wait ends as the task is cancelled: not lost
    sending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sending


async def test_the_wait_lasts_the_socket_timeout_at_most() -> None:
    connection = Connection(unsent=1, socket_timeout=0.05)
    with pytest.raises(TimeoutError):
        await send(connection, b"PING")
