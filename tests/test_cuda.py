"""The CUDA paths: every registered model trains, evaluates and ranks on a GPU; the
samplers keep their invariants there; device results agree with CPU ones; bf16 AMP trains.

Skipped where CUDA is absent (CI and the development machines have none); on a GPU
machine: ``python -m pytest tests/test_cuda.py``. ``GRAPHREC_TEST_DEVICE=cpu`` runs the same
checks on the CPU (to check the tests themselves without a GPU).
"""
from __future__ import annotations

import math
import os

import pytest
import torch

from graphrec.data import load_lastfm, load_movielens_100k
from graphrec.experiment import default_settings, make_split, run_experiment
from graphrec.graph.interactions import Interactions
from graphrec.graph.split import leave_one_out
from graphrec.models import MODELS, LightGCN, PinSAGE, SASRec, build_model
from graphrec.models.pinsage import NegativeSettings, NeighborhoodSettings
from graphrec.sampling.negative import NegativeSampler
from graphrec.sampling.neighborhoods import ImportanceNeighborhoods
from graphrec.train.trainer import TrainConfig, Trainer

CUDA = torch.device(os.environ.get("GRAPHREC_TEST_DEVICE", "cuda"))
pytestmark = [pytest.mark.skipif(CUDA.type == "cuda" and not torch.cuda.is_available(),
                                 reason="needs CUDA"),
              pytest.mark.realdata]
SOCIAL = {"sociallgn", "lite_eiisrs"}  # need LastFM's friendships
SEQUENTIAL = {"sasrec", "tisasrec"}  # need times: MovieLens-100K, leave-one-out


@pytest.fixture(scope="module")
def movielens(data_root):
    return load_movielens_100k(data_root, download=False)


@pytest.fixture(scope="module")
def lastfm_cuda(data_root):
    return load_lastfm(data_root, download=False)


def _on_cuda(model: torch.nn.Module) -> bool:
    tensors = list(model.parameters()) + [b for b in model.buffers() if b is not None]
    return all(t.device.type == CUDA.type for t in tensors)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_trains_evaluates_and_ranks_on_cuda(name, movielens, lastfm_cuda):
    dataset = lastfm_cuda if name in SOCIAL else movielens
    split = (leave_one_out(dataset.graph) if name in SEQUENTIAL
             else make_split(dataset, "random", seed=0))
    model_kwargs, train_kwargs = default_settings(name)
    if "epochs" in train_kwargs:
        train_kwargs["epochs"] = 2
    config = TrainConfig(**train_kwargs, device=str(CUDA), progress=False, seed=0)
    model, results = run_experiment(dataset, split, name, model_kwargs, config)
    assert _on_cuda(model)
    for record in results["history"]:
        assert math.isfinite(record["loss"])
    metrics = results["test"]
    assert metrics and all(math.isfinite(v) and 0 <= v <= 1 for v in metrics.values())
    train = Interactions.from_graph(split.train)
    users = train.users.unique()[:64]
    items, scores = model.recommend(users, k=10, exclude=train)
    assert items.device.type == CUDA.type and scores.device.type == CUDA.type
    assert items.shape == (users.numel(), 10)
    rated = torch.zeros(train.num_users, train.num_items, dtype=torch.bool)
    rated[train.users, train.indices] = True
    assert not rated[users.unsqueeze(1), items.cpu()].any()  # exclusion holds on the GPU


def test_lightgcn_cuda_forward_and_scores_match_cpu(movielens):
    split = make_split(movielens, "random", seed=0)
    torch.manual_seed(0)
    cpu = LightGCN.from_graph(split.train, embedding_dim=32, num_layers=3)
    gpu = LightGCN.from_graph(split.train, embedding_dim=32, num_layers=3)
    gpu.load_state_dict(cpu.state_dict())
    gpu.to(CUDA)
    for a, b in zip(cpu(), gpu(), strict=True):
        torch.testing.assert_close(b.cpu(), a, atol=1e-5, rtol=1e-4)
    users = torch.arange(50)
    torch.testing.assert_close(gpu.scorer()(users.to(CUDA)).cpu(), cpu.scorer()(users),
                               atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("distribution", ["uniform", "popularity"])
def test_negative_sampler_on_cuda_never_returns_a_positive(distribution, movielens):
    train = Interactions.from_graph(make_split(movielens, "random", seed=0).train)
    sampler = NegativeSampler(train.to(CUDA), distribution)
    users = torch.arange(train.num_users, device=CUDA).repeat(20)
    negatives = sampler.sample(users, num_negatives=4,
                               generator=torch.Generator(device=CUDA).manual_seed(0))
    assert negatives.device.type == CUDA.type and negatives.shape == (users.numel(), 4)
    rated = torch.zeros(train.num_users, train.num_items, dtype=torch.bool, device=CUDA)
    rated[train.users.to(CUDA), train.indices.to(CUDA)] = True
    assert not rated[users.unsqueeze(1), negatives].any()


def test_importance_neighborhoods_on_cuda_keep_invariants_and_match_cpu_statistics(movielens):
    train = Interactions.from_graph(make_split(movielens, "random", seed=0).train)
    positives = train.edge_index[:, ::5]
    kwargs = dict(num_neighbors=10, num_walks=512, walk_length=6, restart_prob=0.5)
    gpu = ImportanceNeighborhoods.from_interactions(train, exclude=positives, **kwargs).to(CUDA)
    cpu = ImportanceNeighborhoods.from_interactions(train, exclude=positives, **kwargs)
    neighbors, weights = gpu.table()
    assert neighbors.device.type == CUDA.type
    items = torch.arange(train.num_items, device=CUDA).unsqueeze(1)
    assert not (neighbors == items).any()
    has = (neighbors >= 0).any(1)
    torch.testing.assert_close(weights[has].sum(1), torch.ones(int(has.sum()), device=CUDA))
    # no excluded positive (u, i) reaches the walked graph
    offset = positives[1] + train.num_users
    assert not gpu.graph.has_edge(positives[0].to(CUDA), offset.to(CUDA)).any()
    # the same random process on either device: visit shares of many walks from a few
    # items differ between devices no more than between two CPU seeds (top-T lists of 512
    # walks are too noisy on this dense graph to compare directly)
    items = train.item_degree().topk(8).indices

    def shares(neighborhoods, seed):
        generator = torch.Generator(device=neighborhoods.device).manual_seed(seed)
        visits = neighborhoods.item_visits(items, generator, num_walks=20000)
        dense = torch.zeros(items.numel(), train.num_items, dtype=torch.float64)
        dense[visits.start_index.cpu(), visits.node.cpu()] = visits.count.cpu().double()
        return dense / dense.sum(1, keepdim=True)

    def distance(x, y):  # L1 over x's 50 most visited items (the long tail is all noise)
        columns = x.topk(50, dim=1).indices
        return (x.gather(1, columns) - y.gather(1, columns)).abs().sum(1).mean()

    cpu_a, cpu_b, gpu_a = shares(cpu, 0), shares(cpu, 1), shares(gpu, 0)
    assert distance(cpu_a, gpu_a) < 1.5 * distance(cpu_a, cpu_b)
    # a walk engine that mixed up items would not pass: the same shares with items relabelled
    permutation = torch.randperm(train.num_items, generator=torch.Generator().manual_seed(0))
    relabelled = cpu_b[:, permutation]
    assert distance(cpu_a, relabelled) > 3 * distance(cpu_a, cpu_b)

def test_pinsage_trains_and_embeds_on_cuda_with_unit_norm(movielens):
    split = leave_one_out(movielens.graph, order="time")
    model = PinSAGE.from_graph(split.train, embedding_dim=32,
                               neighborhoods=NeighborhoodSettings(num_walks=64),
                               negatives=NegativeSettings(hard_walks=64))
    trainer = Trainer(model, TrainConfig(epochs=3, batch_size=256, lr=5e-3, device=str(CUDA),
                                         progress=False, seed=0))
    history = trainer.fit(Interactions.from_graph(split.train)).history
    assert all(math.isfinite(r["loss"]) for r in history)
    z = trainer.model.item_embeddings()
    assert z.device.type == CUDA.type
    warm = Interactions.from_graph(split.train).item_degree().to(CUDA) > 0
    torch.testing.assert_close(z[warm].norm(dim=1), torch.ones(int(warm.sum()), device=CUDA))
    found, _ = trainer.model.similar_items(torch.tensor([0, 1, 2]), k=5)
    assert found.device.type == CUDA.type and not (found == torch.tensor(
        [[0], [1], [2]], device=CUDA)).any()


@pytest.mark.parametrize("mhc", [None, 2])
def test_sasrec_bf16_amp_trains_on_cuda_and_tracks_fp32(mhc, movielens):
    split = leave_one_out(movielens.graph)
    train = Interactions.from_graph(split.train)
    histories, scores = [], []
    for amp in (False, True):
        torch.manual_seed(0)
        model = build_model("sasrec", split.train, embedding_dim=64, maxlen=50,
                            mhc_expansion=mhc)
        trainer = Trainer(model, TrainConfig(epochs=3, batch_size=128, lr=3e-3, device=str(CUDA),
                                             amp=amp, progress=False, seed=0))
        assert trainer.use_amp is (amp and CUDA.type == "cuda")
        histories.append([r["loss"] for r in trainer.fit(train).history])
        scores.append(trainer.model.scorer_from(train)(torch.arange(64, device=CUDA)).float())
    fp32, bf16 = histories
    assert all(math.isfinite(v) for v in bf16)
    assert bf16[-1] < bf16[0]  # it learns
    # bf16 matmuls change the trajectory a little, not the outcome
    assert abs(bf16[-1] - fp32[-1]) / fp32[-1] < 0.05
    top_fp32, top_bf16 = (s.topk(10, dim=1).indices for s in scores)
    overlap = (top_fp32.unsqueeze(2) == top_bf16.unsqueeze(1)).any(2).float().mean()
    assert overlap > 0.5
    assert isinstance(trainer.model, SASRec)
