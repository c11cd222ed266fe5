import pytest
import torch

from graphrec.graph import build_interaction_graph
from graphrec.graph.interactions import Interactions
from graphrec.models import MF, LightGCN, Popularity, build_model
from graphrec.sampling.batches import PairBatch


def _small_graph():
    return build_interaction_graph([0, 0, 1, 2, 2, 3], [0, 1, 1, 2, 4, 4],
                                   user_ids=range(4), item_ids=range(5))


@pytest.mark.parametrize("normalize, alpha", [("sym", 0.0), ("row", 0.1)])
def test_lightgcn_forward_is_the_layer_mean_of_dense_propagation(normalize, alpha):
    graph = _small_graph()
    model = LightGCN.from_graph(graph, embedding_dim=4, num_layers=3, normalize=normalize,
                                residual_alpha=alpha)
    rating = torch.zeros(4, 5)
    rating[graph["user", "interacts", "item"].edge_index.unbind()] = 1.0
    adjacency = torch.zeros(9, 9)
    adjacency[:4, 4:] = rating
    adjacency[4:, :4] = rating.t()
    degree = adjacency.sum(1)
    if normalize == "sym":
        inv = degree.pow(-0.5).masked_fill(degree == 0, 0)
        operator = inv.view(-1, 1) * adjacency * inv.view(1, -1)
    else:
        operator = degree.reciprocal().masked_fill(degree == 0, 0).view(-1, 1) * adjacency
    x0 = model.embedding.weight.detach()
    layers = [x0]
    for _ in range(3):
        layers.append(operator @ layers[-1] + alpha * x0)
    expected = torch.stack(layers).mean(0)
    users, items = model()
    assert torch.allclose(torch.cat([users, items]), expected, atol=1e-6)


def test_bpr_loss_with_l2_matches_hand_computation():
    model = MF(2, 3, embedding_dim=2, reg_weight=0.5)
    with torch.no_grad():
        model.user_embedding.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
        model.item_embedding.weight.copy_(torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
    batch = PairBatch(torch.tensor([0, 1]), torch.tensor([0, 1]), torch.tensor([2, 0]))
    # scores: u0 pos 2, neg 1; u1 pos 1, neg 0
    bpr = -torch.log(torch.sigmoid(torch.tensor(1.0)))  # both pairs have margin 1
    squares = (1 + 1) + (4 + 1) + (2 + 4)  # users, positives, negatives
    expected = bpr + 0.5 * squares / (2 * 2)
    assert model.loss(batch).item() == pytest.approx(expected.item(), rel=1e-6)
    multi = PairBatch(torch.tensor([0]), torch.tensor([0]), torch.tensor([[2, 1]]))
    # u0: pos score 2, negatives 1 and 0 -> mean of -log sigma(1), -log sigma(2)
    bpr_multi = -(torch.log(torch.sigmoid(torch.tensor(1.0))) +
                  torch.log(torch.sigmoid(torch.tensor(2.0)))) / 2
    reg_multi = 0.5 * (1 + 4 + 2 + 1) / 2
    assert model.loss(multi).item() == pytest.approx((bpr_multi + reg_multi).item(), rel=1e-6)


def test_recommend_excludes_and_sorts():
    model = MF(2, 4, embedding_dim=1)
    with torch.no_grad():
        model.user_embedding.weight.copy_(torch.tensor([[1.0], [-1.0]]))
        model.item_embedding.weight.copy_(torch.tensor([[4.0], [3.0], [2.0], [1.0]]))
    exclude = Interactions(torch.tensor([[0], [0]]), 2, 4)
    items, scores = model.recommend([0, 1], k=2, exclude=exclude)
    assert items.tolist() == [[1, 2], [3, 2]]
    assert scores.tolist() == [[3.0, 2.0], [-1.0, -2.0]]
    with pytest.raises(ValueError, match="out of range"):
        model.recommend([2], k=1)


def test_popularity_ranks_by_training_degree_ties_to_lower_index():
    train = Interactions(torch.tensor([[0, 1, 2, 0, 1], [3, 3, 3, 1, 0]]), 3, 4)
    model = Popularity(3, 4)
    model.fit(train)
    items, _ = model.recommend([0], k=4)
    assert items.tolist() == [[3, 0, 1, 2]]  # degree 3, then 1, 1 (lower index first), 0


def test_unknown_model_name():
    with pytest.raises(ValueError, match="unknown model"):
        build_model("gcn", _small_graph())
