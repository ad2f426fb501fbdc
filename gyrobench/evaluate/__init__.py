"""Evaluation, built like training: a typed :class:`EvalConfig` (``baselines/*/eval.yaml`` are validated by
``config.from_dict``) and a short :func:`evaluate` over named steps (:mod:`.run`).

- :mod:`.config`: :class:`EvalConfig`, :func:`load_eval_config`;
- :mod:`.model`: the model (checkpoint, official file, or non-learned) and the motion fields it was trained on;
- :mod:`.run`: :func:`evaluate` = prepare, metric set, image loop, record, writes;
- :mod:`.outputs`: crops, restored PNGs, the blur extent.

The rule that drops a metric for the whole run when one image cannot be scored belongs to
:class:`gyrobench.metrics.MetricSet`.
"""

from .config import DEFAULT_METRICS, EvalConfig, load_eval_config
from .model import BlurredInput, build_eval_model, model_field_spec
from .outputs import field_path_length_px
from .run import evaluate

__all__ = ["evaluate", "EvalConfig", "load_eval_config", "DEFAULT_METRICS", "BlurredInput", "build_eval_model",
           "model_field_spec", "field_path_length_px"]
