"""Bad arguments fail where they are passed: model constructors refuse widths, layer counts
and rates that would train nothing or crash later, and ``recommend`` never returns an
excluded item, never truncates a float user id and pads short rows with -1 / -inf."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from graphrec.eval.evaluator import Evaluator
from graphrec.eval.ranking import topk_items
from graphrec.graph import build_interaction_graph
from graphrec.graph.interactions import Interactions
from graphrec.models import (
    MF,
    LightGCN,
    LiteEIISRS,
    PinSAGE,
    Pixie,
    Popularity,
    SASRec,
    SocialLGN,
    TiSASRec,
    build_model,
)
from graphrec.models.joint import JointRecommender
from graphrec.models.lite_eiisrs import (
    FusionSettings,
    GraphTowerSettings,
    HeadSettings,
    InitialEmbeddingSettings,
    SocialTowerSettings,
)
from graphrec.models.pinsage import (
    NegativeSettings,
    NeighborhoodSettings,
    ObjectiveSettings,
    OutputSettings,
    PinSAGEInputs,
)
from graphrec.models.skipgram import SkipGram
from graphrec.nn.item_embedding import ItemEmbedding
from graphrec.sampling.skipgram import SkipGramCorpus

EDGES = torch.tensor([[0, 0, 1, 2], [0, 1, 2, 3]])
SOCIAL = torch.tensor([[0, 1], [1, 0]])


def graph():
    return build_interaction_graph([0, 0, 1, 2, 2], [0, 1, 2, 3, 1], user_ids=range(3),
                                   item_ids=range(4), item_features=torch.eye(4))


def corpus():
    return SkipGramCorpus(torch.tensor([0, 1, 2, 3]), torch.tensor([0, 0, 1, 1]), 4)


# ---------------------------------------------------------------- constructors (items 2, 7)


@pytest.mark.parametrize(("build", "message"), [
    (lambda: MF(3, 4, embedding_dim=0), r"embedding_dim must be an integer >= 1 \(got 0\)"),
    (lambda: MF(3, 4, embedding_dim=-4), r"embedding_dim must be an integer >= 1 \(got -4\)"),
    (lambda: MF(3, 4, embedding_dim=8.0), r"embedding_dim must be an integer"),
    (lambda: MF(3, 4, init_std=0.0), r"init_std must be a finite number > 0"),
    (lambda: MF(3, 4, reg_weight=-1e-4), r"reg_weight must be a finite number >= 0"),
    (lambda: MF(0, 4), r"num_users must be an integer >= 1"),
    (lambda: Popularity(3, 0), r"num_items must be an integer >= 1"),
    (lambda: LightGCN(3, 4, EDGES, num_layers=-1), r"num_layers must be an integer >= 0"),
    (lambda: LightGCN(3, 4, EDGES, residual_alpha=float("nan")), r"residual_alpha"),
    (lambda: LightGCN(3, 4, EDGES[:, :1].t()), r"edge_index must have shape \[2, E\]"),
    (lambda: LightGCN(3, 4, EDGES.float()), r"edge_index must hold integer indices"),
    (lambda: LightGCN(3, 3, EDGES), r"edge_index\[1\] holds item indices in \[0, 3\]; "
                                    r"expected \[0, 3\)"),
    (lambda: SocialLGN(3, 4, EDGES, torch.tensor([[0], [5]])), r"social_edge_index\[1\]"),
    (lambda: HeadSettings(dropout=1.5), r"HeadSettings.dropout must be a finite "
                                        r"number in \[0, 1\)"),
    (lambda: FusionSettings(token_dim=0), r"FusionSettings.token_dim must be an integer >= 1"),
    (lambda: FusionSettings(token_dim=9), r"token_dim \(9\) must be divisible by num_heads"),
    (lambda: InitialEmbeddingSettings(als_reg=0.0),
     r"InitialEmbeddingSettings.als_reg must be a finite number > 0"),
    (lambda: GraphTowerSettings(readout="sum"),
     r"GraphTowerSettings.readout must be one of \('last', 'mean'\) \(got 'sum'\)"),
    (lambda: SocialTowerSettings(enabled=1), r"SocialTowerSettings.enabled must be True or "
                                             r"False \(got 1\)"),
    (lambda: LiteEIISRS(3, 4, EDGES, num_layers=-1), r"num_layers must be an integer >= 0"),
    (lambda: LiteEIISRS(3, 4, EDGES, head={"dropout": 0.5}),
     r"head must be HeadSettings\(\.\.\.\) \(got \{'dropout': 0.5\}\)"),
    (lambda: SASRec(3, 4, embedding_dim=0), r"embedding_dim must be an integer >= 1"),
    (lambda: SASRec(3, 4, heads=0), r"heads must be an integer >= 1"),
    (lambda: SASRec(3, 4, dropout=1.0), r"dropout must be a finite number in \[0, 1\)"),
    (lambda: SASRec(3, 4, maxlen=0), r"maxlen must be an integer >= 1"),
    (lambda: SASRec(3, 4, num_blocks=-1), r"num_blocks must be an integer >= 0"),
    (lambda: SASRec(3, 4, mhc_expansion=0), r"mhc_expansion must be an integer >= 1 or None"),
    (lambda: SASRec(3, 4, init_std=-0.1), r"init_std must be a finite number > 0 or None"),
    (lambda: TiSASRec(3, 4, time_span=0), r"time_span must be an integer >= 1"),
    (lambda: Pixie(3, 4, restart_prob=1.0), r"restart_prob must be a finite number in \[0, 1\)"),
    (lambda: Pixie(3, 4, num_walks=0), r"num_walks must be an integer >= 1"),
    (lambda: PinSAGE.from_graph(graph(), num_layers=0), r"num_layers must be an integer >= 1"),
    (lambda: NegativeSettings(hard_ranks=(0.5, 0.1)),
     r"NegativeSettings.hard_ranks\[1\] must be a finite number in \[0.5, 1\]"),
    (lambda: NegativeSettings(hard_ranks=(0.1,)), r"hard_ranks must be a pair"),
    (lambda: NegativeSettings(max_hard=-1), r"NegativeSettings.max_hard must be an integer "
                                            r">= 0"),
    (lambda: NeighborhoodSettings(restart_prob=1.0),
     r"NeighborhoodSettings.restart_prob must be a finite number in \[0, 1\)"),
    (lambda: NeighborhoodSettings(num_neighbors=0),
     r"NeighborhoodSettings.num_neighbors must be an integer >= 1 or None"),
    (lambda: PinSAGEInputs(max_tags=0), r"PinSAGEInputs.max_tags must be an integer >= 1"),
    (lambda: OutputSettings(gate="yes"), r"OutputSettings.gate must be True or False"),
    (lambda: PinSAGE.from_graph(graph(), cold_dropout=1.0), r"cold_dropout"),
    (lambda: ObjectiveSettings(temperature=0.0), r"ObjectiveSettings.temperature must be a "
                                                 r"finite number > 0"),
    (lambda: PinSAGE.from_graph(graph(), num_folds=0), r"num_folds must be an integer >= 1"),
    (lambda: PinSAGE.from_graph(graph(), inputs=PinSAGEInputs(
        use_features=False, use_tags=False, use_id_embedding=False)),
     r"ItemInput needs item features, tags or an id embedding"),
    (lambda: SkipGram(3, 4, corpus(), window=0), r"window must be an integer >= 1"),
    (lambda: SkipGram(3, 4, corpus(), embedding_dim=0), r"embedding_dim must be an integer"),
    (lambda: SkipGram(3, 4, corpus(), mode="bag"), r"mode must be 'sequence' or 'set'"),
])
def test_constructors_refuse_bad_arguments_by_name(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_registry_passes_the_check_through():
    with pytest.raises(ValueError, match=r"embedding_dim must be an integer >= 1 \(got 0\)"):
        build_model("mf", graph(), embedding_dim=0)


def test_joint_graph_weight_must_be_non_negative():
    table = ItemEmbedding(4, 8)
    with pytest.raises(ValueError, match="graph_weight must be a finite number >= 0"):
        JointRecommender(SASRec(3, 4, embedding_dim=8, item_embedding=table),
                         MF(3, 4, embedding_dim=8, item_embedding=table), graph_weight=-1.0)


def test_lightgcn_with_zero_layers_is_matrix_factorisation():
    model = LightGCN(3, 4, EDGES, embedding_dim=4, num_layers=0)
    users, items = model()
    assert torch.equal(users, model.embedding.weight[:3])
    assert torch.equal(items, model.embedding.weight[3:])


# ---------------------------------------------------------------- recommend (items 3, 7)


def ranked_model() -> MF:
    """Two users, four items; user 0 scores items 4 > 3 > 2 > 1, user 1 the reverse."""
    model = MF(2, 4, embedding_dim=1)
    with torch.no_grad():
        model.user_embedding.weight.copy_(torch.tensor([[1.0], [-1.0]]))
        model.item_embedding.weight.copy_(torch.tensor([[4.0], [3.0], [2.0], [1.0]]))
    return model


def test_recommend_pads_short_rows_with_minus_one_and_never_returns_excluded():
    model = ranked_model()
    exclude = Interactions(torch.tensor([[0, 0, 0], [0, 1, 3]]), 2, 4)
    items, scores = model.recommend([0, 1], k=3, exclude=exclude)
    # user 0 has only item 2 left: the rest is padding, not the excluded items 0, 1, 3
    assert items.tolist() == [[2, -1, -1], [3, 2, 1]]
    assert scores.tolist() == [[2.0, float("-inf"), float("-inf")], [-1.0, -2.0, -3.0]]


def test_recommend_k_above_the_number_of_items_and_everything_excluded():
    model = ranked_model()
    items, scores = model.recommend([1], k=6)
    assert items.tolist() == [[3, 2, 1, 0, -1, -1]]
    assert scores[0, 4:].tolist() == [float("-inf")] * 2
    everything = Interactions(torch.tensor([[0, 0, 0, 0], [0, 1, 2, 3]]), 2, 4)
    items, scores = model.recommend([0], k=2, exclude=everything)
    assert items.tolist() == [[-1, -1]]
    assert bool(torch.isneginf(scores).all())


@pytest.mark.parametrize("users", [[0.7], torch.tensor([0.0]), np.array([1.0]), [True],
                                   ["0"]])
def test_recommend_refuses_non_integer_users(users):
    with pytest.raises(ValueError, match="users must be integer user indices"):
        ranked_model().recommend(users, k=1)


@pytest.mark.parametrize("k", [-1, 0, 2.0, True, None])
def test_recommend_refuses_bad_k(k):
    with pytest.raises(ValueError, match="k must be an integer >= 1"):
        ranked_model().recommend([0], k=k)


def test_recommend_accepts_integer_arrays_and_checks_the_range():
    model = ranked_model()
    expected = model.recommend([1], k=2)[0].tolist()
    for users in (np.array([1], dtype=np.uint8), torch.tensor([1], dtype=torch.int32), 1):
        assert model.recommend(users, k=2)[0].tolist() == expected
    assert model.recommend([], k=2)[0].shape == (0, 2)
    with pytest.raises(ValueError, match=r"user index -1 out of range \[0, 2\)"):
        model.recommend([0, -1], k=1)


def test_topk_items_directly():
    scores = torch.tensor([[1.0, float("-inf"), 3.0]])
    items, values = topk_items(scores, 4)
    assert items.tolist() == [[2, 0, -1, -1]]
    assert values.tolist() == [[3.0, 1.0, float("-inf"), float("-inf")]]
    with pytest.raises(ValueError, match="k must be an integer >= 1"):
        topk_items(scores, 0)


def test_evaluator_never_counts_padding_as_a_hit():
    # item -1 of user 1 would read as item 2 of user 0 (key 1 * 3 - 1 = 0 * 3 + 2)
    model = Popularity(2, 3)
    model.fit(Interactions(torch.tensor([[0, 1], [0, 1]]), 2, 3))
    target = Interactions(torch.tensor([[0, 1], [2, 0]]), 2, 3)
    exclude = Interactions(torch.tensor([[1, 1], [1, 2]]), 2, 3)
    result = Evaluator(ks=(3,), metrics=("recall", "hit")).evaluate(
        model, target, exclude=exclude, keep_per_user=True)
    assert result.per_user["recall@3"].tolist() == [1.0, 1.0]
