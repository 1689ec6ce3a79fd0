"""Tests for minillm.compress: the arithmetic coder alone, then driven by a GPT."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from minillm.compress import (
    TOTAL,
    ArithmeticDecoder,
    ArithmeticEncoder,
    compress,
    decompress,
    ideal_bits,
    quantize,
)
from minillm.model import GPT, GPTConfig


def test_quantize_gives_every_token_a_slice():
    cum = quantize(np.array([1.0, 0.0, 0.0, 0.0]))
    counts = np.diff(cum)
    assert counts.min() == 1 and cum[0] == 0 and cum[-1] <= TOTAL
    with pytest.raises(ValueError, match="too small"):
        quantize(np.ones(10) / 10, total=12)


def _roundtrip(dists: np.ndarray, symbols: np.ndarray) -> tuple[bytes, list[int]]:
    enc = ArithmeticEncoder()
    cums = quantize(dists)
    for cum, s in zip(cums, symbols):
        enc.encode(int(cum[s]), int(cum[s + 1]), int(cum[-1]))
    data = enc.finish()
    dec = ArithmeticDecoder(data)
    return data, [dec.decode(cum) for cum in cums]


def test_coder_round_trip_on_random_and_extreme_distributions():
    rng = np.random.default_rng(0)
    n, vocab = 3000, 50
    dists = rng.dirichlet(np.full(vocab, 0.1), size=n)
    dists[::7] = 0
    dists[::7, 3] = 1.0  # near-certain steps
    symbols = np.array([rng.choice(vocab, p=p) for p in dists])
    symbols[::11] = np.argmin(dists[::11], axis=1)  # and some very unlikely tokens
    data, decoded = _roundtrip(dists, symbols)
    assert decoded == symbols.tolist()
    cums = quantize(dists)
    ideal = -sum(math.log2((c[s + 1] - c[s]) / c[-1]) for c, s in zip(cums, symbols))
    assert ideal <= 8 * len(data) <= ideal + 16  # within two bytes of the information content


def test_uniform_distribution_costs_log2_vocab_bits():
    rng = np.random.default_rng(1)
    n = 4000
    dists = np.full((n, 16), 1 / 16)
    symbols = rng.integers(0, 16, size=n)
    data, decoded = _roundtrip(dists, symbols)
    assert decoded == symbols.tolist()
    assert 8 * len(data) == pytest.approx(4 * n, abs=16)  # 4 bits per symbol out of 16


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=40, block_size=16, n_layer=1, n_head=2, n_embd=16)).eval()


@pytest.mark.parametrize("n, rows", [(1, 4), (37, 4), (100, 3), (40, 1)])
def test_model_driven_round_trip(model, n, rows):
    ids = torch.randint(0, 40, (n,), generator=torch.Generator().manual_seed(n)).tolist()
    data = compress(model, ids, start_token=0, rows=rows)
    assert decompress(model, data) == ids
    bits = ideal_bits(model, ids, start_token=0, rows=rows)
    coded = 8 * (len(data) - 8)  # minus the header
    assert bits - 1 <= coded <= bits * 1.01 + 24


def test_a_model_that_predicts_well_compresses_well(model):
    # rows longer than the context (sliding windows), on text the model finds predictable:
    # make the model confident by training it briefly on a repeating pattern
    ids = ([1, 2, 3, 4, 5] * 20)[:50]
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    x = torch.tensor([ids[i:i + 16] for i in range(30)])
    y = torch.tensor([ids[i + 1:i + 17] for i in range(30)])
    model.train()
    for _ in range(40):
        _, loss = model(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    data = compress(model, ids, start_token=0, rows=2)
    assert decompress(model, data) == ids
    assert 8 * len(data) < 0.5 * len(ids) * math.log2(40)  # far below the uniform cost


def test_bad_input(model):
    with pytest.raises(ValueError, match="empty"):
        compress(model, [], start_token=0)
    with pytest.raises(ValueError, match="0..39"):
        compress(model, [1, 2, 40], start_token=0)
    with pytest.raises(ValueError, match="too short"):
        decompress(model, b"abc")
