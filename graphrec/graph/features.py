"""Statistical node features derived from a (training) graph."""
from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.utils import scatter

from graphrec.graph.build import INTERACTS, ITEM, TAGGED, USER

ACTIVITY_FEATURES = ("log_degree", "log_total_weight", "tagging_frequency", "decayed_activity")

_DAY = 86400.0


def _standardise(features: Tensor) -> Tensor:
    mean = features.mean(0, keepdim=True)
    std = features.std(0, keepdim=True)
    scaled = (features - mean) / std.clamp(min=1e-12)
    return torch.where(std > 0, scaled, torch.zeros_like(features))


def _event_statistics(node: Tensor, time: Tensor, num_nodes: int, reference: float,
                      decay_days: float) -> tuple[Tensor, Tensor]:
    """Events per 30 days of a node's active span, and the decayed event count."""
    count = torch.bincount(node, minlength=num_nodes).double()
    first = scatter(time, node, dim_size=num_nodes, reduce="min")
    last = scatter(time, node, dim_size=num_nodes, reduce="max")
    span_months = (last - first).double() / (30 * _DAY)
    frequency = count / (span_months + 1.0)
    weight = torch.exp(-(reference - time.double()) / (decay_days * _DAY))
    decayed = scatter(weight, node, dim_size=num_nodes, reduce="sum")
    return frequency, torch.log1p(decayed)


def activity_features(graph: HeteroData, decay_days: float = 365.0) -> tuple[Tensor, Tensor]:
    r"""Per-user and per-item statistics, standardised column-wise (z-scores):

    1. ``log_degree``: :math:`\log(1 + |\mathcal{N}(v)|)` over the graph's interactions;
    2. ``log_total_weight``: :math:`\log(1 + \sum w)` of those interactions (the degree
       when the graph has no weights);
    3. ``tagging_frequency``: tagging events per 30 days of the node's tagging span
       (first to last event), from ``('user', 'tagged', 'item')`` edges with ``time``;
    4. ``decayed_activity``: :math:`\log(1 + \sum_e e^{-(t_{ref} - t_e)/\tau})` with
       :math:`\tau` = ``decay_days`` and :math:`t_{ref}` the latest tagging time in the
       graph: recent activity counts more.

    Features 3–4 are zero when the graph has no timed tagging events. Pass the
    *training* graph: interaction statistics then never see held-out interactions
    (tagging events are side information and are used whole).

    Returns:
        ``(user_features [num_users, 4], item_features [num_items, 4])``, float32, in
        the order of :data:`ACTIVITY_FEATURES`.
    """
    num_users, num_items = graph[USER].num_nodes, graph[ITEM].num_nodes
    users, items = graph[INTERACTS].edge_index
    weight = graph[INTERACTS].get("edge_weight")
    weight = torch.ones(users.numel(), dtype=torch.float64) if weight is None else weight.double()
    columns: dict[str, list[Tensor]] = {USER: [], ITEM: []}
    for node_type, index, count in ((USER, users, num_users), (ITEM, items, num_items)):
        degree = torch.bincount(index, minlength=count).double()
        total = scatter(weight, index, dim_size=count, reduce="sum")
        columns[node_type] += [torch.log1p(degree), torch.log1p(total)]
    if TAGGED in graph.edge_types and "time" in graph[TAGGED] and graph[TAGGED].num_edges:
        tag_users, tag_items = graph[TAGGED].edge_index
        time = graph[TAGGED].time
        reference = float(time.max())
        for node_type, index, count in ((USER, tag_users, num_users),
                                        (ITEM, tag_items, num_items)):
            columns[node_type] += list(_event_statistics(index, time, count, reference,
                                                         decay_days))
    else:
        for node_type, count in ((USER, num_users), (ITEM, num_items)):
            columns[node_type] += [torch.zeros(count, dtype=torch.float64)] * 2
    return tuple(_standardise(torch.stack(columns[t], dim=1)).float() for t in (USER, ITEM))


def rbf_encoding(values: Tensor, num_centers: int = 32, width: float = 1.0) -> Tensor:
    r"""A scalar per node (a release date, an age) as soft membership of ``num_centers``
    Gaussian bumps, so that the inner product of two rows says how *close* the values
    are -- which a single scaled column fed to a linear layer cannot express:

    .. math::
        e_k(v) = \frac{\exp\!\big(-(v - c_k)^2 / (2\,(\omega\,s_k)^2)\big)}
                      {\sum_j \exp\!\big(-(v - c_j)^2 / (2\,(\omega\,s_j)^2)\big)}

    with centres :math:`c_k` at the :math:`(k + 1/2)/K` quantiles of the values present
    (dense where the values are), :math:`s_k` the mean gap to the neighbouring centres and
    :math:`\omega` = ``width``. Rows sum to 1; a missing value (NaN) gives a zero row.

    Args:
        values: ``[N]`` floats, NaN where missing.
        num_centers: :math:`K`.
        width: :math:`\omega`, bump width in units of the local centre spacing.

    Returns:
        ``[N, K]`` float32.
    """
    if num_centers < 1 or width <= 0:
        raise ValueError(f"need num_centers >= 1 and width > 0 (got {num_centers}, {width})")
    values = values.double().view(-1)
    present = ~torch.isnan(values)
    out = torch.zeros(values.numel(), num_centers, dtype=torch.float64, device=values.device)
    if not bool(present.any()):
        return out.float()
    levels = (torch.arange(num_centers, dtype=torch.float64, device=values.device) + 0.5)
    centers = torch.quantile(values[present], levels / num_centers)
    gaps = centers.diff()
    if not bool((gaps > 0).any()):  # one centre, or all values equal
        spread = (values[present].std(unbiased=False) if int(present.sum()) > 1 else
                  values.new_tensor(0.0)).clamp(min=1.0)
        spacing = spread.expand(num_centers)
    else:
        gaps = gaps.clamp(min=float(gaps[gaps > 0].min()))
        spacing = torch.cat([gaps[:1], (gaps[1:] + gaps[:-1]) / 2, gaps[-1:]])
    distance = (values[present].unsqueeze(1) - centers) / (width * spacing)
    out[present] = torch.softmax(-0.5 * distance.pow(2), dim=1)
    return out.float()
