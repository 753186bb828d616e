"""The control of a compute unit: started on a descriptor, reports busy, done or refused.

The crossbar controller and the LoRA unit carry these members (the `UnitSignature`,
seen from the unit) among their ports; the sequencer drives them through its
flipped `xbar` and `lora` interfaces, and the chip core connects the two with
`wiring.connect(m, seq.xbar, control(xbar))`.

Protocol: `start` is high for one cycle with `desc_addr`, the SRAM word address of
the descriptor; `busy` is high from the next cycle until the unit can take the next
start; then `done` (it ran, and all its results have left) or `refused` (a check
failed: its ErrorCode went out on the unit's `error`) stays high until the next start.
A start while busy is ignored (and reported as the unit's *_BUSY error). The crossbar
controller drops busy and raises done together; the LoRA unit drops busy at its last
read and raises done once its last outputs have left (timing.LORA_DONE_LAG_CYCLES
later with y always ready), unless a start came in between: then that run owns done.
Whoever needs a unit's results waits for done, not for busy to fall.
"""

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["UnitSignature", "unit_members", "control"]


def UnitSignature():
    """A unit's control, seen from the unit (a plain Signature, as SramPortSignature:
    two of them compare equal member by member)."""
    return wiring.Signature({
        "start": In(1),
        "desc_addr": In(16),
        "busy": Out(1),
        "done": Out(1),
        "refused": Out(1),
    })


def unit_members() -> dict:
    """The members of UnitSignature, for a unit's own signature (its ports stay flat:
    `unit.start`, `unit.busy`, ...)."""
    return dict(UnitSignature().members)


class _Control:
    def __init__(self, unit: wiring.Component):
        self.signature = UnitSignature()
        for name in self.signature.members:
            setattr(self, name, getattr(unit, name))


def control(unit: wiring.Component) -> _Control:
    """A unit's UnitSignature members as one interface that `wiring.connect` accepts."""
    return _Control(unit)
