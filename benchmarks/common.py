"""Scaffolding shared by the benchmark scripts: data location, synthetic graphs, timing."""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]

# synthetic graphs: Gowalla's mean degree, 42 % users, Zipf popularity on both sides
AVG_DEGREE = 23.0
USER_SHARE = 0.42
ZIPF_EXPONENT = 0.8


def data_root(root: str | None) -> str:
    """``root``, else ``$GRAPHREC_DATA``, else ``../shared/data`` beside the checkout."""
    return root or os.environ.get("GRAPHREC_DATA") or str(REPO_ROOT.parent / "shared" / "data")


def parse_size(text: str) -> int:
    """``"1e6"`` → 1000000."""
    return int(float(text))


def powerlaw_bipartite(num_edges: int, seed: int = 0) -> tuple[torch.Tensor, int, int]:
    """``(user_item [2, num_edges // 2], num_users, num_items)``: a seeded bipartite graph
    of distinct pairs, ``num_edges / 23`` nodes (42 % users), user and item popularity
    :math:`\\propto r^{-0.8}` over ranks, labels shuffled so that popularity does not follow
    index order (no free memory locality)."""
    generator = torch.Generator().manual_seed(seed)
    num_pairs = num_edges // 2
    num_nodes = max(int(num_edges / AVG_DEGREE), 8)
    num_users = max(int(num_nodes * USER_SHARE), 2)
    num_items = max(num_nodes - num_users, 2)
    if num_pairs > num_users * num_items // 2:
        raise ValueError(f"{num_edges} edges do not fit a sparse graph of {num_nodes} nodes")

    def zipf_cdf(n: int) -> torch.Tensor:
        cdf = torch.arange(1, n + 1, dtype=torch.float64).pow(-ZIPF_EXPONENT).cumsum(0)
        return cdf / cdf[-1]

    user_cdf, item_cdf = zipf_cdf(num_users), zipf_cdf(num_items)
    keys = torch.empty(0, dtype=torch.int64)
    while keys.numel() < num_pairs:
        draw = int((num_pairs - keys.numel()) * 1.25) + 64
        users = torch.searchsorted(user_cdf, torch.rand(draw, generator=generator,
                                                        dtype=torch.float64))
        items = torch.searchsorted(item_cdf, torch.rand(draw, generator=generator,
                                                        dtype=torch.float64))
        users, items = users.clamp_(max=num_users - 1), items.clamp_(max=num_items - 1)
        keys = torch.cat([keys, users * num_items + items]).unique()
    keep = torch.randperm(keys.numel(), generator=generator)[:num_pairs]
    keys = keys[keep].sort().values
    user_label = torch.randperm(num_users, generator=generator)
    item_label = torch.randperm(num_items, generator=generator)
    user_item = torch.stack([user_label[keys // num_items], item_label[keys % num_items]])
    return user_item, num_users, num_items


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], Any], device: torch.device) -> float:
    """Wall-clock seconds of one call, with the device synchronised before and after."""
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start
