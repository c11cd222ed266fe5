"""PinSAGE's and Lite-EIISRS's typed groups of hyperparameters: the grouping moved every
setting, changed none of them (defaults, presets, the design document's configuration and
the examples' ablation rows resolve to the values the flat constructors had), and groups
behave as configuration (partial tables, early checks, --set, frozen values)."""
from __future__ import annotations

import dataclasses

import pytest

from graphrec.cli import _parser as cli_parser
from graphrec.cli import build_run_config
from graphrec.experiment import default_settings, resolve_run
from graphrec.models.lite_eiisrs import SPEC_AS_WRITTEN, HeadSettings
from graphrec.models.pinsage import NegativeSettings, ObjectiveSettings
from graphrec.models.registry import check_hyperparameters, hyperparameters

# the flat constructors' hyperparameters before the grouping (graphrec at 2dca58e)
FLAT_DEFAULTS = {
    "pinsage": {
        "embedding_dim": 64, "num_layers": 2, "use_features": True, "use_tags": True,
        "use_tag_popularity": True, "use_id_embedding": True, "max_tags": 10,
        "num_neighbors": None, "num_walks": 256, "walk_length": 6, "restart_prob": 0.5,
        "num_easy": 500, "easy_negative_power": 0.0, "max_hard": 6, "curriculum": True,
        "hard_ranks": (0.02, 0.1), "hard_walks": 256, "hard_walk_length": 8, "hard_pool": 32,
        "margin": 0.1, "objective": "margin", "temperature": 0.1, "num_folds": 5,
        "cold_dropout": 0.3, "query_weight_exponent": 1.0, "output_layer": False,
        "normalize_output": True, "output_gate": False, "seed": 0},
    "lite_eiisrs": {
        "embedding_dim": 64, "num_layers": 3, "num_social_layers": 1, "graph_normalize": "sym",
        "graph_readout": "mean", "social_input": "graph", "head_residual": "graph",
        "residual_alpha": 0.1, "beta": 1.0, "combine": "mean", "use_mf": True, "use_svd": True,
        "use_features": True, "use_social": False, "use_attention": True,
        "finetune_tokens": False, "token_dim": 64, "num_heads": 2, "feature_hidden": 64,
        "social_dropout": 0.1, "head_dropout": 0.0, "head_zero_init": True, "use_head": False,
        "blend_mf": 0.1, "blend_svd": 0.0, "freeze_initial": False, "als_reg": 5.0,
        "init_scale": 0.1, "seed": 0, "reg_weight": 1e-4, "loss": "bpr", "num_negatives": None,
        "temperature": 0.1, "in_batch": True, "logq": True, "similarity": "cosine"},
}
# the flat PinSAGE preset of both data sets (round 3 of docs/pinsage.md)
FLAT_PINSAGE_PRESET = {"output_gate": True, "objective": "softmax", "temperature": 0.05}
# the design document's configuration and the examples' ablation rows, flat
FLAT_SPEC = {"num_layers": 2, "num_social_layers": 2, "graph_normalize": "row",
             "graph_readout": "last", "social_input": "base", "head_residual": "base",
             "beta": 0.2, "use_head": True, "head_zero_init": False, "use_social": True,
             "blend_mf": 0.0, "als_reg": 1.0}
FLAT_LASTFM_ABLATION = {
    "default": {}, "-blend": {"blend_mf": 0.0}, "-mf": {"use_mf": False, "blend_mf": 0.0},
    "-svd": {"use_svd": False}, "-mf-svd": {"use_mf": False, "use_svd": False, "blend_mf": 0.0},
    "+head": {"use_head": True}, "+head-attention": {"use_head": True, "use_attention": False},
    "+head-features": {"use_head": True, "use_features": False},
    "+social": {"use_social": True},
    "row/last tower": {"graph_normalize": "row", "graph_readout": "last"},
    "spec as written": FLAT_SPEC,
}
FLAT_PINSAGE_ABLATION = {"pinsage": {}, "pinsage -hard negatives": {"max_hard": 0},
                         "pinsage -curriculum": {"curriculum": False}}

# group -> field -> the flat name it had (where it was renamed)
RENAMED = {
    "pinsage": {"objective": {"kind": "objective"},
                "output": {"dense_layers": "output_layer", "normalize": "normalize_output",
                           "gate": "output_gate"}},
    "lite_eiisrs": {
        "initial": {"scale": "init_scale", "freeze": "freeze_initial"},
        "graph_tower": {"normalize": "graph_normalize", "readout": "graph_readout"},
        "social": {"enabled": "use_social", "num_layers": "num_social_layers",
                   "input": "social_input", "dropout": "social_dropout"},
        "head": {"enabled": "use_head", "residual": "head_residual", "dropout": "head_dropout",
                 "zero_init": "head_zero_init"},
        "blend": {"mf": "blend_mf", "svd": "blend_svd"}},
}
GROUPS = {"pinsage": ("inputs", "neighborhoods", "negatives", "objective", "output"),
          "lite_eiisrs": ("initial", "graph_tower", "social", "fusion", "head", "blend")}


def flat(model: str, settings: dict) -> dict:
    """Grouped hyperparameters (complete or partial) under their old flat names."""
    out = {}
    for key, value in settings.items():
        if key in GROUPS[model]:
            assert isinstance(value, dict), key
            renamed = RENAMED[model].get(key, {})
            for field, field_value in value.items():
                name = renamed.get(field, field)
                assert name not in out, name  # two groups never share a flat name
                out[name] = field_value
        else:
            assert key not in out, key
            out[key] = value
    return out


def _resolved(argv: list[str]) -> dict:
    return resolve_run(build_run_config(cli_parser().parse_args(argv)))["hyperparameters"]


@pytest.mark.parametrize("model", ["pinsage", "lite_eiisrs"])
def test_declared_defaults_are_the_flat_values(model):
    declared = hyperparameters(model)
    assert [key for key in declared if isinstance(declared[key], dict)] == list(GROUPS[model])
    assert flat(model, declared) == FLAT_DEFAULTS[model]
    assert flat(model, default_settings(model)[0]) == FLAT_DEFAULTS[model]
    for dataset in ("lastfm", "movielens-100k"):
        assert flat(model, _resolved(["train", "--model", model, "--dataset", dataset,
                                      "--preset", "none"])) == FLAT_DEFAULTS[model]


@pytest.mark.parametrize("dataset", ["lastfm", "movielens-100k"])
def test_presets_resolve_to_the_flat_values(dataset):
    expected = {**FLAT_DEFAULTS["pinsage"], **FLAT_PINSAGE_PRESET}
    assert flat("pinsage", _resolved(["train", "--model", "pinsage", "--dataset", dataset])
                ) == expected
    assert flat("pinsage", default_settings("pinsage", dataset)[0]) == expected
    # Lite-EIISRS: the LastFM preset changes the start, the depth and the objective (a
    # group field among plain ones); MovieLens has no preset, its declared defaults apply
    lite_preset = ({"als_reg": 10.0, "loss": "sampled_softmax", "similarity": "dot",
                    "temperature": 1.0, "reg_weight": 2e-2, "num_negatives": 1024,
                    "num_layers": 4}
                   if dataset == "lastfm" else {})
    expected = {**FLAT_DEFAULTS["lite_eiisrs"], **lite_preset}
    assert flat("lite_eiisrs", default_settings("lite_eiisrs", dataset)[0]) == expected
    assert flat("lite_eiisrs", _resolved(["train", "--model", "lite_eiisrs", "--dataset",
                                          dataset])) == expected


def test_spec_and_ablation_rows_are_the_flat_ones(load_example):
    assert flat("lite_eiisrs", SPEC_AS_WRITTEN[0]) == FLAT_SPEC
    lastfm = load_example("lastfm_social")
    assert {label: flat("lite_eiisrs", extra) for label, (extra, _) in
            lastfm.ABLATION.items()} == FLAT_LASTFM_ABLATION
    pinsage = load_example("pinsage")
    assert {label: flat("pinsage", extra) for label, extra in
            pinsage.ABLATION.items()} == FLAT_PINSAGE_ABLATION


def test_an_ablation_row_keeps_the_presets_other_fields(load_example):
    example = load_example("pinsage")
    base, _ = default_settings("pinsage", "lastfm")
    merged = example.merge_settings(base, {"negatives": {"max_hard": 0},
                                           "objective": {"margin": 0.3}})
    assert merged["negatives"] == {**base["negatives"], "max_hard": 0}
    assert merged["objective"] == {"kind": "softmax", "margin": 0.3, "temperature": 0.05}
    assert base["negatives"]["max_hard"] == 6  # the defaults were not changed in place


def test_set_reaches_a_group_field_and_keeps_the_preset_in_that_group():
    settings = _resolved(["train", "--model", "pinsage", "--dataset", "lastfm",
                          "--set", "hyperparameters.objective.margin=0.3",
                          "--set", "hyperparameters.negatives.hard_ranks=[0.05, 0.2]"])
    assert settings["objective"] == {"kind": "softmax", "margin": 0.3, "temperature": 0.05}
    assert settings["negatives"]["hard_ranks"] == (0.05, 0.2)
    settings = _resolved(["train", "--model", "lite_eiisrs", "--dataset", "lastfm",
                          "--set", "hyperparameters.social.enabled=true"])
    assert settings["social"] == {"enabled": True, "num_layers": 1, "input": "graph",
                                  "dropout": 0.1}


@pytest.mark.parametrize("model, table, message", [
    # the group's own checks run before any data is read, not only the registry's by name
    ("pinsage", {"negatives": {"hard_ranks": [0.5, 0.1]}},
     r"NegativeSettings.hard_ranks\[1\] must be a finite number in \[0.5, 1\]"),
    ("pinsage", {"objective": {"kind": "bpr"}}, r"ObjectiveSettings.kind"),
    ("pinsage", {"output": {"layer": True}},
     r"group 'output' of model 'pinsage' has no field 'layer'; it has dense_layers, "
     r"normalize, gate"),
    ("pinsage", {"max_hard": 0}, r"model 'pinsage' has no hyperparameter 'max_hard'"),
    ("lite_eiisrs", {"fusion": {"token_dim": 9}}, r"must be divisible by num_heads"),
    ("lite_eiisrs", {"initial": {"scale": 0.0}},
     r"InitialEmbeddingSettings.scale must be a finite number > 0"),
    ("lite_eiisrs", {"graph_tower": {"normalize": "left"}}, r"GraphTowerSettings.normalize"),
    ("lite_eiisrs", {"head": True}, r"hyperparameter 'head' of model 'lite_eiisrs' is a group"),
])
def test_bad_group_values_fail_when_checked(model, table, message):
    with pytest.raises(ValueError, match=message):
        check_hyperparameters(model, table)


def test_groups_are_frozen_values_that_normalise_what_they_hold():
    group = NegativeSettings(hard_ranks=[0, 1])  # a list from JSON or TOML
    assert group.hard_ranks == (0.0, 1.0) and isinstance(group.hard_ranks, tuple)
    assert group == NegativeSettings(hard_ranks=(0.0, 1.0))
    assert hash(group) == hash(NegativeSettings(hard_ranks=(0.0, 1.0)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        group.max_hard = 0
    assert dataclasses.replace(ObjectiveSettings(), kind="softmax").temperature == 0.1
    assert HeadSettings(beta=1).beta == 1.0 and isinstance(HeadSettings(beta=1).beta, float)
    with pytest.raises(ValueError, match=r"HeadSettings.residual must be one of"):
        dataclasses.replace(HeadSettings(), residual="social")
