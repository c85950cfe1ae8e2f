"""A TCP relay that holds every byte a server sends back for a fixed time, as a far region's round trip does.

Unlike an HTTP proxy it parses nothing and opens no connection per request: one asyncio loop in a thread
relays bytes, so it costs little CPU and adds the same latency to every tool's every request."""

from __future__ import annotations

import asyncio
import threading
import time


class DelayRelay:
    """``DelayRelay("127.0.0.1", 8333, 0.02).start().endpoint_url`` reaches 8333 with 20 ms more per answer."""

    def __init__(self, host: str, port: int, delay: float) -> None:
        self.host, self.port, self.delay = host, port, delay
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._listen_port = 0

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self._listen_port}"

    def start(self) -> DelayRelay:
        threading.Thread(target=self._run, name="delay-relay", daemon=True).start()
        self._ready.wait(10)
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self._listen_port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(self._pipe(client_reader, up_writer, 0.0),
                             self._pipe(up_reader, client_writer, self.delay), return_exceptions=True)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
        """Copy bytes; with a delay, each chunk leaves ``delay`` seconds after it arrived (order kept)."""
        pending: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def send_later() -> None:
            while True:
                due, data = await pending.get()
                if not data:
                    break
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()

        sender = asyncio.create_task(send_later()) if delay else None
        try:
            while data := await reader.read(1 << 16):
                if sender is None:
                    writer.write(data)
                    await writer.drain()
                else:
                    pending.put_nowait((time.monotonic() + delay, data))
        finally:
            if sender is not None:
                pending.put_nowait((0.0, b""))
                await sender
            writer.close()
