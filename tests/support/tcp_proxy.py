"""A TCP proxy the test controls, to take a database away from a server without stopping it.

`TcpProxy(host, port)` listens on a free local port and forwards every connection to
`host:port`. `stop()` closes the listener and drops every open connection (so the server
sees its connections die and new ones refused, as when PostgreSQL goes down); `start()`
listens again on the same port (PostgreSQL is back). It runs an asyncio loop in a thread
of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from types import TracebackType

CHUNK_BYTES = 65_536
CALL_TIMEOUT_S = 10.0


class TcpProxy:
    """Forwards 127.0.0.1:`port` to `target_host:target_port` while started."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0  # chosen by the kernel at the first start, kept afterwards
        self.connections_accepted = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url_host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        """Listen (again) and forward new connections."""
        self._call(self._listen())

    def stop(self) -> None:
        """Refuse new connections and drop every open one."""
        self._call(self._close())

    def close(self) -> None:
        """Stop and end the proxy's thread."""
        with contextlib.suppress(Exception):
            self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(CALL_TIMEOUT_S)
        self._loop.close()

    def __enter__(self) -> TcpProxy:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _call(self, coroutine: object) -> None:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)  # type: ignore[arg-type]
        future.result(CALL_TIMEOUT_S)

    async def _listen(self) -> None:
        if self._server is not None:
            return
        self._server = await asyncio.start_server(
            self._forward, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            writer.transport.abort()  # a reset, as a dying server's socket would give
        self._writers.clear()
        if server is not None:
            await server.wait_closed()

    async def _forward(self, client_in: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
        self.connections_accepted += 1
        try:
            upstream_in, upstream = await asyncio.open_connection(*self.target)
        except OSError:
            client.transport.abort()
            return
        self._writers.update((client, upstream))
        try:
            await asyncio.gather(_pipe(client_in, upstream), _pipe(upstream_in, client))
        finally:
            self._writers.difference_update((client, upstream))


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(CHUNK_BYTES):
            sink.write(data)
            await sink.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        sink.close()  # one direction ended: end the other (as a closed socket would)
