"""Amaranth RTL of the rmlora chip: one block per module, `chip.Chip` is the top."""
