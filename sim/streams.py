"""cocotb drivers for amaranth.lib.stream ports (payload / valid / ready), with
random pauses on every valid and ready, in the manner of cocotbext-axi's pause
generators: the source holds valid low, the sink holds ready low, on the cycles
a pause generator says so."""

import random

import cocotb
from cocotb.triggers import RisingEdge

__all__ = ["StreamSource", "StreamSink", "random_pauses"]


def random_pauses(seed: int, probability: float):
    rng = random.Random(seed)
    while True:
        yield rng.random() < probability


class StreamSource:
    """Sends the queued payloads in order; `pauses` yields True on cycles to idle."""

    def __init__(self, dut, prefix: str, clock, pauses=None):
        self.valid = getattr(dut, f"{prefix}__valid")
        self.ready = getattr(dut, f"{prefix}__ready")
        self.payload = getattr(dut, f"{prefix}__payload")
        self.clock, self.pauses, self.queue = clock, pauses, []
        self.valid.value = 0
        cocotb.start_soon(self._run())

    def send(self, values):
        self.queue.extend(int(v) for v in values)

    async def _run(self):
        while True:
            paused = self.pauses is not None and next(self.pauses)
            if self.queue and not paused:
                self.payload.value = self.queue[0] & ((1 << len(self.payload)) - 1)
                self.valid.value = 1
            else:
                self.valid.value = 0
            await RisingEdge(self.clock)
            if self.valid.value == 1 and self.ready.value == 1:  # X/Z before reset: not a beat
                self.queue.pop(0)


class StreamSink:
    """Collects payloads (as signed ints of the payload's width)."""

    def __init__(self, dut, prefix: str, clock, pauses=None):
        self.valid = getattr(dut, f"{prefix}__valid")
        self.ready = getattr(dut, f"{prefix}__ready")
        self.payload = getattr(dut, f"{prefix}__payload")
        self.clock, self.pauses, self.received = clock, pauses, []
        self.ready.value = 0
        cocotb.start_soon(self._run())

    async def _run(self):
        while True:
            self.ready.value = 0 if self.pauses is not None and next(self.pauses) else 1
            await RisingEdge(self.clock)
            if self.valid.value == 1 and self.ready.value == 1:  # X/Z before reset: not a beat
                self.received.append(self.payload.value.to_signed())
