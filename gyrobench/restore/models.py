"""The restorer for real captures: a gyrobench checkpoint, or a non-learned model by name (``classical``).

Returns the model in eval mode, provenance (source, checkpoint path and sha256) and the camera-motion-field
options the model expects (the checkpoint config's ``data.cmf_options`` plus the model's segment count ``M``).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import CheckpointError, GyrobenchError
from ..models import build
from ..models import info as model_info
from ..provenance import sha256_file
from ..train.checkpoint import model_from_checkpoint

__all__ = ["load_restorer", "FIELD_OPTION_KEYS"]

#: camera-motion-field options a checkpoint may carry (``data.cmf_options``) that captures honour
FIELD_OPTION_KEYS = ("M", "interp", "anchor", "rotation")


def load_restorer(checkpoint: str | Path | None, *, model: str | None = None, model_options: dict | None = None,
                  device: str = "cpu"):
    """``(net, info, field_options)``; ``checkpoint`` wins over ``model``."""
    info = {"source": None, "checkpoint": None, "checkpoint_sha256": None}
    field: dict = {}
    if checkpoint is not None:
        path = Path(checkpoint)
        if not path.is_file():
            raise CheckpointError(f"{path}: checkpoint not found; give the path of a .pt file written by "
                                  "'gyrobench train'")
        net, ckpt = model_from_checkpoint(path, map_location=device)
        cfg = ckpt.get("config") if isinstance(ckpt.get("config"), dict) else {}
        extra = (cfg.get("data") or {}).get("cmf_options") or {}
        field.update({k: v for k, v in extra.items() if k in FIELD_OPTION_KEYS})
        info.update(source="checkpoint", checkpoint=str(path), checkpoint_sha256=sha256_file(path))
    elif model:
        meta = model_info(model)
        if meta.learned:
            raise GyrobenchError(f"model '{model}' is learned: give --checkpoint PATH (a gyrobench checkpoint)")
        net = build(model, **dict(model_options or {}))
        info.update(source="non-learned")
    else:
        raise GyrobenchError("nothing to run: give --checkpoint PATH or --model classical")
    M = getattr(net, "M", None)
    if isinstance(M, int) and not isinstance(M, bool):
        field["M"] = M
    return net.to(device).eval(), info, field
