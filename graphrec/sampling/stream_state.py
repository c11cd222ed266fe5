"""The random state of a batch stream, so that a resumed run draws the batches an
uninterrupted run would have drawn.

A batch stream (``model.train_batches(...)``) keeps its randomness in ``torch.Generator``
attributes and its position in counters such as ``epoch``; nested graphrec objects (a
negative sampler, the two streams of a joint model) keep theirs the same way. This module
collects and restores all of them generically, so a new batch class needs no checkpoint
code of its own: it only has to keep its random state in attributes.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

_COUNTERS = ("epoch", "step")


def _children(stream: Any) -> dict[str, Any]:
    return {} if not hasattr(stream, "__dict__") else vars(stream)


def _is_stream_part(value: Any) -> bool:
    # graphrec helper objects hold state; models (nn.Module) are checkpointed on their own
    module = type(value).__module__
    return module.startswith("graphrec.") and not isinstance(value, nn.Module) \
        and hasattr(value, "__dict__")


def stream_state(stream: Any) -> dict[str, Any]:
    """Generator states (``ByteTensor``) and counters of ``stream`` and its graphrec parts."""
    state: dict[str, Any] = {}
    for name, value in _children(stream).items():
        if isinstance(value, torch.Generator):
            state[name] = value.get_state()
        elif name in _COUNTERS and isinstance(value, int):
            state[name] = value
        elif _is_stream_part(value):
            nested = stream_state(value)
            if nested:
                state[name] = nested
    return state


def load_stream_state(stream: Any, state: dict[str, Any]) -> None:
    """Restores what :func:`stream_state` returned (``ValueError`` if the streams differ)."""
    for name, value in state.items():
        current = _children(stream).get(name)
        if isinstance(current, torch.Generator):
            current.set_state(value)
        elif name in _COUNTERS and isinstance(current, int):
            setattr(stream, name, int(value))
        elif current is not None and isinstance(value, dict):
            load_stream_state(current, value)
        else:
            raise ValueError(f"the checkpoint's batch stream has {name!r}, which "
                             f"{type(stream).__name__} does not")
