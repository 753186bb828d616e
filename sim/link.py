"""The command channel between a host process and the simulator it started: pickled
messages, each prefixed by its length, over a local TCP socket.

The host listens (`LinkServer`) and hands the simulator the address and a random
token through the environment; the simulator's cocotb module connects (`connect`)
and sends the token first, so the host accepts no other peer. Every wait on the host
side is bounded and polls a liveness check, so a simulator that dies (a crash, a
failed build) is noticed instead of waited for.
"""

import hmac
import os
import pickle
import secrets
import select
import socket
import struct
import time
from collections.abc import Callable

__all__ = ["Link", "LinkClosed", "LinkServer", "connect", "ENV_ADDRESS", "ENV_TOKEN"]

ENV_ADDRESS = "RMLORA_CHIP_SERVER"  # host:port the simulator connects to
ENV_TOKEN = "RMLORA_CHIP_TOKEN"  # hex: the simulator's proof that the host started it
TOKEN_BYTES = 16
POLL_S = 1.0  # how often a wait looks at the simulator's liveness
_LENGTH = struct.Struct("<Q")


class LinkClosed(ConnectionError):
    """The other end closed the channel (or died) before a whole message arrived."""


class Link:
    """One end of the channel: send and receive whole Python objects."""

    def __init__(self, sock: socket.socket):
        sock.setblocking(True)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock

    def send(self, obj) -> None:
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self._sock.sendall(_LENGTH.pack(len(data)) + data)
        except OSError as exc:
            raise LinkClosed(f"send failed: {exc}") from exc

    def ready(self, timeout_s: float) -> bool:
        """True when a message (or the end of the channel) can be read now."""
        return bool(select.select([self._sock], [], [], timeout_s)[0])

    def recv(self):
        (length,) = _LENGTH.unpack(self._read(_LENGTH.size))
        return pickle.loads(self._read(length))

    def _read(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            try:
                chunk = self._sock.recv(min(n - len(buf), 1 << 20))
            except OSError as exc:
                raise LinkClosed(f"receive failed: {exc}") from exc
            if not chunk:
                raise LinkClosed("the other end closed the channel")
            buf += chunk
        return bytes(buf)

    def close(self) -> None:
        self._sock.close()


class LinkServer:
    """The host's listening socket on 127.0.0.1; `env` tells the simulator where it is."""

    def __init__(self):
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(POLL_S)  # accept() wakes up to look at the simulator
        self._token = secrets.token_bytes(TOKEN_BYTES)
        host, port = self._sock.getsockname()[:2]
        self.env = {ENV_ADDRESS: f"{host}:{port}", ENV_TOKEN: self._token.hex()}

    def accept(self, alive: Callable[[], bool], timeout_s: float) -> Link:
        """The simulator's connection, once it has shown the token. Raises TimeoutError
        after timeout_s, or LinkClosed as soon as `alive()` turns false."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                sock, _ = self._sock.accept()
            except TimeoutError:
                if not alive():
                    raise LinkClosed("the simulator ended before it connected") from None
                continue
            sock.settimeout(POLL_S * 10)
            try:
                token = sock.recv(TOKEN_BYTES, socket.MSG_WAITALL)
            except OSError:
                token = b""
            if hmac.compare_digest(token, self._token):
                return Link(sock)
            sock.close()  # not our simulator: keep waiting for it
        raise TimeoutError(f"the simulator did not connect within {timeout_s:.0f} s")

    def close(self) -> None:
        self._sock.close()


def connect(environ=os.environ) -> Link:
    """The simulator's end: connect to the host named in the environment."""
    host, port = environ[ENV_ADDRESS].rsplit(":", 1)
    sock = socket.create_connection((host, int(port)))
    sock.sendall(bytes.fromhex(environ[ENV_TOKEN]))
    return Link(sock)
