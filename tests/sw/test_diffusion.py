"""Image-generation task, float part: digits and styles, the DDPM pieces, erasing."""

import numpy as np
import pytest
import torch

from rmlora.sw.data.digits import apply_style, load_digit_images, style_property
from rmlora.sw.learn import diffusion
from rmlora.sw.learn.diffusion import (
    DiffusionConfig,
    _noisy_weights,
    erase,
    erase_objective_step,
    frechet_distance,
    learn_style,
)
from rmlora.sw.lora import inject_adapter
from rmlora.sw.models.denoiser import (
    CLASS_AMPLITUDE,
    TIME_AMPLITUDE,
    Schedule,
    denoiser_input,
    denoiser_mlp,
    sample,
)


def test_digits_and_styles():
    images, labels = load_digit_images()
    assert images.shape == (1797, 8, 8) and images.min() == 0 and images.max() == 1
    assert sorted(set(labels.tolist())) == list(range(10))
    plain = style_property(images)
    for style in ("thick", "invert"):
        styled = apply_style(images, style)
        assert styled.shape == images.shape
        assert np.all(style_property(styled) > plain)  # one brightness threshold judges it
    with pytest.raises(ValueError, match="style 'bold'"):
        apply_style(images, "bold")


def test_schedule_and_inputs():
    s = Schedule()
    ab = s.alpha_bars
    assert ab.shape == (20,) and torch.all(ab[1:] < ab[:-1]) and 0 < ab[-1] < 0.01
    x0, noise = torch.ones(2, 64), torch.zeros(2, 64)
    assert torch.allclose(s.noisy(x0, torch.tensor([0, 19]), noise)[:, 0], ab[[0, 19]].sqrt())
    inputs = denoiser_input(x0, torch.tensor([3, 7]), torch.tensor([0, 49]), 50)
    assert inputs.shape == (2, 82) and inputs[0, 64 + 3] == CLASS_AMPLITUDE
    assert inputs[1, 64 + 7] == CLASS_AMPLITUDE and inputs[:, 64:74].sum() == 2 * CLASS_AMPLITUDE
    assert torch.allclose(inputs[0, 78:], torch.full((4,), TIME_AMPLITUDE))  # cos(0)
    # both stay inside the noised pixels' range, which sets the int8 input scale
    assert max(CLASS_AMPLITUDE, TIME_AMPLITUDE) < 3.6
    assert denoiser_mlp()(inputs).shape == (2, 64)


def test_noisy_weights_per_cell_and_common_offset():
    """Per-cell noise and one offset per layer, both relative to the layer's max|w|."""
    torch.manual_seed(0)
    model = denoiser_mlp()
    noisy = _noisy_weights(model, 0.03, 0.0, torch.Generator().manual_seed(1))
    for name, p in model.named_parameters():
        delta, top = (noisy[name] - p).detach(), p.detach().abs().max()
        assert abs(float(delta.std() / top) - 0.03) < 0.003, name
        assert abs(float(delta.mean() / top)) < 0.003, name
    offsets = []
    for seed in range(20):
        noisy = _noisy_weights(model, 0.0, 0.01, torch.Generator().manual_seed(seed))
        delta = (noisy["0.weight"] - model[0].weight).detach()
        assert torch.allclose(delta, delta.flatten()[0].expand_as(delta))  # one per layer
        offsets.append(float(delta.flatten()[0] / model[0].weight.detach().abs().max()))
    assert 0.005 < float(torch.tensor(offsets).std()) < 0.015
    grad = torch.autograd.grad(noisy["2.weight"].sum(), model[2].weight)[0]
    assert torch.equal(grad, torch.ones_like(grad))  # the noise carries no gradient
    inject_adapter(model, "style", 4, 8.0, ["0"], generator=torch.Generator().manual_seed(0))
    noisy = _noisy_weights(model, 0.03, 0.01, torch.Generator().manual_seed(1))
    assert "0.base_layer.weight" in noisy and not any(".lora_" in n for n in noisy)


def test_style_training_keeps_the_erased_condition_on_the_anchor(monkeypatch):
    """The styled anchor digits are shown under the erased digit's condition too."""
    seen = {}

    def fake_train(x0, classes, config, seed, stage, model, params, *args, **kwargs):
        seen.update(x0=x0, classes=classes, noisy=kwargs["noisy"])
        return model, None

    monkeypatch.setattr(diffusion, "train_denoiser", fake_train)
    x0, classes = torch.randn(6, 64), torch.tensor([0, 1, 4, 4, 5, 9])
    config = DiffusionConfig(erase=3, hidden=32)  # anchor 4
    learn_style(denoiser_mlp(hidden=32), x0, classes, config, 0, [])
    assert seen["classes"].tolist() == [0, 1, 4, 4, 5, 9, 3, 3] and seen["noisy"]
    assert torch.equal(seen["x0"][6:], x0[2:4])
    learn_style(denoiser_mlp(hidden=32), x0, classes,
                DiffusionConfig(erase=3, hidden=32, style_keeps_erasure=False), 0, [])
    assert seen["classes"].tolist() == classes.tolist()


def test_sampling_is_seeded_and_records_every_step():
    def predict(inputs):  # "the clean image is the noisy one": depends on the noise
        return inputs[:, :64]

    record = []
    a = sample(predict, torch.arange(4), Schedule(steps=10), seed=3, record=record)
    b = sample(predict, torch.arange(4), Schedule(steps=10), seed=3)
    assert torch.equal(a, b) and a.shape == (4, 64) and a.abs().max() <= 1
    assert len(record) == 10 and record[0].shape == (4, 82)
    assert not torch.equal(a, sample(predict, torch.arange(4), Schedule(steps=10), seed=4))


def test_erasing_moves_the_erased_condition_onto_the_anchor():
    torch.manual_seed(0)
    model = denoiser_mlp(hidden=32).eval()
    x0 = torch.rand(64, 64) * 2 - 1
    classes = torch.randint(10, (64,))
    classes[classes == 3] = 0
    config = DiffusionConfig(erase=3, hidden=32, erase_epochs=30, erase_lr=1e-2)

    def loss(m):
        return erase_objective_step(m, model, config.schedule, x0, classes, 3, 4,
                                    torch.Generator().manual_seed(9)).item()

    erased, cost = erase(model, x0, classes, config, seed=1)
    assert loss(erased) < 0.5 * loss(model)
    assert cost.trainable_params == 2 * 8 * ((82 + 32) + (32 + 32) + (32 + 64)) // 2
    assert cost.optimizer_steps == 30 and cost.backward_macs_per_sample > 0


def test_frechet_distance():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((500, 4))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(a, a + 1.0) == pytest.approx(4.0, rel=1e-6)
