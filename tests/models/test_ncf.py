"""NCF: the log loss, GMF / MLP / NeuMF scores, NeuMF's fused output layer and its
pretraining through the trainer, and a short real-data run against popularity."""
import math

import pytest
import torch
import torch.nn.functional as F

import graphrec.models.ncf as ncf
from graphrec.graph.interactions import Interactions
from graphrec.graph.split import leave_one_out
from graphrec.models import build_model
from graphrec.models.ncf import GMF, NCFMLP, NeuMF
from graphrec.nn.losses import log_loss
from graphrec.sampling.batches import PairBatch
from graphrec.train.trainer import TrainConfig, Trainer
from tests.models.test_saved import community_graph

NUM_USERS, NUM_ITEMS = 40, 30


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


# ------------------------------------------------------------------------------- log loss
def test_log_loss_with_negatives_on_a_hand_case():
    pos = torch.tensor([0.0, 2.0])
    neg = torch.tensor([[0.0, -1.0], [1.0, 3.0]])  # K = 2 negatives per positive
    expected = -(math.log(_sigmoid(0.0)) + math.log(_sigmoid(2.0))
                 + math.log(1 - _sigmoid(0.0)) + math.log(1 - _sigmoid(-1.0))
                 + math.log(1 - _sigmoid(1.0)) + math.log(1 - _sigmoid(3.0))) / 6
    assert log_loss(pos, neg).item() == pytest.approx(expected, rel=1e-6)
    # the same as binary cross-entropy over the 6 labelled instances
    logits = torch.cat([pos, neg.view(-1)])
    labels = torch.tensor([1.0, 1.0, 0.0, 0.0, 0.0, 0.0])
    assert log_loss(pos, neg).item() == pytest.approx(
        F.binary_cross_entropy_with_logits(logits, labels).item(), rel=1e-6)


def test_log_loss_one_negative_and_large_logits():
    pos, neg = torch.tensor([1.0]), torch.tensor([-2.0])
    assert log_loss(pos, neg).item() == pytest.approx(
        -(math.log(_sigmoid(1.0)) + math.log(1 - _sigmoid(-2.0))) / 2, rel=1e-6)
    assert torch.isfinite(log_loss(torch.tensor([-200.0]), torch.tensor([[300.0]])))
    with pytest.raises(ValueError, match="neg_logits"):
        log_loss(torch.zeros(3), torch.zeros(2, 4))


# ------------------------------------------------------------------------------- scores
def _randomised(model):
    torch.manual_seed(3)
    with torch.no_grad():
        for param in model.parameters():
            param.normal_(0, 0.5)
    return model.eval()


def test_gmf_score_is_weighted_elementwise_product():
    model = _randomised(GMF(NUM_USERS, NUM_ITEMS, embedding_dim=4))
    users, items = torch.tensor([0, 3, 7]), torch.tensor([2, 2, 9])
    p, q = model.user_embedding.weight[users], model.item_embedding.weight[items]
    h, b = model.predict.weight.view(-1), model.predict.bias
    assert torch.allclose(model.logits(users, items), (p * q) @ h + b, atol=1e-6)
    full = model.all_logits(users)
    assert torch.allclose(full[torch.arange(3), items], model.logits(users, items), atol=1e-6)
    user_emb, item_emb = model.embeddings()  # exported: inner products are the logits
    assert torch.allclose(user_emb[users] @ item_emb.t(), full, atol=1e-5)


@pytest.mark.parametrize("cls", [NCFMLP, NeuMF])
def test_ranking_all_items_equals_scoring_each_pair(cls, monkeypatch):
    monkeypatch.setattr(ncf, "_SCORE_CHUNK", 2000)  # several user chunks
    model = _randomised(cls(NUM_USERS, NUM_ITEMS, embedding_dim=4, num_layers=2))
    users = torch.arange(NUM_USERS)
    pairs = model.logits(users.repeat_interleave(NUM_ITEMS),
                         torch.arange(NUM_ITEMS).repeat(NUM_USERS)).view(NUM_USERS, NUM_ITEMS)
    assert torch.allclose(model.all_logits(users), pairs, atol=1e-5)
    assert torch.allclose(model.scorer()(users[:5]), pairs[:5], atol=1e-5)


def test_mlp_score_is_output_layer_over_the_tower():
    model = _randomised(NCFMLP(NUM_USERS, NUM_ITEMS, embedding_dim=2, num_layers=3))
    assert model.user_embedding.embedding_dim == 8  # 2 * 2 ** (3 - 1)
    users, items = torch.tensor([1, 5]), torch.tensor([0, 4])
    hidden = torch.cat([model.user_embedding.weight[users], model.item_embedding.weight[items]],
                       dim=1)
    for lin in model.tower.lins:
        hidden = torch.relu(lin(hidden))
    expected = hidden @ model.predict.weight.view(-1) + model.predict.bias
    assert torch.allclose(model.logits(users, items), expected, atol=1e-6)


# ------------------------------------------------------------------------------- NeuMF
@pytest.mark.parametrize("alpha", [0.5, 0.3])
def test_neumf_fused_layer_is_alpha_weighted_concatenation_of_gmf_and_mlp(alpha):
    model = NeuMF(NUM_USERS, NUM_ITEMS, embedding_dim=4, num_layers=2, gmf_weight=alpha)
    _randomised(model.gmf), _randomised(model.mlp)  # stand-ins for trained parts
    model.fit(Interactions(torch.tensor([[0], [0]]), NUM_USERS, NUM_ITEMS))
    model.eval()
    h_gmf, h_mlp = model.gmf.predict.weight.view(-1), model.mlp.predict.weight.view(-1)
    assert torch.equal(model.predict.weight.view(-1),
                       torch.cat([alpha * h_gmf, (1 - alpha) * h_mlp]))
    users = torch.arange(NUM_USERS).repeat_interleave(NUM_ITEMS)
    items = torch.arange(NUM_ITEMS).repeat(NUM_USERS)
    # the output layer over [phi_GMF ‖ phi_MLP] ...
    explicit = (torch.cat([model.gmf.hidden(users, items), model.mlp.hidden(users, items)], 1)
                @ torch.cat([alpha * h_gmf, (1 - alpha) * h_mlp])
                + alpha * model.gmf.predict.bias + (1 - alpha) * model.mlp.predict.bias)
    assert torch.allclose(model.logits(users, items), explicit, atol=1e-5)
    # ... is alpha * GMF's prediction + (1 - alpha) * MLP's, at initialisation
    blend = alpha * model.gmf.logits(users, items) + (1 - alpha) * model.mlp.logits(users, items)
    assert torch.allclose(model.logits(users, items), blend, atol=1e-5)
    assert torch.allclose(model.all_logits(torch.arange(NUM_USERS)).view(-1), blend, atol=1e-5)


def test_neumf_without_pretraining_keeps_its_random_output_layer():
    model = NeuMF(NUM_USERS, NUM_ITEMS, embedding_dim=4, pretrain=False)
    before = model.predict.weight.clone()
    model.fit(Interactions(torch.tensor([[0], [0]]), NUM_USERS, NUM_ITEMS))
    assert torch.equal(model.predict.weight, before)
    assert model.pretraining() == []


def _config(**kwargs):
    return TrainConfig(**{**dict(epochs=2, batch_size=64, lr=5e-3, device="cpu",
                                 progress=False, seed=0, patience=0), **kwargs})


def test_trainer_pretrains_gmf_and_mlp_then_neumf_starts_from_their_blend(monkeypatch):
    split = leave_one_out(community_graph())
    train = Interactions.from_graph(split.train)
    valid = Interactions.from_graph(split.valid)
    torch.manual_seed(0)
    model = build_model("neumf", split.train, embedding_dim=4, num_layers=2)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    # every stage trains 2 epochs (the parts' own defaults would run 40)
    settings = {"epochs": 2, "lr": 1e-2, "batch_size": 64, "patience": 0}
    monkeypatch.setattr(ncf.GMF, "train_defaults", settings)
    monkeypatch.setattr(ncf.NCFMLP, "train_defaults", settings)
    seen = {}
    fuse = model.fit

    def spy(interactions):
        fuse(interactions)
        users = torch.arange(NUM_USERS).repeat_interleave(NUM_ITEMS)
        items = torch.arange(NUM_ITEMS).repeat(NUM_USERS)
        with torch.no_grad():
            seen["neumf"] = model.logits(users, items)
            seen["blend"] = 0.5 * (model.gmf.logits(users, items)
                                   + model.mlp.logits(users, items))
        seen["state"] = {k: v.clone() for k, v in model.state_dict().items()}

    model.fit = spy
    result = Trainer(model, _config()).fit(train, valid)
    assert set(result.pretraining) == {"gmf", "mlp"}
    assert result.pretraining["gmf"].epochs_run == 2 == result.pretraining["mlp"].epochs_run
    assert torch.allclose(seen["neumf"], seen["blend"], atol=1e-5)
    for key in ("gmf.user_embedding.weight", "mlp.tower.lins.0.weight"):  # the parts trained
        assert not torch.equal(seen["state"][key], initial[key]), key
    assert not torch.equal(model.predict.weight, seen["state"]["predict.weight"])  # fine-tuned


def test_use_pretrained_copies_parts_and_skips_pretraining():
    torch.manual_seed(0)
    gmf, mlp = _randomised(GMF(NUM_USERS, NUM_ITEMS, 4)), _randomised(NCFMLP(NUM_USERS,
                                                                             NUM_ITEMS, 4))
    model = NeuMF(NUM_USERS, NUM_ITEMS, embedding_dim=4).use_pretrained(gmf, mlp)
    assert model.pretraining() == []
    assert torch.equal(model.gmf.item_embedding.weight, gmf.item_embedding.weight)
    assert torch.equal(model.mlp.tower.lins[1].weight, mlp.tower.lins[1].weight)
    with pytest.raises(ValueError, match="does not fit"):
        NeuMF(NUM_USERS, NUM_ITEMS, embedding_dim=8).use_pretrained(gmf, mlp)
    with pytest.raises(TypeError, match="GMF and an NCFMLP"):
        model.use_pretrained(mlp, gmf)


def test_loss_is_log_loss_over_the_batch_and_its_negatives():
    model = _randomised(GMF(NUM_USERS, NUM_ITEMS, embedding_dim=4))
    batch = PairBatch(torch.tensor([0, 1]), torch.tensor([3, 4]), torch.tensor([[5, 6], [7, 8]]))
    pos = model.logits(batch.users, batch.pos_items)
    neg = model.logits(batch.users.view(-1, 1).expand(2, 2), batch.neg_items)
    assert model.loss(batch).item() == pytest.approx(log_loss(pos, neg).item(), rel=1e-6)


def test_batches_carry_four_fresh_negatives_per_positive():
    split = leave_one_out(community_graph())
    train = Interactions.from_graph(split.train)
    model = build_model("ncf_gmf", split.train)
    batches = model.train_batches(train, 1000, "cpu", seed=0)
    first, second = next(iter(batches)), next(iter(batches))
    assert first.neg_items.shape == (train.num_interactions, 4)
    assert not train.contains(first.users.view(-1, 1), first.neg_items).any()
    order = first.users * NUM_ITEMS + first.pos_items  # align the two shuffles
    again = second.users * NUM_ITEMS + second.pos_items
    a = first.neg_items[order.argsort()]
    b = second.neg_items[again.argsort()]
    assert not torch.equal(a, b)  # resampled every epoch


@pytest.mark.parametrize("kwargs, match", [
    (dict(embedding_dim=0), "embedding_dim"), (dict(num_negatives=0), "num_negatives"),
    (dict(gmf_weight=1.5), "gmf_weight"), (dict(pretrain="yes"), "pretrain")])
def test_bad_hyperparameters_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        NeuMF(NUM_USERS, NUM_ITEMS, **kwargs)


# ------------------------------------------------------------------------------- real data
@pytest.mark.realdata
def test_neumf_beats_popularity_on_movielens_leave_one_out(data_root, monkeypatch):
    from graphrec.data import load_dataset
    from graphrec.eval.evaluator import Evaluator
    from graphrec.experiment import make_split, run_experiment

    dataset = load_dataset("movielens-100k", data_root)
    split = make_split(dataset, "loo", order="time")
    evaluator = Evaluator(ks=(10,), sampled_negatives=100)
    # short parts: 5 epochs of Adam 5e-3 on batches of 1024, then one NeuMF epoch
    short = {"epochs": 5, "eval_every": 5, "patience": 0, "lr": 5e-3, "batch_size": 1024,
             "metric": "ndcg@10"}
    monkeypatch.setattr(ncf.GMF, "train_defaults", short)
    monkeypatch.setattr(ncf.NCFMLP, "train_defaults", short)
    config = _config(epochs=1, lr=1e-4, batch_size=256, ks=(10,), metric="ndcg@10")
    neumf = run_experiment(dataset, split, "neumf", {}, config, evaluator=evaluator)[1]["test"]
    popularity = run_experiment(dataset, split, "popularity", {}, config,
                                evaluator=evaluator)[1]["test"]
    # the paper's protocol (1 test item + 100 sampled): measured popularity HR@10 0.42,
    # NDCG@10 0.23; this short NeuMF 0.56 / 0.31. In full ranking popularity is a hard
    # baseline on MovieLens (HR@10 0.086); the short run only draws level with it
    # (0.089), the full runs pass it (docs/models.md)
    assert neumf["sampled_hit@10"] > popularity["sampled_hit@10"] + 0.08
    assert neumf["sampled_ndcg@10"] > popularity["sampled_ndcg@10"] + 0.05
    assert neumf["hit@10"] > popularity["hit@10"] - 0.01
