"""PinSAGE's importance-pooling convolution as a ``MessagePassing`` layer."""

from typing import Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Linear
from torch_geometric.nn.conv import MessagePassing


class PinSAGEConv(MessagePassing):
    r"""The convolution of PinSAGE, from `"Graph Convolutional Neural Networks for Web-Scale
    Recommender Systems" <https://arxiv.org/abs/1806.01973>`_ (Ying et al., KDD 2018),
    Algorithm 1:

    .. math::
        \mathbf{n}_u = \sum_{v \in \mathcal{N}(u)} \alpha_{uv}\,
            \mathrm{ReLU}\big(\mathbf{Q}\,\mathbf{h}_v + \mathbf{q}\big), \qquad
        \mathbf{z}_u = \mathrm{ReLU}\big(\mathbf{W}\,[\mathbf{h}_u \,\Vert\, \mathbf{n}_u]
            + \mathbf{w}\big), \qquad
        \mathbf{z}_u \leftarrow \mathbf{z}_u / \lVert \mathbf{z}_u \rVert_2

    with :math:`\alpha_{uv}` the importance weights of :math:`u`'s sampled neighbours
    (``edge_weight``; L1-normalised visit counts from
    :class:`~graphrec.sampling.neighborhoods.ImportanceNeighborhoods`, so the sum is the
    paper's importance-weighted mean). A node without neighbours gets
    :math:`\mathbf{n}_u = \mathbf{0}`. A row whose :math:`\mathbf{z}_u` is all zero stays
    zero (the norm is clamped at ``eps``).

    Args:
        in_channels: size of :math:`\mathbf{h}`.
        out_channels: size of :math:`\mathbf{z}`.
        hidden_channels: size of :math:`\mathbf{Q}\mathbf{h}` (default ``in_channels``).
        normalize: divide :math:`\mathbf{z}_u` by its L2 norm (default ``True``).
        eps: clamp of the norm.
        **kwargs: passed to :class:`~torch_geometric.nn.conv.MessagePassing`.

    Shapes:
        - **input:** node features :math:`(|\mathcal{V}|, F_{in})` or a pair
          :math:`((|\mathcal{V}_s|, F_{in}), (|\mathcal{V}_t|, F_{in}))` for a sampled hop
          (sources, targets), edge indices :math:`(2, |\mathcal{E}|)` (``source → target``),
          edge weights :math:`(|\mathcal{E}|)` (1 when omitted: a plain sum)
        - **output:** :math:`(|\mathcal{V}_t|, F_{out})`
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        hidden_channels: Optional[int] = None,
        normalize: bool = True,
        eps: float = 1e-12,
        **kwargs,
    ) -> None:
        kwargs.setdefault("aggr", "add")
        super().__init__(**kwargs)
        hidden_channels = in_channels if hidden_channels is None else hidden_channels
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.hidden_channels = hidden_channels
        self.normalize = normalize
        self.eps = eps
        self.lin_neighbor = Linear(in_channels, hidden_channels)  # Q, q
        self.lin_out = Linear(in_channels + hidden_channels, out_channels)  # W, w
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        self.lin_neighbor.reset_parameters()
        self.lin_out.reset_parameters()

    def forward(
        self,
        x: Union[Tensor, tuple[Tensor, Tensor]],
        edge_index: Tensor,
        edge_weight: Optional[Tensor] = None,
    ) -> Tensor:
        if isinstance(x, Tensor):
            x = (x, x)
        # Q h_v + q once per source node, not once per edge
        transformed = F.relu(self.lin_neighbor(x[0]))
        neighborhood = self.propagate(edge_index, x=(transformed, x[1]),
                                      edge_weight=edge_weight,
                                      size=(x[0].size(0), x[1].size(0)))
        out = F.relu(self.lin_out(torch.cat([x[1], neighborhood], dim=-1)))
        if self.normalize:
            out = F.normalize(out, p=2.0, dim=-1, eps=self.eps)
        return out

    def message(self, x_j: Tensor, edge_weight: Optional[Tensor]) -> Tensor:
        return x_j if edge_weight is None else edge_weight.view(-1, 1) * x_j

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, "
                f"hidden_channels={self.hidden_channels}, normalize={self.normalize})")

