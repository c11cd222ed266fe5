import pytest
import torch

from graphrec.data import load_movielens_100k
from graphrec.eval.ratings import RatingEvaluator
from graphrec.graph import build_interaction_graph
from graphrec.graph.interactions import Interactions
from graphrec.models import build_model
from graphrec.models.funksvd import FunkSVD
from graphrec.sampling.ratings import RatingBatch
from graphrec.train.trainer import TrainConfig, Trainer, seed_everything


def _model():
    model = FunkSVD(2, 3, embedding_dim=2, reg_weight=0.5)
    with torch.no_grad():
        model.user_factors.weight.copy_(torch.tensor([[1.0, 2.0], [0.5, -1.0]]))
        model.item_factors.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]]))
        model.user_bias.weight.copy_(torch.tensor([[0.5], [-0.25]]))
        model.item_bias.weight.copy_(torch.tensor([[0.1], [0.2], [-0.3]]))
    train = Interactions(torch.tensor([[0, 1], [0, 2]]), 2, 3,
                         edge_weight=torch.tensor([5.0, 1.0]))
    model.fit(train)  # mean 3, range [1, 5]
    return model


def test_prediction_formula_by_hand():
    model = _model()
    assert model.global_mean.item() == 3.0
    users, items = torch.tensor([0, 0, 1, 1]), torch.tensor([0, 2, 1, 2])
    # mu + b_u + b_i + p_u . q_i
    expected = torch.tensor([3 + 0.5 + 0.1 + 1.0,         # 4.6
                             3 + 0.5 - 0.3 + 6.0,         # 9.2 -> clipped to 5
                             3 - 0.25 + 0.2 - 1.0,        # 1.95
                             3 - 0.25 - 0.3 + (1 - 2)])   # 1.45
    torch.testing.assert_close(model.predict(users, items, clip=False), expected)
    torch.testing.assert_close(model.predict(users, items), expected.clamp(1, 5))
    scores = model.scorer()(torch.tensor([0, 1]))
    torch.testing.assert_close(scores[[0, 0, 1, 1], [0, 2, 1, 2]], expected)


def test_loss_by_hand():
    model = _model()
    batch = RatingBatch(torch.tensor([0, 1]), torch.tensor([0, 1]), torch.tensor([4.0, 3.0]))
    errors = (4.0 - 4.6) ** 2 + (3.0 - 1.95) ** 2
    squares = (0.25 + 5 + 0.01 + 1) + (0.0625 + 1.25 + 0.04 + 1)  # b_u^2 + |p|^2 + b_i^2 + |q|^2
    expected = errors / 2 + 0.5 * squares / 2
    assert model.loss(batch).item() == pytest.approx(expected, rel=1e-6)
    unbiased = FunkSVD(2, 3, embedding_dim=2, biased=False)
    unbiased.fit(Interactions(torch.tensor([[0], [0]]), 2, 3, edge_weight=torch.tensor([4.0])))
    assert unbiased.global_mean.item() == 0.0
    assert not unbiased.user_bias.weight.requires_grad


def test_needs_ratings():
    with pytest.raises(ValueError, match="edge_weight is None"):
        FunkSVD(2, 2).fit(Interactions(torch.tensor([[0], [1]]), 2, 2))


def test_trained_by_the_trainer_with_early_stopping_on_rmse():
    generator = torch.Generator().manual_seed(0)
    users = torch.arange(40).repeat_interleave(15)  # 15 distinct items per user
    items = torch.stack([torch.randperm(30, generator=generator)[:15] for _ in range(40)]).view(-1)
    truth_u = torch.randn(40, 2, generator=generator)
    truth_i = torch.randn(30, 2, generator=generator)
    ratings = (3 + (truth_u[users] * truth_i[items]).sum(1)).clamp(1, 5).round()
    graph = build_interaction_graph(users.numpy(), items.numpy(), weights=ratings.numpy(),
                                    user_ids=range(40), item_ids=range(30))
    full = Interactions.from_graph(graph)
    keep = torch.rand(full.num_interactions, generator=generator) < 0.8
    train = Interactions(full.edge_index[:, keep], 40, 30, edge_weight=full.edge_weight[keep])
    valid = Interactions(full.edge_index[:, ~keep], 40, 30, edge_weight=full.edge_weight[~keep])
    seed_everything(0)
    # no regularisation and a large learning rate: it overfits, so early stopping acts
    model = build_model("funksvd", graph, embedding_dim=8, reg_weight=0.0)
    evaluator = RatingEvaluator()
    trainer = Trainer(model, TrainConfig(lr=3e-2, batch_size=64, epochs=200, patience=5,
                                         metric="neg_rmse", device="cpu", progress=False),
                      evaluator=evaluator)
    result = trainer.fit(train, valid)
    history = [record["valid"]["neg_rmse"] for record in result.history]
    assert result.best_metric == max(history)
    # the best epoch's weights are restored
    assert evaluator.evaluate(model, valid)["rmse"] == pytest.approx(-result.best_metric)
    assert history[0] < result.best_metric  # it learned something
    assert result.epochs_run == result.best_epoch + 5 < 200  # and stopped 5 epochs later


@pytest.mark.realdata
def test_funksvd_beats_mean_and_bias_baselines_on_movielens(data_root):
    split = load_movielens_100k(data_root, download=False, fold="u1").split
    train = Interactions.from_graph(split.train)
    test = Interactions.from_graph(split.test)
    evaluator = RatingEvaluator()
    mean = train.edge_weight.mean()
    global_mean = (test.edge_weight - mean).pow(2).mean().sqrt().item()
    rmse = {}
    for name, dim in (("bias", 0), ("funksvd", 100)):
        seed_everything(0)
        model = build_model("funksvd", split.train, embedding_dim=dim)
        Trainer(model, TrainConfig(lr=3e-3, batch_size=1024, epochs=10, device="cpu",
                                   progress=False)).fit(train)
        rmse[name] = evaluator.evaluate(model, test)["rmse"]
    assert rmse["bias"] < global_mean - 0.1, (rmse, global_mean)
    assert rmse["funksvd"] < rmse["bias"] - 0.01, rmse


def test_experiments_report_test_rmse_and_mae_of_rating_models():
    from graphrec.data.dataset import RecDataset
    from graphrec.experiment import run_experiment
    from graphrec.graph.split import Split, random_split

    generator = torch.Generator().manual_seed(1)
    users = torch.arange(30).repeat_interleave(10)
    items = torch.stack([torch.randperm(25, generator=generator)[:10] for _ in range(30)]).view(-1)
    ratings = torch.randint(1, 6, (users.numel(),), generator=generator).float()
    graph = build_interaction_graph(users.numpy(), items.numpy(), weights=ratings.numpy(),
                                    user_ids=range(30), item_ids=range(25))
    split = random_split(graph, seed=0)
    dataset = RecDataset(name="toy", graph=graph, split=None)
    model, results = run_experiment(dataset, Split(split.train, None, split.test), "funksvd",
                                    {"embedding_dim": 4},
                                    TrainConfig(epochs=2, device="cpu", progress=False))
    expected = RatingEvaluator().evaluate(model, Interactions.from_graph(split.test))
    assert results["test"]["rmse"] == pytest.approx(expected["rmse"])
    assert results["test"]["mae"] == pytest.approx(expected["mae"])
    assert "recall@20" in results["test"] and "neg_rmse" not in results["test"]
