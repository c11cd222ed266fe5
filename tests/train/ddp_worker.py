"""Run by ``torchrun --nproc_per_node 2`` from ``test_distributed.py``: trains a small SASRec
through the one Trainer in a gloo process group and writes this rank's parameters and losses."""
from __future__ import annotations

import faulthandler
import json
import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from graphrec.graph import build_interaction_graph, leave_one_out
from graphrec.graph.interactions import Interactions
from graphrec.models import SASRec
from graphrec.train.distributed import init_distributed
from graphrec.train.trainer import TrainConfig, Trainer


def main(out_dir: str) -> None:
    faulthandler.dump_traceback_later(45, exit=True)  # a hung rank shows where it waits
    device = init_distributed()
    rank = dist.get_rank()
    generator = torch.Generator().manual_seed(0)
    num_users, num_items, length = 64, 20, 8
    start = torch.randint(0, num_items, (num_users,), generator=generator)
    users = torch.arange(num_users).repeat_interleave(length)
    steps = torch.arange(length).repeat(num_users)
    items = (start.repeat_interleave(length) + steps) % num_items
    graph = build_interaction_graph(users, items, times=steps, keep_order=True)
    train = Interactions.from_graph(leave_one_out(graph).train)
    torch.manual_seed(100 + rank)  # different initial weights: DDP must broadcast rank 0's
    model = SASRec(num_users, num_items, embedding_dim=8, maxlen=6, dropout=0.0)
    trainer = Trainer(model, TrainConfig(epochs=10, batch_size=8, lr=1e-2, device=str(device),
                                         progress=False, patience=0))
    result = trainer.fit(train)
    parameters = torch.cat([p.detach().flatten() for p in model.parameters()])
    Path(out_dir, f"rank{rank}.json").write_text(json.dumps({
        "world_size": dist.get_world_size(),
        "losses": [record["loss"] for record in result.history],
        "parameters": parameters.tolist(),
    }))
    dist.barrier()  # both ranks have written their results
    dist.destroy_process_group()
    # About one exit in six hung here in interpreter teardown (gloo's native threads; the
    # faulthandler dump showed the main thread past main()): leave without the teardown.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1])
