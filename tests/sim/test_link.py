"""The host <-> simulator command channel: whole objects both ways, only the peer with
the host's token is accepted, and a dead or silent simulator ends every wait."""

import socket
import threading

import numpy as np
import pytest

from rmlora.sim.link import ENV_ADDRESS, LinkClosed, LinkServer, connect


def _serve_in_thread(server, **kwargs):
    got = {}

    def accept():
        try:
            got["link"] = server.accept(**kwargs)
        except Exception as exc:  # noqa: BLE001 - checked by the test
            got["error"] = exc

    thread = threading.Thread(target=accept)
    thread.start()
    return thread, got


def test_objects_cross_the_channel_both_ways():
    server = LinkServer()
    thread, got = _serve_in_thread(server, alive=lambda: True, timeout_s=30)
    sim = connect(server.env)
    thread.join()
    host = got["link"]
    big = np.arange(300_000, dtype=np.int64)  # more than one socket read
    host.send(("run", 7, {"x": big}))
    name, addr, kwargs = sim.recv()
    assert (name, addr) == ("run", 7) and np.array_equal(kwargs["x"], big)
    sim.send(("ok", b"\x01\x02"))
    assert host.ready(5.0) and host.recv() == ("ok", b"\x01\x02")
    sim.close()
    with pytest.raises(LinkClosed, match="closed"):
        host.recv()
    host.close()
    server.close()


def test_a_peer_without_the_token_is_turned_away():
    server = LinkServer()
    thread, got = _serve_in_thread(server, alive=lambda: True, timeout_s=30)
    host, port = server.env[ENV_ADDRESS].rsplit(":", 1)
    with socket.create_connection((host, int(port))) as stranger:
        stranger.sendall(bytes(16))
        assert stranger.recv(1) == b""  # closed on it
    sim = connect(server.env)  # the simulator still gets in
    thread.join()
    assert "link" in got
    got["link"].close()
    sim.close()
    server.close()


def test_waiting_for_a_simulator_that_died_or_never_comes_ends():
    server = LinkServer()
    with pytest.raises(LinkClosed, match="before it connected"):
        server.accept(alive=lambda: False, timeout_s=30)
    with pytest.raises(TimeoutError, match="did not connect within"):
        server.accept(alive=lambda: True, timeout_s=0.5)
    server.close()
