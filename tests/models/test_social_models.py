import numpy as np
import pytest
import torch

from graphrec.graph import FOLLOWS, build_interaction_graph
from graphrec.graph.build import TAGGED
from graphrec.graph.features import activity_features
from graphrec.graph.interactions import Interactions
from graphrec.models import LightGCN, LiteEIISRS, SocialLGN, build_model
from graphrec.models.factorization import als_factors, interaction_matrix, svd_factors
from graphrec.models.lite_eiisrs import (
    SPEC_AS_WRITTEN,
    BlendSettings,
    FusionSettings,
    HeadSettings,
    InitialEmbeddingSettings,
    SocialTowerSettings,
)
from graphrec.sampling.batches import PairBatch


def _graph(seed=0, num_users=12, num_items=15):
    generator = np.random.default_rng(seed)
    users, items = np.nonzero(generator.random((num_users, num_items)) < 0.3)
    graph = build_interaction_graph(users, items, weights=generator.integers(1, 50, len(users)),
                                    social=([0, 1, 2, 3, 4], [1, 0, 3, 2, 0]),
                                    user_ids=range(num_users), item_ids=range(num_items))
    graph[TAGGED].edge_index = torch.tensor([[0, 0, 1, 5], [1, 2, 1, 7]])
    graph[TAGGED].time = torch.tensor([0, 86400 * 30, 86400 * 400, 86400 * 10])
    return graph


def test_svd_factors_reconstruct_the_best_low_rank_approximation():
    train = Interactions.from_graph(_graph())
    matrix = interaction_matrix(train).toarray()
    users, items = svd_factors(train, 4)
    u, s, vt = np.linalg.svd(matrix)
    best = (u[:, :4] * s[:4]) @ vt[:4]
    assert np.allclose(users @ items.T, best, atol=1e-8)
    # each factor carries sigma^(1/2): column norms of U and V agree
    assert np.allclose(np.linalg.norm(users, axis=0), np.linalg.norm(items, axis=0))


def test_als_factors_satisfy_the_normal_equations():
    train = Interactions.from_graph(_graph())
    matrix = interaction_matrix(train).toarray()
    users, items = als_factors(train, 3, reg=0.5, iterations=30)
    # at a fixed point, U solves min ||R - U V^T||^2 + reg ||U||^2 for the current V
    expected_users = matrix @ items @ np.linalg.inv(items.T @ items + 0.5 * np.eye(3))
    assert np.allclose(users, expected_users, atol=1e-5)


def test_activity_features_columns():
    graph = _graph()
    user_features, item_features = activity_features(graph)
    assert user_features.shape == (12, 4) and item_features.shape == (15, 4)
    assert torch.allclose(user_features.mean(0), torch.zeros(4), atol=1e-5)
    degree = torch.bincount(graph["user", "interacts", "item"].edge_index[0], minlength=12)
    order = torch.argsort(user_features[:, 0])
    assert torch.all(degree[order].diff() >= 0)  # standardised log-degree keeps the order
    # user 1's only tagging event is the latest: the highest decayed activity
    assert int(user_features[:, 3].argmax()) == 1


def test_sociallgn_fuses_social_messages():
    graph = _graph()
    model = SocialLGN.from_graph(graph, embedding_dim=8, num_layers=2)
    users, items = model()
    assert users.shape == (12, 8) and items.shape == (15, 8)
    isolated = SocialLGN.from_graph(graph, embedding_dim=8, num_layers=2)
    isolated.load_state_dict(model.state_dict())
    isolated.social_edge_index = torch.zeros(2, 0, dtype=torch.long)
    isolated.social_conv.reset_parameters()
    assert not torch.allclose(isolated()[0], users)  # the social graph changes user embeddings
    # layer outputs are L2-normalised per user ("row" fusion norm)
    ego = model.embedding.weight
    social = model.social_conv(ego[:12], model.social_edge_index)
    layer_one = model.fusion(social, model.conv(ego, model.graph_edge_index)[:12])
    assert torch.allclose(layer_one.norm(dim=1), torch.ones(12), atol=1e-5)


HEAD_ON = {"head": {"enabled": True}, "social": {"enabled": True, "input": "base"}}
SMALL_FUSION = FusionSettings(token_dim=8)


def _merged(*tables):
    """Hyperparameter tables merged, groups field by field."""
    out = {}
    for table in tables:
        for key, value in table.items():
            out[key] = {**out.get(key, {}), **value} if isinstance(value, dict) else value
    return out


@pytest.mark.parametrize("switches, user_tokens", [
    ({}, 5), ({"initial": {"use_mf": False}, "blend": {"mf": 0.0}}, 4),
    ({"initial": {"use_svd": False}}, 4),
    # random start, no factor tokens
    ({"initial": {"use_mf": False, "use_svd": False}, "blend": {"mf": 0.0}}, 3),
    ({"fusion": {"use_features": False}}, 4), ({"social": {"enabled": False}}, 4),
    ({"fusion": {"use_attention": False}}, 5), ({"initial": {"combine": "concat"}}, 5),
])
def test_lite_eiisrs_parts_can_be_switched_off(switches, user_tokens):
    graph = _graph()
    model = build_model("lite_eiisrs", graph,
                        **_merged({"embedding_dim": 8, "fusion": {"token_dim": 8}}, HEAD_ON,
                                  switches))
    users, items = model.train()()
    base = 16 if switches.get("initial", {}).get("combine") == "concat" else 8
    assert users.shape == (12, base) and items.shape == (15, base)
    batch = PairBatch(torch.tensor([0, 1, 1]), torch.tensor([0, 2, 3]), torch.tensor([4, 5, 6]))
    loss = model.loss(batch)
    loss.backward()
    assert torch.isfinite(loss)
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert model.user_fusion.out_channels == 8 * user_tokens
    assert model.user_fusion.use_attention == switches.get("fusion", {}).get("use_attention",
                                                                            True)


def test_lite_eiisrs_spec_configuration_trains():
    model = build_model("lite_eiisrs", _graph(), embedding_dim=8, fusion={"token_dim": 8},
                        **SPEC_AS_WRITTEN[0])
    batch = PairBatch(torch.tensor([0, 1, 1]), torch.tensor([0, 2, 3]), torch.tensor([4, 5, 6]))
    model.loss(batch).backward()
    assert model.user_head.mlp[-1].weight.grad.abs().sum() > 0  # the head is in the path
    assert model.social_convs[0].lin.weight.grad.abs().sum() > 0


def test_lite_eiisrs_default_tower_is_lightgcn_on_the_factor_start():
    graph = _graph()
    model = LiteEIISRS.from_graph(graph, embedding_dim=8).train()
    reference = LightGCN.from_graph(graph, embedding_dim=8, num_layers=3)
    with torch.no_grad():
        reference.embedding.weight.copy_(torch.cat([model.user_base.weight,
                                                    model.item_base.weight]))
    for got, expected in zip(model(), reference(), strict=True):
        assert torch.allclose(got, expected, atol=1e-6)


def test_lite_eiisrs_blend_adds_the_scaled_mf_scores_at_inference():
    graph = _graph()
    model = LiteEIISRS.from_graph(graph, embedding_dim=8, blend=BlendSettings(mf=0.3))
    main_users, main_items = model.train()()  # training: the learned part alone
    users, items = model.eval()()
    pair_users, pair_items = model.blend_pairs

    def scaled(u, v):
        return (u @ v.T) / (u[pair_users] * v[pair_items]).sum(-1).std()

    expected = scaled(main_users, main_items) + 0.3 * scaled(model.user_mf, model.item_mf)
    assert torch.allclose(users @ items.T, expected, atol=1e-5)
    with pytest.raises(ValueError, match="blending"):
        LiteEIISRS.from_graph(graph, embedding_dim=8,
                              initial=InitialEmbeddingSettings(use_mf=False),
                              blend=BlendSettings(mf=0.1))


def test_lite_eiisrs_zero_initialised_head_starts_as_its_residual():
    graph = _graph()
    model = LiteEIISRS.from_graph(graph, embedding_dim=8, fusion=SMALL_FUSION,
                                  head=HeadSettings(enabled=True),
                                  blend=BlendSettings(mf=0.0)).eval()
    towers = model.towers()
    users, items = model()
    assert torch.allclose(users, towers["user_graph"]) and torch.allclose(items,
                                                                          towers["item_graph"])


def test_lite_eiisrs_batch_rows_equal_full_forward():
    graph = _graph()
    model = LiteEIISRS.from_graph(graph, embedding_dim=8, fusion=SMALL_FUSION,
                                  head=HeadSettings(enabled=True, zero_init=False),
                                  social=SocialTowerSettings(enabled=True, input="base"),
                                  blend=BlendSettings(mf=0.0)).eval()
    users, items = model()
    some_users, some_items = torch.tensor([3, 0, 3]), torch.tensor([14, 2])
    batch_users, batch_items = model.embed(some_users, some_items)
    assert torch.allclose(batch_users, users[some_users], atol=1e-6)
    assert torch.allclose(batch_items, items[some_items], atol=1e-6)


def test_lite_eiisrs_initial_tables_come_from_the_factorisations():
    graph = _graph()
    model = LiteEIISRS.from_graph(graph, embedding_dim=4, fusion=FusionSettings(token_dim=4),
                                  initial=InitialEmbeddingSettings(scale=0.1),
                                  head=HeadSettings(enabled=True),
                                  social=SocialTowerSettings(enabled=True, input="base"))
    train = Interactions.from_graph(graph)
    svd_users, svd_items = svd_factors(train, 4)
    table = torch.cat([model.user_svd, model.item_svd])
    reference = torch.from_numpy(np.concatenate([svd_users, svd_items])).float()
    scale = table.norm() / reference.norm()
    assert torch.allclose(table, reference * scale, atol=1e-5)  # same directions, one scale
    assert table.std().item() == pytest.approx(0.1, rel=1e-3)
    mean_start = (torch.cat([model.user_mf, model.item_mf]) + table) / 2
    assert torch.allclose(torch.cat([model.user_base.weight, model.item_base.weight]),
                          mean_start, atol=1e-6)
    assert not model.user_svd.requires_grad  # the tokens stay fixed
    assert FOLLOWS in graph.edge_types and model.use_social
