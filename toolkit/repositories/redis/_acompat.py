"""What differs between the Redis wing's async sources and their generated sync twins.

The async sources call the ``a``-prefixed names; the rename rules in pyproject.toml turn each
into its sync namesake in the generated twins. Hand-written, in both forms, and nothing else:
the rest of the twins is generated.
"""

from __future__ import annotations

from typing import Any

from redis import Connection
from redis.asyncio import Connection as AsyncConnection

__all__ = ["ahandshake", "handshake"]


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
