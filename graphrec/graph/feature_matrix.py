r"""Sparse user/item feature matrices built from a ``HeteroData`` graph, shared by the
feature-aware models (hybrid MF, factorization machines, retrieval towers).

One :class:`FeatureMatrix` per node type: row ``v`` lists the feature columns node ``v``
has and their weights (CSR: ``crow``, ``columns``, ``weights``), the columns grouped into
named :class:`FeatureField` s. A model embeds every column and sums a row's embeddings
weighted (``nn.EmbeddingBag(mode="sum")`` with :meth:`FeatureMatrix.gather`), or multiplies
:meth:`FeatureMatrix.to_sparse_csr` by an embedding table.

Fields :func:`node_feature_matrix` reads (``"auto"``):

* ``identity``: one column per node, weight 1 (optional: without it, nodes are known only
  by their features, which is what lets new nodes be scored).
* ``x`` columns (``graph[node_type].x``), grouped by the prefix before ``':'`` of their names
  (``graph[node_type].feature_names`` when present, e.g. MovieLens's ``genre:Action``,
  ``occupation:writer``; a name without ``':'`` is a field of its own). A field of 0/1
  columns is *categorical* when no row has two ones, *multi-hot* otherwise; a single
  non-binary column (an age, a scaled year) is *numeric*, encoded as below; several
  non-binary columns (an encoding already made, e.g. ``release_date_rbf:k``) are taken as
  they are. Without names, the 0/1 columns
  form one multi-hot field ``x`` and each other column ``x[j]`` a numeric one.
* relations ``(node_type, rel, T)`` with ``T`` neither ``'user'`` nor ``'item'`` (genres,
  year buckets, tags): a multi-hot field named ``rel`` with one column per ``T`` node.

Weights: categorical and identity 1; multi-hot ``1 / (values the row has in the field)``
(the row's mean value embedding: a movie with five genres is not five times as much
"genre"); numeric by ``numeric``: ``"bins"`` one-hot over ``num_bins`` quantile bins of the
values present, ``"rbf"`` :func:`~graphrec.graph.features.rbf_encoding` (soft membership of
``num_bins`` Gaussian bumps, summing to 1), ``"raw"`` the standardised value in one column.
A missing numeric value (NaN) gives the row no entry in that field.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from graphrec.graph.build import ITEM, USER
from graphrec.graph.features import rbf_encoding

FIELD_KINDS = ("identity", "categorical", "multi_hot", "numeric")
NUMERIC_ENCODINGS = ("bins", "rbf", "raw")


@dataclass(frozen=True)
class FeatureField:
    """A named group of feature columns ``[start, start + size)``.

    Attributes:
        name: e.g. ``"identity"``, ``"genre"``, ``"age/100"``.
        kind: one of :data:`FIELD_KINDS`.
        start: first column.
        size: number of columns.
        column_names: a name per column (``"genre:Action"``, ``"age/100<0.25"``, ...).
    """

    name: str
    kind: str
    start: int
    size: int
    column_names: tuple[str, ...]


@dataclass
class FeatureMatrix:
    """A sparse ``[num_rows, num_columns]`` feature matrix in CSR form, with named fields.

    Attributes:
        crow: ``[num_rows + 1]`` row pointer (row ``v``'s entries are
            ``crow[v]:crow[v + 1]``).
        columns: ``[nnz]`` column index of each entry (sorted within a row).
        weights: ``[nnz]`` float32 weight of each entry.
        num_columns: number of columns.
        fields: the fields, in column order, covering ``[0, num_columns)``.
    """

    crow: Tensor
    columns: Tensor
    weights: Tensor
    num_columns: int
    fields: tuple[FeatureField, ...]

    @property
    def num_rows(self) -> int:
        return int(self.crow.numel()) - 1

    @property
    def nnz(self) -> int:
        return int(self.columns.numel())

    @property
    def has_identity(self) -> bool:
        return any(f.kind == "identity" for f in self.fields)

    def field(self, name: str) -> FeatureField:
        for found in self.fields:
            if found.name == name:
                return found
        raise KeyError(f"no feature field {name!r}; fields: {[f.name for f in self.fields]}")

    def to(self, device: torch.device | str) -> FeatureMatrix:
        return replace(self, crow=self.crow.to(device), columns=self.columns.to(device),
                       weights=self.weights.to(device))

    def row_index(self) -> Tensor:
        """``[nnz]`` row of each entry."""
        counts = self.crow.diff()
        return torch.repeat_interleave(torch.arange(self.num_rows, device=counts.device),
                                       counts)

    def gather(self, rows: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The entries of ``rows`` (any shape, flattened) as ``(columns, offsets, weights)``
        for ``nn.EmbeddingBag(mode="sum")``: bag ``b`` is ``rows.view(-1)[b]``'s entries."""
        rows = rows.reshape(-1).to(self.crow.device)
        start, count = self.crow[rows], self.crow[rows + 1] - self.crow[rows]
        offsets = torch.cumsum(count, 0) - count
        # entry j of the batch belongs to bag b = bag_of[j]; its position in the matrix is
        # start[b] + (j - offsets[b])
        bag_of = torch.repeat_interleave(torch.arange(rows.numel(), device=rows.device), count)
        position = start[bag_of] + torch.arange(bag_of.numel(), device=rows.device) \
            - offsets[bag_of]
        return self.columns[position], offsets, self.weights[position]

    def to_sparse_csr(self) -> Tensor:
        return torch.sparse_csr_tensor(self.crow, self.columns, self.weights,
                                       size=(self.num_rows, self.num_columns))

    def to_dense(self) -> Tensor:
        dense = torch.zeros(self.num_rows, self.num_columns, device=self.weights.device)
        dense[self.row_index(), self.columns] = self.weights
        return dense

    def without(self, *names: str) -> FeatureMatrix:
        """The matrix without the named fields (columns renumbered), e.g.
        ``without("identity")`` for a features-only model."""
        missing = set(names) - {f.name for f in self.fields}
        if missing:
            raise KeyError(f"no feature fields {sorted(missing)}; fields: "
                           f"{[f.name for f in self.fields]}")
        keep_column = torch.ones(self.num_columns, dtype=torch.bool, device=self.columns.device)
        fields, start = [], 0
        for found in self.fields:
            if found.name in names:
                keep_column[found.start:found.start + found.size] = False
            else:
                fields.append(replace(found, start=start))
                start += found.size
        new_index = torch.cumsum(keep_column.long(), 0) - 1
        keep = keep_column[self.columns]
        counts = torch.zeros(self.num_rows, dtype=torch.long, device=self.crow.device)
        counts.index_add_(0, self.row_index()[keep], torch.ones_like(self.columns[keep]))
        crow = torch.cat([counts.new_zeros(1), counts.cumsum(0)])
        return FeatureMatrix(crow, new_index[self.columns[keep]], self.weights[keep], start,
                             tuple(fields))


def from_entries(rows: Tensor, columns: Tensor, weights: Tensor, num_rows: int,
                 fields: Sequence[FeatureField]) -> FeatureMatrix:
    """A :class:`FeatureMatrix` from ``(row, column, weight)`` entries (any order; a
    repeated (row, column) pair is an error: it would silently add up)."""
    num_columns = sum(f.size for f in fields)
    rows, columns = rows.long(), columns.long()
    if rows.numel() and (int(rows.min()) < 0 or int(rows.max()) >= num_rows):
        raise ValueError(f"feature rows must lie in [0, {num_rows})")
    if columns.numel() and (int(columns.min()) < 0 or int(columns.max()) >= num_columns):
        raise ValueError(f"feature columns must lie in [0, {num_columns})")
    key = rows * num_columns + columns
    key, order = torch.sort(key)
    if bool((key[1:] == key[:-1]).any()):
        raise ValueError("feature entries repeat a (row, column) pair")
    counts = torch.bincount(rows, minlength=num_rows)
    crow = torch.cat([counts.new_zeros(1), counts.cumsum(0)])
    return FeatureMatrix(crow, columns[order], weights[order].float(), num_columns,
                         tuple(fields))


def _numeric_entries(values: Tensor, encoding: str, num_bins: int
                     ) -> tuple[Tensor, Tensor, Tensor, int, list[str]]:
    """``(rows, local columns, weights, size, column suffixes)`` of one numeric field."""
    values = values.double().view(-1)
    present = ~torch.isnan(values)
    rows = present.nonzero().view(-1)
    if encoding == "raw":
        kept = values[present]
        std = kept.std(unbiased=False) if kept.numel() > 1 else kept.new_tensor(0.0)
        scaled = (kept - kept.mean()) / std if float(std) > 0 else torch.zeros_like(kept)
        return rows, torch.zeros_like(rows), scaled, 1, [""]
    if encoding == "rbf":
        encoded = rbf_encoding(values, num_bins)
        row, column = (encoded[present] > 0).nonzero(as_tuple=True)
        return (rows[row], column, encoded[rows[row], column].double(), num_bins,
                [f"~{k}" for k in range(num_bins)])
    # quantile bins: edges at the k/num_bins quantiles of the values present; equal edges
    # (many equal values) merge, so each bin holds values
    kept = values[present]
    if kept.numel() == 0:
        return rows, rows, kept, 1, ["[]"]
    inner = torch.quantile(kept, torch.arange(1, num_bins, dtype=torch.float64) / num_bins)
    inner = torch.unique(inner)
    inner = inner[(inner > kept.min())]
    column = torch.bucketize(kept, inner, right=True)
    edges = [float(kept.min())] + inner.tolist() + [float(kept.max())]
    names = [f"[{lo:g},{hi:g})" for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    return rows, column, torch.ones_like(kept), inner.numel() + 1, names


def _x_groups(x: Tensor, names: Sequence[str] | None) -> list[tuple[str, list[int]]]:
    """``x``'s columns grouped into fields (see the module docstring)."""
    if names is None:
        binary = ((x == 0) | (x == 1)).all(0)
        groups = []
        ones = binary.nonzero().view(-1).tolist()
        if ones:
            groups.append(("x", ones))
        groups += [(f"x[{j}]", [j]) for j in (~binary).nonzero().view(-1).tolist()]
        return groups
    if len(names) != x.size(1):
        raise ValueError(f"feature_names has {len(names)} names for {x.size(1)} columns of x")
    groups: dict[str, list[int]] = {}
    for j, name in enumerate(names):
        groups.setdefault(str(name).split(":", 1)[0], []).append(j)
    return list(groups.items())


def node_feature_matrix(
    graph: HeteroData,
    node_type: str,
    identity: bool = True,
    use_x: bool = True,
    relations: Sequence[tuple[str, str, str]] | None = None,
    numeric: str = "bins",
    num_bins: int = 10,
    feature_names: Sequence[str] | None = None,
) -> FeatureMatrix:
    """The feature matrix of ``graph[node_type]`` (fields as in the module docstring).

    Args:
        graph: a graph of :mod:`graphrec.graph.build` (side relations may be added by
            :mod:`graphrec.graph.side_info`).
        node_type: ``'user'`` or ``'item'`` (or any node type).
        identity: include the identity field (first, columns ``0..num_nodes - 1``).
        use_x: read ``graph[node_type].x`` when present.
        relations: the ``(node_type, rel, T)`` relations to read as multi-hot fields;
            ``None``: every relation from ``node_type`` to a type other than users/items.
        numeric: encoding of numeric columns: ``"bins"``, ``"rbf"`` or ``"raw"``.
        num_bins: bins (or RBF centres) per numeric field.
        feature_names: a name per ``x`` column; default ``graph[node_type].feature_names``.

    Raises:
        ValueError: bad ``numeric`` / ``num_bins``, a node type or relation not in the
            graph, a relation not from ``node_type``, or no field at all. (A node without
            any feature when ``identity=False`` gets an empty row.)
    """
    if node_type not in graph.node_types:
        raise ValueError(f"graph has no node type {node_type!r}")
    if numeric not in NUMERIC_ENCODINGS:
        raise ValueError(f"numeric must be one of {NUMERIC_ENCODINGS} (got {numeric!r})")
    if int(num_bins) < 1:
        raise ValueError(f"num_bins must be at least 1 (got {num_bins})")
    store = graph[node_type]
    num_rows = int(store.num_nodes)
    rows_parts, column_parts, weight_parts = [], [], []
    fields: list[FeatureField] = []
    start = 0

    def add(name: str, kind: str, rows: Tensor, columns: Tensor, weights: Tensor, size: int,
            column_names: Sequence[str]) -> None:
        nonlocal start
        rows_parts.append(rows.long())
        column_parts.append(columns.long() + start)
        weight_parts.append(weights.double())
        fields.append(FeatureField(name, kind, start, int(size), tuple(column_names)))
        start += int(size)

    if identity:
        index = torch.arange(num_rows)
        add("identity", "identity", index, index, torch.ones(num_rows), num_rows,
            [f"{node_type}:{v}" for v in range(num_rows)])
    x = store.get("x") if use_x else None
    if x is not None:
        x = x.double()
        names = feature_names if feature_names is not None else store.get("feature_names")
        for name, cols in _x_groups(x, names):
            block = x[:, cols]
            col_names = ([str(names[j]) for j in cols] if names is not None
                         else [f"x[{j}]" for j in cols])
            binary = bool(((block == 0) | (block == 1)).all())
            if binary:
                row, column = block.nonzero(as_tuple=True)
                per_row = block.sum(1)
                kind = "categorical" if bool((per_row <= 1).all()) else "multi_hot"
                add(name, kind, row, column, 1.0 / per_row[row], len(cols), col_names)
            elif len(cols) == 1:
                row, column, weight, size, suffixes = _numeric_entries(block[:, 0], numeric,
                                                                       int(num_bins))
                add(name, "numeric", row, column, weight, size,
                    [f"{col_names[0]}{s}" for s in suffixes])
            else:  # already encoded (e.g. release dates as RBF bumps): the values as is
                row, column = block.nonzero(as_tuple=True)
                add(name, "numeric", row, column, block[row, column], len(cols), col_names)
    if relations is None:
        relations = [r for r in graph.edge_types
                     if r[0] == node_type and r[2] not in (USER, ITEM)]
    for relation in relations:
        relation = tuple(relation)
        if relation not in graph.edge_types:
            raise ValueError(f"graph has no relation {relation}")
        if relation[0] != node_type:
            raise ValueError(f"relation {relation} does not start at {node_type!r}")
        num_values = int(graph[relation[2]].num_nodes)
        src, dst = graph[relation].edge_index
        key = torch.unique(src * num_values + dst)  # repeated edges count once
        src, dst = key // num_values, key % num_values
        per_row = torch.bincount(src, minlength=num_rows).double()
        value_names = graph[relation[2]].get("name")
        col_names = ([f"{relation[1]}:{n}" for n in value_names] if value_names is not None
                     and len(value_names) == num_values else
                     [f"{relation[1]}:{v}" for v in range(num_values)])
        add(relation[1], "multi_hot", src, dst, 1.0 / per_row[src], num_values, col_names)
    if not fields:
        raise ValueError(f"node type {node_type!r} has no features and identity=False: every "
                         "row would be empty")
    return from_entries(torch.cat(rows_parts), torch.cat(column_parts), torch.cat(weight_parts),
                        num_rows, fields)


__all__ = ["FIELD_KINDS", "NUMERIC_ENCODINGS", "FeatureField", "FeatureMatrix", "from_entries",
           "node_feature_matrix"]
