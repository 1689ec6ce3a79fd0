"""The chapter-0 bigram model: counts, probabilities, sampling, bits per character, the two files."""

from __future__ import annotations

import math

import pytest
import torch

from minillm.bigram import BigramModel

TEXT = "abab abba baab. " * 20


def test_counts_match_a_plain_loop():
    m = BigramModel.fit(TEXT, smoothing=0.0)
    expected = torch.zeros_like(m.counts)
    for a, b in zip(TEXT, TEXT[1:]):
        expected[m.stoi[a], m.stoi[b]] += 1
    assert torch.equal(m.counts, expected)
    assert m.counts.sum() == len(TEXT) - 1


def test_probs_are_distributions_and_smoothing_keeps_unseen_pairs():
    m = BigramModel.fit(TEXT)
    torch.testing.assert_close(m.probs.sum(1), torch.ones(len(m.vocab), dtype=torch.float64))
    assert (m.probs > 0).all()
    assert (BigramModel.fit(TEXT, smoothing=0).probs == 0).any()


def test_bits_per_char_is_cross_entropy_and_beats_uniform():
    m = BigramModel.fit(TEXT)
    ids = m.encode(TEXT)
    direct = -sum(math.log2(m.probs[a, b]) for a, b in zip(ids[:-1].tolist(), ids[1:].tolist())) / (len(TEXT) - 1)
    assert m.bits_per_char(TEXT) == pytest.approx(direct, rel=1e-9)
    assert m.bits_per_char(TEXT) < math.log2(len(m.vocab))


def test_sampling_is_seeded_and_temperature_zero_is_greedy():
    m = BigramModel.fit(TEXT)
    a = m.sample("a", 50, generator=torch.Generator().manual_seed(1))
    b = m.sample("a", 50, generator=torch.Generator().manual_seed(1))
    assert a == b and len(a) == 51 and set(a) <= set(m.vocab)
    greedy = m.sample("a", 5, temperature=0)
    step = greedy[0]
    for ch in greedy[1:]:
        assert ch == m.vocab[int(m.probs[m.stoi[step]].argmax())]
        step = ch


def test_save_load_round_trip_and_corrupt_file(tmp_path):
    m = BigramModel.fit(TEXT)
    m.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.json", "model.safetensors"]
    back = BigramModel.load(tmp_path / "m")
    assert back.vocab == m.vocab and torch.equal(back.counts, m.counts)
    (tmp_path / "m" / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="corrupt"):
        BigramModel.load(tmp_path / "m")
    with pytest.raises(FileNotFoundError, match="config.json"):
        BigramModel.load(tmp_path / "nothing")


def test_bad_input():
    m = BigramModel.fit(TEXT)
    with pytest.raises(ValueError, match=r"character 'z' is not in the model's vocabulary"):
        m.encode("az")
    with pytest.raises(ValueError, match="token id 99 is outside the vocabulary"):
        m.decode([99])
    with pytest.raises(ValueError, match="at least two characters"):
        BigramModel.fit("a")
    with pytest.raises(ValueError, match="temperature"):
        m.sample("a", 3, temperature=-1)
    with pytest.raises(ValueError, match="prompt"):
        m.sample("", 3)
    last_only = BigramModel.fit("abcab.", smoothing=0)  # "." is never followed by anything
    for temperature in (1.0, 0):
        with pytest.raises(ValueError, match=r"'\.' is never followed .* smoothing > 0"):
            last_only.sample("ab.", 10, temperature=temperature)
