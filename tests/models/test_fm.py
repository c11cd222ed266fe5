"""Factorization machine: the O(k n) pairwise term equals the explicit double sum; scores,
rating and ranking training, the DeepFM part."""
from __future__ import annotations

import pytest
import torch

from graphrec.graph.feature_matrix import node_feature_matrix
from graphrec.graph.interactions import Interactions
from graphrec.models import build_model
from graphrec.models.fm import fm_pairwise
from graphrec.train.trainer import TrainConfig, Trainer
from tests.models.test_hybrid import graph_with_features


def explicit_fm(x: torch.Tensor, w0: float, w: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Rendle's equation 1, with the double sum over j < l written out."""
    out = torch.full((x.size(0),), w0, dtype=torch.float64)
    for row in range(x.size(0)):
        out[row] += (w * x[row]).sum()
        for j in range(x.size(1)):
            for k in range(j + 1, x.size(1)):
                out[row] += (v[j] @ v[k]) * x[row, j] * x[row, k]
    return out


def test_fast_pairwise_equals_double_sum():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(5, 7, generator=gen, dtype=torch.float64) * (torch.rand(5, 7, generator=gen)
                                                              < 0.6)
    v = torch.randn(7, 3, generator=gen, dtype=torch.float64)
    fast = fm_pairwise(x @ v, x.pow(2) @ v.pow(2))
    assert torch.allclose(fast, explicit_fm(x, 0.0, torch.zeros(7, dtype=torch.float64), v))


def test_model_scores_equal_the_explicit_fm_on_concatenated_features():
    graph = graph_with_features()
    torch.manual_seed(0)
    for deep in (0, 2):
        model = build_model("fm", graph, embedding_dim=4, deep_layers=deep, deep_width=8)
        model.eval()
        torch.nn.init.normal_(model.linear.weight)
        model.global_bias.fill_(0.3)
        x = torch.cat([node_feature_matrix(graph, "user").to_dense()[:, None].expand(-1, 6, -1),
                       node_feature_matrix(graph, "item").to_dense()[None].expand(4, -1, -1)],
                      -1).reshape(24, -1).double()
        expected = explicit_fm(x, 0.3, model.linear.weight.view(-1).double(),
                               model.factors.weight.double()).view(4, 6)
        if deep:  # the deep part reads per-field sums of the factors
            fields = list(model.user_fields) + [
                f.__class__(f.name, f.kind, f.start + model.num_user_columns, f.size,
                            f.column_names) for f in model.item_fields]
            field_emb = torch.cat([x[:, f.start:f.start + f.size] @ model.factors.weight[
                f.start:f.start + f.size].double() for f in fields], 1)
            with torch.no_grad():
                expected += model.deep.double()(field_emb).view(4, 6)
                model.deep.float()
        with torch.no_grad():
            assert torch.allclose(model.scorer()(torch.arange(4)).double(), expected, atol=1e-5)
            pairs = model(torch.arange(4).repeat_interleave(6), torch.arange(6).repeat(4))
            assert torch.allclose(pairs.double().view(4, 6), expected, atol=1e-5)


def test_rating_fm_fits_ratings_and_ranking_fm_learns_groups():
    graph = graph_with_features()
    ratings = torch.tensor([5.0, 4.0, 5.0, 4.0, 1.0, 2.0, 5.0, 4.0])
    graph["user", "interacts", "item"].edge_weight = ratings
    train = Interactions.from_graph(graph)
    torch.manual_seed(0)
    model = build_model("fm", graph, embedding_dim=8, reg_weight=0.0)
    config = TrainConfig(epochs=200, batch_size=8, lr=0.03, device="cpu", progress=False,
                         patience=0)
    Trainer(model, config).fit(train)
    assert float(model.global_bias) == pytest.approx(float(ratings.mean()))
    users, items = graph["user", "interacts", "item"].edge_index
    assert torch.allclose(model.predict(users, items), ratings, atol=0.1)

    ranking = build_model("fm", graph, embedding_dim=8, task="ranking")
    config = TrainConfig(epochs=150, batch_size=8, lr=0.05, device="cpu", progress=False,
                         patience=0)
    Trainer(ranking, config).fit(train)
    scores = ranking.scorer()(torch.arange(4))
    liked = torch.tensor([[0, 3], [2, 4], [0, 3], [2, 4]])
    other = torch.tensor([[2, 4], [0, 3], [2, 4], [0, 3]])
    assert bool((scores.gather(1, liked).min(1).values
                 > scores.gather(1, other).max(1).values).all())
    # experiments report RMSE/MAE for the rating task only
    assert model.predicts_ratings and not ranking.predicts_ratings


def test_bad_settings_are_refused():
    graph = graph_with_features()
    with pytest.raises(ValueError, match="task must be one of"):
        build_model("fm", graph, task="regression")
    with pytest.raises(ValueError, match="identity=True or use_features=True"):
        build_model("fm", graph, identity=False, use_features=False)
    model = build_model("fm", graph)
    with pytest.raises(ValueError, match="explicit training ratings"):
        model.fit(Interactions.from_graph(graph))
