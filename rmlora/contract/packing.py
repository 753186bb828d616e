"""Host-side packing of the contract's layouts, with every field range-checked.

`layout.const()` alone silently truncates a value that does not fit its bits; a
descriptor packed that way would run with different numbers than the host meant.
"""

from amaranth import Shape
from amaranth.lib import data
from amaranth.lib import enum as amaranth_enum

__all__ = ["pack_fields", "unpack_fields"]


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
    out = {}
    for name, field in data.Layout.cast(layout):
        s = Shape.cast(field.shape)
        v = (value >> field.offset) & ((1 << s.width) - 1)
        if s.signed and v >> (s.width - 1):
            v -= 1 << s.width
        out[name] = v
    return out
