"""TiSASRec attention against a dense, loop-by-loop computation of its formula."""
from __future__ import annotations

import math

import torch

from graphrec.nn.seq.time_interval_attention import TimeIntervalAttention


def _dense(layer, x, allowed, pk, pv, rk, rv):
    """e_ij = Q_i (K_j + P^K_j + R^K_ij)^T / sqrt(d_h); z_i = sum_j a_ij (V_j + P^V_j + R^V_ij)."""
    q, k, v = layer.query(x), layer.key(x), layer.value(x)
    batch, length, d = x.shape
    h, e = layer.heads, d // layer.heads
    out = torch.zeros(batch, length, d, dtype=torch.float64)
    for b in range(batch):
        for head in range(h):
            part = slice(head * e, (head + 1) * e)
            for i in range(length):
                scores = []
                for j in range(length):
                    key = k[b, j, part] + pk[j, part] + rk[b, i, j, part]
                    score = float(q[b, i, part] @ key) / math.sqrt(e)
                    scores.append(score if allowed[b, i, j] else -math.inf)
                weights = torch.softmax(torch.tensor(scores, dtype=torch.float64), 0)
                for j in range(length):
                    if weights[j] > 0:
                        value = v[b, j, part] + pv[j, part] + rv[b, i, j, part]
                        out[b, i, part] += weights[j] * value.double()
    return out


def test_matches_dense_formula():
    torch.manual_seed(0)
    batch, length, d = 2, 4, 6
    for heads in (1, 2):
        layer = TimeIntervalAttention(d, heads=heads, dropout=0.0).double().eval()
        x = torch.randn(batch, length, d, dtype=torch.float64)
        allowed = torch.ones(length, length, dtype=torch.bool).tril().expand(batch, -1, -1)
        allowed = allowed.clone()
        allowed[0, 2:, 0] = False  # position 0 of row 0 is padding
        pk, pv = torch.randn(length, d).double(), torch.randn(length, d).double()
        span = 3
        intervals = torch.randint(0, span + 1, (batch, length, length))
        table_k = torch.randn(span + 1, d).double()
        table_v = torch.randn(span + 1, d).double()
        got = layer(x, x, allowed, pk, pv, intervals, table_k, table_v)
        with torch.no_grad():
            expected = _dense(layer, x, allowed, pk, pv, table_k[intervals], table_v[intervals])
        torch.testing.assert_close(got.detach(), expected)
