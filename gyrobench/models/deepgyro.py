"""DeepGyro (Mustaniemi et al., WACV 2019): a plain U-Net on the blurred image plus a per-pixel blur field.

Spec ``baselines.md`` §3. Architecture of [D-R models.py] (§3.3), re-implemented in PyTorch (no code copied):

- input: blurred RGB ``(B, 3, H, W)`` linear, concatenated with the two blur channels ``(blurx, blury)`` derived
  from the camera-motion field (§3.7, :func:`gyro_inputs.deepgyro_blur_field`) -> 5 channels (R, G, B, bx, by);
- encoder: 5 stages of two 3×3 convs + ReLU (64, 128, 256, 512, 1024 channels at width 64), 2×2 max-pooling
  ("valid", floors odd sizes) between stages;
- decoder: per level a 2×2 stride-2 transposed conv (no activation), zero-padded on the bottom/right to the
  encoder size, **concatenated** as ``[up, skip]``, then two 3×3 convs + ReLU;
- output: 1×1 conv, linear; **no** global residual and no clamp (faithful default; ``residual=True`` adds the
  input as an option). Any ``H×W`` works (no padding of the input is needed).

Parameters at width 64: 31,033,027 (DeepBlind, ``blind=True``: 31,031,875), spec §3.3.
state_dict keys (gyrobench's choice, §3.6): ``enc{1..5}.{0,1}``, ``up{4..1}``, ``dec{4..1}.{0,1}``, ``out``.

Unknowns of the original (documented in ``baselines/deepgyro/README.md``): training crop size, batch size and
schedule; gyrobench trains it with the shared GyroDeblurNet recipe (§3.8).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .blocks import batch_image
from .gyro_inputs import deepgyro_blur_field, select_cmf
from .registry import register

__all__ = ["DeepGyro", "load_keras_weights"]


@register(
    "deepgyro",
    uses_gyro=True,
    citation="J. Mustaniemi, J. Kannala, S. Särkkä, J. Matas, J. Heikkilä, 'Gyroscope-Aided Motion Deblurring "
    "with Deep Networks', WACV 2019, arXiv:1810.00986",
)
class DeepGyro(nn.Module):
    """DeepGyro U-Net on [blurred RGB, blur field] (baselines.md §3); ``blind=True`` gives DeepBlind.

    Options: ``width`` (channels of the first stage, 64 in the original; the stages use width·2^l),
    ``rounding`` (round the blur vectors to integer px as the original, §3.7 step 3), ``canonical`` (b_y <= 0
    sign rule, §3.2 step 6), ``encode`` ("deepgyro": (b+128)/255 as the original PNG input; "pixels": raw px),
    ``residual`` (add the input to the output; not in the original), ``blind`` (no gyro: DeepBlind),
    ``cmf_key`` ("mix" = α-mix of noisy/clean fields, or "cmf_noisy"/"cmf_clean"), ``init`` ("torch": PyTorch's
    default conv init, var 1/(3 fan_in), under which the 23-layer ReLU U-Net without normalisation passes a
    vanishing signal and learns slowly (issue 9 item 6); "glorot": Keras' default glorot_uniform with zero
    biases, what the original Keras model used; "he": He normal for ReLU).
    """

    def __init__(
        self,
        width: int = 64,
        rounding: bool = True,
        canonical: bool = True,
        encode: str = "deepgyro",
        residual: bool = False,
        blind: bool = False,
        cmf_key: str = "mix",
        init: str = "torch",
    ):
        super().__init__()
        if init not in ("torch", "glorot", "he"):
            from ..errors import GyrobenchError

            raise GyrobenchError(f"deepgyro: unknown init='{init}'; fix: use 'torch', 'glorot' or 'he'")
        if encode not in ("deepgyro", "pixels"):
            from ..errors import GyrobenchError

            raise GyrobenchError(f"deepgyro: unknown encode='{encode}'; fix: use 'deepgyro' or 'pixels'")
        self.rounding, self.canonical, self.encode = rounding, canonical, encode
        self.residual, self.blind, self.cmf_key = residual, blind, cmf_key
        self.uses_gyro = not blind
        ch = [width * 2**i for i in range(5)]  # 64, 128, 256, 512, 1024
        cin = 3 if blind else 5

        def pair(i, o):
            return nn.ModuleList([nn.Conv2d(i, o, 3, padding=1), nn.Conv2d(o, o, 3, padding=1)])

        self.enc1 = pair(cin, ch[0])
        self.enc2 = pair(ch[0], ch[1])
        self.enc3 = pair(ch[1], ch[2])
        self.enc4 = pair(ch[2], ch[3])
        self.enc5 = pair(ch[3], ch[4])
        self.up4 = nn.ConvTranspose2d(ch[4], ch[3], 2, stride=2)
        self.dec4 = pair(2 * ch[3], ch[3])
        self.up3 = nn.ConvTranspose2d(ch[3], ch[2], 2, stride=2)
        self.dec3 = pair(2 * ch[2], ch[2])
        self.up2 = nn.ConvTranspose2d(ch[2], ch[1], 2, stride=2)
        self.dec2 = pair(2 * ch[1], ch[1])
        self.up1 = nn.ConvTranspose2d(ch[1], ch[0], 2, stride=2)
        self.dec1 = pair(2 * ch[0], ch[0])
        self.out = nn.Conv2d(ch[0], 3, 1)
        if init != "torch":  # Keras' default (the original's) or He: zero biases, like Keras
            for mod in self.modules():
                if isinstance(mod, (nn.Conv2d, nn.ConvTranspose2d)):
                    if init == "glorot":
                        nn.init.xavier_uniform_(mod.weight)
                    else:
                        nn.init.kaiming_normal_(mod.weight, nonlinearity="relu")
                    nn.init.zeros_(mod.bias)

    @staticmethod
    def _convs(pair: nn.ModuleList, x: torch.Tensor) -> torch.Tensor:
        for conv in pair:
            x = F.relu(conv(x))
        return x

    def _up(
        self, up: nn.ConvTranspose2d, dec: nn.ModuleList, x: torch.Tensor, skip: torch.Tensor
    ) -> torch.Tensor:
        u = up(x)  # (B, c, 2h, 2w)
        u = F.pad(u, (0, skip.shape[-1] - u.shape[-1], 0, skip.shape[-2] - u.shape[-2]))  # bottom/right zeros
        return self._convs(dec, torch.cat([u, skip], dim=1))

    def gyro_input(self, batch: dict, hw: tuple[int, int]) -> torch.Tensor:
        """The two blur channels ``(B, 2, H, W)`` this model sees (§3.7)."""
        return deepgyro_blur_field(
            select_cmf(batch, self.cmf_key),
            hw,
            rounding=self.rounding,
            canonical=self.canonical,
            encode=self.encode,
        )

    def forward(self, batch) -> torch.Tensor:
        """``batch["blurred"] (B, 3, H, W)`` (+ the batch's CMF unless blind) -> restored ``(B, 3, H, W)``."""
        x = batch_image(batch)
        inp = x if self.blind else torch.cat([x, self.gyro_input(batch, x.shape[-2:]).to(x.dtype)], dim=1)
        e1 = self._convs(self.enc1, inp)
        e2 = self._convs(self.enc2, F.max_pool2d(e1, 2))
        e3 = self._convs(self.enc3, F.max_pool2d(e2, 2))
        e4 = self._convs(self.enc4, F.max_pool2d(e3, 2))
        e5 = self._convs(self.enc5, F.max_pool2d(e4, 2))
        d4 = self._up(self.up4, self.dec4, e5, e4)
        d3 = self._up(self.up3, self.dec3, d4, e3)
        d2 = self._up(self.up2, self.dec2, d3, e2)
        d1 = self._up(self.up1, self.dec1, d2, e1)
        y = self.out(d1)
        return y + x if self.residual else y


def _keras_weighted_layers(path) -> list[tuple[str, list]]:
    """``[(layer_name, [arrays in weight_names order]), ...]`` of the layers with weights, in the file's layer order.

    Reads Keras 2 HDF5 weight files (``model.save_weights``) and full-model files (``model.save``: weights under
    ``model_weights``). Layer order is the ``layer_names`` attribute, i.e. the model's construction order.
    """
    import h5py

    from ..errors import CheckpointError

    def _s(v):
        return v.decode() if isinstance(v, bytes) else str(v)

    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise CheckpointError(
            f"{path}: not a readable HDF5 file ({exc}); fix: pass DeepGyro.hdf5 (Keras weights)"
        ) from exc
    with f:
        root = f["model_weights"] if "model_weights" in f else f
        if "layer_names" not in root.attrs:
            raise CheckpointError(
                f"{path}: no 'layer_names' attribute; fix: pass a Keras 2 HDF5 weights file"
            )
        out = []
        for name in (_s(n) for n in root.attrs["layer_names"]):
            g = root[name]
            names = [_s(n) for n in g.attrs.get("weight_names", [])]
            if names:
                out.append((name, [np.asarray(g[n]) for n in names]))
        return out


def load_keras_weights(model: DeepGyro, path) -> DeepGyro:
    """Load the official Keras weights (``DeepGyro.hdf5`` / ``DeepBlind.hdf5``) into ``model`` (spec §3.6).

    The 23 weighted layers are matched by construction order and shape (10 encoder convs; per decoder level a
    transposed conv and two convs; the final 1×1), not by Keras' auto-generated names. Conv2D kernels
    ``(kh, kw, in, out)`` and Conv2DTranspose kernels ``(kh, kw, out, in)`` both map to PyTorch by the axis
    permutation ``(3, 2, 0, 1)``. First-layer input channels are R, G, B, blurx, blury (as gyrobench feeds them).
    **Unverified against the real file** (not available offline): the layout is tested on a synthetic file in the
    Keras format. The official weights expect 8-bit sRGB input, not linear light (§6.1): label results zero-shot.
    """
    from ..errors import CheckpointError

    targets: list[nn.Module] = []
    for i in range(1, 6):
        targets += list(getattr(model, f"enc{i}"))
    for i in (4, 3, 2, 1):
        targets += [getattr(model, f"up{i}"), *getattr(model, f"dec{i}")]
    targets.append(model.out)
    layers = _keras_weighted_layers(path)
    if len(layers) != len(targets):
        raise CheckpointError(
            f"{path}: {len(layers)} weighted Keras layers, DeepGyro has {len(targets)}; "
            "fix: pass the official DeepGyro.hdf5 (or DeepBlind.hdf5 with blind=True) for width 64"
        )
    state = {}
    for (name, arrays), mod in zip(layers, targets):
        if len(arrays) != 2 or arrays[0].ndim != 4:
            raise CheckpointError(
                f"{path}: layer '{name}' has {len(arrays)} arrays; expected a 4-D kernel + bias"
            )
        kernel = torch.from_numpy(np.ascontiguousarray(arrays[0].transpose(3, 2, 0, 1))).float()
        bias = torch.from_numpy(np.asarray(arrays[1])).float()
        if kernel.shape != mod.weight.shape or bias.shape != mod.bias.shape:
            raise CheckpointError(
                f"{path}: layer '{name}' kernel {tuple(arrays[0].shape)} does not fit {type(mod).__name__} "
                f"{tuple(mod.weight.shape)} (after the (3, 2, 0, 1) permutation); fix: check width/blind options"
            )
        state[mod] = (kernel, bias)
    with torch.no_grad():
        for mod, (kernel, bias) in state.items():
            mod.weight.copy_(kernel)
            mod.bias.copy_(bias)
    return model
