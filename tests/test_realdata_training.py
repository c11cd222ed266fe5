"""Short real-data runs: trained models must beat the popularity baseline on LastFM."""
import pytest

from graphrec.experiment import default_settings, make_split, run_experiment
from graphrec.train import TrainConfig

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def lastfm_split(lastfm):
    return make_split(lastfm, "random", seed=0)


def _run(dataset, split, name, epochs):
    model_kwargs, train_kwargs = default_settings(name)
    train_kwargs.update(epochs=epochs, eval_every=epochs, patience=0)
    config = TrainConfig(**train_kwargs, device="cpu", progress=False, seed=0)
    return run_experiment(dataset, split, name, model_kwargs, config)[1]["test"]


def test_lastfm_random_split_sizes(lastfm, lastfm_split):
    sizes = lastfm_split.sizes()
    assert sum(sizes.values()) == 92834
    # RecBole's rule on 1,892 users with ~49 artists each: about 80 / 10 / 10
    assert 0.78 < sizes["train"] / 92834 < 0.82
    assert 0.09 < sizes["test"] / 92834 < 0.11


def test_mf_and_lightgcn_beat_popularity_on_lastfm(lastfm, lastfm_split):
    popularity = _run(lastfm, lastfm_split, "popularity", 1)
    mf = _run(lastfm, lastfm_split, "mf", 15)
    lightgcn = _run(lastfm, lastfm_split, "lightgcn", 15)
    # popularity reaches about recall@20 = 0.11 on this split; 15 epochs take both models
    # far beyond it (the full default runs reach 0.27-0.29, see docs/models.md)
    assert mf["recall@20"] > popularity["recall@20"] + 0.05
    assert lightgcn["recall@20"] > popularity["recall@20"] + 0.08
    assert lightgcn["ndcg@20"] > popularity["ndcg@20"] + 0.05


def test_lite_eiisrs_starts_ahead_and_beats_lightgcn_at_equal_short_training(lastfm,
                                                                             lastfm_split):
    # the MF/SVD start is what lifts Lite-EIISRS above LightGCN (docs/lastfm_social.md):
    # after the same 5 epochs it must be clearly ahead of the randomly started LightGCN
    lightgcn = _run(lastfm, lastfm_split, "lightgcn", 5)
    lite = _run(lastfm, lastfm_split, "lite_eiisrs", 5)
    assert lite["ndcg@20"] > lightgcn["ndcg@20"] + 0.02
    assert lite["recall@20"] > lightgcn["recall@20"] + 0.02


def test_lastfm_presets_reach_in_five_epochs_what_bpr_does_not(lastfm, lastfm_split):
    # issue 16: the (lightgcn, lastfm) preset's sampled softmax trains each pair against
    # ~2,000 negatives per propagation, so 5 epochs take LightGCN most of the way (the full
    # run peaks at test NDCG@20 0.240, docs/lastfm_social.md); the papers' BPR recipe, with
    # one negative per pair, is still far below it after the same 5 epochs
    def five_epochs(dataset_key):
        model_kwargs, train_kwargs = default_settings("lightgcn", dataset_key)
        train_kwargs.update(epochs=5, eval_every=5, patience=0)
        config = TrainConfig(**train_kwargs, device="cpu", progress=False, seed=0)
        return run_experiment(lastfm, lastfm_split, "lightgcn", model_kwargs, config)[1]["test"]

    preset, bpr = five_epochs("lastfm"), five_epochs(None)
    assert preset["ndcg@20"] > 0.20
    assert preset["ndcg@20"] > bpr["ndcg@20"] + 0.03
    assert preset["recall@20"] > bpr["recall@20"] + 0.03
