"""``fast``: our network for live use on a laptop CPU.

A small residual network (BN everywhere, ReLU, three stages at 22, 11 and 6 px, global average
pooling, dropout, one linear layer). The budget is a fifth of the paper network's
multiply-accumulates per 44x44 crop or less; ``width`` scales every stage. Residual blocks with BN
train reliably at SGD learning rates that would stall a plain stack, and global pooling keeps the
classifier tiny.
"""

from __future__ import annotations

import torch
from torch import nn

from fer_core.models.architectures.registry import register_model


def conv_bn(cin: int, cout: int, stride: int = 1, k: int = 3) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False),
        nn.BatchNorm2d(cout),
    )


class BasicBlock(nn.Module):
    """ResNet's basic block: two 3x3 conv-BN, identity or 1x1 projection shortcut."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = conv_bn(cin, cout, stride)
        self.conv2 = conv_bn(cout, cout)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut: nn.Module = (
            nn.Identity() if stride == 1 and cin == cout else conv_bn(cin, cout, stride, k=1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.conv1(x))
        out = self.conv2(out)
        return self.relu(out + self.shortcut(x))


class FastNet(nn.Module):
    """Stem (3x3 conv at 44 px, max-pool) then three residual stages and a linear classifier."""

    def __init__(
        self,
        num_classes: int = 7,
        width: int = 32,
        blocks: tuple[int, int, int] = (1, 1, 1),
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        w = width
        self.stem = nn.Sequential(conv_bn(1, w), nn.ReLU(inplace=True), nn.MaxPool2d(2, 2))
        stages: list[nn.Module] = []
        cin = w
        for i, n in enumerate(blocks):
            cout = w * 2 ** (i + 1)
            for j in range(n):
                stride = 2 if (j == 0 and i > 0) else 1
                stages.append(BasicBlock(cin, cout, stride))
                cin = cout
        self.stages = nn.Sequential(*stages)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(cin, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)))


@register_model("fast", "Residual CNN for live CPU use (BN, 3 stages, GAP, 1 FC)", width=32)
def fast(num_classes: int = 7, width: int = 32, blocks: tuple = (1, 1, 1), dropout: float = 0.3):
    return FastNet(num_classes, width, tuple(blocks), dropout)
