"""Where engines and clients live: one set per event loop (async) or per process (sync).

An async engine's or client's connections belong to the event loop that opened them, so each loop
gets its own. They are closed when the loop shuts down: ``asyncio.run``, ``asyncio.Runner`` and
anyio (which FastAPI's TestClient uses) finalize async generators then, and a generator parked
per loop is the hook. ``dispose()`` closes them earlier. Sync resources live for the process and
are closed at exit.

Written by hand in both forms, because the two lifetimes differ.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["PerLoop", "PerProcess"]

ResourceT = TypeVar("ResourceT")


class _LoopResources(Generic[ResourceT]):
    def __init__(self, close: Callable[[ResourceT], Awaitable[None]]) -> None:
        self.items: dict[Hashable, ResourceT] = {}
        self.close = close
        self.finalizer: AsyncGenerator[None, None] | None = None

    async def dispose(self) -> None:
        items, self.items = list(self.items.values()), {}
        for item in items:
            await self.close(item)


async def _dispose_when_loop_ends(
    resources: _LoopResources[ResourceT],
) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        await resources.dispose()


class PerLoop(Generic[ResourceT]):
    """Resources of every event loop: made on first use in a loop, closed when it shuts down."""

    def __init__(self, close: Callable[[ResourceT], Awaitable[None]]) -> None:
        self._close = close
        self._by_loop: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, _LoopResources[ResourceT]
        ] = weakref.WeakKeyDictionary()

    async def get(self, key: Hashable, make: Callable[[], ResourceT]) -> ResourceT:
        """The running loop's resource for ``key``; ``make()`` makes it the first time."""
        loop = asyncio.get_running_loop()
        resources = self._by_loop.get(loop)
        if resources is None:
            resources = self._by_loop[loop] = _LoopResources(self._close)
            finalizer = _dispose_when_loop_ends(resources)
            await anext(finalizer)  # parked until the loop finalizes async generators
            resources.finalizer = finalizer
        found = resources.items.get(key)
        if found is None:
            found = resources.items[key] = make()
        return found

    async def dispose(self) -> None:
        """Close the running loop's resources now; later calls make new ones."""
        resources = self._by_loop.get(asyncio.get_running_loop())
        if resources is not None:
            await resources.dispose()


class PerProcess(Generic[ResourceT]):
    """Resources of the process: made on first use, closed at interpreter exit."""

    def __init__(self, close: Callable[[ResourceT], None]) -> None:
        self._close = close
        self._items: dict[Hashable, ResourceT] = {}
        self._lock = threading.Lock()
        atexit.register(self.dispose)

    def get(self, key: Hashable, make: Callable[[], ResourceT]) -> ResourceT:
        """The resource for ``key``; ``make()`` makes it the first time (once, across threads)."""
        found = self._items.get(key)
        if found is None:
            with self._lock:
                found = self._items.get(key)
                if found is None:
                    found = self._items[key] = make()
        return found

    def dispose(self) -> None:
        """Close every resource now; later calls make new ones."""
        with self._lock:
            items, self._items = list(self._items.values()), {}
        for item in items:
            self._close(item)
