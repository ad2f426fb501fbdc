"""Small pieces shared by the models: reading the batch dict (docs/conventions.md §2) and the spatial attention block.

Models take the batch dict and read only the keys they need; a bare ``(B, 3, H, W)`` tensor is accepted as
``{"blurred": tensor}`` for convenience (shape checks raise :class:`~gyrobench.errors.ShapeError`).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn as nn

from ..errors import ShapeError

__all__ = ["batch_image", "batch_alpha", "SpatialAttention"]


def batch_image(batch, key: str = "blurred") -> torch.Tensor:
    """The model input ``(B, 3, H, W)`` from a batch dict (or a bare tensor)."""
    if isinstance(batch, torch.Tensor):
        x = batch
    elif isinstance(batch, Mapping):
        if key not in batch:
            raise ShapeError(
                f"batch has no '{key}' entry (keys: {sorted(batch)}); pass the blurred image (B,3,H,W)"
            )
        x = batch[key]
    else:
        raise ShapeError(
            f"model input must be a batch dict or a (B,3,H,W) tensor, got {type(batch).__name__}"
        )
    if x.dim() != 4 or x.shape[1] != 3:
        raise ShapeError(f"batch['{key}'] must be (B, 3, H, W), got {tuple(x.shape)}")
    return x


def batch_alpha(batch, n: int, like: torch.Tensor) -> torch.Tensor | float:
    """Curriculum weight α (docs/conventions.md §3): a float, or a tensor reshaped to ``(B, 1, 1, 1)``; default 1.0."""
    alpha = batch.get("alpha", 1.0) if isinstance(batch, Mapping) else 1.0
    if isinstance(alpha, torch.Tensor):
        if alpha.dim() == 0:
            return alpha.to(like.dtype)
        if alpha.numel() != n:
            raise ShapeError(f"batch['alpha'] must be a float or shape ({n},), got {tuple(alpha.shape)}")
        return alpha.to(dtype=like.dtype, device=like.device).reshape(n, 1, 1, 1)
    return float(alpha)


def alpha_mix(alpha: torch.Tensor | float, noisy: torch.Tensor, clean: torch.Tensor, fn=None) -> torch.Tensor:
    """``α·fn(noisy) + (1−α)·fn(clean)`` (docs/conventions.md §3; ``fn`` the identity by default), with ``fn``
    applied once where α is the float 1 or 0 or the two fields are the same tensor."""
    fn = fn if fn is not None else (lambda t: t)
    if noisy is clean or (isinstance(alpha, float) and alpha == 1.0):
        return fn(noisy)
    if isinstance(alpha, float) and alpha == 0.0:
        return fn(clean)
    return alpha * fn(noisy) + (1.0 - alpha) * fn(clean)


class SpatialAttention(nn.Module):
    """S = sigmoid(BN(Conv7×7([max_c Y; mean_c Y]))), returns Y ⊙ S (gyrodeblurnet.md §5.3 GDB step 3).

    ``conv`` = Sequential(Conv2d(2→1, 7×7, 'same', no bias), BatchNorm2d(1, eps 1e-5, momentum 0.01)), so the
    state_dict keys are ``conv.0.weight`` and ``conv.1.{weight,bias,running_mean,running_var,num_batches_tracked}``.
    """

    def __init__(self, kernel_size: int = 7):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False),
            nn.BatchNorm2d(1, eps=1e-5, momentum=0.01),
        )

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([y.amax(dim=1, keepdim=True), y.mean(dim=1, keepdim=True)], dim=1)  # (B, 2, H, W)
        return y * torch.sigmoid(self.conv(pooled))
