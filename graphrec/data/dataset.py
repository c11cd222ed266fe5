"""The object every loader returns."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch_geometric.data import HeteroData

from graphrec.graph.build import graph_summary
from graphrec.graph.split import Split


@dataclass
class RecDataset:
    """A loaded data set: the full interaction graph and, where the source fixes one, its split.

    Attributes:
        name: short name, e.g. ``"lastfm"``.
        graph: the full graph (all interactions), as built by
            :func:`graphrec.graph.build_interaction_graph`.
        split: the split the source publishes (``None`` when it fixes none; then use
            :mod:`graphrec.graph.split` to make one).
        info: loader notes worth reporting (e.g. rows dropped and why).
    """

    name: str
    graph: HeteroData
    split: Split | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, int]:
        return graph_summary(self.graph)

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={v}" for k, v in self.summary().items())
        fixed = ", fixed split" if self.split is not None else ""
        return f"RecDataset({self.name}: {counts}{fixed})"
