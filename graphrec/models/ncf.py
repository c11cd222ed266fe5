r"""Neural collaborative filtering: GMF, MLP and NeuMF, from `"Neural Collaborative
Filtering" <https://arxiv.org/abs/1708.05031>`_ (He et al., WWW 2017).

All three score a (user, item) pair by a logit :math:`s_{ui}` (the prediction
:math:`\hat y_{ui} = \sigma(s_{ui})`; rankings use the logit) and train with the paper's
log loss (Eq. 7, :func:`~graphrec.nn.losses.log_loss`) over every training interaction
(label 1) and ``num_negatives`` items the user never interacted with (label 0), drawn
afresh every epoch (:class:`~graphrec.sampling.batches.PairBatches`; 4 in the paper).

- ``ncf_gmf`` (:class:`GMF`): :math:`s_{ui} = \mathbf{h}^\top(\mathbf{p}_u \odot
  \mathbf{q}_i) + b` (Eq. 9).
- ``ncf_mlp`` (:class:`NCFMLP`): :math:`s_{ui} = \mathbf{h}^\top \phi_L(\dots
  \phi_1([\mathbf{p}_u \Vert \mathbf{q}_i])) + b`, the pyramid tower
  :class:`~graphrec.nn.NCFTower` (Eq. 10).
- ``neumf`` (:class:`NeuMF`): :math:`s_{ui} = \mathbf{h}^\top[\phi^{GMF} \Vert
  \phi^{MLP}] + b` with separate GMF and MLP embeddings (Eq. 11-12). With ``pretrain``
  (the default) the :class:`~graphrec.train.Trainer` first trains its GMF and MLP parts as
  models of their own (:meth:`NeuMF.pretraining`), then :meth:`NeuMF.fit` sets the output
  layer to :math:`\mathbf{h} = [\alpha \mathbf{h}^{GMF} \Vert (1-\alpha)
  \mathbf{h}^{MLP}]`, :math:`b = \alpha b^{GMF} + (1-\alpha) b^{MLP}` (Eq. 13,
  :math:`\alpha` = ``gmf_weight`` = 0.5 in the paper), so that NeuMF starts exactly at
  :math:`\alpha s^{GMF} + (1-\alpha) s^{MLP}` and is fine-tuned from there.

Fine-tuning. The paper (Sec. 3.4.1) fine-tunes the pretrained NeuMF with vanilla SGD,
because Adam needs momentum statistics the pretrained parameters do not carry: from a fresh
state, Adam's bias-corrected first steps move every parameter by about the learning rate
whatever the size of its gradient, while SGD at a converged point barely moves. graphrec's
one trainer is Adam, so NeuMF fine-tunes with Adam at a learning rate 50 times below its
parts' (1e-4 on batches of 256, against 5e-3 on 1024), which keeps those first steps near
the pretrained point. The rate was chosen on *validation* NDCG@10 (leave-one-out,
``benchmarks/ncf.py``'s splits), fine-tuning the same pretrained parts of each seed:
MovieLens-100K, seeds 0-2, mean best validation NDCG@10 0.0712 at 3e-5, 0.0722 at 1e-4,
0.0729 at 3e-4 (seeds 0-1 only; 1e-4 on those two: 0.0735), against 0.0709 for the fused,
untrained NeuMF; LastFM seed 0: 0.0953 at 1e-5, 0.0948 at 1e-4, 0.0946 fused; seed 1:
0.0887 at 3e-5, 0.0877 fused. The
differences between rates are within the epoch-to-epoch noise of validation (about 0.002),
so 1e-4 stays; most of NeuMF's gain over its parts is already in the fused start
(:meth:`NeuMF.fuse_parts`), and training only the output layer on the parts' frozen
features did not help (seed 0: from 0.0720 fused to 0.0715 on MovieLens-100K, level on
LastFM, 0.0948). The
authors' released code takes its optimiser from a flag (its README's pretrained run: Adam
at 1e-3, batches of 256) and evaluates the fused model before the first epoch, keeping it
when no epoch beats it; graphrec's trainer selects among epochs 1, 2, ... only, so on a
seed where every fine-tuning epoch is below the fused start on validation (MovieLens-100K
seed 2 above), NeuMF ends slightly below its starting point.

The three models default to the paper's leave-one-out protocol (``default_split =
"loo"``); its 1 + 100 sampled evaluation is :class:`~graphrec.eval.Evaluator`'s
``sampled_negatives=100`` (``--sampled 100`` on the command line).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import HeteroData

from graphrec.graph.build import ITEM, USER
from graphrec.graph.checks import check_number
from graphrec.graph.interactions import Interactions
from graphrec.models.base import Recommender, check_sizes
from graphrec.models.registry import register
from graphrec.nn.losses import log_loss
from graphrec.nn.ncf_tower import NCFTower
from graphrec.sampling.batches import PairBatch, PairBatches

#: score at most this many (user, item, hidden) values at once when ranking all items
_SCORE_CHUNK = 1 << 22

# measured on MovieLens-100K and LastFM leave-one-out (docs/models.md): Adam 5e-3 on
# batches of 1024 positives (the paper searched 128-1024) reaches the validation NDCG@10
# of 1e-3 on 256 in a quarter of the time; Adam 1e-3 on 256 also sat on a plateau for
# the first ~5 epochs on MovieLens, where patience 5 stopped one seed at epoch 6
# (no eval_every: a pretraining stage validates as often as its NeuMF run, e.g. every second
# epoch with the LastFM preset)
_PART_DEFAULTS: dict[str, Any] = {"lr": 5e-3, "batch_size": 1024, "epochs": 40,
                                  "patience": 8, "metric": "ndcg@10"}


class NCFRecommender(Recommender):
    """What GMF, MLP and NeuMF share: sampled-negative batches, the log loss, ranking by
    logits, item-to-item scores from the item embeddings.

    Subclasses implement ``logits(users, items)`` (aligned index tensors of any one shape),
    ``all_logits(users) -> [B, num_items]`` and ``item_vectors() -> [num_items, d]``.
    """

    default_split: ClassVar[str | None] = "loo"

    def __init__(self, num_users: int, num_items: int, num_negatives: int = 4,
                 init_std: float = 0.01) -> None:
        super().__init__()
        self.num_users, self.num_items = check_sizes(num_users, num_items)
        self.num_negatives = check_number("num_negatives", num_negatives, integer=True, low=1)
        self.init_std = check_number("init_std", init_std, low=0, low_open=True)

    @classmethod
    def from_graph(cls, train_graph: HeteroData, **kwargs: Any) -> NCFRecommender:
        return cls(train_graph[USER].num_nodes, train_graph[ITEM].num_nodes, **kwargs)

    def logits(self, users: Tensor, items: Tensor) -> Tensor:
        raise NotImplementedError

    def all_logits(self, users: Tensor) -> Tensor:
        raise NotImplementedError

    def item_vectors(self) -> Tensor:
        raise NotImplementedError

    def train_batches(self, train: Interactions, batch_size: int, device: torch.device | str,
                      seed: int) -> PairBatches:
        """Every training interaction once per epoch with ``num_negatives`` fresh uniform
        negatives each (never a training positive of the user)."""
        return PairBatches(train, batch_size=batch_size, num_negatives=self.num_negatives,
                           device=device, seed=seed)

    def loss(self, batch: PairBatch) -> Tensor:
        neg_items = batch.neg_items.view(len(batch), -1)
        pos = self.logits(batch.users, batch.pos_items)
        neg = self.logits(batch.users.unsqueeze(1).expand_as(neg_items), neg_items)
        return log_loss(pos, neg)

    def scorer(self) -> Callable[[Tensor], Tensor]:
        device = self.device
        return lambda users: self.all_logits(users.to(device))

    def item_scorer(self) -> Callable[[Tensor], Tensor]:
        """Cosine similarity of the items' embeddings (all of the model's item tables side
        by side): NCF scores pairs through a network, so there is no item-to-item score of
        its own; this one serves related items and the default fold-in of new users."""
        vectors = F.normalize(self.item_vectors(), dim=1)
        vectors_t = vectors.t().contiguous()
        return lambda items: vectors[items.to(vectors.device)] @ vectors_t


@register("ncf_gmf")
class GMF(NCFRecommender):
    r"""Generalized matrix factorisation (He et al., WWW 2017, Eq. 9):
    :math:`s_{ui} = \mathbf{h}^\top(\mathbf{p}_u \odot \mathbf{q}_i) + b`.

    Args:
        num_users, num_items: index space sizes.
        embedding_dim: predictive factors :math:`d` (the width of :math:`\mathbf{p}_u`,
            :math:`\mathbf{q}_i` and :math:`\mathbf{h}`).
        num_negatives: sampled negatives per positive in the log loss (4 in the paper).
        init_std: embeddings start from :math:`\mathcal{N}(0, \sigma^2)` (0.01 as in the
            authors' code); :math:`\mathbf{h}, b` as ``nn.Linear``.
    """

    train_defaults: ClassVar[dict[str, Any]] = dict(_PART_DEFAULTS)

    def __init__(self, num_users: int, num_items: int, embedding_dim: int = 8,
                 num_negatives: int = 4, init_std: float = 0.01) -> None:
        super().__init__(num_users, num_items, num_negatives, init_std)
        self.embedding_dim = check_number("embedding_dim", embedding_dim, integer=True, low=1)
        self.user_embedding = nn.Embedding(self.num_users, self.embedding_dim)
        self.item_embedding = nn.Embedding(self.num_items, self.embedding_dim)
        self.predict = nn.Linear(self.embedding_dim, 1)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.user_embedding.weight, std=self.init_std)
        nn.init.normal_(self.item_embedding.weight, std=self.init_std)
        self.predict.reset_parameters()

    def hidden(self, users: Tensor, items: Tensor) -> Tensor:
        r""":math:`\phi^{GMF} = \mathbf{p}_u \odot \mathbf{q}_i`, ``[*, embedding_dim]``."""
        return self.user_embedding(users) * self.item_embedding(items)

    def logits(self, users: Tensor, items: Tensor) -> Tensor:
        return self.predict(self.hidden(users, items)).squeeze(-1)

    def weighted_users(self, users: Tensor) -> Tensor:
        r""":math:`\mathbf{p}_u \odot \mathbf{h}`: :math:`s_{ui} - b` is its inner product
        with :math:`\mathbf{q}_i` (all items are scored by one matrix product)."""
        return self.user_embedding(users) * self.predict.weight.view(-1)

    def all_logits(self, users: Tensor) -> Tensor:
        return self.weighted_users(users) @ self.item_embedding.weight.t() + self.predict.bias

    def item_vectors(self) -> Tensor:
        return self.item_embedding.weight

    def embeddings(self) -> tuple[Tensor, Tensor]:
        r"""``([p_u ⊙ h, b], [q_i, 1])``: their inner products are the logits exactly."""
        users = torch.arange(self.num_users, device=self.device)
        user_emb = torch.cat([self.weighted_users(users),
                              self.predict.bias.expand(self.num_users, 1)], dim=1)
        item_emb = torch.cat([self.item_embedding.weight,
                              self.item_embedding.weight.new_ones(self.num_items, 1)], dim=1)
        return user_emb, item_emb

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.num_users}, {self.num_items}, "
                f"embedding_dim={self.embedding_dim})")


@register("ncf_mlp")
class NCFMLP(NCFRecommender):
    r"""The MLP model of NCF (He et al., WWW 2017, Eq. 10):
    :math:`s_{ui} = \mathbf{h}^\top \phi_L(\dots\phi_1([\mathbf{p}_u \Vert \mathbf{q}_i]))
    + b` with the pyramid tower :class:`~graphrec.nn.NCFTower`.

    Args:
        num_users, num_items: index space sizes.
        embedding_dim: predictive factors, the width of the tower's last layer; user and
            item embeddings have ``embedding_dim * 2 ** (num_layers - 1)`` each (the
            paper's ``[64, 32, 16, 8]`` is ``embedding_dim=8, num_layers=3``).
        num_layers: hidden layers of the tower (3 in the paper).
        dropout: dropout after each hidden layer (0 in the paper).
        num_negatives: sampled negatives per positive in the log loss.
        init_std: embeddings start from :math:`\mathcal{N}(0, \sigma^2)`.
    """

    train_defaults: ClassVar[dict[str, Any]] = dict(_PART_DEFAULTS)

    def __init__(self, num_users: int, num_items: int, embedding_dim: int = 8,
                 num_layers: int = 3, dropout: float = 0.0, num_negatives: int = 4,
                 init_std: float = 0.01) -> None:
        super().__init__(num_users, num_items, num_negatives, init_std)
        self.embedding_dim = check_number("embedding_dim", embedding_dim, integer=True, low=1)
        self.num_layers = check_number("num_layers", num_layers, integer=True, low=1)
        self.tower = NCFTower(self.embedding_dim, self.num_layers,
                              check_number("dropout", dropout, low=0, high=1, high_open=True))
        self.user_embedding = nn.Embedding(self.num_users, self.tower.embedding_dim)
        self.item_embedding = nn.Embedding(self.num_items, self.tower.embedding_dim)
        self.predict = nn.Linear(self.embedding_dim, 1)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.user_embedding.weight, std=self.init_std)
        nn.init.normal_(self.item_embedding.weight, std=self.init_std)
        self.tower.reset_parameters()
        self.predict.reset_parameters()

    def hidden(self, users: Tensor, items: Tensor) -> Tensor:
        r""":math:`\phi^{MLP}`, the tower's output, ``[*, embedding_dim]``."""
        return self.tower(self.user_embedding(users), self.item_embedding(items))

    def hidden_all(self, users: Tensor) -> Tensor:
        """``[B, num_items, embedding_dim]`` tower outputs of ``users`` with every item."""
        return self.tower.forward_all(self.user_embedding(users), self.item_embedding.weight)

    def logits(self, users: Tensor, items: Tensor) -> Tensor:
        return self.predict(self.hidden(users, items)).squeeze(-1)

    def all_logits(self, users: Tensor) -> Tensor:
        step = max(1, _SCORE_CHUNK // (self.num_items * self.tower.lins[0].out_features))
        return torch.cat([self.predict(self.hidden_all(users[start:start + step])).squeeze(-1)
                          for start in range(0, users.numel(), step)]
                         or [users.new_zeros(0, self.num_items, dtype=torch.float)])

    def item_vectors(self) -> Tensor:
        return self.item_embedding.weight

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.num_users}, {self.num_items}, "
                f"embedding_dim={self.embedding_dim}, tower={self.tower})")


@register("neumf")
class NeuMF(NCFRecommender):
    r"""Neural matrix factorisation (He et al., WWW 2017, Eq. 11-12): GMF and MLP with
    their own embeddings, fused by one output layer,

    .. math::
        s_{ui} = \mathbf{h}^\top \big[\phi^{GMF}_{ui} \,\Vert\, \phi^{MLP}_{ui}\big] + b.

    The parts are a :class:`GMF` (``self.gmf``) and an :class:`NCFMLP` (``self.mlp``);
    NeuMF uses their embeddings and hidden layers, not their output layers.

    With ``pretrain=True`` the :class:`~graphrec.train.Trainer` trains ``self.gmf`` and
    ``self.mlp`` first, each as a model of its own with its own ``train_defaults`` and
    early stopping on the same validation set (:meth:`pretraining`), and :meth:`fit` then
    initialises the output layer as in Eq. 13:

    .. math::
        \mathbf{h} = \big[\alpha\,\mathbf{h}^{GMF} \,\Vert\, (1-\alpha)\,\mathbf{h}^{MLP}\big],
        \qquad b = \alpha\, b^{GMF} + (1-\alpha)\, b^{MLP},

    so the untrained NeuMF scores :math:`\alpha s^{GMF} + (1-\alpha) s^{MLP}` exactly (the
    paper leaves :math:`b` implicit; the authors' code halves the sum of the two biases,
    which is this at :math:`\alpha = 0.5`). Parts trained elsewhere (for instance models
    of the same seed already trained for a comparison) are taken with
    :meth:`use_pretrained`; the trainer then does not train them again.

    Args:
        num_users, num_items: index space sizes.
        embedding_dim: predictive factors of each part (GMF width, last MLP layer).
        num_layers: hidden layers of the MLP tower.
        gmf_weight: :math:`\alpha`, the GMF part's share of the pretrained output layer.
        pretrain: pretrain the parts and fuse them (above); ``False`` trains NeuMF from a
            random initialisation (the paper's "without pre-training").
        dropout: dropout in the MLP tower.
        num_negatives: sampled negatives per positive in the log loss.
        init_std: embeddings start from :math:`\mathcal{N}(0, \sigma^2)`.
    """

    # fine-tuning a pretrained NeuMF: Adam at a small rate (see the module docstring)
    train_defaults: ClassVar[dict[str, Any]] = {**_PART_DEFAULTS, "lr": 1e-4, "batch_size": 256,
                                                "patience": 5}

    def __init__(self, num_users: int, num_items: int, embedding_dim: int = 8,
                 num_layers: int = 3, gmf_weight: float = 0.5, pretrain: bool = True,
                 dropout: float = 0.0, num_negatives: int = 4, init_std: float = 0.01) -> None:
        super().__init__(num_users, num_items, num_negatives, init_std)
        self.embedding_dim = check_number("embedding_dim", embedding_dim, integer=True, low=1)
        self.gmf_weight = check_number("gmf_weight", gmf_weight, low=0, high=1)
        if not isinstance(pretrain, bool):
            raise ValueError(f"pretrain must be True or False (got {pretrain!r})")
        self.pretrain = pretrain
        self.gmf = GMF(num_users, num_items, embedding_dim, num_negatives, init_std)
        self.mlp = NCFMLP(num_users, num_items, embedding_dim, num_layers, dropout,
                          num_negatives, init_std)
        self.predict = nn.Linear(2 * self.embedding_dim, 1)
        self._parts_given = False
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.gmf.reset_parameters()
        self.mlp.reset_parameters()
        self.predict.reset_parameters()
        self._parts_given = False

    def pretraining(self) -> list[tuple[str, Recommender, dict[str, Any]]]:
        """The parts to train before NeuMF: ``[("gmf", self.gmf, settings), ("mlp",
        self.mlp, settings)]`` with each part's ``train_defaults`` as settings; none without
        ``pretrain`` or after :meth:`use_pretrained`."""
        if not self.pretrain or self._parts_given:
            return []
        return [("gmf", self.gmf, dict(GMF.train_defaults)),
                ("mlp", self.mlp, dict(NCFMLP.train_defaults))]

    def use_pretrained(self, gmf: GMF, mlp: NCFMLP) -> NeuMF:
        """Takes the weights of trained ``gmf`` and ``mlp`` models as the parts (their
        sizes must match this model's); training then starts from them."""
        if not isinstance(gmf, GMF) or not isinstance(mlp, NCFMLP):
            raise TypeError(f"use_pretrained takes a GMF and an NCFMLP (got "
                            f"{type(gmf).__name__} and {type(mlp).__name__})")
        for name, part, given in (("gmf", self.gmf, gmf), ("mlp", self.mlp, mlp)):
            mine = {k: tuple(v.shape) for k, v in part.state_dict().items()}
            theirs = {k: tuple(v.shape) for k, v in given.state_dict().items()}
            if mine != theirs:
                raise ValueError(f"pretrained {name} does not fit this NeuMF: its weights are "
                                 f"{theirs}, NeuMF's part has {mine}")
            part.load_state_dict(given.state_dict())
        self._parts_given = True
        return self

    @torch.no_grad()
    def fuse_parts(self) -> None:
        r"""Output layer from the parts' output layers, Eq. 13 (see the class docstring)."""
        alpha = self.gmf_weight
        self.predict.weight.copy_(torch.cat([alpha * self.gmf.predict.weight,
                                             (1 - alpha) * self.mlp.predict.weight], dim=1))
        self.predict.bias.copy_(alpha * self.gmf.predict.bias
                                + (1 - alpha) * self.mlp.predict.bias)

    def fit(self, train: Interactions) -> None:
        """With ``pretrain``: fuse the (trained) parts' output layers (:meth:`fuse_parts`);
        the trainer calls it after :meth:`pretraining`, before NeuMF's first epoch."""
        if self.pretrain:
            self.fuse_parts()

    def hidden(self, users: Tensor, items: Tensor) -> Tensor:
        r""":math:`[\phi^{GMF} \Vert \phi^{MLP}]`, ``[*, 2 * embedding_dim]``."""
        return torch.cat([self.gmf.hidden(users, items), self.mlp.hidden(users, items)], -1)

    def logits(self, users: Tensor, items: Tensor) -> Tensor:
        return self.predict(self.hidden(users, items)).squeeze(-1)

    def all_logits(self, users: Tensor) -> Tensor:
        # h^T [p ⊙ q ; φ_MLP] + b = (p ⊙ h_GMF)^T q + h_MLP^T φ_MLP + b
        h_gmf, h_mlp = self.predict.weight.view(-1).split(self.embedding_dim)
        gmf_part = (self.gmf.user_embedding(users) * h_gmf) @ self.gmf.item_embedding.weight.t()
        step = max(1, _SCORE_CHUNK // (self.num_items * self.mlp.tower.lins[0].out_features))
        mlp_part = [self.mlp.hidden_all(users[start:start + step]) @ h_mlp
                    for start in range(0, users.numel(), step)]
        mlp_part = torch.cat(mlp_part) if mlp_part else gmf_part.new_zeros(gmf_part.shape)
        return gmf_part + mlp_part + self.predict.bias

    def item_vectors(self) -> Tensor:
        return torch.cat([F.normalize(self.gmf.item_embedding.weight, dim=1),
                          F.normalize(self.mlp.item_embedding.weight, dim=1)], dim=1)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.num_users}, {self.num_items}, "
                f"embedding_dim={self.embedding_dim}, gmf_weight={self.gmf_weight}, "
                f"pretrain={self.pretrain})")
