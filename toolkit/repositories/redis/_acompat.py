"""What differs between the Redis wing's async sources and their generated sync twins.

The async sources call the ``a``-prefixed names; the rename rules in pyproject.toml turn each
into its sync namesake in the generated twins. Hand-written, in both forms, and nothing else:
the rest of the twins is generated.
"""

from __future__ import annotations

import asyncio
import os
from queue import Empty
from typing import Any

from redis import BlockingConnectionPool, Connection
from redis.asyncio import BlockingConnectionPool as AsyncBlockingConnectionPool
from redis.asyncio import Connection as AsyncConnection
from redis.exceptions import RedisError

__all__ = ["APool", "Pool", "ahandshake", "asend_packed", "handshake", "send_packed"]


class APool(AsyncBlockingConnectionPool):  # type: ignore[type-arg]  # generic in the stubs only
    """redis-py's blocking pool (at most ``max_connections``, a caller waits ``timeout`` for
    one), taking an idle connection that is still open without the checks it makes on each
    (a timer for the wait, a read of the socket, metrics, an event): they cost a short
    command a quarter of its time. A connection the server has closed (its reader at EOF) is
    connected anew; without an idle one, the pool takes redis-py's own way. The repositories
    read every reply they ask for, and drop a connection whose reply they did not read, so an
    idle connection holds no data.
    """

    async def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        untyped: Any = self
        idle: list[Any] = untyped._available_connections
        if idle:
            connection = idle.pop()
            untyped._in_use_connections.add(connection)
            reader = getattr(connection, "_reader", None)
            if reader is not None and connection.is_connected and not reader.at_eof():
                return connection
            try:
                # Closed by the server (a restart, an idle timeout, CLIENT KILL): connected
                # anew. (redis-py would keep it, and fail the next command sent on it.)
                await connection.disconnect()
                await untyped.ensure_connection(connection)
            except BaseException:
                await self.release(connection)
                raise
            return connection
        return await super().get_connection(*args, **kwargs)

    async def release(self, connection: Any) -> None:
        untyped: Any = self
        async with untyped._condition:
            untyped._in_use_connections.remove(connection)
            if connection.should_reconnect():
                await connection.disconnect()
            untyped._available_connections.append(connection)
            untyped._condition.notify()


class Pool(BlockingConnectionPool):
    """redis-py's blocking pool, taking an idle connection and putting it back without its
    timers and metrics (a tenth of a short command's time). The poll of the socket it makes on
    taking one is kept: with no event loop, nothing else notices a connection the server
    closed. After a fork, in a maintenance window, with no idle connection or one that is not
    fit to reuse: redis-py's own way (it waits, makes, checks or reconnects)."""

    def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        untyped: Any = self
        if untyped.pid == os.getpid() and not untyped._in_maintenance:
            try:
                connection = untyped.pool.get_nowait()
            except Empty:
                return super().get_connection(*args, **kwargs)
            if connection is not None and _idle(connection):
                return connection
            untyped.pool.put_nowait(connection)
        return super().get_connection(*args, **kwargs)

    def release(self, connection: Any) -> None:
        untyped: Any = self
        if (
            untyped.pid == os.getpid()
            and not untyped._in_maintenance
            and self.owns_connection(connection)
            and not connection.should_reconnect()
        ):
            untyped.pool.put_nowait(connection)
        else:
            super().release(connection)


def _idle(connection: Any) -> bool:
    """Whether ``connection`` is open with nothing to read (a closed one reads as EOF)."""
    try:
        return connection._sock is not None and not connection.can_read()
    except (RedisError, OSError):
        return False


async def ahandshake(connection: AsyncConnection) -> None:
    """redis-py's first exchange on a new connection (HELLO or AUTH, CLIENT SETINFO, SELECT),
    each reply awaited at most ``socket_connect_timeout``: a server that accepts and never
    answers is then unavailable within the connect timeout, not the command timeout.

    Passed as the pool's ``redis_connect_func``, which redis-py calls instead of ``on_connect``
    for every new connection, whatever its class (TCP or TLS).
    """
    # The async connection reads ``socket_timeout`` at each send and read.
    command_timeout = connection.socket_timeout
    connection.socket_timeout = connection.socket_connect_timeout
    try:
        await connection.on_connect()
    finally:
        connection.socket_timeout = command_timeout


def handshake(connection: Connection) -> None:
    """redis-py's first exchange on a new connection (HELLO or AUTH, CLIENT SETINFO, SELECT),
    each reply awaited at most ``socket_connect_timeout``: a server that accepts and never
    answers is then unavailable within the connect timeout, not the command timeout.

    Passed as the pool's ``redis_connect_func``, which redis-py calls instead of ``on_connect``
    for every new connection, whatever its class (TCP or TLS).
    """
    # The sync connection reads with its socket's timeout, set to ``socket_timeout`` on connect.
    # (The redis 4 stubs that redis-om requires do not declare the socket.)
    untyped: Any = connection
    sock: Any = untyped._sock
    if sock is not None:
        sock.settimeout(connection.socket_connect_timeout)
    try:
        connection.on_connect()
    finally:
        # A failed handshake has closed and dropped the socket; only a live one is reset.
        if sock is not None and untyped._sock is sock:
            sock.settimeout(connection.socket_timeout)


async def asend_packed(connection: AsyncConnection, wire: bytes) -> None:
    """Send the packed commands ``wire`` on ``connection``: written to its stream, and waited
    for (at most the socket timeout) only while the stream holds what the socket has not taken.

    redis-py's send waits through `asyncio.wait_for`, which runs the wait as a task of its own
    (two more turns of the event loop for every command) and, on Python 3.11, returns normally
    when the task is cancelled just as the send completes: the cancellation was lost, and the
    call went on (a staged batch committed instead of rolling back).
    """
    untyped: Any = connection
    if not connection.is_connected:
        await connection.connect()
    await connection.check_health()  # a PING first, if health_check_interval asks for one
    writer = untyped._writer
    writer.write(wire)
    if writer.transport.get_write_buffer_size():
        async with asyncio.timeout(connection.socket_timeout):
            await writer.drain()


def send_packed(connection: Connection, wire: bytes) -> None:
    """Send the packed commands ``wire`` on ``connection``."""
    # The redis 4 stubs that redis-om requires type the packed commands as text.
    untyped: Any = connection
    untyped.send_packed_command([wire])
