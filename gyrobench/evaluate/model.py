"""The model of an evaluation: a gyrobench checkpoint, an official weights file, or a non-learned model by name
(``classical``, or ``identity``: the blurred input itself, the "blurred input" row of every table), and the motion
fields it was trained on.

Model sources: a gyrobench checkpoint (rebuilt by ``gyrobench.train.checkpoint.model_from_checkpoint``), an
official checkpoint (``official="gyrodeblurnet"|"nafnet"`` through ``gyrobench.models.load_official``), or a
non-learned model by name.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ..config import from_dict
from ..errors import GyrobenchError
from ..gyro.cmf import FieldSpec
from ..log import get_logger
from ..models import build, load_official
from ..models import info as model_info
from ..models.identity import BlurredInput
from ..provenance import sha256_file
from ..train.checkpoint import model_from_checkpoint

__all__ = ["BlurredInput", "build_eval_model", "model_field_spec"]

log = get_logger("evaluate")


def build_eval_model(checkpoint: str | Path | None, *, model: str | None = None, official: str | None = None,
                     model_options: dict | None = None, device: str = "cpu"):
    """``(model in eval mode, info dict)`` from a checkpoint, an official file or a non-learned name."""
    opts = dict(model_options or {})
    info: dict = {"checkpoint": None, "checkpoint_sha256": None, "train": None, "source": None}
    if official:
        if checkpoint is None:
            raise GyrobenchError(f"--official {official} needs --checkpoint PATH (the official weights file)")
        net = load_official(official, checkpoint, **opts)
        info.update(source="official", checkpoint=str(checkpoint), checkpoint_sha256=sha256_file(checkpoint))
    elif checkpoint is not None:
        if model and model != "identity":
            log.info("--model %s ignored: the checkpoint names its model", model)
        net, ckpt = model_from_checkpoint(checkpoint, map_location=device)
        train = {"step": ckpt.get("step"), "git_commit": ckpt.get("git_commit")}
        if isinstance(ckpt.get("data"), dict):  # the training data's manifest/recipe hashes
            train["data"] = ckpt["data"]
        cfg = ckpt.get("config")
        if isinstance(cfg, dict):
            train["config"] = cfg
        info.update(source="checkpoint", checkpoint=str(checkpoint), checkpoint_sha256=sha256_file(checkpoint),
                    train=train)
    elif model == "identity":
        net = BlurredInput()
        info.update(source="identity")
    elif model:
        meta = model_info(model)
        if meta.learned:
            raise GyrobenchError(f"model '{model}' is learned: give --checkpoint PATH (a gyrobench checkpoint, or "
                                 f"an official file with --official {model})")
        net = build(model, **opts)
        info.update(source="non-learned")
    else:
        raise GyrobenchError("nothing to evaluate: give --checkpoint PATH, or --model classical|identity")
    net = net.to(device).eval()
    return net, info


def model_field_spec(net, info: dict) -> FieldSpec | None:
    """The motion fields the model was trained on: the checkpoint config's ``data.motion_field`` with the model's
    ``M`` (segments; GyroDeblurNet) where it has one; ``None`` (the dataset's own fields) when neither is known.
    Checkpoints written before ``motion_field`` existed carry ``data.cmf_options`` (camera_motion_field keywords)."""
    where = f"{info['checkpoint']}: field 'config.data"
    cfg = (info.get("train") or {}).get("config")
    data = cfg.get("data") if isinstance(cfg, dict) else None
    spec = None
    if isinstance(data, dict) and data.get("motion_field") is not None:
        spec = from_dict(FieldSpec, data["motion_field"], source=str(info["checkpoint"]),
                         prefix="config.data.motion_field")
    elif isinstance(data, dict) and data.get("cmf_options"):
        legacy = data["cmf_options"]
        if not isinstance(legacy, dict):
            raise GyrobenchError(f"{where}.cmf_options' is {type(legacy).__name__}, expected a mapping; "
                                 "re-save the checkpoint")
        renamed = {"interp": "interpolation"}
        spec = from_dict(FieldSpec, {renamed.get(k, k): v for k, v in legacy.items()},
                         source=str(info["checkpoint"]), prefix="config.data.cmf_options")
    M = getattr(net, "M", None)
    if isinstance(M, int) and not isinstance(M, bool):
        spec = dataclasses.replace(spec or FieldSpec(), M=M)
    return spec
