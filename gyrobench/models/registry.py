"""The model registry: ``build(name, **options)`` and metadata the harness and leaderboard read.

A model class registers itself with ``@register("name", citation=..., uses_gyro=...)``. Each instance exposes
``name``, ``options`` (the keyword arguments it was built with) and ``uses_gyro``; ``model(batch)`` takes the
batch dict of docs/conventions.md §2 and returns the restored image ``(B, 3, H, W)``, linear RGB.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import warnings
from collections.abc import Callable

from ..errors import GyrobenchError


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    name: str
    factory: Callable
    uses_gyro: bool
    learned: bool = True
    citation: str = ""
    description: str = ""


_REGISTRY: dict[str, ModelInfo] = {}

# modules imported on first use of the registry, so that every model registers itself
_MODEL_MODULES = ("gyrodeblurnet", "nafnet", "deepgyro", "eggnet", "classical")


def register(name: str, *, uses_gyro: bool, learned: bool = True, citation: str = "", description: str = ""):
    """Class decorator: register ``cls`` under ``name`` and set its ``name``/``uses_gyro`` attributes."""

    def deco(cls):
        cls.name = name
        cls.uses_gyro = uses_gyro
        _REGISTRY[name] = ModelInfo(name, cls, uses_gyro, learned, citation, description or (cls.__doc__ or "").strip().split("\n")[0])
        return cls

    return deco


def _ensure_loaded() -> None:
    for mod in _MODEL_MODULES:
        importlib.import_module(f"gyrobench.models.{mod}")


def available() -> dict[str, ModelInfo]:
    """All registered models, by name."""
    _ensure_loaded()
    return dict(sorted(_REGISTRY.items()))


def info(name: str) -> ModelInfo:
    models = available()
    if name not in models:
        raise GyrobenchError(f"unknown model '{name}'; registered models: {', '.join(models)}")
    return models[name]


def build(name: str, **options):
    """Build model ``name`` with ``options``; the instance records ``options`` for checkpoints."""
    meta = info(name)
    for key, value in options.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise GyrobenchError(f"model '{name}': option {key}={value} is not a finite number; give a finite value")
        if isinstance(value, int) and not isinstance(value, bool) and value < 0:
            raise GyrobenchError(f"model '{name}': option {key}={value} is negative; sizes and counts are >= 0")
    try:
        with warnings.catch_warnings(record=True) as caught:  # shown only when the model builds
            warnings.simplefilter("always")
            model = meta.factory(**options)
        for w in caught:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    except GyrobenchError:
        raise  # the model's own one-line refusal
    except TypeError as exc:
        raise GyrobenchError(f"model '{name}': bad options {options}: {exc}") from exc
    except (ValueError, RuntimeError, ZeroDivisionError, OverflowError, MemoryError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise GyrobenchError(f"model '{name}': options {options} do not build a model ({type(exc).__name__}: "
                             f"{first}); check the sizes and counts") from None
    model.options = dict(options)
    return model
