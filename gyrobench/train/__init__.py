"""Training: config, PSNR loss, curriculum, checkpoints, the training loop and DDP (spec ``gyrodeblurnet.md`` §4,
§6.1; docs/conventions.md §3–§4). ``gyrobench train CONFIG`` runs :func:`train`."""

from .checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from .config import TrainConfig, load_train_config
from .curriculum import curriculum_alpha
from .loss import psnr_loss

__all__ = ["TrainConfig", "load_train_config", "save_checkpoint", "load_checkpoint", "model_from_checkpoint",
           "curriculum_alpha", "psnr_loss", "train"]


def train(*args, **kwargs):
    """See :func:`gyrobench.train.trainer.train` (imported lazily: it pulls in the data and model packages)."""
    from .trainer import train as _train

    return _train(*args, **kwargs)
