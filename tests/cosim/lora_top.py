"""Simulation top for the LoRA unit alone: the unit, an SRAM buffer whose host port
the testbench loads directly (a load flushes the unit's adapter cache, as in the
chip), and the unit's control and streams as ports."""

from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rmlora.contract import ChipParams
from rmlora.hw.lora_unit import LoraUnit
from rmlora.hw.sram_buffer import SramBuffer, SramPortSignature

NAME = "rmlora_lora_top"


class LoraTop(wiring.Component):
    def __init__(self, params: ChipParams):
        self.params = params
        unit = LoraUnit(params)
        ports = {name: member for name, member in unit.signature.members.items()
                 if name not in ("sram", "error")}
        ports["load"] = In(SramPortSignature(params.sram_addr_width, params.sram_width))
        ports["error_valid"] = Out(1)
        ports["error_code"] = Out(8)
        self._unit = unit
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        m.submodules.unit = unit = self._unit
        m.submodules.sram = sram = SramBuffer(self.params)
        wiring.connect(m, unit.sram, sram.core)
        wiring.connect(m, wiring.flipped(self.load), sram.host)
        wiring.connect(m, wiring.flipped(self.x), unit.x)
        wiring.connect(m, wiring.flipped(self.p), unit.p)
        wiring.connect(m, unit.y, wiring.flipped(self.y))
        for name, member in self.signature.members.items():
            if member.is_port and name not in ("error_valid", "error_code", "cache_flush"):
                ours, theirs = getattr(self, name), getattr(unit, name)
                m.d.comb += theirs.eq(ours) if member.flow == In else ours.eq(theirs)
        m.d.comb += [self.error_valid.eq(unit.error.valid), self.error_code.eq(unit.error.code),
                     # as in the chip (hw/core.py): a write to the SRAM flushes the cache
                     unit.cache_flush.eq(self.cache_flush | self.load.w_en.any())]
        return m
