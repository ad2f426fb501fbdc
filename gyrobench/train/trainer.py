"""The training loop behind ``gyrobench train CONFIG [--resume] [--out DIR]`` (spec ``gyrodeblurnet.md`` §6.1).

Per optimizer step:

1. a batch from :class:`~gyrobench.data.dataset.ShardDataset` (random stride-aligned crops, fields recomputed
   from the stored gyro) through a :class:`~gyrobench.train.ddp.ResumableDistributedSampler`;
2. on the training device, the on-the-fly degradation ``Degradation(preset)`` of the blurred batch, one draw per
   batch from a generator seeded by ``(seed, step, rank)`` (spec §6.1; the official code draws identically on
   every GPU — here each process draws its own, see ``docs/training.md``);
3. ``batch["alpha"]`` = the §4 curriculum (per epoch when the run is given in epochs, else per step);
4. ``model(batch)`` (optionally under bf16 autocast), PSNR loss (§6.1), optional gradient-norm clipping, Adam
   (AdamW with ``weight_decay``), cosine LR to ``lr_min``.

Everything random is a function of the config seed and the step, so ``--resume`` from a checkpoint continues
bit-identically on CPU (tested). The run folder holds ``config.yaml`` (the exact config), ``run.json`` (git
commit, versions, machine, command), ``metrics.jsonl`` (one line per logged step; ``train_s``: seconds since
this ``fit`` call began, checkpoint writes excluded), ``checkpoints/last.pt`` (+ ``step-<step, 7 digits>.pt``
with ``keep_checkpoints``), ``tb/`` (TensorBoard, when installed).
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import from_dict, to_dict
from ..errors import CheckpointError, RecipeError, TrainingError
from ..io import write_text_atomic
from ..log import get_logger, progress
from ..models.dcn import dcn_backends
from ..models.health import deform_layers, probe
from . import ddp
from .checkpoint import capture_rng, load_checkpoint, restore_rng, save_checkpoint
from .config import TrainConfig
from .curriculum import curriculum_alpha
from .loss import batch_psnr, psnr_loss

__all__ = ["train", "Trainer"]

log = get_logger("train")

_TENSOR_KEYS = ("blurred", "sharp", "sat_mask", "cmf_clean", "cmf_noisy")
_SHUFFLE_KEY = 0x5348_5546  # "SHUF": the field-shuffle draw of a step is independent of its degradation draw


def shuffle_fields(batch: dict, fraction: float, seed: int) -> dict:
    """``gyro_shuffle``: a copy of ``batch`` in which each sample, with probability ``fraction``, gets another
    sample's fields (``cmf_clean`` and ``cmf_noisy`` together; images untouched). The chosen samples are deranged
    among themselves (a cyclic shift of their indices); a lone chosen sample takes a random other sample's field.
    Deterministic in ``seed``; batches of one sample are returned unchanged."""
    n = batch["blurred"].shape[0]
    if n < 2 or not any(k in batch for k in ("cmf_clean", "cmf_noisy")):
        return batch
    g = torch.Generator().manual_seed(int(seed))
    chosen = torch.nonzero(torch.rand(n, generator=g) < fraction).flatten()
    idx = torch.arange(n)
    if chosen.numel() >= 2:
        idx[chosen] = chosen.roll(1)
    elif chosen.numel() == 1:
        other = int(torch.randint(0, n - 1, (1,), generator=g))
        idx[chosen] = other + (other >= int(chosen))
    else:
        return batch
    out = dict(batch)
    for k in ("cmf_clean", "cmf_noisy"):
        if k in out:
            out[k] = out[k][idx.to(out[k].device)]
    return out


def _to_srgb(x: torch.Tensor) -> torch.Tensor:
    """Display encoding for TensorBoard images (:func:`gyrobench.color.linear_to_srgb`)."""
    from ..color import linear_to_srgb

    return linear_to_srgb(x.clamp(0, 1))


def _linear_degradation(preset: str):
    """``Degradation(preset)`` with linear output, as the linear targets and metrics need (docs/conventions.md §1).

    The RSBlur presets end in sRGB (B10) or the A7R3 CRF (B12); the trainer compares the degraded input with the
    linear ``sharp`` target, so those presets are built with ``domain="linear", crf="none"`` (the same pipeline
    without the final encoding). A preset that still does not give linear output is refused.
    """
    from ..synth.degrade import Degradation
    from ..synth.presets import get_preset

    try:
        params = get_preset(preset)
    except RecipeError as exc:
        raise RecipeError(f"degradation={preset!r}: {exc}") from exc
    if params.domain != "linear" or params.crf != "none":
        log.info("degradation %s: output domain %r%s -> linear (domain='linear', crf='none'), since the training "
                 "targets are linear", preset, params.domain, ", A7R3 CRF" if params.crf != "none" else "")
        params = params.replace(domain="linear", crf="none")
    deg = Degradation(params)
    if deg.output_transfer != "linear":
        raise RecipeError(f"degradation={preset!r}: output transfer is {deg.output_transfer!r}, but the training "
                          "targets are linear; choose a linear preset (e.g. gyrodeblurnet_official) or null")
    return deg


def param_groups(model: torch.nn.Module, lr: float, lr_mult: dict[str, float]) -> list[dict]:
    """Adam parameter groups: ``lr × mult`` for the parameters whose name contains a key of ``lr_mult`` (the
    longest matching key wins, as in mmengine's ``paramwise_cfg.custom_keys``), ``lr`` for the others.

    Raises :class:`RecipeError` when a key matches no parameter (a typo would otherwise train at the full rate)."""
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    keys = sorted(lr_mult, key=len, reverse=True)
    unused = [k for k in keys if not any(k in n for n in names)]
    if unused:
        raise RecipeError(f"schedule.lr_mult: key(s) {', '.join(map(repr, unused))} match no parameter name of "
                          f"this model; names look like {names[0]!r}, ..., {names[-1]!r}")
    groups: dict[str, list] = {}
    for n, p in model.named_parameters():
        if p.requires_grad:
            groups.setdefault(next((k for k in keys if k in n), ""), []).append(p)
    return [{"params": ps, "lr": lr * (lr_mult[k] if k else 1.0), "lr_mult_key": k} for k, ps in groups.items()]


def _health_scalars(h) -> dict[str, float]:
    """The per-layer numbers logged in ``metrics.jsonl`` (``deform``) and TensorBoard (``deform/<layer>/<key>``)."""
    return {"offset_mean_px": h.offset_mean_px, "offset_max_px": h.offset_max_px, "inside": h.inside,
            "mask_mean": h.mask_mean, "live": h.live, "output_abs": h.output_abs, "output_rel": h.output_rel}


def _optimizer(model, s) -> torch.optim.Optimizer:
    """Adam (the official optimizer) with the schedule's betas; AdamW when ``weight_decay > 0``; parameter groups
    when ``lr_mult`` is given (:func:`param_groups`; without it, one group: the official optimizer)."""
    params = param_groups(model, s.lr, s.lr_mult) if s.lr_mult else model.parameters()
    if s.weight_decay > 0:
        return torch.optim.AdamW(params, lr=s.lr, betas=s.betas, weight_decay=s.weight_decay)
    return torch.optim.Adam(params, lr=s.lr, betas=s.betas)


def _scheduler(optimizer, s, total_steps: int):
    """Cosine from ``lr`` to ``lr_min`` over the run (spec §6.1), after ``warmup_steps`` of linear warm-up."""
    if not s.warmup_steps:
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps, eta_min=s.lr_min)
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total_steps - s.warmup_steps),
                                                        eta_min=s.lr_min)
    warm = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=1.0 / s.warmup_steps, end_factor=1.0,
                                             total_iters=s.warmup_steps)
    return torch.optim.lr_scheduler.SequentialLR(optimizer, [warm, cosine], milestones=[s.warmup_steps])


class Trainer:
    """One training run. ``Trainer(cfg, out_dir).fit(resume=...)``; see the module docstring."""

    def __init__(self, cfg: TrainConfig, out_dir: str | Path, *, config_text: str | None = None,
                 dist_info: ddp.DistInfo | None = None, show_progress: bool | None = None):
        self.cfg = cfg
        self.out = Path(out_dir)
        self.config_text = config_text
        self.dist = dist_info or ddp.setup(cfg.device)
        self.device = self.dist.device
        self.show_progress = show_progress
        world = self.dist.world_size
        if cfg.schedule.batch_size % world:
            raise RecipeError(f"schedule.batch_size={cfg.schedule.batch_size} is not divisible by the {world} "
                              "DDP processes; make it a multiple")
        self.batch_per_rank = cfg.schedule.batch_size // world

        from ..data.dataset import ShardDataset
        from ..models import build, info

        self.model_info = info(cfg.model.name)
        s = cfg.schedule
        if cfg.data.online is not None:  # fresh samples rendered at crop size (gyrobench.builder.onthefly)
            from ..builder.onthefly import OnTheFlyDataset

            if s.steps is None and cfg.data.online.size is None:
                raise RecipeError("data.online: a run given in epochs needs data.online.size (samples per epoch)")
            spec = cfg.data.motion_field
            if spec is not None and spec != type(spec)(M=spec.M):
                raise RecipeError(f"data.motion_field={spec}: on-the-fly synthesis computes the official field "
                                  "and takes only M from data.motion_field; drop the other keys")
            self.dataset = OnTheFlyDataset(cfg.data.online, crop=cfg.data.crop, seed=cfg.seed,
                                           size=(s.steps or 0) * s.batch_size, fields=self.model_info.uses_gyro,
                                           segments=spec.M if spec is not None else None)
        else:
            self.dataset = ShardDataset(cfg.data.root, split=cfg.data.split, crop=cfg.data.crop, seed=cfg.seed,
                                        verify=cfg.data.verify, fields=self.model_info.uses_gyro,
                                        field=cfg.data.motion_field)
        self.sampler = ddp.ResumableDistributedSampler(self.dataset, num_replicas=world, rank=self.dist.rank,
                                                       seed=cfg.seed)
        self.steps_per_epoch = len(self.dataset) // world // self.batch_per_rank
        if self.steps_per_epoch == 0:
            raise RecipeError(f"data.root={cfg.data.root}: {len(self.dataset)} samples are fewer than one batch of "
                              f"{cfg.schedule.batch_size}; lower schedule.batch_size or synthesize more samples")
        self.total_steps = s.steps if s.steps is not None else s.epochs * self.steps_per_epoch

        torch.manual_seed(cfg.seed)  # identical initial weights on every rank and every run
        model = build(cfg.model.name, **cfg.model.options).to(self.device)
        self.model = model
        if not any(p.requires_grad for p in model.parameters()):
            raise RecipeError(f"model.name={cfg.model.name}: has no trainable parameters; it cannot be trained "
                              "(evaluate it directly with 'gyrobench eval')")
        self.net = model
        if self.dist.distributed:
            kw = {"device_ids": [self.device.index]} if self.device.type == "cuda" else {}
            self.net = torch.nn.parallel.DistributedDataParallel(
                model, find_unused_parameters=cfg.find_unused_parameters, **kw)
        self.optimizer = _optimizer(model, s)
        self.scheduler = _scheduler(self.optimizer, s, self.total_steps)
        self._check_split_degradation()
        self.degrade = None
        if cfg.degradation:
            self.degrade = _linear_degradation(cfg.degradation).to(self.device)
        self.step = 0
        self._tb = None
        self.has_deform = bool(deform_layers(model))
        self.health: list = []
        self._dead_warned: set[str] = set()

    def _check_split_degradation(self) -> None:
        """Refuse to degrade an ``offline`` split twice; warn when the preset differs from the recorded one."""
        from ..data.manifest import manifest_path, read_manifest
        from ..provenance import sha256_file
        from ..synth.presets import PRESETS

        cfg = self.cfg
        if cfg.data.online is not None:
            self.data_provenance = {"online": to_dict(cfg.data.online), "recipe_sha256": self.dataset.recipe.sha256,
                                    "gyro_split": self.dataset.gyro_split.name}
            return
        man = read_manifest(self.dataset.data_dir)
        path = manifest_path(self.dataset.data_dir)
        self.data_provenance = {"dataset": str(self.dataset.data_dir), "split": cfg.data.split,
                                "dataset_manifest_sha256": sha256_file(path),
                                "recipe_sha256": man.get("recipe_sha256")}
        splits = man.get("splits") or {}
        names = [cfg.data.split] if cfg.data.split is not None else sorted(splits)
        for name in names:
            info = splits.get(name)
            if not isinstance(info, dict):
                continue
            kind, preset = info.get("degradation"), info.get("preset")
            if kind == "offline" and cfg.degradation:
                raise RecipeError(f"degradation={cfg.degradation!r}: split '{name}' of {path} is already degraded "
                                  f"(splits.{name}.degradation = offline, preset {preset!r}); set 'degradation: null' "
                                  "or train on an on_the_fly split")
            if kind != "offline" and cfg.degradation and preset in PRESETS and preset != cfg.degradation:
                log.warning("degradation=%r differs from the preset %r recorded for split '%s' in %s", cfg.degradation,
                            preset, name, path)

    # ------------------------------------------------------------------ helpers
    def alpha(self, step: int) -> float:
        """The α of the clean/noisy field mix at 0-based ``step`` (§4): ``train_alpha`` when set, else the
        curriculum, else 1 (the noisy field, as at test time)."""
        if self.cfg.train_alpha is not None:
            return float(self.cfg.train_alpha)
        if not self.cfg.curriculum:
            return 1.0
        if self.cfg.schedule.epochs is not None:
            return curriculum_alpha(step // self.steps_per_epoch, self.cfg.schedule.epochs)
        return curriculum_alpha(step, self.total_steps)

    def _degradation_seed(self, step: int) -> int:
        """Seed of the degradation draw of ``step`` on this rank (an int: independent of the device)."""
        return int(np.random.SeedSequence([self.cfg.seed, step, self.dist.rank]).generate_state(1)[0])

    def _loader(self, epoch: int, start_batch: int):
        self.sampler.set_epoch(epoch)
        self.sampler.set_start(start_batch * self.batch_per_rank)
        self.dataset.set_epoch(epoch)
        from ..data.dataset import collate

        workers = self.cfg.data.workers
        kw: dict[str, Any] = {}
        if workers > 0 and self.cfg.data.multiprocessing_context:
            kw["multiprocessing_context"] = self.cfg.data.multiprocessing_context
        return torch.utils.data.DataLoader(self.dataset, batch_size=self.batch_per_rank, sampler=self.sampler,
                                           num_workers=workers, collate_fn=collate, drop_last=True,
                                           pin_memory=self.device.type == "cuda", **kw)

    def state(self) -> dict:
        """The checkpoint dict of docs/conventions.md §4 at the current step."""
        from ..provenance import git_commit, versions

        return {
            "model": self.cfg.model.name,
            "options": dict(getattr(self.model, "options", self.cfg.model.options)),
            "state_dict": self.model.state_dict(),
            "step": self.step,
            "epoch": self.step // self.steps_per_epoch,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": capture_rng(),
            "config": to_dict(self.cfg),
            "git_commit": git_commit(),
            "versions": versions(),
            "train": {"total_steps": self.total_steps, "world_size": self.dist.world_size,
                      "steps_per_epoch": self.steps_per_epoch, "samples": len(self.dataset),
                      "dcn_backend": dcn_backends(self.model)},
            "data": dict(self.data_provenance),
        }

    def save(self, final: bool = False) -> Path | None:
        if not self.dist.is_main:
            return None
        ckdir = self.out / "checkpoints"
        path = save_checkpoint(ckdir / "last.pt", **self.state())
        if self.cfg.logging.keep_checkpoints:
            save_checkpoint(ckdir / f"step-{self.step:07d}.pt", **self.state())
        return path

    def load(self, path: str | Path) -> None:
        """Restore the state of checkpoint ``path`` after checking that it belongs to this config.

        Refused (:class:`CheckpointError`, listing every difference): another model or options, another dataset
        (by manifest sha256, so a moved folder is fine), any config key outside
        :data:`~gyrobench.train.config.RESUME_MAY_CHANGE`, and a run length below the checkpoint's step.
        """
        from ..models.registry import canonical_options
        from .config import resume_differences

        ckpt = load_checkpoint(path, map_location=self.device)
        if ckpt["model"] != self.cfg.model.name or canonical_options(ckpt["model"], ckpt["options"]) != \
                canonical_options(self.cfg.model.name, self.cfg.model.options):
            raise CheckpointError(f"{path}: field 'model'/'options' ({ckpt['model']}, {ckpt['options']}) differ from "
                                  f"the config ({self.cfg.model.name}, {self.cfg.model.options}); resume with the "
                                  "config the run started with")
        diffs = resume_differences(ckpt.get("config") or {}, to_dict(self.cfg))
        saved_data = (ckpt.get("data") or {}).get("dataset_manifest_sha256")
        now_data = self.data_provenance.get("dataset_manifest_sha256")
        if saved_data and now_data and saved_data != now_data:
            diffs.append(f"data: dataset manifest sha256 {saved_data[:12]}... -> {now_data[:12]}... (another "
                         f"dataset at {self.cfg.data.root})")
        if diffs:
            raise CheckpointError(
                f"{path}: --resume with a config that differs from the checkpoint's in what sets the training "
                f"trajectory ({'; '.join(diffs)}); resume with the run's own config (config.yaml beside the "
                "checkpoints; only steps/epochs, max_seconds, data location and loaders, device and logging may "
                "change), or train into a new --out")
        step = int(ckpt["step"])
        if step > self.total_steps:
            raise CheckpointError(f"{path}: the checkpoint is at step {step}, beyond the run length of "
                                  f"{self.total_steps} steps; give --steps {step} or more to extend the run (a run "
                                  "cannot be shortened; train into a new --out for a shorter one)")
        self.model.load_state_dict(ckpt["state_dict"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        if getattr(self.scheduler, "T_max", self.total_steps) != self.total_steps:  # the run was extended
            log.warning("resume: cosine schedule length %d -> %d steps", self.scheduler.T_max, self.total_steps)
            self.scheduler.T_max = self.total_steps
        restore_rng(ckpt["rng"])
        self.step = step
        log.info("resumed from %s at step %d/%d", path, self.step, self.total_steps)

    def _claim_out_dir(self, resume: bool | str | Path, overwrite: bool) -> None:
        """A run folder belongs to one run: without ``resume`` a folder that already holds a checkpoint is refused
        (or, with ``overwrite``, moved aside and deleted before anything new is written, never mixed)."""
        last = self.out / "checkpoints" / "last.pt"
        own = resume is True or (resume and Path(resume).resolve() == last.resolve())
        if own or not last.exists():
            return
        if not overwrite:
            what = "a finished run" if self._finished(last) else "an unfinished run"
            how = "continue it with --resume" if not resume else "resume from its own last.pt"
            raise CheckpointError(f"{self.out}: already holds {what} ({last}); {how}, pass --overwrite to replace "
                                  "it, or choose a new --out")
        if self.dist.is_main:
            from ..folders import remove_owned

            log.warning("train: --overwrite: removing the earlier run in %s", self.out)
            remove_owned(self.out, "run")  # only what training made (gyrobench.folders); other files stay
        ddp.barrier()

    @staticmethod
    def _finished(last: Path) -> bool:
        try:
            ck = load_checkpoint(last)
        except CheckpointError:
            return False
        return int(ck.get("step", -1)) >= int((ck.get("train") or {}).get("total_steps", 1 << 62))

    def _trim_metrics(self) -> None:
        """On resume at step S, drop the ``metrics.jsonl`` lines after S (logged after the checkpoint by a run
        that was then killed) and any partly written last line, so the resumed run appends without duplicates."""
        path = self.out / "metrics.jsonl"
        if not self.dist.is_main or not path.is_file():
            return
        keep, dropped = [], 0
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
                ok = isinstance(rec, dict) and int(rec["step"]) <= self.step
            except (ValueError, KeyError, TypeError):
                ok = False
            if ok:
                keep.append(line)
            else:
                dropped += 1
        if dropped:
            log.info("resume: dropped %d line(s) of %s logged after step %d", dropped, path, self.step)
            write_text_atomic(path, "".join(f"{x}\n" for x in keep))

    def _write_run_files(self, resume: bool) -> None:
        if not self.dist.is_main:
            return
        import yaml

        from ..provenance import git_commit, machine, versions

        self.out.mkdir(parents=True, exist_ok=True)
        name = "config.yaml" if not resume else "config.resume.yaml"
        text = self.config_text if self.config_text is not None else yaml.safe_dump(to_dict(self.cfg),
                                                                                    sort_keys=False)
        write_text_atomic(self.out / name, text)
        write_text_atomic(self.out / "config.resolved.json", json.dumps(to_dict(self.cfg), indent=2))
        run = {"command": " ".join(sys.argv), "git_commit": git_commit(), "versions": versions(),
               "machine": machine(), "world_size": self.dist.world_size, "total_steps": self.total_steps,
               "steps_per_epoch": self.steps_per_epoch, "samples": len(self.dataset), "data": self.data_provenance,
               "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        write_text_atomic(self.out / ("run.json" if not resume else f"run.resume-{self.step}.json"),
                          json.dumps(run, indent=2))

    def _tensorboard(self):
        if self._tb is None and self.cfg.logging.tensorboard and self.dist.is_main:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                log.info("tensorboard not installed: no TensorBoard logs (pip install tensorboard)")
                self.cfg = replace(self.cfg, logging=replace(self.cfg.logging, tensorboard=False))
                return None
            # purge_step: a resumed run drops the events a killed run logged after its checkpoint
            self._tb = SummaryWriter(log_dir=str(self.out / "tb"), purge_step=self.step or None)
        return self._tb

    # ------------------------------------------------------------------ loop
    def train_step(self, batch: dict, health: bool = False) -> tuple[float, float]:
        """One optimizer step on ``batch``; ``health``: measure the deformable layers during its forward
        (``self.health``, :mod:`gyrobench.models.health`)."""
        dev = self.device
        batch = {k: (v.to(dev, non_blocking=True) if k in _TENSOR_KEYS else v) for k, v in batch.items()}
        if self.degrade is not None:
            degraded, _ = self.degrade(batch["blurred"], sat_mask=batch.get("sat_mask"),
                                       generator=self._degradation_seed(self.step))
            batch["blurred"] = degraded
        batch["alpha"] = self.alpha(self.step)
        if self.cfg.gyro_shuffle > 0:
            batch = shuffle_fields(batch, self.cfg.gyro_shuffle, self._degradation_seed(self.step) ^ _SHUFFLE_KEY)
        self.net.train()
        with (torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=self.cfg.amp),
              probe(self.net) if health else contextlib.nullcontext() as p):
            pred = self.net(batch)
        if health:
            self.health = p.report()
        loss = psnr_loss(pred.float(), batch["sharp"])
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.schedule.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.cfg.schedule.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        self._last = (batch, pred)
        self.input_psnr = batch_psnr(batch["blurred"], batch["sharp"])  # the batch's input: gain = psnr - this
        return float(loss.detach()), batch_psnr(pred, batch["sharp"])

    def fit(self, resume: bool | str | Path = False, overwrite: bool = False) -> dict:
        """Train to ``total_steps``; returns a summary (final checkpoint path, last loss, steps, timings).

        ``resume``: ``True`` (this run folder's ``checkpoints/last.pt``) or a checkpoint path. ``overwrite``:
        replace a run already in the folder (without it, such a folder is refused)."""
        self._claim_out_dir(resume, overwrite)
        if resume:
            path = self.out / "checkpoints" / "last.pt" if resume is True else Path(resume)
            self.load(path)
            if self.step >= self.total_steps:
                log.info("train %s: %s is already at step %d of %d; nothing to do (give --steps N to extend the "
                         "run)", self.cfg.name, path, self.step, self.total_steps)
                return {"checkpoint": str(path), "steps": self.step, "first_loss": None, "stopped_by_time": False,
                        "last_loss": math.nan, "last_psnr": math.nan, "seconds": 0.0,
                        "total_steps": self.total_steps}
            self._trim_metrics()
        elif self.dist.is_main and (self.out / "metrics.jsonl").exists():
            (self.out / "metrics.jsonl").unlink()  # left by a run killed before its first checkpoint
        self._write_run_files(bool(resume))
        main = self.dist.is_main
        metrics_path = self.out / "metrics.jsonl"
        log_every = max(1, self.cfg.logging.log_every)
        bar = progress(total=self.total_steps, initial=self.step, desc=f"train {self.cfg.name}",
                       disable=(None if main else True) if self.show_progress is None
                       else not (self.show_progress and main))
        t_start = time.perf_counter()
        save_s = 0.0  # checkpoint writes are not training time (train_s in metrics.jsonl)
        start_step, first_loss, loss, psnr = self.step, None, math.nan, math.nan
        window_t, window_n = time.perf_counter(), 0
        while self.step < self.total_steps:
            epoch, pos = divmod(self.step, self.steps_per_epoch)
            for batch in self._loader(epoch, pos):
                log_now = (self.step + 1) % log_every == 0 or self.step + 1 == self.total_steps
                loss, psnr = self.train_step(batch, health=log_now and self.has_deform)
                if not math.isfinite(loss):
                    raise TrainingError(f"step {self.step}: loss is {loss}; lower schedule.lr or check the data")
                first_loss = loss if first_loss is None else first_loss
                self.step += 1
                window_n += self.batch_per_rank * self.dist.world_size
                bar.update(1)
                if self.step % log_every == 0 or self.step == self.total_steps:
                    rate = window_n / max(1e-9, time.perf_counter() - window_t)
                    window_t, window_n = time.perf_counter(), 0
                    lr = self.scheduler.get_last_lr()[0]
                    bar.set_postfix(loss=f"{loss:.3f}", psnr=f"{psnr:.2f}", img_s=f"{rate:.1f}")
                    if main:
                        rec = {"step": self.step, "epoch": epoch, "loss": loss, "psnr": psnr,
                               "input_psnr": self.input_psnr, "lr": lr,
                               "alpha": self.alpha(self.step - 1), "img_per_s": rate,
                               "train_s": time.perf_counter() - t_start - save_s}
                        if self.has_deform:
                            rec["deform"] = {h.name: _health_scalars(h) for h in self.health}
                            self._warn_dead(self.health)
                        with metrics_path.open("a", encoding="utf-8") as fh:
                            fh.write(json.dumps(rec) + "\n")
                        tb = self._tensorboard()
                        if tb is not None:
                            for k in ("loss", "psnr", "lr", "alpha", "img_per_s"):
                                tb.add_scalar(f"train/{k}", rec[k], self.step)
                            for name, vals in rec.get("deform", {}).items():
                                for k, v in vals.items():
                                    tb.add_scalar(f"deform/{name}/{k}", v, self.step)
                if main and self.cfg.logging.image_every and self.step % self.cfg.logging.image_every == 0:
                    self._log_images()
                if self.step % max(1, self.cfg.logging.checkpoint_every) == 0 and self.step < self.total_steps:
                    t_save = time.perf_counter()
                    self.save()
                    save_s += time.perf_counter() - t_save
                if self.step >= self.total_steps or self._over_budget(t_start):
                    break
            if self._over_budget(t_start):
                log.info("train %s: time budget of %.0f s reached at step %d/%d", self.cfg.name,
                         self.cfg.schedule.max_seconds, self.step, self.total_steps)
                break
        bar.close()
        final = self.save(final=True)
        elapsed = time.perf_counter() - t_start
        if self._tb is not None:
            self._tb.close()
        if main:
            log.info("train %s: %d steps in %.1f s, loss %.3f -> %.3f, PSNR %.2f dB, checkpoint %s", self.cfg.name,
                     self.step - start_step, elapsed, first_loss if first_loss is not None else math.nan, loss,
                     psnr, final)
        return {"checkpoint": str(final) if final else None, "steps": self.step, "first_loss": first_loss,
                "stopped_by_time": self.step < self.total_steps,
                "last_loss": loss, "last_psnr": psnr, "seconds": elapsed, "total_steps": self.total_steps}

    def _warn_dead(self, health) -> None:
        """Warn once per layer when a deformable layer goes dead (BasicSR warns at offset means above 50 px),
        and once more if it comes back."""
        for h in health:
            why = h.dead()
            if why and h.name not in self._dead_warned:
                self._dead_warned.add(h.name)
                log.warning("train %s: step %d: deformable layer %s is DEAD (%s): its output no longer depends on "
                            "its input and no gradient reaches its offsets; see docs/models.md, 'Deformable-block "
                            "health'", self.cfg.name, self.step, h.name, "; ".join(why))
            elif not why and h.name in self._dead_warned:
                self._dead_warned.discard(h.name)
                log.info("train %s: step %d: deformable layer %s is alive again", self.cfg.name, self.step, h.name)

    def _over_budget(self, t_start: float) -> bool:
        budget = self.cfg.schedule.max_seconds
        if budget is None:
            return False
        over = time.perf_counter() - t_start > budget
        if self.dist.distributed:  # every rank must stop at the same step
            flag = torch.tensor([int(over)], device=self.device)
            torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
            over = bool(flag.item())
        return over

    def _log_images(self) -> None:
        tb = self._tensorboard()
        if tb is None or not hasattr(self, "_last"):
            return
        batch, pred = self._last
        grid = torch.cat([batch["blurred"][0], pred[0].detach().float(), batch["sharp"][0]], dim=2)
        tb.add_image("train/blurred_restored_sharp", _to_srgb(grid.cpu().float()), self.step)


def train(config: TrainConfig | dict | str | Path, out_dir: str | Path, *, resume: bool | str | Path = False,
          overwrite: bool = False, show_progress: bool | None = None, config_text: str | None = None) -> dict:
    """Train from a config (dataclass, mapping or YAML path) into ``out_dir``; see :class:`Trainer`.

    Under ``torchrun`` every process calls this; only rank 0 writes files.
    """
    text = config_text
    if isinstance(config, (str, Path)):
        from .config import load_train_config

        text = Path(config).read_text(encoding="utf-8")
        config = load_train_config(config)
    elif isinstance(config, dict):
        config = from_dict(TrainConfig, config, source="<config>")
    info = ddp.setup(config.device)
    try:
        # the run folder is a training run's (gyrobench.folders): a dataset or any other folder is refused, and
        # a second process training into it is refused at once (rank 0 holds the lock)
        from ..folders import claim

        with claim(out_dir, "run") if info.is_main else contextlib.nullcontext():
            trainer = Trainer(config, out_dir, config_text=text, dist_info=info, show_progress=show_progress)
            return trainer.fit(resume=resume, overwrite=overwrite)
    finally:
        ddp.teardown()
