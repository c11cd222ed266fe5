"""Named presets: settings tuned for one model on one data set, in one place.

A preset is keyed by ``(model, dataset)`` and holds sections over the model's declared
defaults (its constructor's hyperparameters, its ``train_defaults``):

- ``hyperparameters``: model constructor arguments; a typed group of them (a dataclass
  default, e.g. PinSAGE's ``objective``) is a table of the fields it changes,
- ``train``: :class:`~graphrec.train.TrainConfig` fields,
- ``data``: keyword arguments of the data set's loader,
- ``split``: the split policy (``name``, and ``order`` for leave-one-out).

The CLI (``graphrec train --model M --dataset D`` picks ``(M, D)``'s preset unless
``--preset none``), :func:`graphrec.experiment.default_settings` and the examples all read
them from here, so each reproduces the others' runs.
"""
from __future__ import annotations

import copy
from typing import Any

# PinSAGE round 3 (docs/pinsage.md): the output gate (unit-norm output scaled by a learned
# sigmoid) and the softmax objective beat the paper's unit-norm max-margin model on both
# data sets, over three splits, and keep cold items calibrated. The evaluation protocol of
# examples/pinsage.py is leave-one-out: MovieLens by time, LastFM a seeded random artist.
_PINSAGE_ROUND_3 = {"output": {"gate": True},
                    "objective": {"kind": "softmax", "temperature": 0.05}}

PRESETS: dict[tuple[str, str], dict[str, dict[str, Any]]] = {
    ("pinsage", "movielens-100k"): {
        "hyperparameters": copy.deepcopy(_PINSAGE_ROUND_3),
        # release dates as 32 Gaussian bumps at date quantiles appended to the movie features
        "data": {"release_date_features": 32},
        "split": {"name": "loo", "order": "time"},
    },
    ("pinsage", "lastfm"): {
        "hyperparameters": copy.deepcopy(_PINSAGE_ROUND_3),
        # the softmax model peaks after 60-70 epochs: validate every second epoch
        # (validation is 40 % of an epoch's time)
        "train": {"eval_every": 2},
        "split": {"name": "loo", "order": "random"},
    },
}

# Skip-gram item embeddings (examples/item_embeddings.py, docs/item_embeddings.md): LastFM's
# corpus is larger, so fewer epochs in larger batches and shorter walks; EGES reads the
# side information the loaders add (LastFM: each artist's 30 top tags; MovieLens: genres,
# release-year buckets) and drops ids half the time so that cold items embed well
for _model in ("skipgram", "eges"):
    PRESETS[(_model, "movielens-100k")] = {
        "train": {"epochs": 5, "batch_size": 8192},
        "hyperparameters": {"walk_length": 20, "q": 0.5},
        **({"data": {"side_info": True}} if _model == "eges" else {}),
    }
    PRESETS[(_model, "lastfm")] = {
        "train": {"epochs": 2, "batch_size": 16384},
        "hyperparameters": {"walk_length": 10, "q": 0.5},
        **({"data": {"side_info_top_tags": 30}} if _model == "eges" else {}),
    }
for _dataset in ("movielens-100k", "lastfm"):
    PRESETS[("eges", _dataset)]["hyperparameters"]["id_dropout"] = 0.5

# Classic CF and graph filters on the small data sets (docs/models.md, "Classic CF and graph
# filters"): chosen on validation NDCG@20 of the per-user random 80/10/10 split, seed 0
# (`python benchmarks/classic.py --on valid ...`). Their declared defaults are Gowalla's; the
# denser ML-100K wants fewer singular vectors, a stronger ideal filter and little sharpening.
PRESETS[("itemknn", "movielens-100k")] = {"hyperparameters": {"num_neighbours": 50}}
PRESETS[("itemknn", "lastfm")] = {"hyperparameters": {"num_neighbours": 50}}
PRESETS[("ease", "movielens-100k")] = {"hyperparameters": {"reg_weight": 500.0}}
PRESETS[("ease", "lastfm")] = {"hyperparameters": {"reg_weight": 100.0}}
PRESETS[("gfcf", "movielens-100k")] = {"hyperparameters": {"factor_dim": 64,
                                                           "ideal_weight": 0.5}}
PRESETS[("bspm", "movielens-100k")] = {"hyperparameters": {
    "factor_dim": 64, "ideal_weight": 0.3, "sharpen_time": 0.5, "merge": "late"}}
PRESETS[("bspm", "lastfm")] = {"hyperparameters": {"sharpen_time": 1.0}}

# SDM (docs/retrieval.md): MovieLens has times, so short-term sessions split at gaps of ten
# minutes (the paper's rule) and the long-term channels include genres and release years
PRESETS[("sdm", "movielens-100k")] = {"hyperparameters": {"session_gap": 600},
                                      "data": {"side_info": True}}
# Two-tower / YouTube DNN (docs/retrieval.md): MovieLens's user (age, gender, occupation)
# and item (genres, year) features feed the towers, loaded with the side relations; its real
# timestamps give YouTube DNN's example age (Beauty's "times" are file lines: off there)
PRESETS[("two_tower", "movielens-100k")] = {"data": {"side_info": True}}
PRESETS[("youtube_dnn", "movielens-100k")] = {"hyperparameters": {"example_age": True},
                                              "data": {"side_info": True}}
# Hybrid MF (benchmarks/hybrid.py, docs/models.md): measured on MovieLens-100K ua with
# LightFM's protocol; the settings are the model's defaults, named here so that the
# benchmark, the CLI and the docs keep using them if the defaults move
PRESETS[("hybrid", "movielens-100k")] = {
    "hyperparameters": {"embedding_dim": 16, "loss": "warp", "max_sampled": 10,
                        "numeric": "bins", "num_bins": 10},
    "train": {"lr": 5e-3, "batch_size": 1024, "epochs": 8},
}

# Factorization machine for ratings (benchmarks/ratings.py, docs/models.md): user + item +
# side features, measured on MovieLens-100K's five official folds (the model's defaults)
PRESETS[("fm", "movielens-100k")] = {
    "hyperparameters": {"embedding_dim": 64, "task": "rating", "reg_weight": 0.1,
                        "numeric": "bins", "num_bins": 10},
    "train": {"lr": 3e-3, "batch_size": 1024, "epochs": 20},
}

# NCF (docs/models.md): the paper's leave-one-out protocol; LastFM listening has no times,
# so its held-out artists are seeded random ones (MovieLens: the latest rating). Ranking
# LastFM's 17,632 artists through the MLP tower for every user takes seconds: validate
# every second epoch there
for _model in ("ncf_gmf", "ncf_mlp", "neumf"):
    PRESETS[(_model, "lastfm")] = {"split": {"name": "loo", "order": "random"},
                                   **({} if _model == "ncf_gmf" else
                                      {"train": {"eval_every": 2}})}

# Gowalla (docs/performance.md, "Time to quality"): the sampled-softmax objective and a fixed
# cosine schedule, fitted on the whole training file (nothing is selected on validation, so
# none is held out). The number of epochs was chosen on a 10 % validation carve-out of the
# training file; the test file was read only by the final run
_GOWALLA_SOFTMAX = {"loss": "sampled_softmax", "temperature": 0.1, "num_negatives": 1024,
                    "reg_weight": 0.0}
PRESETS[("mf", "gowalla")] = {
    # uniform negatives only: for MF the [B, B] in-batch logits cost more than the model
    "hyperparameters": {**_GOWALLA_SOFTMAX, "in_batch": False},
    "train": {"lr": 1e-2, "batch_size": 4096, "epochs": 20, "lr_schedule": "cosine",
              "lr_decay": 1.0, "patience": 0},
    "split": {"valid_ratio": 0.0},
}

# LightGCN: in-batch and uniform candidates, logQ-corrected, over inner products (dot scores
# beat cosine ones for the propagated model, whose norms carry degree information), kept in
# check by the L2 penalty on the batch's layer-0 rows; chosen the same way as MF's
PRESETS[("lightgcn", "gowalla")] = {
    "hyperparameters": {**_GOWALLA_SOFTMAX, "similarity": "dot", "temperature": 1.0,
                        "reg_weight": 5e-2},
    "train": {"lr": 1e-2, "batch_size": 4096, "epochs": 30, "lr_schedule": "cosine",
              "lr_decay": 1.0, "patience": 0},
    "split": {"valid_ratio": 0.0},
}

# LastFM (docs/lastfm_social.md, "Fast presets"): the sampled softmax against the batch's
# other positives and 1,024 shared uniform items, logQ-corrected, with early stopping on
# validation NDCG@20 (patience 10, no plateau decay: these runs peak within 10-60 epochs).
# Chosen on validation NDCG@20 of the per-user random 80/10/10 split, seed 0 (the depth of
# the LightGCN towers on its mean over seeds 0-2: 4 layers beat 3 and 5 for both LightGCN and
# Lite-EIISRS); the SocialLGN split uses the same settings. Inner products suit the propagated
# models whose norms carry degree (LightGCN, Lite-EIISRS, as on Gowalla); MF and SocialLGN
# validate better with cosine scores at τ = 0.1 and no L2. Lite-EIISRS starts from ALS
# factors with λ = 10 (better factors on their own than λ = 5, and a better start under this
# objective)
_LASTFM_TRAIN = {"batch_size": 1024, "patience": 10, "lr_decay": 1.0}
_LASTFM_COSINE = {"loss": "sampled_softmax", "num_negatives": 1024, "temperature": 0.1,
                  "reg_weight": 0.0}
_LASTFM_DOT = {**_LASTFM_COSINE, "similarity": "dot", "temperature": 1.0, "reg_weight": 5e-2}
for _dataset in ("lastfm", "lastfm-sociallgn"):
    PRESETS[("mf", _dataset)] = {"hyperparameters": dict(_LASTFM_COSINE),
                                 "train": {**_LASTFM_TRAIN, "lr": 1e-2}}
    PRESETS[("sociallgn", _dataset)] = {"hyperparameters": dict(_LASTFM_COSINE),
                                        "train": {**_LASTFM_TRAIN, "lr": 1e-2}}
    PRESETS[("lightgcn", _dataset)] = {"hyperparameters": {**_LASTFM_DOT, "num_layers": 4},
                                       "train": {**_LASTFM_TRAIN, "lr": 1e-2}}
    PRESETS[("lite_eiisrs", _dataset)] = {
        "hyperparameters": {**_LASTFM_DOT, "reg_weight": 2e-2, "num_layers": 4,
                            "initial": {"als_reg": 10.0}},
        "train": {**_LASTFM_TRAIN, "lr": 3e-3}}

SECTIONS = ("hyperparameters", "train", "data", "split")


def preset(model: str, dataset: str) -> dict[str, dict[str, Any]]:
    """The preset of ``(model, dataset)``: every section, empty where it sets nothing."""
    found = PRESETS.get((model, dataset), {})
    return {section: copy.deepcopy(found.get(section, {})) for section in SECTIONS}
