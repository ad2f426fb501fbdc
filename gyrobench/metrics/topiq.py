"""TOPIQ (``topiq_nr``, no-reference, higher is better) through pyiqa, with local weights only.

Chen et al., "TOPIQ: A Top-down Approach from Semantics to Distortions for Image Quality Assessment",
IEEE TIP 2024; implementation: pyiqa (IQA-PyTorch, licence CC BY-NC-SA 4.0, optional extra ``gyrobench[iqa]``).

Weights are **never downloaded**. The metric looks for pyiqa's CFANet KonIQ checkpoint
``cfanet_nr_koniq_res50-9a73138b.pth`` (which holds the ResNet-50 backbone as well, so the network is built
with ``pretrained=False, backbone_pretrain=False`` and the file is loaded here with ``weights_only=True``) in, in order: the ``weights=`` option (a file or a folder),
``$GYROBENCH_TOPIQ_WEIGHTS`` (file or folder), ``$GYROBENCH_WEIGHTS_DIR``, and pyiqa's cache folder
(``~/.cache/torch/hub/pyiqa``). Without pyiqa or without the file, ``create_metric("topiq_nr")`` still
constructs, with ``available = False`` and ``unavailable_reason`` naming what is missing and where it was looked
for; calling it raises :class:`~gyrobench.metrics.registry.MetricUnavailable` (evaluation records the metric
under ``unavailable``, never as a number).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import torch

from .registry import Metric, register_metric

__all__ = ["TOPIQ_NR", "EXPECTED_FILES", "find_weights"]

EXPECTED_FILES = ("cfanet_nr_koniq_res50-9a73138b.pth",)


def _candidates(weights: str | os.PathLike | None) -> list[Path]:
    out = []
    for raw in (weights, os.environ.get("GYROBENCH_TOPIQ_WEIGHTS"), os.environ.get("GYROBENCH_WEIGHTS_DIR")):
        if raw:
            out.append(Path(raw).expanduser())
    out.append(Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch")) / "hub" / "pyiqa")
    return out


def find_weights(weights: str | os.PathLike | None = None) -> tuple[Path | None, list[Path]]:
    """``(path of the checkpoint or None, places searched)``."""
    searched = _candidates(weights)
    for c in searched:
        if c.is_file():
            return c, searched
        for name in EXPECTED_FILES:
            if (c / name).is_file():
                return c / name, searched
    return None, searched


@register_metric
class TOPIQ_NR(Metric):
    """TOPIQ no-reference score (KonIQ-trained CFANet, ResNet-50), higher is better."""

    name = "topiq_nr"
    lower_better = False
    full_reference = False
    citation = ("Chen, Wu, Liao, Hou, Sun, Yan, Lin, 'TOPIQ: A Top-down Approach from Semantics to "
                "Distortions for Image Quality Assessment', IEEE TIP 2024 (pyiqa implementation)")

    def __init__(self, protocol=None, device=None, weights=None, **overrides):
        super().__init__(protocol, device, **overrides)
        self._net = None
        path, searched = find_weights(weights)
        self.weights_path = path
        where = ", ".join(str(s) for s in searched)
        if importlib.util.find_spec("pyiqa") is None:
            self.available = False
            self.unavailable_reason = ("pyiqa is not installed (optional extra: pip install 'gyrobench[iqa]' in "
                                       f"a separate environment); it also needs {', '.join(EXPECTED_FILES)} "
                                       f"(searched: {where})")
        elif path is None:
            self.available = False
            self.unavailable_reason = (f"weights not found: expected {', '.join(EXPECTED_FILES)} (searched: "
                                       f"{where}); set GYROBENCH_TOPIQ_WEIGHTS to the file or pass weights=; "
                                       "gyrobench never downloads weights")

    def _build(self):
        """pyiqa's CFANet built with no pretrained anything, then our weights loaded with ``weights_only=True``
        (pyiqa's own loader uses ``weights_only=False``, which gyrobench never does)."""
        if self._net is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # any missing file must fail, not download
            import pyiqa

            from ..errors import CheckpointError

            net = pyiqa.create_metric("topiq_nr", as_loss=False, device=self.device or "cpu", pretrained=False,
                                      pretrained_model_path=None, backbone_pretrain=False)
            try:
                sd = torch.load(self.weights_path, map_location="cpu", weights_only=True)
            except Exception as exc:  # noqa: BLE001 - any failure: refuse with the reason
                raise CheckpointError(f"{self.weights_path}: cannot load TOPIQ weights with weights_only=True "
                                      f"({type(exc).__name__}: {str(exc)[:160]})") from exc
            sd = sd.get("params", sd) if isinstance(sd, dict) else sd
            try:
                net.net.load_state_dict(sd, strict=True)
            except RuntimeError as exc:
                raise CheckpointError(f"{self.weights_path}: not a CFANet topiq_nr (KonIQ, ResNet-50) checkpoint: "
                                      f"{str(exc).splitlines()[0]}") from exc
            net.eval()
            self._net = net
        return self._net

    def score(self, pred8, target8=None):
        net = self._build()
        with torch.no_grad():
            out = net((pred8 / 255.0).to(torch.float32))
        return out.reshape(-1).to("cpu", torch.float64)
