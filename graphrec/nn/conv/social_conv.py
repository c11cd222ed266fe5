"""Social propagation with a learnable transform and residual, as a ``MessagePassing`` layer."""

from typing import Optional

from torch import Tensor
from torch.nn import Dropout, Linear
from torch_geometric.nn.conv import MessagePassing

from graphrec.ops.cache import GraphInput, OperatorCache
from graphrec.ops.sparse import SparseOperator


class SocialConv(MessagePassing):
    r"""One layer of social propagation over the user–user graph, as in graphrec's
    Lite-EIISRS design (the social tower of social recommenders such as DiffNet,
    `"A Neural Influence Diffusion Model for Social Recommendation"
    <https://arxiv.org/abs/1904.10322>`_, with a residual connection):

    .. math::
        \tilde{\mathbf{U}}^{(l)} = \mathbf{S}\,\big(\mathbf{U}^{(l)} \mathbf{W}_s^{(l)}\big),
        \qquad
        \mathbf{U}^{(l+1)} = \mathbf{U}^{(l)} + \mathrm{Dropout}_p\big(\tilde{\mathbf{U}}^{(l)}\big)

    with :math:`\mathbf{S} = \mathbf{D}_s^{-1}\mathbf{S}_{raw}` the row-normalised social
    adjacency (user :math:`u` averages over the users it follows; :math:`\mathbf{S}_{raw}`
    may be weighted) and :math:`\mathbf{W}_s^{(l)} \in \mathbb{R}^{d \times d}` learnable.
    Users without social links keep :math:`\mathbf{U}^{(l)}`. Dropout is active in training
    mode only.

    The social graph is an ``edge_index`` (plain or :class:`~torch_geometric.EdgeIndex`)
    with optional ``edge_weight``, or a transposed sparse adjacency ``adj_t``
    (``torch.sparse`` COO / CSR / CSC or ``torch_sparse.SparseTensor``; row :math:`u` holds
    the users :math:`u` aggregates from, values are the weights), normalised as above.
    The normalised adjacency is cached and reused only while the very same, unmodified
    graph object (and ``edge_weight`` object) is passed; any other graph is rebuilt (see
    :class:`~graphrec.nn.LightGCNConv` and :class:`~graphrec.ops.cache.OperatorCache`).
    Edge weights are constants here: no gradient flows into them.

    Args:
        channels: embedding size :math:`d`.
        dropout: dropout probability :math:`p` on the propagated term (default 0.1).
        bias: add a learnable bias to :math:`\mathbf{U}\mathbf{W}_s` (default ``False``).
        normalize: ``"row"`` (default, :math:`\mathbf{D}_s^{-1}\mathbf{S}`) or ``"sym"``.
        cached: reuse the normalised operator while the same graph object is passed
            (default ``True``); ``False`` rebuilds it on every call.
        **kwargs: passed to :class:`~torch_geometric.nn.conv.MessagePassing`.

    Shapes:
        - **input:** user embeddings :math:`(|\mathcal{U}|, d)`, social edges
          :math:`(2, |\mathcal{E}_s|)` in PyG's source → target convention (user
          ``edge_index[1]`` aggregates from ``edge_index[0]``: for "u follows v" pass
          ``(v, u)``, i.e. the flipped ``follows`` edges; symmetric friendships have both),
          or a sparse ``adj_t`` :math:`(|\mathcal{U}|, |\mathcal{U}|)`, optional edge
          weights :math:`(|\mathcal{E}_s|)` (edge indices only)
        - **output:** user embeddings :math:`(|\mathcal{U}|, d)`
    """

    def __init__(
        self,
        channels: int,
        dropout: float = 0.1,
        bias: bool = False,
        normalize: str = "row",
        cached: bool = True,
        **kwargs,
    ) -> None:
        kwargs.setdefault("aggr", "add")
        super().__init__(**kwargs)
        if normalize not in ("row", "sym"):
            raise ValueError(f"normalize must be 'row' or 'sym' (got {normalize!r})")
        self.channels = channels
        self.normalize = normalize
        self.cached = cached
        self.lin = Linear(channels, channels, bias=bias)
        self.dropout = Dropout(dropout)
        self.cache = OperatorCache(normalize, enabled=cached)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        self.lin.reset_parameters()
        self.cache.clear()

    def operator(
        self, edge_index: GraphInput, num_nodes: int, edge_weight: Optional[Tensor] = None
    ) -> SparseOperator:
        """The normalised social operator, from the cache when it is the same, unmodified
        graph object."""
        return self.cache.get(edge_index, num_nodes, edge_weight)

    def forward(self, x: Tensor, edge_index: GraphInput,
                edge_weight: Optional[Tensor] = None) -> Tensor:
        operator = self.operator(edge_index, x.size(0), edge_weight)
        propagated = self.propagate(operator.matrix, x=self.lin(x))
        return x + self.dropout(propagated)

    def message_and_aggregate(self, adj_t: Tensor, x: Tensor) -> Tensor:
        return self.cache.lookup(adj_t).matmul(x)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.channels}, dropout={self.dropout.p}, "
                f"normalize={self.normalize!r})")

