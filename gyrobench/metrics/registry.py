"""The metric registry: one entry point, ``create_metric(name, **protocol)`` (docs/conventions.md §7).

Pattern of pyiqa's ``create_metric``: each metric class declares ``name``, ``lower_better``,
``full_reference`` and ``citation`` so that evaluation and leaderboards never special-case a metric.

A metric instance is a callable ``metric(pred)`` (no-reference) or ``metric(pred, target)`` (full-reference) on
``(N, 3, H, W)`` float tensors in [0, 1], returning a float64 tensor ``(N,)`` of per-image scores.

**Colour space of the input.** Full-reference metrics default to the ``gyrodeblurnet_official`` protocol (linear
input). A no-reference metric (NIQE, TOPIQ) must be told what it is given, because the same tensor scores
differently as linear light and as display-encoded values (NIQE moves by up to 0.5): pass ``input_space=
"display"`` for display-encoded (sRGB) images such as photos and PNG files -- the convention of pyiqa, which
scores the tensor as given -- or ``input_space="linear"`` for linear-light model outputs (encoded to sRGB 8-bit
before scoring), or a ``protocol`` (which states it: ``display8`` = display input, the others = linear input).
``create_metric("niqe")`` with neither raises :class:`~gyrobench.errors.GyrobenchError` saying so
(``docs/metrics.md``, "Colour space of the input").
``metric.available`` is ``False`` (with ``metric.unavailable_reason``) for a metric that cannot run here
(TOPIQ without its weights); calling it then raises :class:`MetricUnavailable` rather than return a number.
"""

from __future__ import annotations

import abc
import importlib

import torch

from ..errors import GyrobenchError, ShapeError
from .protocols import Protocol, get_protocol

__all__ = ["Metric", "MetricUnavailable", "register_metric", "create_metric", "list_metrics", "INPUT_SPACES"]

_REGISTRY: dict[str, type] = {}
_MODULES = ("psnr", "ssim", "niqe", "topiq")


class MetricUnavailable(GyrobenchError):
    """The metric cannot be computed here (missing weights or optional package); the message says why."""


class Metric(abc.ABC):
    """Base class. Subclasses set the class attributes and implement :meth:`score` on encoded images."""

    name: str = ""
    lower_better: bool = False
    full_reference: bool = True
    citation: str = ""

    def __init__(self, protocol: str | Protocol | None = None, device=None, *, input_space: str | None = None,
                 **protocol_overrides):
        self.protocol = get_protocol(_resolve_protocol(self, protocol, input_space), **protocol_overrides)
        self.input_space = input_space or _space_of(self.protocol, self.full_reference)
        self.device = torch.device(device) if device is not None else None
        self.available = True
        self.unavailable_reason = ""

    # -- subclass API ------------------------------------------------------------------------------
    @abc.abstractmethod
    def score(self, pred8: torch.Tensor, target8: torch.Tensor | None) -> torch.Tensor:
        """Per-image scores ``(N,)`` from float64 integer-valued images in [0, 255] (each metric implements it)."""

    # -- public call ------------------------------------------------------------------------------
    def __call__(self, pred: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
        if not self.available:
            raise MetricUnavailable(f"metric '{self.name}' is unavailable: {self.unavailable_reason}")
        pred = _check_images(pred, "pred")
        if self.device is not None:
            pred = pred.to(self.device)
        if self.full_reference:
            if target is None:
                raise GyrobenchError(f"metric '{self.name}' is full-reference: call it as metric(pred, target)")
            target = _check_images(target, "target").to(pred.device)
            if target.shape != pred.shape:
                raise ShapeError(f"metric '{self.name}': pred {tuple(pred.shape)} and target "
                                 f"{tuple(target.shape)} differ; crop both to the same size")
            return self.score(self.protocol.encode_fr(pred), self.protocol.encode_fr(target))
        return self.score(self.protocol.encode_nr(pred), None)

    def info(self) -> dict:
        return {"name": self.name, "lower_better": self.lower_better, "full_reference": self.full_reference,
                "citation": self.citation, "available": self.available, "input_space": self.input_space,
                "unavailable_reason": self.unavailable_reason}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(protocol={self.protocol.name!r})"


INPUT_SPACES = ("linear", "display")


def _space_of(protocol: Protocol, full_reference: bool) -> str:
    """The input colour space a protocol implies for this kind of metric."""
    transfer = protocol.fr_transfer if full_reference else protocol.nr_transfer
    return "display" if transfer == "none" else "linear"


def _resolve_protocol(metric, protocol, input_space):
    """The protocol to use, from an explicit protocol and/or an explicit input colour space (module docstring)."""
    name = metric.name or type(metric).__name__
    if input_space is not None and input_space not in INPUT_SPACES:
        raise GyrobenchError(f"metric '{name}': input_space={input_space!r}; use 'linear' (linear-light images) or "
                             "'display' (display-encoded sRGB images, pyiqa's convention)")
    if protocol is None:
        if input_space is None:
            if metric.full_reference:
                return "gyrodeblurnet_official"
            raise GyrobenchError(
                f"metric '{name}' is no-reference and needs the colour space of its input: "
                f"create_metric('{name}', input_space='display') for display-encoded sRGB images (photos, PNG "
                f"files; pyiqa's convention) or input_space='linear' for linear-light model outputs (encoded to "
                "sRGB 8-bit before scoring); or pass protocol=")
        return "display8" if input_space == "display" else "srgb8"
    proto = get_protocol(protocol)
    if input_space is not None and _space_of(proto, metric.full_reference) != input_space:
        raise GyrobenchError(f"metric '{name}': protocol '{proto.name}' expects {_space_of(proto, metric.full_reference)} "
                             f"input but input_space='{input_space}'; choose protocol='display8' for display-encoded "
                             "images, or a linear protocol (srgb8, gyrodeblurnet_official) for linear light")
    return proto


def _check_images(x, what: str) -> torch.Tensor:
    if not torch.is_tensor(x):
        raise GyrobenchError(f"{what}: expected a torch tensor (N,3,H,W) in [0,1], got {type(x).__name__}")
    if x.ndim == 3:
        x = x.unsqueeze(0)
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ShapeError(f"{what}: expected (N,3,H,W) (CHW, channels first), got shape {tuple(x.shape)}")
    return x


def register_metric(cls):
    """Class decorator registering ``cls`` under ``cls.name``."""
    _REGISTRY[cls.name] = cls
    return cls


def _ensure_loaded() -> None:
    for mod in _MODULES:
        importlib.import_module(f"gyrobench.metrics.{mod}")


def list_metrics() -> dict[str, type]:
    """Registered metric classes by name."""
    _ensure_loaded()
    return dict(sorted(_REGISTRY.items()))


def create_metric(name: str, protocol: str | Protocol | None = None, device=None, *, input_space: str | None = None,
                  **options):
    """Build metric ``name`` (``psnr``, ``ssim``, ``niqe``, ``topiq_nr``) under ``protocol``.

    ``input_space``: ``"linear"`` or ``"display"``, the colour space of the tensors you will pass; required for
    no-reference metrics unless ``protocol`` is given (module docstring). Full-reference metrics default to
    ``gyrodeblurnet_official``. ``options`` are protocol field overrides (e.g. ``fr_quantize="round"``) or
    metric-specific options (e.g. ``weights=`` for ``topiq_nr``, ``params_path=`` for ``niqe``).
    """
    metrics = list_metrics()
    if name not in metrics:
        raise GyrobenchError(f"unknown metric '{name}'; available: {', '.join(metrics)}")
    return metrics[name](protocol=protocol, device=device, input_space=input_space, **options)
