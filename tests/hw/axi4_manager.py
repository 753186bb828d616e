"""A small AXI4 manager for amaranth.sim testbenches: whole bursts, random pauses."""

import random

from rmlora.contract import AxiResp
from rmlora.contract.bulk_port import AxiBurst


class Axi4Manager:
    """Drives an Axi4Signature port (the bulk port's `axi`). `pause` is the chance
    that the manager holds back a valid or a ready in any cycle."""

    def __init__(self, axi, beat_bytes: int, rng: random.Random | None = None,
                 pause: float = 0.0):
        self.axi, self.beat_bytes = axi, beat_bytes
        self.rng, self.pause = rng or random.Random(0), pause
        self.size = beat_bytes.bit_length() - 1

    async def _idle(self, ctx):
        while self.rng.random() < self.pause:
            await ctx.tick()

    async def _handshake(self, ctx, valid, ready, max_cycles=2000):
        ctx.set(valid, 1)
        for _ in range(max_cycles):
            _, _, taken = await ctx.tick().sample(ready)
            if taken:
                ctx.set(valid, 0)
                return
        raise AssertionError(f"{ready.name} never came")

    async def _address(self, ctx, channel, ident, addr, beats, size, burst):
        """The AW or AR handshake of one burst (`channel` "aw" or "ar")."""
        def sig(name):
            return getattr(self.axi, channel + name)

        await self._idle(ctx)
        for name, value in (("id", ident), ("addr", addr), ("len", beats - 1),
                            ("size", self.size if size is None else size), ("burst", burst)):
            ctx.set(sig(name), value)
        await self._handshake(ctx, sig("valid"), sig("ready"))

    async def write(self, ctx, addr, data: bytes, strobes=None, *, awid=0, size=None,
                    burst=AxiBurst.INCR, beats=None):
        """One write burst; returns (bid, bresp). `beats` overrides len(data) // beat."""
        axi, n = self.axi, beats or len(data) // self.beat_bytes
        data = data.ljust(n * self.beat_bytes, b"\0")
        await self._address(ctx, "aw", awid, addr, n, size, burst)
        for k in range(n):
            await self._idle(ctx)
            beat = data[k * self.beat_bytes:(k + 1) * self.beat_bytes]
            ctx.set(axi.wdata, int.from_bytes(beat, "little"))
            ctx.set(axi.wstrb, (1 << self.beat_bytes) - 1 if strobes is None else strobes[k])
            ctx.set(axi.wlast, k == n - 1)
            await self._handshake(ctx, axi.wvalid, axi.wready)
        await self._idle(ctx)
        ctx.set(axi.bready, 1)
        for _ in range(2000):
            _, _, valid, bid, bresp = await ctx.tick().sample(axi.bvalid, axi.bid, axi.bresp)
            if valid:
                ctx.set(axi.bready, 0)
                return bid, AxiResp(bresp)
        raise AssertionError("no B")

    async def read(self, ctx, addr, beats, *, arid=0, size=None, burst=AxiBurst.INCR):
        """One read burst; returns (data, [(rid, rresp)] per beat). Checks RLAST."""
        axi = self.axi
        await self._address(ctx, "ar", arid, addr, beats, size, burst)
        data, answers = bytearray(), []
        for _ in range(100 * beats + 100):
            ready = self.rng.random() >= self.pause
            ctx.set(axi.rready, ready)
            _, _, valid, rdata, rid, rresp, rlast = await ctx.tick().sample(
                axi.rvalid, axi.rdata, axi.rid, axi.rresp, axi.rlast)
            if valid and ready:
                data += rdata.to_bytes(self.beat_bytes, "little")
                answers.append((rid, AxiResp(rresp)))
                assert rlast == (len(answers) == beats), f"RLAST at beat {len(answers)}"
                if rlast:
                    ctx.set(axi.rready, 0)
                    return bytes(data), answers
        raise AssertionError(f"read burst of {beats} beats: only {len(answers)} came")
