"""Formats that the compiler writes and the golden model, the runtime and the RTL's
tests read: crossbar descriptors, LoRA layers and adapters, layer-program records and
their statistics, and SRAM images. Both sides import them from here, so the compiler
does not take its data types from the golden model it is checked against."""
