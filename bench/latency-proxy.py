#!/usr/bin/env python3
"""latency-proxy.py: a loopback TCP proxy that adds a fixed one-way delay.

    bench/latency-proxy.py --listen 127.0.0.1:2600 --target 127.0.0.1:2587 --delay-ms 50

Every chunk read from either side is written to the other side DELAY ms after
it arrived, so the round-trip time seen by the client grows by 2 x DELAY.
Order is kept: each direction has its own queue, each chunk carries a release
time (arrival + DELAY), and one writer per direction releases chunks in order.
A half-close (EOF) travels the same queue, so it is delayed like data.

What it does not simulate: the TCP handshake with the proxy is local, so
connect() returns at once (a real path would add one RTT there); bandwidth
limits; loss. Both sockets get TCP_NODELAY so the proxy adds no Nagle stalls
of its own. The server's TCP peer is the proxy, not the client: ACK timing
(delayed ACKs) seen by the server is the proxy's, so stalls that come from
the client's delayed ACKs meeting the server's Nagle may not show through it.

Bounded: a reader stops reading while its direction holds more than
--max-buffer bytes (default 2 MiB) not yet written, so a connection never
holds more than about 2 x that.

Only loopback addresses are accepted for --listen and --target. SIGTERM and
SIGINT close the listener and every connection, then the process exits 0.
With --trace FILE, every chunk read is logged with its arrival time (before
the delay), which shows where a client or server waits. With --ready-file PATH, the bound address (HOST:PORT) is written there once
listening (use --listen 127.0.0.1:0 to let the kernel pick the port).
Python 3.11+, standard library only.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import ipaddress
import os
import signal
import socket
import sys

CHUNK = 64 * 1024


def parse_addr(text: str, what: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep:
        raise SystemExit(f"latency-proxy: {what}: expected HOST:PORT, got {text!r}")
    host = host.strip("[]")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise SystemExit(f"latency-proxy: {what}: {host!r} is not an IP address") from None
    if not ip.is_loopback:
        raise SystemExit(f"latency-proxy: {what}: {host} is not a loopback address; refusing")
    try:
        p = int(port)
    except ValueError:
        raise SystemExit(f"latency-proxy: {what}: bad port {port!r}") from None
    if not 0 <= p <= 65535:
        raise SystemExit(f"latency-proxy: {what}: bad port {p}")
    return host, p


def nodelay(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass


class Direction:
    """One direction of a connection: a reader, an ordered delay queue and a writer."""

    def __init__(self, delay: float, max_buffer: int, trace=None) -> None:
        self.delay = delay
        self.trace = trace  # callable(nbytes) or None
        self.max_buffer = max_buffer
        self.queue: collections.deque[tuple[float, bytes | None]] = collections.deque()
        self.queued = 0  # bytes read but not yet written
        self.has_data = asyncio.Event()  # set when the queue gets an item
        self.has_room = asyncio.Event()  # set when queued bytes drop

    async def pump_in(self, reader: asyncio.StreamReader) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while self.queued >= self.max_buffer:
                self.has_room.clear()
                await self.has_room.wait()
            data = await reader.read(CHUNK)
            release = loop.time() + self.delay
            if self.trace is not None:
                self.trace(len(data))
            self.queue.append((release, data or None))
            self.queued += len(data)
            self.has_data.set()
            if not data:
                return

    async def pump_out(self, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while not self.queue:
                self.has_data.clear()
                await self.has_data.wait()
            release, data = self.queue[0]
            wait = release - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            self.queue.popleft()
            if data is None:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()
            self.queued -= len(data)
            self.has_room.set()


class Proxy:
    def __init__(self, target: tuple[str, int], delay: float, max_buffer: int, verbose: bool, trace_file=None) -> None:
        self.target = target
        self.trace_file = trace_file
        self.t0 = asyncio.get_running_loop().time()
        self.delay = delay
        self.max_buffer = max_buffer
        self.verbose = verbose
        self.conns: set[asyncio.Task] = set()
        self.count = 0

    def tracer(self, n: int, direction: str):
        """A callback logging each chunk read: ms since start, connection, direction, bytes."""
        if self.trace_file is None:
            return None
        loop = asyncio.get_running_loop()

        def trace(nbytes: int) -> None:
            ms = (loop.time() - self.t0) * 1000.0
            self.trace_file.write(f"{ms:.3f} #{n} {direction} {nbytes}\n")
            self.trace_file.flush()

        return trace

    def log(self, msg: str) -> None:
        if self.verbose:
            print(f"latency-proxy: {msg}", file=sys.stderr, flush=True)

    async def handle(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self.conns.add(task)
        self.count += 1
        n = self.count
        s_writer = None
        try:
            nodelay(c_writer)
            try:
                s_reader, s_writer = await asyncio.open_connection(*self.target)
            except OSError as e:
                self.log(f"#{n}: connect to target failed: {e}")
                return
            nodelay(s_writer)
            self.log(f"#{n}: open")
            up = Direction(self.delay, self.max_buffer, self.tracer(n, "c>s"))
            down = Direction(self.delay, self.max_buffer, self.tracer(n, "s>c"))
            tasks = [
                asyncio.create_task(up.pump_in(c_reader)),
                asyncio.create_task(up.pump_out(s_writer)),
                asyncio.create_task(down.pump_in(s_reader)),
                asyncio.create_task(down.pump_out(c_writer)),
            ]
            try:
                # Done when both writers have delivered EOF, or on the first error.
                pending = set(tasks)
                while {tasks[1], tasks[3]} & pending:
                    done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                    for t in done:
                        if t.exception() is not None:
                            raise t.exception()
            except (OSError, asyncio.IncompleteReadError) as e:
                self.log(f"#{n}: {type(e).__name__}: {e}")
            finally:
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            self.log(f"#{n}: closed")
        except asyncio.CancelledError:
            # Shutdown: end quietly (a cancelled handler task makes asyncio log a traceback).
            self.log(f"#{n}: closed at shutdown")
        finally:
            for w in (c_writer, s_writer):
                if w is not None:
                    w.close()
            for w in (c_writer, s_writer):
                if w is not None:
                    try:
                        await w.wait_closed()
                    except (OSError, asyncio.CancelledError):
                        pass
            self.conns.discard(task)


async def main() -> int:
    ap = argparse.ArgumentParser(description="Loopback TCP proxy adding a fixed delay in each direction.")
    ap.add_argument("--listen", required=True, help="HOST:PORT to listen on (loopback only; port 0 = any)")
    ap.add_argument("--target", required=True, help="HOST:PORT to forward to (loopback only)")
    ap.add_argument("--delay-ms", type=float, default=50.0, help="one-way delay per direction (default 50)")
    ap.add_argument("--max-buffer", type=int, default=2 * 1024 * 1024,
                    help="bytes held per direction before reading pauses (default 2 MiB)")
    ap.add_argument("--ready-file", help="write the bound HOST:PORT here once listening")
    ap.add_argument("--trace", metavar="FILE",
                    help="append one line per chunk read: ms since start, #conn, c>s|s>c, bytes")
    ap.add_argument("-v", "--verbose", action="store_true", help="log connections to stderr")
    args = ap.parse_args()

    listen = parse_addr(args.listen, "--listen")
    target = parse_addr(args.target, "--target")
    if args.delay_ms < 0:
        raise SystemExit("latency-proxy: --delay-ms must be >= 0")
    trace_file = open(args.trace, "a", buffering=1) if args.trace else None
    proxy = Proxy(target, args.delay_ms / 1000.0, max(args.max_buffer, CHUNK), args.verbose, trace_file)

    server = await asyncio.start_server(proxy.handle, listen[0], listen[1], reuse_address=True)
    host, port = server.sockets[0].getsockname()[:2]
    bound = f"{host}:{port}"
    if args.ready_file:
        tmp = f"{args.ready_file}.tmp.{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(bound + "\n")
        os.replace(tmp, args.ready_file)
    print(f"latency-proxy: listening on {bound} -> {target[0]}:{target[1]}, "
          f"delay {args.delay_ms:g} ms each way", file=sys.stderr, flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()

    server.close()
    for t in list(proxy.conns):
        t.cancel()
    await asyncio.gather(*proxy.conns, return_exceptions=True)
    await server.wait_closed()
    if trace_file is not None:
        trace_file.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
