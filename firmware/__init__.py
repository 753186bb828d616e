"""Firmware side: the C header generated from the contract, and driver programs."""
