"""Named evaluation protocols: how restored and ground-truth images become the 8-bit values that are scored.

docs/conventions.md §7 and spec ``gyrodeblurnet.md`` §6.2 (test.py) / §9.10. Every metric receives images as float
tensors ``(N, 3, H, W)``, **linear** RGB in [0, 1] (the library convention); the protocol says how they are
encoded before scoring. Every results record stores the protocol name and :meth:`Protocol.to_dict`.

Protocols
---------
``gyrodeblurnet_official``
    Full-reference metrics (PSNR, SSIM) on the *linear* values, ``clamp(0, 1) * 255`` **truncated** to uint8
    (test.py's ``ByteTensor`` cast), data range 255. No-reference metrics (NIQE, TOPIQ) on the display
    encoding of ``srgb8`` (assumption, spec §6.3: the paper's NR scores are taken to be on displayed images).
``srgb8``
    Linear -> sRGB (IEC 61966-2-1 piecewise curve), ``* 255`` **rounded** (half to even) to uint8, for every
    metric.
``display8``
    For images that are *already* display-encoded (sRGB PNGs, real photos): no transfer function, ``* 255``
    rounded. Used to score image files as they are (e.g. the NIQE calibration images).

Quantization detail: truncation is computed exactly as test.py does it, in **float32**:
``floor(clamp(float32(x), 0, 1) * 255)`` (the ByteTensor cast of a float32 tensor). Every 8-bit value stored
exactly (``float32(k / 255)``) maps back to ``k`` under this arithmetic (tested for all 256 values). Rounding
(``srgb8``, ``display8``) is computed in float64.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import torch

from ..color import linear_to_srgb
from ..errors import GyrobenchError

__all__ = ["Protocol", "PROTOCOLS", "get_protocol", "encode_8bit"]


@dataclasses.dataclass(frozen=True)
class Protocol:
    """How images are encoded before scoring.

    Attributes:
        name: protocol name recorded in every results row.
        fr_transfer: ``"linear"`` (score the linear values), ``"srgb"`` (apply the sRGB curve first) or
            ``"none"`` (input is already display-encoded) for full-reference metrics.
        fr_quantize: ``"truncate"`` or ``"round"`` when mapping ``[0, 1] * 255`` to integers.
        nr_transfer, nr_quantize: the same for no-reference metrics (NIQE, TOPIQ).
        data_range: peak value of the encoded images (255 for 8 bits).
        description: one line for tables and docs.
    """

    name: str
    fr_transfer: Literal["linear", "srgb", "none"]
    fr_quantize: Literal["truncate", "round"]
    nr_transfer: Literal["linear", "srgb", "none"] = "srgb"
    nr_quantize: Literal["truncate", "round"] = "round"
    data_range: float = 255.0
    description: str = ""

    def __post_init__(self):
        for field in ("fr_transfer", "nr_transfer"):
            if getattr(self, field) not in ("linear", "srgb", "none"):
                raise GyrobenchError(f"protocol '{self.name}': {field}={getattr(self, field)!r}; "
                                     "use 'linear', 'srgb' or 'none'")
        for field in ("fr_quantize", "nr_quantize"):
            if getattr(self, field) not in ("truncate", "round"):
                raise GyrobenchError(f"protocol '{self.name}': {field}={getattr(self, field)!r}; "
                                     "use 'truncate' or 'round'")

    def encode_fr(self, x: torch.Tensor) -> torch.Tensor:
        """Linear ``(N, C, H, W)`` in [0, 1] -> float64 integer-valued tensor in [0, 255] for PSNR/SSIM."""
        return encode_8bit(x, self.fr_transfer, self.fr_quantize)

    def encode_nr(self, x: torch.Tensor) -> torch.Tensor:
        """Linear ``(N, C, H, W)`` in [0, 1] -> float64 integer-valued tensor in [0, 255] for NIQE/TOPIQ."""
        return encode_8bit(x, self.nr_transfer, self.nr_quantize)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


PROTOCOLS: dict[str, Protocol] = {
    "gyrodeblurnet_official": Protocol(
        "gyrodeblurnet_official", "linear", "truncate", "srgb", "round",
        description="official test.py: linear x255 truncated to uint8 for PSNR/SSIM (skimage defaults); "
                    "NR metrics on sRGB x255 rounded"),
    "srgb8": Protocol(
        "srgb8", "srgb", "round", "srgb", "round",
        description="display encoding: linear -> sRGB, x255 rounded to uint8, for every metric"),
    "display8": Protocol(
        "display8", "none", "round", "none", "round",
        description="input already display-encoded (sRGB files): x255 rounded, no transfer function"),
}


def get_protocol(protocol: str | Protocol = "gyrodeblurnet_official", **overrides) -> Protocol:
    """The named protocol, optionally with fields overridden (e.g. ``fr_quantize="round"``)."""
    if isinstance(protocol, Protocol):
        base = protocol
    else:
        if protocol not in PROTOCOLS:
            raise GyrobenchError(f"unknown protocol '{protocol}'; choose one of {', '.join(PROTOCOLS)}")
        base = PROTOCOLS[protocol]
    if not overrides:
        return base
    known = {f.name for f in dataclasses.fields(Protocol)} - {"name"}
    bad = sorted(set(overrides) - known)
    if bad:
        raise GyrobenchError(f"unknown protocol option(s) {bad}; known: {sorted(known)}")
    return dataclasses.replace(base, **overrides)


def encode_8bit(x: torch.Tensor, transfer: str, quantize: str) -> torch.Tensor:
    """``(…)`` float in [0, 1] -> float64 tensor of integers 0..255 (see the module docstring).

    ``transfer``: ``"linear"``/``"none"`` (values as given) or ``"srgb"`` (linear -> sRGB first).
    ``quantize``: ``"truncate"`` (``floor``, in float32 like test.py) or ``"round"`` (half to even).
    """
    if not torch.is_tensor(x):
        raise GyrobenchError(f"expected a torch tensor, got {type(x).__name__}")
    x = x.detach()
    if quantize == "truncate" and transfer != "srgb":
        # test.py: float32 clamp * 255, truncated by the uint8 cast
        return torch.floor(x.to(torch.float32).clamp(0.0, 1.0) * 255.0).to(torch.float64)
    x = x.to(torch.float64).clamp(0.0, 1.0)
    if transfer == "srgb":
        x = linear_to_srgb(x).to(torch.float64).clamp(0.0, 1.0)
    y = x * 255.0
    y = torch.floor(y) if quantize == "truncate" else torch.round(y)
    return y.clamp(0.0, 255.0)
