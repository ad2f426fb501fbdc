"""The model registry: ``build(name, **options)`` and metadata the harness and leaderboard read.

A model class registers itself with ``@register("name", citation=..., uses_gyro=...)``. Each instance exposes
``name``, ``options`` (the keyword arguments it was built with) and ``uses_gyro``; ``model(batch)`` takes the
batch dict of docs/conventions.md §2 and returns the restored image ``(B, 3, H, W)``, linear RGB.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import math
import typing
import warnings
from collections.abc import Callable
from typing import Any

from ..errors import GyrobenchError, RecipeError


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    name: str
    factory: Callable
    uses_gyro: bool
    learned: bool = True
    citation: str = ""
    description: str = ""
    #: options in an older spelling -> today's (e.g. GyroDeblurNet's flat Wiener options -> ``prior``); identity if None
    legacy_options: Callable[[dict], dict] | None = None


_REGISTRY: dict[str, ModelInfo] = {}

# modules imported on first use of the registry, so that every model registers itself
_MODEL_MODULES = ("gyrodeblurnet", "gyrodeblurnet_diagnostic", "nafnet", "deepgyro", "eggnet", "classical")


def register(name: str, *, uses_gyro: bool, learned: bool = True, citation: str = "", description: str = "",
             legacy_options: Callable[[dict], dict] | None = None):
    """Class decorator: register ``cls`` under ``name`` and set its ``name``/``uses_gyro`` attributes.
    ``legacy_options`` translates options of an older spelling (:func:`canonical_options`)."""

    def deco(cls):
        cls.name = name
        cls.uses_gyro = uses_gyro
        _REGISTRY[name] = ModelInfo(name, cls, uses_gyro, learned, citation,
                                    description or (cls.__doc__ or "").strip().split("\n")[0], legacy_options)
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


def _init_fields(cls_or_fn) -> list[tuple]:
    """``(name, type, dataclasses.field)`` of every keyword argument of a factory's constructor; a ``**options``
    of a subclass stands for the options of its base class (the diagnostic variant of a model)."""
    init = cls_or_fn.__init__ if isinstance(cls_or_fn, type) else cls_or_fn
    try:
        hints = typing.get_type_hints(init)
    except Exception:  # an annotation that does not resolve: check names only
        hints = {}
    fields, inherit = [], False
    for p in inspect.signature(init).parameters.values():
        if p.name == "self" or p.kind == p.VAR_POSITIONAL:
            continue
        if p.kind == p.VAR_KEYWORD:
            inherit = isinstance(cls_or_fn, type) and len(cls_or_fn.__mro__) > 2
            continue
        tp = hints.get(p.name, Any)
        if p.default is not inspect.Parameter.empty and p.default is not None and tp is not Any and not (
                isinstance(tp, type) and isinstance(p.default, tp)) and typing.get_origin(tp) is None:
            tp = Any  # e.g. a tuple default of an unannotated sequence option
        default = dataclasses.field(default=p.default) if p.default is not inspect.Parameter.empty else \
            dataclasses.field()
        if isinstance(p.default, (list, dict, set)):
            default = dataclasses.field(default_factory=lambda v=p.default: type(v)(v))
        fields.append((p.name, tp, default))
    if inherit:
        own = {f[0] for f in fields}
        fields += [f for f in _init_fields(cls_or_fn.__mro__[1]) if f[0] not in own]
    return fields


@functools.cache
def options_schema(name: str) -> type:
    """The options of model ``name`` as a dataclass, made from its constructor's signature: one field per keyword
    argument, with its annotation (``Any`` where there is none) and its default. The model's docstring documents
    them (units, defaults, which are the paper's)."""
    fields = _init_fields(info(name).factory)
    fields.sort(key=lambda f: f[2].default is dataclasses.MISSING and f[2].default_factory is dataclasses.MISSING,
                reverse=True)
    return dataclasses.make_dataclass(f"{name}_options", fields, frozen=True)


def canonical_options(name: str, options: dict) -> dict:
    """``options`` of model ``name`` in today's spelling (the model's ``legacy_options``; a copy)."""
    fn = info(name).legacy_options
    return fn(dict(options)) if fn is not None else dict(options)


def check_options(name: str, options: dict, *, source: str = "<config>", prefix: str = "model.options") -> None:
    """Validate ``options`` of model ``name`` against :func:`options_schema` (unknown keys with the closest valid
    one, wrong types); raises :class:`RecipeError` naming ``source`` and the key. An older spelling is read as
    today's (:func:`canonical_options`). Nothing is converted: the model is later built from the options as given,
    so config hashes are unchanged."""
    from ..config import from_dict

    try:
        options = canonical_options(name, options)
    except GyrobenchError as exc:
        raise RecipeError(f"{source}: {prefix}: {exc}") from None
    try:
        from_dict(options_schema(name), options, source=source, prefix=prefix)
    except RecipeError:
        raise
    except GyrobenchError as exc:  # the model's own validation (e.g. M not in 2, 4, 8, 16) runs at build time
        raise RecipeError(f"{source}: {prefix}: {exc}") from None


def build(name: str, **options):
    """Build model ``name`` with ``options`` (an older spelling is translated, :func:`canonical_options`); the
    instance records the options in today's spelling for checkpoints (``model.options``)."""
    meta = info(name)
    options = canonical_options(name, options)
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
