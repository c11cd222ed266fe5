from dataclasses import dataclass

import pytest
import torch

from graphrec.graph.build import build_interaction_graph
from graphrec.models import MODELS, build_model, hyperparameters, register, train_defaults
from graphrec.models.base import Recommender
from graphrec.models.registry import check_hyperparameters


@dataclass(frozen=True)
class _Walks:
    num_walks: int = 8
    restart_prob: float = 0.5


class _Toy(Recommender):
    train_defaults = {"lr": 0.5}

    def __init__(self, num_users: int, num_items: int, embedding_dim: int = 4,
                 walks: _Walks = _Walks(), item_embedding: torch.Tensor | None = None) -> None:
        super().__init__()
        self.num_users, self.num_items = num_users, num_items
        self.embedding_dim, self.walks = embedding_dim, walks

    @classmethod
    def from_graph(cls, graph, corpus: str = "walks", **kwargs):
        model = cls(graph["user"].num_nodes, graph["item"].num_nodes, **kwargs)
        model.corpus = corpus
        return model


@pytest.fixture
def toy():
    register("toy_for_test")(_Toy)
    yield "toy_for_test"
    MODELS.pop("toy_for_test")


def _graph():
    return build_interaction_graph([0, 0, 1], [0, 1, 1])


def test_hyperparameters_are_read_from_the_constructor_and_from_graph(toy):
    assert hyperparameters(toy) == {"embedding_dim": 4,
                                    "walks": {"num_walks": 8, "restart_prob": 0.5},
                                    "corpus": "walks"}  # item_embedding is an object
    assert train_defaults(toy) == {"lr": 0.5}


def test_groups_take_tables_of_some_fields(toy):
    checked = check_hyperparameters(toy, {"walks": {"restart_prob": 0}, "embedding_dim": 2})
    assert checked == {"walks": {"num_walks": 8, "restart_prob": 0.0}, "embedding_dim": 2}
    model = build_model(toy, _graph(), **checked, corpus="sessions")
    assert model.walks == _Walks(8, 0.0) and model.corpus == "sessions"
    assert model.build_arguments["corpus"] == "sessions" and model.build_graph is not None
    with pytest.raises(ValueError, match="group 'walks' .* has no field 'length'"):
        check_hyperparameters(toy, {"walks": {"length": 3}})
    with pytest.raises(ValueError, match="restart_prob must lie in"):
        check_hyperparameters(toy, {"walks": {"restart_prob": 2.0}})


@pytest.mark.parametrize("value, message", [("x", "takes a int"), (True, "takes a int"),
                                            (0, "at least 1"), (2.5, "takes a int")])
def test_hyperparameter_types_and_ranges(toy, value, message):
    with pytest.raises(ValueError, match=message):
        check_hyperparameters(toy, {"embedding_dim": value})


def test_unknown_hyperparameter_names_the_valid_ones(toy):
    with pytest.raises(ValueError, match="has no hyperparameter 'dim'; it takes embedding_dim"):
        check_hyperparameters(toy, {"dim": 3})


def test_a_name_is_registered_once(toy):
    class Other(_Toy):
        pass

    with pytest.raises(ValueError, match="already registered"):
        register(toy)(Other)


def test_every_registered_model_declares_from_graph_and_defaults():
    for name, cls in MODELS.items():
        assert cls.name == name
        assert "from_graph" in {k for klass in cls.__mro__ for k in vars(klass)}
        assert isinstance(hyperparameters(name), dict)
        embedding = hyperparameters(name).get("embedding_dim")
        assert embedding is None or (isinstance(embedding, int) and embedding >= 1), name
        assert "hidden_channels" not in hyperparameters(name), name
    for name in ("lightgcn", "sociallgn", "lite_eiisrs"):  # the residual is residual_alpha
        assert "alpha" not in hyperparameters(name), name
