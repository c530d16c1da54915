"""The seed's baselines, adapted to 44x44 grayscale input: AlexNet and VGG19 with BatchNorm."""

from __future__ import annotations

import torch
from torch import nn

from fer_core.models.architectures.paper import alexnet_conv_stack
from fer_core.models.architectures.registry import register_model

VGG19_CFG: list[int | str] = [
    64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
    512, 512, 512, 512, "M", 512, 512, 512, 512, "M",
]  # fmt: skip


class AlexNetFER(nn.Module):
    """AlexNet's conv stack (as in the paper network) with its classical 4096-4096 classifier."""

    def __init__(self, num_classes: int = 7, dropout: float = 0.5) -> None:
        super().__init__()
        self.features = nn.Sequential(*alexnet_conv_stack())
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(256 * 5 * 5, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class VGG19BN(nn.Module):
    """VGG19 with BatchNorm: 16 conv layers, 5 max-pools (44 -> 1), dropout, one linear layer."""

    def __init__(self, num_classes: int = 7, dropout: float = 0.5) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 1
        for v in VGG19_CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(cin, int(v), 3, padding=1), nn.BatchNorm2d(int(v))]
                layers.append(nn.ReLU(inplace=True))
                cin = int(v)
        layers.append(nn.AvgPool2d(kernel_size=1, stride=1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(512, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


@register_model(
    "alexnet", "AlexNet baseline: same conv stack, dropout-4096-ReLU-dropout-4096-ReLU-FC"
)
def alexnet(num_classes: int = 7, dropout: float = 0.5) -> nn.Module:
    return AlexNetFER(num_classes, dropout)


@register_model("vgg19", "VGG19-BN baseline: 16 conv + BN, 5 max-pools, dropout, FC")
def vgg19(num_classes: int = 7, dropout: float = 0.5) -> nn.Module:
    return VGG19BN(num_classes, dropout)
