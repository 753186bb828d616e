"""End-to-end smoke of the learning flow on small synthetic faces with few epochs."""

import dataclasses

import pytest
import torch

from rmlora.sw.data import Augmentation
from rmlora.sw.learn import FlowConfig, StageConfig, forward_macs
from rmlora.sw.learn.loop import train_stage
from rmlora.sw.lora import adapter_names, lora_layers
from rmlora.sw.models import FaceMixer, linear_layers
from rmlora.sw.tasks.face import run_face_float

from .test_olivetti import synthetic_faces

FAST = FlowConfig(
    seed=0,
    pretrain=StageConfig(epochs=6, lr=0.02),
    unlearn=StageConfig(epochs=3, lr=0.01),
    continual=StageConfig(epochs=3, lr=0.01),
    full_finetune=StageConfig(epochs=2, lr=0.01),
    retrain=StageConfig(epochs=2, lr=0.02),
)


@pytest.fixture(scope="module")
def flow():
    faces = synthetic_faces(n_people=6, size=32)  # people 4 and 5: the background
    return run_face_float(people=[0, 1, 2], forget=1, learn=3, seed=0, config=FAST,
                          aug=Augmentation(copies=3), faces=faces, keep_models=True)


def test_flow_reports_every_stage(flow):
    assert set(flow["metrics"]) >= {"pretrained", "unlearned_lora", "continual_lora",
                                    "full_finetune", "retrained"}
    assert flow["class_of"] == {0: 0, 1: 1, 2: 2, 3: 3}
    assert flow["classes"] == {"forget": 1, "new": 3, "retain": [0, 2]}
    for metrics in flow["metrics"].values():
        if isinstance(metrics, dict):
            assert 0 <= metrics["retain_acc"] <= 1
            assert 0 <= metrics["mia"]["auc"] <= 1


def test_costs_count_what_ran(flow):
    costs = flow["costs"]
    n_train = 7 * 4  # clean image + 3 views, 7 training images per person
    assert costs["pretrain"]["samples_per_epoch"] == 3 * n_train
    assert costs["pretrain"]["sample_passes"] == 6 * 3 * n_train
    assert costs["unlearn_lora"]["samples_per_epoch"] == 3 * n_train
    assert costs["continual_lora"]["samples_per_epoch"] == 3 * n_train  # 2 kept + new
    assert costs["retrain"]["samples_per_epoch"] == 2 * n_train
    forget = costs["unlearn_lora"]
    assert forget["trainable_params"] == 2 * 6 * (20 + 32) * 2 + 6 * (20 + 4)
    assert forget["digital_macs_per_sample"] > 0 == costs["pretrain"]["digital_macs_per_sample"]
    assert forget["analog_macs_per_sample"] == costs["pretrain"]["analog_macs_per_sample"]
    assert costs["full_finetune"]["trainable_params"] == costs["full_finetune"]["total_params"]


def test_models_keep_base_weights_frozen(flow):
    pretrained, unlearned = flow["models"]["pretrained"], flow["models"]["unlearned_lora"]
    continual = flow["models"]["continual_lora"]
    assert adapter_names(unlearned) == ["forget"]
    assert adapter_names(continual) == ["forget", "continual"]
    for name, layer in lora_layers(continual).items():
        assert layer.active_adapters == ["forget", "continual"]
        base = pretrained.get_submodule(name).weight
        assert torch.equal(layer.base_layer.weight, base)
        assert torch.equal(layer.lora_A["forget"].weight,
                           unlearned.get_submodule(name).lora_A["forget"].weight)


def test_flow_is_deterministic(flow):
    faces = synthetic_faces(n_people=6, size=32)
    again = run_face_float(people=[0, 1, 2], forget=1, learn=3, seed=0, config=FAST,
                           aug=Augmentation(copies=3), faces=faces)
    assert again["metrics"] == flow["metrics"]


def test_linear_layers_in_execution_order_and_macs():
    model = FaceMixer()
    names = [n for n, _ in linear_layers(model)]
    assert names[0] == "embed" and names[-1] == "head" and len(names) == 10
    assert all(m.bias is None for _, m in linear_layers(model))
    analog, digital = forward_macs(model, torch.rand(1, 16, 16))
    expected = 16 * 16 * 20 + 2 * (20 * 16 * 32 * 2 + 16 * 20 * 32 * 2) + 20 * 6
    assert (analog, digital) == (expected, 0)


def test_driver_rejects_bad_roles():
    with pytest.raises(ValueError, match="forget=7"):
        run_face_float(people=[0, 1], forget=7, learn=3, faces=synthetic_faces())
    with pytest.raises(ValueError, match="learn=1"):
        run_face_float(people=[0, 1], forget=0, learn=1, faces=synthetic_faces())


def test_unlearning_leaves_the_spare_output_alone(flow):
    """The spare output (the class learned later) is out of the unlearning loss: the
    forget adapter's head row for it keeps its zero start and the full fine-tune leaves
    its head row as pretrained. Before, relabelling pushed that logit to -700 on the
    speaker task, and the head's int8 scale with it."""
    new = flow["classes"]["new"]
    head = flow["models"]["unlearned_lora"].head
    assert torch.count_nonzero(head.lora_B["forget"].weight[new]) == 0
    assert torch.count_nonzero(head.lora_B["forget"].weight) > 0
    pretrained = flow["models"]["pretrained"].head
    finetuned = flow["models"]["full_finetune"].head
    assert torch.equal(finetuned.weight[new], pretrained.weight[new])  # the head has no bias


def test_loss_classes_must_cover_the_labels():
    model = torch.nn.Linear(4, 3)
    x, y = torch.randn(8, 4), torch.tensor([0, 2] * 4)
    with pytest.raises(ValueError, match=r"labels \[2\] are not among the loss classes"):
        train_stage("t", model, list(model.parameters()), x, y, None,
                    StageConfig(epochs=1, lr=0.01), seed=0, classes=[0, 1])


def test_the_backbone_stage_trains_the_features_and_leaves_the_head(flow):
    """People 4 and 5 of the synthetic faces are the background of a 0,1,2 / 3 choice."""
    from rmlora.sw.learn import FlowData, pretrain_backbone
    from rmlora.sw.tasks.face import prepare_face

    _, _, data = prepare_face([0, 1, 2], 1, 3, seed=0, aug=Augmentation(copies=1),
                              faces=synthetic_faces(n_people=6, size=32),
                              background=Augmentation(copies=1))
    assert sorted(set(data.background_y.tolist())) == [0, 1]
    assert flow["costs"]["backbone"]["samples_per_epoch"] == 2 * 10 * 11  # 10 views each
    torch.manual_seed(0)
    model = FaceMixer()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cost = pretrain_backbone(model, data, StageConfig(epochs=1, lr=0.01), seed=0)
    after = model.state_dict()
    assert torch.equal(before["head.weight"], after["head.weight"])
    assert not torch.equal(before["embed.weight"], after["embed.weight"])
    assert cost.samples_per_epoch == 2 * 10 * 2
    without = FlowData(*[getattr(data, f) for f in ("train_x", "train_y", "test_x", "test_y",
                                                     "holdout_x", "holdout_y")],
                       forget_class=data.forget_class, new_class=data.new_class)
    with pytest.raises(ValueError, match="no background"):
        pretrain_backbone(model, without, StageConfig(epochs=1, lr=0.01), seed=0)
    with pytest.raises(ValueError, match="features"):
        pretrain_backbone(torch.nn.Linear(4, 2), data, StageConfig(epochs=1, lr=0.01), 0)


def test_imprinting_sets_each_class_row_to_its_mean_feature_direction():
    """The head rows of the named classes become scale x unit mean feature; the others
    (here the spare output) stay as they were; a flow with it on still runs."""
    from rmlora.sw.learn import imprint_head
    from rmlora.sw.tasks.face import prepare_face

    _, _, data = prepare_face([0, 1, 2], 1, 3, seed=0, aug=Augmentation(copies=1),
                              faces=synthetic_faces(n_people=6, size=32),
                              background=Augmentation(copies=1))
    torch.manual_seed(0)
    model = FaceMixer()
    spare = model.head.weight[3].clone()
    imprint_head(model, data, data.pretrain_classes, scale=5.0)
    with torch.no_grad():
        features = model.features(data.train_x)
    for c in data.pretrain_classes:
        mean = features[data.train_y == c].mean(dim=0)
        assert torch.allclose(model.head.weight[c], 5.0 * mean / mean.norm())
        assert model.head.weight[c].norm().item() == pytest.approx(5.0)
    assert torch.equal(model.head.weight[3], spare)
    with pytest.raises(ValueError, match="scale must be > 0"):
        imprint_head(model, data, [0], scale=0.0)
    with pytest.raises(ValueError, match="imprint_scale"):
        FlowConfig(imprint_scale=-1.0)
    faces = synthetic_faces(n_people=6, size=32)
    result = run_face_float(people=[0, 1, 2], forget=1, learn=3, seed=0,
                            config=dataclasses.replace(FAST, imprint_scale=5.0,
                                                       run_baselines=False),
                            aug=Augmentation(copies=1), faces=faces)
    assert 0 <= result["metrics"]["pretrained"]["retain_acc"] <= 1
