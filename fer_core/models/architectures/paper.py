"""The seed paper's network: AlexNet's conv stack joined to VGG19's last block, one FC layer.

Seven 3x3/5x5 convolutions (64, 192, 384, 256, 256 from AlexNet; 512, 512 from VGG19's last block,
with BatchNorm), four 2x2 max-pools (44 -> 22 -> 11 -> 5 -> 2), an AvgPool2d(1, 1) kept from the
lineage code, flatten, ONE dropout and ONE fully connected layer, with no ReLU in the classifier.

The paper's text also mentions "a fully-connected layer of 4096", but the flattened features are
512 x 2 x 2 = 2048 wide, so a single FC layer cannot have 4096 inputs. Our default reading is the
one consistent with "one dropout, one FC layer": dropout -> Linear(2048, classes). That reading
also matches the paper's claim of a lighter classifier than AlexNet's. The alternative reading,
dropout -> Linear(2048, 4096) -> Linear(4096, classes) with no ReLU between (so it is still a
linear map, only with 8.4 M more parameters), is registered as ``paper_fc4096``.
"""

from __future__ import annotations

import torch
from torch import nn

from fer_core.models.architectures.registry import register_model


def _conv(cin: int, cout: int, k: int, bn: bool = False) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, padding=k // 2)]
    if bn:
        layers.append(nn.BatchNorm2d(cout))
    layers.append(nn.ReLU(inplace=True))
    return layers


def alexnet_conv_stack() -> list[nn.Module]:
    """AlexNet's five conv layers adapted to 44x44 grayscale (shared with the AlexNet baseline)."""
    return [
        *_conv(1, 64, 5),
        nn.MaxPool2d(2, 2),
        *_conv(64, 192, 5),
        nn.MaxPool2d(2, 2),
        *_conv(192, 384, 3),
        *_conv(384, 256, 3),
        *_conv(256, 256, 3),
        nn.MaxPool2d(2, 2),
    ]


class PaperNet(nn.Module):
    """The seed's proposed network (see module docstring for the classifier reading)."""

    def __init__(self, num_classes: int = 7, dropout: float = 0.5, fc4096: bool = False) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *alexnet_conv_stack(),
            *_conv(256, 512, 3, bn=True),
            *_conv(512, 512, 3, bn=True),
            nn.MaxPool2d(2, 2),
            nn.AvgPool2d(kernel_size=1, stride=1),
        )
        head: list[nn.Module] = [nn.Flatten(), nn.Dropout(dropout)]
        if fc4096:
            head += [nn.Linear(512 * 2 * 2, 4096), nn.Linear(4096, num_classes)]
        else:
            head += [nn.Linear(512 * 2 * 2, num_classes)]
        self.classifier = nn.Sequential(*head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


@register_model("paper", "Seed paper: AlexNet convs + VGG19 last block (BN), dropout, 1 FC")
def paper(num_classes: int = 7, dropout: float = 0.5) -> nn.Module:
    return PaperNet(num_classes, dropout, fc4096=False)


@register_model("paper_fc4096", "Seed paper, alternative reading: dropout, FC 4096, FC (no ReLU)")
def paper_fc4096(num_classes: int = 7, dropout: float = 0.5) -> nn.Module:
    return PaperNet(num_classes, dropout, fc4096=True)
