import torch
import torch.nn.functional as F

from graphrec.eval.item_embeddings import auc, pair_scores
from graphrec.graph.interactions import Interactions
from graphrec.graph.side_info import SideField
from graphrec.models.skipgram import EGES, SkipGram, walk_corpus
from graphrec.sampling.skipgram import SkipGramBatch, SkipGramCorpus
from graphrec.sampling.walks import WalkGraph
from graphrec.train import TrainConfig, Trainer
from graphrec.train.losses import sgns_loss

NUM_ITEMS, CLUSTER = 40, 10  # four clusters of ten items


def _cluster_graph(items_with_edges: torch.Tensor) -> WalkGraph:
    """Dense within-cluster edges among ``items_with_edges``, nothing across clusters."""
    a, b = torch.meshgrid(items_with_edges, items_with_edges, indexing="ij")
    a, b = a.reshape(-1), b.reshape(-1)
    keep = (a // CLUSTER == b // CLUSTER) & (a != b)
    return WalkGraph.from_edge_index(torch.stack([a[keep], b[keep]]), NUM_ITEMS,
                                     torch.ones(int(keep.sum())))


def _cluster_pairs(items: torch.Tensor, generator: torch.Generator):
    pos_b = (items // CLUSTER) * CLUSTER + torch.randint(CLUSTER, items.shape,
                                                         generator=generator)
    neg_b = (items // CLUSTER * CLUSTER + CLUSTER * torch.randint(
        1, 4, items.shape, generator=generator) + torch.randint(
        CLUSTER, items.shape, generator=generator)) % NUM_ITEMS
    return torch.stack([items, pos_b]), torch.stack([items, neg_b])


def _train(model, epochs=5):
    config = TrainConfig(epochs=epochs, batch_size=1024, lr=0.05, device="cpu", progress=False)
    train = Interactions(torch.zeros(2, 0, dtype=torch.long), 1, NUM_ITEMS)
    Trainer(model, config).fit(train)
    model.eval()
    return model


def test_sgns_loss_matches_formula():
    generator = torch.Generator().manual_seed(0)
    h, z = torch.randn(4, 3, generator=generator), torch.randn(4, 3, generator=generator)
    negatives = torch.randn(4, 2, 3, generator=generator)
    expected = -sum(
        F.logsigmoid(h[b] @ z[b]) + sum(F.logsigmoid(-(h[b] @ negatives[b, k]))
                                         for k in range(2)) for b in range(4)) / 4
    assert torch.allclose(sgns_loss(h, z, negatives), expected)


def test_deepwalk_separates_clusters_through_the_trainer():
    torch.manual_seed(0)
    corpus = walk_corpus(_cluster_graph(torch.arange(NUM_ITEMS)), 10, 10, seed=0)
    model = _train(SkipGram(1, NUM_ITEMS, corpus, embedding_dim=16, subsample=0.0))
    pos, neg = _cluster_pairs(torch.arange(NUM_ITEMS), torch.Generator().manual_seed(1))
    emb = model.item_embeddings()
    assert auc(pair_scores(emb, pos), pair_scores(emb, neg)) > 0.95
    assert model.cold_item_embeddings() is None
    # as a Recommender: a user holding item 3 ranks cluster 0 first
    model.fit(Interactions(torch.tensor([[0], [3]]), 1, NUM_ITEMS))
    scores = model.scorer()(torch.tensor([0]))[0]
    assert bool((torch.topk(scores, 5).indices < CLUSTER).all())


def test_eges_embeds_cold_items_from_side_information():
    torch.manual_seed(0)
    cold = torch.arange(NUM_ITEMS) % CLUSTER == 0  # one cold item per cluster
    graph = _cluster_graph(torch.arange(NUM_ITEMS)[~cold])
    corpus = walk_corpus(graph, 10, 10, seed=0)
    # field "cluster": the item's cluster id; field "noise": a random value
    items = torch.arange(NUM_ITEMS)
    noise = torch.randint(5, (NUM_ITEMS,), generator=torch.Generator().manual_seed(2))
    fields = [SideField("cluster", torch.stack([items, items // CLUSTER]), 4),
              SideField("noise", torch.stack([items, noise]), 5)]
    for attention in (True,):  # GES's weights are tested with EGESConv
        model = _train(EGES(1, NUM_ITEMS, corpus, fields, attention=attention,
                            embedding_dim=16, subsample=0.0, id_dropout=0.3))
        assert model.has_id.tolist() == (~cold).tolist()
        with torch.no_grad():
            emb, weights = model.item_embeddings(return_attention_weights=True)
            cold_emb = model.cold_item_embeddings()
        assert torch.allclose(weights.sum(1), torch.ones(NUM_ITEMS))
        assert bool((weights[cold, 0] == 0).all())  # cold items: no id
        pos, neg = _cluster_pairs(items[cold].repeat(10), torch.Generator().manual_seed(3))
        assert auc(pair_scores(cold_emb, pos), pair_scores(cold_emb, neg)) > 0.9
        warm_pos, warm_neg = _cluster_pairs(items[~cold], torch.Generator().manual_seed(4))
        assert auc(pair_scores(emb, warm_pos), pair_scores(emb, warm_neg)) > 0.9


def test_eges_batch_centres_equal_full_embeddings():
    corpus = SkipGramCorpus(torch.tensor([0, 1, 2, 1]), torch.tensor([0, 0, 1, 1]), 4)
    field = SideField("f", torch.tensor([[0, 1, 3, 3], [0, 1, 0, 1]]), 2)
    model = EGES(1, 4, corpus, [field], embedding_dim=4)
    torch.nn.init.normal_(model.conv.attention)
    model.eval()
    items = torch.tensor([3, 1, 1, 0])
    assert torch.allclose(model.center_embeddings(items), model.item_embeddings()[items])
    loss = model.loss(SkipGramBatch(items, torch.tensor([0, 1, 2, 3]),
                                    torch.tensor([[1], [2], [3], [0]])))
    assert loss.ndim == 0 and torch.isfinite(loss)
