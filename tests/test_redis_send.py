"""The async Redis client's send keeps a cancellation that redis-py's send drops: with a socket
timeout it sends through `asyncio.wait_for`, which on Python 3.11 returns normally when the task
is cancelled just as the send completes (a staged batch would then commit, not roll back)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, cast

import pytest

from toolkit.repositories.redis._acompat import asend_packed


class Dropping:
    """A connection whose send, like `asyncio.wait_for` on Python 3.11, drops a cancellation
    that arrives as it completes."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def send_packed_command(self, command: list[bytes]) -> None:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(0)
        self.sent.extend(command)


class Sending:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def send_packed_command(self, command: list[bytes]) -> None:
        await asyncio.sleep(0)
        self.sent.extend(command)


async def test_a_cancellation_the_send_drops_is_raised() -> None:
    connection = Dropping()
    sending = asyncio.create_task(asend_packed(cast(Any, connection), b"PING"))
    with pytest.raises(asyncio.CancelledError):
        await sending
    assert connection.sent == [b"PING"]


async def test_a_send_that_is_not_cancelled_returns() -> None:
    connection = Sending()
    await asyncio.create_task(asend_packed(cast(Any, connection), b"PING"))
    assert connection.sent == [b"PING"]
