"""A training run killed mid-epoch (SIGKILL) leaves its previous checkpoint and results intact."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def _write_interactions(path, num_users=400, num_items=300):
    generator = torch.Generator().manual_seed(0)
    lines = [f"u{u}\ti{int(i)}\t1\t{u * 1000 + k}"
             for u in range(num_users)
             for k, i in enumerate(torch.randint(0, num_items, (40,), generator=generator))]
    path.write_text("\n".join(lines) + "\n")


def test_sigkill_mid_epoch_leaves_checkpoint_and_results_loadable(tmp_path):
    data = tmp_path / "inter.tsv"
    _write_interactions(data)
    checkpoint, output = tmp_path / "state.pt", tmp_path / "results.json"
    base = [sys.executable, "-m", "graphrec", "train", "--model", "lightgcn", "--dataset", "tsv",
            "--path", str(data), "--has-weight", "--has-time", "--device", "cpu", "--quiet",
            "--dim", "16", "--batch-size", "32", "--checkpoint", str(checkpoint),
            "--output", str(output)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    # an earlier, finished run wrote the results file
    subprocess.run([*base, "--epochs", "1"], check=True, env=env, capture_output=True)
    before = output.read_bytes()
    # a long run: killed once it has written at least one checkpoint, while still training
    process = subprocess.Popen([*base, "--epochs", "1000", "--patience", "0"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        first = checkpoint.stat().st_mtime_ns
        deadline = time.monotonic() + 120
        while checkpoint.stat().st_mtime_ns == first and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # somewhere inside the next epoch (or its checkpoint write)
        assert process.poll() is None, "the run ended before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert output.read_bytes() == before
    json.loads(before)
    state = torch.load(checkpoint, weights_only=True)
    assert state["epoch"] >= 1 and "model" in state
    # (a kill during a write may leave a stray ".state.pt.*.tmp" beside it: never read)
    # and the killed run resumes from it
    resumed = subprocess.run([sys.executable, "-m", "graphrec", "train", "--resume",
                              str(checkpoint), "--set", f"train.epochs={state['epoch'] + 1}",
                              "--quiet", "--output", str(output)],
                             env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(output.read_text())["epochs"] == state["epoch"] + 1
