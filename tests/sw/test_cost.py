"""Cost model: every formula on small cases computed by hand."""

import math

import pytest
import torch
from torch import nn

from rmlora.contract import ChipParams
from rmlora.contract.macro import MacroConfig
from rmlora.contract.xbar import MacroOp
from rmlora.sw.cost.model import (
    ADAM_OPS_PER_PARAM,
    digital_inference,
    digital_weight_words,
    fold,
    hybrid_inference,
    reprogram_cost,
    sram_write_cost,
    training_cost,
)
from rmlora.sw.cost.table import DEFAULT_CLOCK_HZ, table_for
from rmlora.sw.learn.loop import backward_macs, linear_calls
from rmlora.sw.lora import inject_adapter, mark_only_adapter_trainable

T = table_for(clock_hz=100e6)  # the simulated clock: a cycle is 10 ns


def test_table_is_horowitz_at_45nm_and_x16_at_180nm():
    at45 = table_for(45, 0.9)
    assert at45.mac_int8_j == pytest.approx(0.3e-12)  # 0.2 pJ mult + 0.1 pJ int32 add
    assert at45.sram_word_j == pytest.approx(20e-12)
    assert at45.fp32_mac_j == pytest.approx(4.6e-12)
    assert T.mac_int8_j == pytest.approx(16 * at45.mac_int8_j)  # (180/45) * (1.8/0.9)**2
    assert T.control_cycle_j == pytest.approx(10e-12) and T.cycle_s == pytest.approx(1e-8)
    with pytest.raises(ValueError, match="must be > 0"):
        table_for(0)


def test_backward_counts_weight_and_input_gradients():
    frozen_first = nn.Sequential(nn.Linear(4, 3, bias=False), nn.Linear(3, 2, bias=False))
    frozen_first[0].weight.requires_grad_(False)
    # layer 0: nothing; layer 1: its weight gradient (6), no input gradient needed
    assert backward_macs(linear_calls(frozen_first, torch.rand(1, 4))) == 6
    trained_first = nn.Sequential(nn.Linear(4, 3, bias=False), nn.Linear(3, 2, bias=False))
    trained_first[1].weight.requires_grad_(False)
    # layer 0: weight gradient 12; layer 1: input gradient 6 (flows back to layer 0)
    assert backward_macs(linear_calls(trained_first, torch.rand(1, 4))) == 18


def test_backward_of_a_lora_layer():
    model = nn.Sequential(nn.Linear(4, 3, bias=False))
    inject_adapter(model, "a", 2, 4.0, ["0"])
    mark_only_adapter_trainable(model, "a")
    calls = linear_calls(model, torch.rand(1, 4))
    assert [(c.macs, c.digital, c.trainable, c.grad_input) for c in calls] == [
        (12, False, False, False), (8, True, True, False), (6, True, True, True)]
    assert backward_macs(calls) == 8 + 6 + 6  # dA, dB, and the gradient into B's input


def test_training_cost_by_hand():
    stage = {"analog_macs_per_sample": 100, "digital_macs_per_sample": 20,
             "backward_macs_per_sample": 50, "sample_passes": 10, "trainable_params": 7,
             "optimizer_steps": 3}
    cost = training_cost(stage, T)
    assert cost["macs"] == 170 * 10
    assert cost["optimizer_ops"] == ADAM_OPS_PER_PARAM * 7 * 3
    assert cost["energy_j"] == pytest.approx(1700 * T.fp32_mac_j + 294 * T.fp32_op_j)


def test_deployment_costs_by_hand():
    lora = sram_write_cost(1776, ChipParams(), T)
    assert lora["sram_words"] == 222
    assert lora["energy_j"] == pytest.approx(222 * T.sram_word_j)
    assert lora["time_s"] == pytest.approx(444 * 0.52 * 10e-9)  # 32-bit bus words, 0.52 cycles each
    report = {"cells": 10, "pulses": 40, "verify_reads": 50, "cycles": 1000,
              "image_bytes": 64, "pulse_j": 3e-10, "verify_j": 1e-10}
    full = reprogram_cost(report, T)
    assert full["energy_j"] == pytest.approx(4e-10)
    assert full["time_s"] == pytest.approx(1000 * 1e-8)


def test_another_clock_scales_the_digital_cycles_and_keeps_the_analogue_waits():
    """At 50 MHz a digital cycle takes 20 ns; a pulse still takes 100 ns, a verify read
    50 ns and an MVM plane 200 ns (MACRO_LATENCY at 100 MHz), empty planes included."""
    slow = table_for(clock_hz=50e6)
    report = {"cells": 10, "pulses": 40, "verify_reads": 50, "cycles": 1000,
              "image_bytes": 64, "pulse_j": 3e-10, "verify_j": 1e-10}
    waits = 40 * 10 + 50 * 5
    assert reprogram_cost(report, slow)["time_s"] == pytest.approx(
        (1000 - waits) * 20e-9 + waits * 10e-9)
    activity = {"adc_conversions": 100, "row_activations": 10.0, "lora_macs": 50,
                "cycles": 1000, "sram_words": 20, "cache_words": 30, "mvm_ops": 30,
                "empty_planes": 2}
    assert hybrid_inference(activity, MacroConfig(), slow)["latency_s"] == pytest.approx(
        (1000 - 32 * 20) * 20e-9 + 32 * 20 * 10e-9)
    assert sram_write_cost(1776, ChipParams(), slow)["time_s"] == pytest.approx(
        444 * 0.52 * 20e-9)
    assert slow.time_s(100) == pytest.approx(100 * 20e-9)
    assert table_for().clock_hz == DEFAULT_CLOCK_HZ == 20e6
    with pytest.raises(ValueError, match="exceed the run"):
        slow.time_s(10, {MacroOp.MVM: 1})


def test_digital_weights_once_per_layer_pass():
    # a 20 -> 32 layer: 640 bytes = 80 words; over 16 vectors, read once and then from
    # the buffer 15 times when it fits, from the SRAM 16 times when it does not
    assert digital_weight_words(20, 32, 16, 512, 8) == (80, 80 * 15)
    assert digital_weight_words(20, 32, 16, 64, 8) == (80 * 16, 0)
    assert digital_weight_words(20, 32, 16, 0, 8) == (80 * 16, 0)  # no buffer
    assert digital_weight_words(20, 32, 1, 512, 8) == (80, 0)


def test_inference_energy_by_hand():
    cfg = MacroConfig()
    activity = {"adc_conversions": 100, "row_activations": 10.0, "lora_macs": 50,
                "cycles": 1000, "sram_words": 20, "cache_words": 30, "mvm_ops": 30,
                "empty_planes": 2}
    hybrid = hybrid_inference(activity, cfg, T)
    parts = hybrid["by_component_j"]
    assert parts["adc"] == pytest.approx(100 * 25.6e-12)  # 100 fJ/step x 2**8
    assert parts["row_drive"] == pytest.approx(10 * 128 * 1e-15 * 1.8 ** 2)
    assert parts["cell_read"] == pytest.approx(10 * 128 * 0.2 ** 2 * 50e-6 * 20e-9)
    assert parts["lora_macs"] == pytest.approx(50 * T.mac_int8_j)
    assert parts["sram"] == pytest.approx(20 * 320e-12)  # Horowitz 32 KB, x16
    assert parts["cache"] == pytest.approx(30 * 160e-12)  # Horowitz 8 KB, x16
    assert hybrid["energy_j"] == pytest.approx(sum(parts.values()))
    assert hybrid["latency_s"] == pytest.approx(1000 * 1e-8)
    digital = digital_inference(800, 50, 120, 40, 8, T)
    cycles = math.ceil(850 / 8) + 120
    assert digital["energy_j"] == pytest.approx(850 * T.mac_int8_j + 120 * T.sram_word_j
                                                + 40 * T.cache_word_j
                                                + cycles * T.control_cycle_j)
    assert digital["latency_s"] == pytest.approx(cycles * 1e-8)


def test_fold_refuses_non_positive_energies():
    assert fold(10.0, 2.0) == 5.0
    with pytest.raises(ValueError, match="non-positive"):
        fold(1.0, 0.0)
