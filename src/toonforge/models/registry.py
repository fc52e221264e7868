"""The name -> class table of network families, filled by the families themselves.

Each family module decorates its classes with :func:`register_model`; this module imports no
family, so there is no import cycle. :mod:`toonforge.models.factory` imports every family and
builds models by name (``create_model``).

The decorator also records every instance's constructor arguments (defaults filled in, as JSON
values) in ``self.config``, before the constructor body runs, so ``create_model(name,
**model.config)`` rebuilds the same architecture and the config cannot drift from the signature
(as ``register_to_config`` does in diffusers). Model files (:mod:`.model_file`) and style folders
store exactly that pair (name, config). Arguments that are not architecture (a pretrained trunk
passed in) are named in ``exclude``.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from torch import nn

_MODELS: dict[str, type[nn.Module]] = {}
T = TypeVar("T", bound=type[nn.Module])


def constructor_config(cls: type, args: tuple, kwargs: dict[str, Any], exclude: Iterable[str] = ()) -> dict[str, Any]:
    """``cls(*args, **kwargs)``'s arguments by name, defaults filled in, as JSON values (tuples become
    lists); a ``**kwargs`` parameter's entries are merged in. TypeError for a non-JSON value."""
    sig = inspect.signature(cls.__init__)
    bound = sig.bind(None, *args, **kwargs)
    bound.apply_defaults()
    config: dict[str, Any] = {}
    params = list(sig.parameters.values())[1:]  # without self
    for p in params:
        if p.name in exclude or p.name not in bound.arguments:
            continue
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            config.update(bound.arguments[p.name])
        elif p.kind is inspect.Parameter.VAR_POSITIONAL:
            raise TypeError(f"{cls.__name__}: a registered model cannot take *{p.name}")
        else:
            config[p.name] = bound.arguments[p.name]
    try:
        return json.loads(json.dumps(config))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{cls.__name__}: constructor arguments must be JSON values ({exc}); "
                        "name other arguments in register_model(exclude=...)") from None


def register_model(name: str, *, exclude: Iterable[str] = ()) -> Callable[[T], T]:
    """Class decorator: make ``cls`` buildable as ``create_model(name, **config)`` and record each
    instance's constructor arguments (except ``exclude``) in ``self.config``."""
    skip = tuple(exclude)

    def wrap(cls: T) -> T:
        if name in _MODELS and _MODELS[name] is not cls:
            raise ValueError(f"model name {name!r} is already registered")
        init = cls.__init__

        @functools.wraps(init)
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            if type(self).__init__ is __init__:  # not when a subclass's own constructor calls this one
                object.__setattr__(self, "config", constructor_config(cls, args, kwargs, skip))
            init(self, *args, **kwargs)

        cls.__init__ = __init__  # type: ignore[method-assign]
        _MODELS[name] = cls
        cls.model_name = name  # type: ignore[attr-defined]
        return cls

    return wrap


def registered() -> dict[str, type[nn.Module]]:
    """The classes registered so far, by name (only the families imported so far)."""
    return dict(_MODELS)
