"""Simulation side: the ReRAM macro model and the cocotb cosimulation glue."""
