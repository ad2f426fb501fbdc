"""The "model" that returns its input: the blurred-input row of every table (evaluation and capture scoring)."""

from __future__ import annotations

import torch

__all__ = ["BlurredInput"]


class BlurredInput(torch.nn.Module):
    """``forward(batch) -> batch["blurred"]`` (B, 3, H, W), unchanged (linear light, as given); no parameters."""

    name = "identity"
    uses_gyro = False

    def __init__(self):
        super().__init__()
        self.options: dict = {}

    def forward(self, batch: dict) -> torch.Tensor:
        return batch["blurred"]
