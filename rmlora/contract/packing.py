"""Host-side packing of the contract's layouts, with every field range-checked.

`layout.const()` alone silently truncates a value that does not fit its bits; a
descriptor packed that way would run with different numbers than the host meant.
"""

from amaranth import Shape
from amaranth.lib import data
from amaranth.lib import enum as amaranth_enum

__all__ = ["FieldCodec", "pack_fields", "unpack_fields"]


def pack_fields(layout, fields: dict, what: str = "field") -> int:
    """The layout's bits for `fields`; a value outside its field is a ValueError naming it."""
    layout = data.Layout.cast(layout)
    for name, value in fields.items():
        shape = layout[name].shape
        if isinstance(shape, amaranth_enum.EnumType):
            if not isinstance(value, shape):
                raise ValueError(f"{what} out of range: {name}={value!r} is not a {shape.__name__}")
            continue
        s = Shape.cast(shape)
        lo = -(1 << s.width - 1) if s.signed else 0
        hi = (1 << s.width - s.signed) - 1
        if isinstance(value, bool) or not lo <= int(value) <= hi or int(value) != value:
            raise ValueError(f"{what} out of range: {name}={value} (needs {lo}..{hi})")
    return layout.const(fields).as_value().value


def unpack_fields(layout, value: int) -> dict[str, int]:
    """The layout's fields of `value` as plain ints (signed fields sign-extended, enums
    as their raw value, so a corrupt record decodes and can be refused by value)."""
    return FieldCodec.of(layout).unpack(value)


class FieldCodec:
    """One layout's fields as (offset, width, signed), computed once: unpack and pack
    at the cost of a shift and a mask per field (a cosimulation decodes a macro-port
    request per analogue operation). pack does not range-check: it is for bits that
    come from, or go to, the RTL's own ports; the host's records use pack_fields."""

    _made: dict = {}

    @classmethod
    def of(cls, layout) -> "FieldCodec":
        """The codec of a layout class (the contract's records), made once; an unhashable
        layout object gets a new one."""
        try:
            if layout not in cls._made:
                cls._made[layout] = cls(layout)
            return cls._made[layout]
        except TypeError:
            return cls(layout)

    def __init__(self, layout):
        self.fields = []
        for name, field in data.Layout.cast(layout):
            s = Shape.cast(field.shape)
            self.fields.append((name, field.offset, s.width, s.signed))

    def unpack(self, value: int) -> dict[str, int]:
        out = {}
        for name, offset, width, signed in self.fields:
            v = (value >> offset) & ((1 << width) - 1)
            if signed and v >> (width - 1):
                v -= 1 << width
            out[name] = v
        return out

    def pack(self, fields: dict) -> int:
        value = 0
        for name, offset, width, _ in self.fields:
            if name in fields:
                value |= (int(fields[name]) & ((1 << width) - 1)) << offset
        return value
