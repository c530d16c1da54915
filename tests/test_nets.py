"""Networks: shapes, parameter counts and MACs recounted from the built modules."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fer_core.models.architectures import count_macs, count_params, create_model, list_models

# Hand-derived parameter counts (weights + biases, BN affine) for 44x44x1 input and 7 classes.
_CONV = lambda k, cin, cout: k * k * cin * cout + cout  # noqa: E731
_BN = lambda c: 2 * c  # noqa: E731
PAPER_CONVS = (
    _CONV(5, 1, 64) + _CONV(5, 64, 192) + _CONV(3, 192, 384) + _CONV(3, 384, 256)
    + _CONV(3, 256, 256) + _CONV(3, 256, 512) + _BN(512) + _CONV(3, 512, 512) + _BN(512)
)
EXPECTED_PARAMS = {
    "paper": PAPER_CONVS + 2048 * 7 + 7,
    "paper_fc4096": PAPER_CONVS + 2048 * 4096 + 4096 + 4096 * 7 + 7,
    "alexnet": PAPER_CONVS - (_CONV(3, 256, 512) + _BN(512) + _CONV(3, 512, 512) + _BN(512))
    + 6400 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * 7 + 7,
}


@pytest.mark.parametrize("name", list_models())
def test_every_registered_net_maps_a_batch_of_crops_to_class_logits(name: str) -> None:
    net = create_model(name).eval()
    with torch.inference_mode():
        out = net(torch.randn(3, 1, 44, 44))
    assert out.shape == (3, 7)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", list_models())
def test_num_classes_is_respected(name: str) -> None:
    assert create_model(name, num_classes=5).eval()(torch.zeros(1, 1, 44, 44)).shape == (1, 5)


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMS))
def test_parameter_counts_match_hand_derivation(name: str) -> None:
    assert count_params(create_model(name)) == EXPECTED_PARAMS[name]


def test_vgg19_has_16_convs_with_batchnorm_and_5_pools() -> None:
    net = create_model("vgg19")
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    pools = [m for m in net.modules() if isinstance(m, nn.MaxPool2d)]
    assert (len(convs), len(bns), len(pools)) == (16, 16, 5)


def test_paper_net_structure_follows_the_seed() -> None:
    net = create_model("paper")
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 192, 384, 256, 256, 512, 512]
    assert [c.kernel_size[0] for c in convs] == [5, 5, 3, 3, 3, 3, 3]
    assert [c.padding[0] for c in convs] == [2, 2, 1, 1, 1, 1, 1]
    assert sum(isinstance(m, nn.BatchNorm2d) for m in net.modules()) == 2
    assert sum(isinstance(m, nn.MaxPool2d) for m in net.modules()) == 4
    # the classifier: exactly one dropout, one linear, and no ReLU
    head = list(net.classifier.modules())
    assert sum(isinstance(m, nn.Dropout) for m in head) == 1
    assert sum(isinstance(m, nn.Linear) for m in head) == 1
    assert not any(isinstance(m, nn.ReLU) for m in head)
    # spatial path 44 -> 22 -> 11 -> 5 -> 2
    assert net.features(torch.zeros(1, 1, 44, 44)).shape == (1, 512, 2, 2)


def test_macs_recounted_by_hand_for_the_paper_net() -> None:
    expected = (
        25 * 1 * 64 * 44 * 44 + 25 * 64 * 192 * 22 * 22 + 9 * 192 * 384 * 11 * 11
        + 9 * 384 * 256 * 11 * 11 + 9 * 256 * 256 * 11 * 11 + 9 * 256 * 512 * 5 * 5
        + 9 * 512 * 512 * 5 * 5 + 2048 * 7
    )
    assert count_macs(create_model("paper")) == expected


def test_fast_net_is_within_a_fifth_of_the_paper_nets_macs() -> None:
    assert count_macs(create_model("fast")) <= count_macs(create_model("paper")) / 5


def test_unknown_architecture_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="paper"):
        create_model("resnet9000")
