"""Graph construction, id maps, splits and CSR views of interactions."""
from graphrec.graph.build import (
    FOLLOWS,
    INTERACTS,
    ITEM,
    REV_INTERACTS,
    USER,
    IdMap,
    build_interaction_graph,
    graph_summary,
    num_friendships,
)
from graphrec.graph.split import (
    Split,
    fixed_split,
    holdout_validation,
    leave_one_out,
    random_split,
    split_by_edge_ids,
    temporal_split,
)

__all__ = [
    "FOLLOWS", "INTERACTS", "ITEM", "REV_INTERACTS", "USER", "IdMap", "Split",
    "build_interaction_graph", "fixed_split", "graph_summary", "holdout_validation",
    "leave_one_out", "num_friendships", "random_split", "split_by_edge_ids", "temporal_split",
]
