"""Tests for minillm.generate (chapter 5): the KV cache, the samplers, batching, stopping,
streaming, beam search, speculative decoding and bad input.

References no one here wrote: Hugging Face ``transformers``' logits processors (temperature,
top-k, top-p, min-p, repetition penalty), and the model's own full forward pass (module path)
for the cache.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from minillm.attention import KVCache
from minillm.generate import (
    Generation,
    SamplingConfig,
    _utf8_complete,
    apply_temperature,
    beam_search,
    generate,
    greedy,
    min_p_filter,
    process_logits,
    repetition_penalty,
    sample,
    score,
    speculative_generate,
    stream,
    top_k_filter,
    top_p_filter,
)
from minillm.model import GPT, GPTConfig
from minillm.tokenizer import ByteTokenizer

CONFIGS = [
    dict(pos="learned", fast_attention=True),
    dict(pos="learned", fast_attention=False),
    dict(pos="sinusoidal", fast_attention=True),
    dict(pos="rope", fast_attention=True),
    dict(pos="rope", fast_attention=False, norm="rmsnorm", bias=False),
]


def make_model(seed=0, vocab=40, block=48, n_layer=2, scale=15.0, **kw) -> GPT:
    """A random model with sharpened weights (std 0.3), so greedy outputs vary."""
    torch.manual_seed(seed)
    cfg = dict(vocab_size=vocab, block_size=block, n_layer=n_layer, n_head=2, n_embd=32, tie_weights=False)
    m = GPT(GPTConfig(**{**cfg, **kw}))
    with torch.no_grad():
        for p in m.parameters():
            if p.dim() > 1:
                p.mul_(scale)
    return m.eval()


def reference_greedy(model, prompt, n):
    """Greedy decoding the slow way: the full forward over the whole sequence at every step."""
    idx = torch.tensor([prompt])
    with torch.no_grad():
        for _ in range(n):
            logits, _ = model(idx[:, -model.config.block_size:])
            idx = torch.cat([idx, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    return idx[0, len(prompt):].tolist()


# --- the cache ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kw", CONFIGS, ids=lambda k: "-".join(str(v) for v in k.values()))
def test_greedy_with_cache_equals_without_and_the_full_forward(kw):
    model = make_model(**kw)
    prompt = [3, 1, 4, 1, 5]
    ref = reference_greedy(model, prompt, 30)
    assert len(set(ref)) > 4, "the test model is degenerate; the comparison would be weak"
    cached = generate(model, prompt, max_new_tokens=30, temperature=0)
    plain = generate(model, prompt, max_new_tokens=30, temperature=0, use_cache=False)
    assert cached.ids[0] == ref
    assert plain.ids[0] == ref


@pytest.mark.parametrize("kw", CONFIGS, ids=lambda k: "-".join(str(v) for v in k.values()))
def test_cached_logits_match_the_full_forward_in_chunks(kw):
    model = make_model(**kw)
    idx = torch.randint(0, 40, (2, 20))
    with torch.no_grad():
        full, _ = model(idx)
        cache = model.new_cache(2, 20)
        parts = [model(idx[:, a:b], cache=cache)[0] for a, b in ((0, 7), (7, 8), (8, 15), (15, 20))]
        # the public forward with last_only=False returns every position
        cache2 = model.new_cache(2, 20)
        every = torch.cat([model.forward_cached(idx[:, a:b], cache2, last_only=False)
                           for a, b in ((0, 7), (7, 8), (8, 20))], dim=1)
    torch.testing.assert_close(torch.stack([p[:, -1] for p in parts], 1), full[:, [6, 7, 14, 19]], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(every, full, atol=1e-4, rtol=1e-4)


def test_cache_memory_by_formula_and_bad_use():
    model = make_model(n_layer=3)
    cache = model.new_cache(batch=4, max_len=16)
    c = model.config
    assert cache.nbytes == 2 * c.n_layer * 4 * c.n_head * 16 * c.head_dim * 4  # float32
    with torch.no_grad():
        model(torch.zeros(4, 10, dtype=torch.long), cache=cache)
        with pytest.raises(ValueError, match="do not fit"):
            model(torch.zeros(4, 7, dtype=torch.long), cache=cache)
    with pytest.raises(ValueError, match="rolling"):
        make_model(pos="learned").new_cache(1, rolling=True)
    with pytest.raises(ValueError, match="block_size"):
        make_model(pos="learned").new_cache(1, max_len=100)
    with pytest.raises(ValueError, match="max_len"):
        KVCache(1, 1, 1, 0, 4)
    with pytest.raises(ValueError, match="targets"):
        model(torch.zeros(1, 2, dtype=torch.long), torch.zeros(1, 2, dtype=torch.long), cache=model.new_cache(1))


def test_rolling_cache_is_exact_sliding_window_attention():
    """Past the context, a rope model's rolling cache attends to exactly the last block_size tokens:
    its logits equal a fresh forward over the last block_size tokens for a one-layer model (with
    more layers the old keys remember older context, so only one layer is exact)."""
    model = make_model(pos="rope", n_layer=1, block=8)
    seq = torch.randint(0, 40, (1, 20))
    cache = model.new_cache(1, 8, rolling=True)
    with torch.no_grad():
        model.forward_cached(seq[:, :8], cache)
        for t in range(8, 20):
            got = model.forward_cached(seq[:, t:t + 1], cache)[0, -1]
            window = seq[:, t - 7:t + 1]
            want = model(window)[0][0, -1]
            torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)


def test_generation_past_the_context():
    for pos in ("rope", "learned"):
        model = make_model(pos=pos, block=16)
        with pytest.raises(ValueError, match="overflow='slide'"):
            generate(model, [1, 2, 3], max_new_tokens=20)
        out = generate(model, [1, 2, 3], max_new_tokens=40, temperature=0, overflow="slide")
        assert len(out.ids[0]) == 40 and out.finish_reasons == ["length"]
        # the first tokens, inside the context, are the plain greedy ones
        assert out.ids[0][:13] == reference_greedy(model, [1, 2, 3], 13)


# --- batching -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kw", CONFIGS, ids=lambda k: "-".join(str(v) for v in k.values()))
def test_left_padded_batch_equals_each_prompt_alone(kw):
    model = make_model(**kw)
    prompts = [[5], [1, 2, 3, 4, 5, 6, 7], [9, 8, 7]]
    for use_cache in (True, False):
        batch = generate(model, prompts, max_new_tokens=15, temperature=0, use_cache=use_cache)
        alone = [reference_greedy(model, p, 15) for p in prompts]
        assert batch.ids == alone


@pytest.mark.parametrize("kw", CONFIGS, ids=lambda k: "-".join(str(v) for v in k.values()))
def test_batch_of_eight_decodes_like_each_prompt_alone(kw):
    """Eight rows per decoding step, where the fast path's multiply changes method for large
    weights (that branch itself: :func:`test_fast_path_linear_equals_f_linear`)."""
    model = make_model(**kw)
    g = torch.Generator().manual_seed(1)
    prompts = [torch.randint(0, 40, (n,), generator=g).tolist() for n in (3, 5, 5, 1, 6, 2, 4, 5)]
    batch = generate(model, prompts, max_new_tokens=12, temperature=0)
    assert batch.ids == [reference_greedy(model, p, 12) for p in prompts]


@pytest.mark.parametrize("rows", [1, 7, 8, 9, 20, 32, 33, 64])
@pytest.mark.parametrize("bias", [True, False])
def test_fast_path_linear_equals_f_linear(rows, bias):
    """``model._linear`` (the fast path's multiply, computed as ``(w @ x.T).T`` for 8 to 32 rows
    and weights of 2**20 numbers or more on a CPU) against ``torch.nn.functional.linear``, for
    (B, T, C) inputs of every row count, with a small weight and a large one."""
    from minillm.model import _linear

    g = torch.Generator().manual_seed(rows)
    for n_in, n_out in ((24, 40), (256, 4096)):
        x = torch.randn(rows, 1, n_in, generator=g).view(-1, rows if rows % 2 else rows // 2, n_in)
        w = torch.randn(n_out, n_in, generator=g) / n_in ** 0.5
        b = torch.randn(n_out, generator=g) if bias else None
        got = _linear(x, w, b)
        assert got.shape == (*x.shape[:-1], n_out) and got.is_contiguous()
        torch.testing.assert_close(got, torch.nn.functional.linear(x, w, b), atol=1e-5, rtol=1e-5)


def test_per_row_stop_ids_and_logprobs_are_the_models():
    model = make_model()
    prompts = [[1, 2], [3, 4, 5]]
    free = generate(model, prompts, max_new_tokens=12, temperature=0)
    stop = free.ids[0][4]  # row 0 stops at its 5th token (or earlier if the id came before)
    out = generate(model, prompts, max_new_tokens=12, temperature=0, stop_ids=[stop])
    first = free.ids[0].index(stop)
    assert out.ids[0] == free.ids[0][: first + 1] and out.finish_reasons[0] == "stop_id"
    if stop not in free.ids[1]:
        assert out.ids[1] == free.ids[1] and out.finish_reasons[1] == "length"
    # log-probabilities: log_softmax of the unmodified model, the same as score()
    scored = score(model, out.prompt_ids, out.ids)
    for a, b in zip(out.logprobs, scored):
        assert a == pytest.approx(b, abs=1e-4)
    assert all(lp <= 0 for row in out.logprobs for lp in row)
    # with sampling and a filter, still the unmodified model's log-probabilities
    s = generate(model, prompts, max_new_tokens=8, temperature=0.7, top_k=3, seed=1)
    for a, b in zip(s.logprobs, score(model, s.prompt_ids, s.ids)):
        assert a == pytest.approx(b, abs=1e-4)


def test_seed_makes_sampling_repeatable():
    model = make_model(scale=3.0)
    a = generate(model, [1, 2], max_new_tokens=20, seed=7)
    b = generate(model, [1, 2], max_new_tokens=20, seed=7)
    c = generate(model, [1, 2], max_new_tokens=20, seed=8)
    assert a.ids == b.ids and a.ids != c.ids


def test_gpt_generate_delegates_and_keeps_its_contract():
    model = make_model()
    idx = torch.tensor([[1, 2, 3]])
    out = model.generate(idx, 10, temperature=0)
    assert out.shape == (1, 13) and out[0, 3:].tolist() == reference_greedy(model, [1, 2, 3], 10)


# --- a scripted model: greedy follows a fixed successor map (for text tests) ----------------------


def scripted_model(text: str) -> GPT:
    """A GPT over bytes whose greedy next byte after byte ``a`` is the byte after ``a`` in ``text``
    (cyclically). Blocks are identities (zero output projections), the head reads the token."""
    data = text.encode("utf-8")
    assert len(set(data)) == len(data), "every byte of the script must be distinct"
    model = GPT(GPTConfig(vocab_size=256, block_size=64, n_layer=1, n_head=2, n_embd=256,
                          tie_weights=False, pos="learned"))
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.norm_f.weight.fill_(1.0)
        model.tok_emb.weight.copy_(torch.eye(256) * 10)
        for i, a in enumerate(data):
            model.head.weight[data[(i + 1) % len(data)], a] = 1.0
        # a fallback: "z" always scores about 0.9, far below the script's next byte (about 16)
        model.norm_f.bias[255] = 1.0
        model.head.weight[ord("z"), 255] = 1.0
    return model.eval()


def test_stop_strings_are_matched_on_text_and_cut_it():
    model, tok = scripted_model("aé€b"), ByteTokenizer()
    out = generate(model, "a", tok, max_new_tokens=30, temperature=0)
    assert out.text[0].startswith("é€baé€b")
    s = generate(model, "a", tok, max_new_tokens=30, temperature=0, stop=["€b"])
    assert s.text[0] == "é" and s.finish_reasons == ["stop"]
    assert tok.decode(s.ids[0]) == "é€b"  # ids end with the token that completed the stop string
    # a stop string made of one multi-byte character, split over three byte tokens
    s = generate(model, "a", tok, max_new_tokens=30, temperature=0, stop="€")
    assert s.text[0] == "é" and len(s.ids[0]) == 5
    # two rows, one stops early
    s = generate(model, ["a", "b"], tok, max_new_tokens=6, temperature=0, stop="aé")
    assert s.finish_reasons == ["length", "stop"] and s.text[1] == ""


def test_utf8_boundaries():
    euro = "€".encode()
    assert _utf8_complete(b"ab") == 2
    assert _utf8_complete(b"a" + euro[:1]) == 1
    assert _utf8_complete(b"a" + euro[:2]) == 1
    assert _utf8_complete(b"a" + euro) == 4
    assert _utf8_complete("é".encode()[:1]) == 0


def test_stream_yields_whole_characters_and_equals_the_text():
    model, tok = scripted_model("aé€b"), ByteTokenizer()
    st = stream(model, tok, "a", max_new_tokens=20, temperature=0)
    pieces = list(st)
    assert "".join(pieces) == st.generation.text[0]
    assert all("\ufffd" not in p for p in pieces)
    assert pieces[:3] == ["é", "€", "b"]  # one piece per character, each only once complete
    st = stream(model, tok, "a", max_new_tokens=20, temperature=0, stop="€ba")
    pieces = list(st)
    assert "".join(pieces) == "é" == st.generation.text[0]
    assert "€" not in "".join(pieces)  # held back until it was clear it starts the stop string


# --- the sampling functions, against Hugging Face's logits processors ----------------------------


def _hf():
    return pytest.importorskip("transformers.generation.logits_process")


def _logits():
    torch.manual_seed(0)
    x = torch.randn(3, 50) * 2
    x[1, :5] = 4.0  # ties at the top
    return x


def test_temperature_matches_hf_and_rejects_bad_values():
    x = _logits()
    torch.testing.assert_close(apply_temperature(x, 0.7), _hf().TemperatureLogitsWarper(0.7)(None, x))
    for bad in (-0.1, float("nan"), "1"):
        with pytest.raises(ValueError, match="temperature"):
            apply_temperature(x, bad)
    with pytest.raises(ValueError, match="greedy"):
        apply_temperature(x, 0)


@pytest.mark.parametrize("k", [1, 3, 5, 50, 80])
def test_top_k_matches_hf(k):
    x = _logits()
    ours = top_k_filter(x, k)
    theirs = _hf().TopKLogitsWarper(k)(None, x.clone())
    assert torch.equal(torch.isinf(ours), torch.isinf(theirs))
    kept = (~torch.isinf(ours)).sum(-1)
    assert (kept >= min(k, 50)).all()


@pytest.mark.parametrize("p", [0.05, 0.3, 0.9, 0.999, 1.0])
def test_top_p_matches_hf(p):
    x = _logits()
    ours = top_p_filter(x, p)
    theirs = _hf().TopPLogitsWarper(p)(None, x.clone())
    assert torch.equal(torch.isinf(ours), torch.isinf(theirs))
    probs = torch.softmax(x, -1)
    assert ((probs * ~torch.isinf(ours)).sum(-1) >= p - 1e-6).all()  # the kept mass reaches p


def test_top_p_by_hand():
    # probabilities 0.5, 0.3, 0.15, 0.05: p=0.75 keeps the first two (0.5 < 0.75 <= 0.8)
    x = torch.tensor([[0.5, 0.3, 0.15, 0.05]]).log()
    assert torch.isinf(top_p_filter(x, 0.75)).tolist() == [[False, False, True, True]]
    assert torch.isinf(top_p_filter(x, 0.5)).tolist() == [[False, True, True, True]]
    assert torch.isinf(top_p_filter(x, 0.81)).tolist() == [[False, False, False, True]]


@pytest.mark.parametrize("p", [0.0, 0.05, 0.2, 0.9])
def test_min_p_matches_hf(p):
    x = _logits()
    ours = min_p_filter(x, p)
    if p == 0.0:
        assert torch.equal(ours, x)
        return
    theirs = _hf().MinPLogitsWarper(p)(None, x.clone())
    assert torch.equal(torch.isinf(ours), torch.isinf(theirs))


def test_repetition_penalty_matches_hf_and_ignores_padding():
    x = _logits()
    ids = torch.tensor([[0, 1, 1, 7], [2, 3, 4, 5], [9, 9, 9, 9]])
    ours = repetition_penalty(x, ids, 1.3)
    theirs = _hf().RepetitionPenaltyLogitsProcessor(1.3)(ids, x.clone())
    torch.testing.assert_close(ours, theirs)
    # padding positions (mask False) do not count as history
    mask = torch.tensor([[True, True, True, False]] * 3)
    masked = repetition_penalty(x, ids, 1.3, mask)
    assert masked[0, 7] == x[0, 7] and masked[0, 1] != x[0, 1]
    assert torch.equal(repetition_penalty(x, ids, 1.0), x)
    for bad in (0, -1.0, float("inf")):
        with pytest.raises(ValueError, match="repetition_penalty"):
            repetition_penalty(x, ids, bad)


def test_bad_filter_arguments():
    x = _logits()
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="top_k"):
            top_k_filter(x, bad)
    for bad in (0, -0.1, 1.01, float("nan")):
        with pytest.raises(ValueError, match="top_p"):
            top_p_filter(x, bad)
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="min_p"):
            min_p_filter(x, bad)


def test_sample_follows_softmax_and_greedy_is_argmax():
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0]]).expand(20000, 4)
    g = torch.Generator().manual_seed(0)
    counts = torch.bincount(sample(logits, g), minlength=4).float()
    expected = torch.softmax(logits[0], -1) * 20000
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 16.3  # chi-square, 3 degrees of freedom, p = 0.001
    assert greedy(logits[:1]).item() == 0
    # process_logits: temperature 0 leaves logits for greedy; filters chain
    cfg = SamplingConfig(temperature=0.5, top_k=2)
    out = process_logits(logits[:1], cfg)
    assert torch.isinf(out).tolist() == [[False, False, True, True]]
    torch.testing.assert_close(out[0, :2], logits[0, :2] / 0.5)


def test_repetition_penalty_in_the_engine_breaks_a_loop():
    model, tok = scripted_model("abc"), ByteTokenizer()
    loop = generate(model, "a", tok, max_new_tokens=9, temperature=0)
    assert loop.text[0] == "bcabcabca"
    varied = generate(model, "a", tok, max_new_tokens=9, temperature=0, repetition_penalty=1e6)
    # "a" was seen: its logit (about 16) is divided by the penalty and the fallback wins
    assert varied.text[0][:3] == "bcz"


# --- bad input to the engine ---------------------------------------------------------------------


def test_engine_bad_inputs_have_clear_errors():
    model, tok = make_model(block=80), ByteTokenizer()
    with pytest.raises(ValueError, match="temperature"):
        generate(model, [1], temperature=-1)
    with pytest.raises(ValueError, match="top_k"):
        generate(model, [1], top_k=0)
    with pytest.raises(ValueError, match="top_p"):
        generate(model, [1], top_p=0.0)
    with pytest.raises(ValueError, match="top_p"):
        generate(model, [1], top_p=1.2)
    with pytest.raises(ValueError, match="truncate_prompt=True"):
        generate(model, list(range(30)) * 3, max_new_tokens=1)
    out = generate(model, list(range(30)) * 3, max_new_tokens=1, truncate_prompt=True, temperature=0)
    assert len(out.prompt_ids[0]) == 80 and out.prompt_ids[0] == (list(range(30)) * 3)[-80:]
    with pytest.raises(ValueError, match="stop id 99"):
        generate(model, [1], stop_ids=[99])
    with pytest.raises(ValueError, match="start_id"):
        generate(model, [[]])
    assert len(generate(model, [[]], start_id=0, max_new_tokens=3).ids[0]) == 3
    with pytest.raises(ValueError, match="outside the vocabulary"):
        generate(model, [1, 40])
    with pytest.raises(ValueError, match="tokenizer"):
        generate(model, "text")
    with pytest.raises(ValueError, match="tokenizer"):
        generate(model, [1], stop="x")
    with pytest.raises(ValueError, match="max_new_tokens"):
        generate(model, [1], max_new_tokens=-1)
    with pytest.raises(ValueError, match="overflow"):
        generate(model, [1], overflow="wrap")
    with pytest.raises(ValueError, match="one prompt"):
        list(stream(model, tok, ["a", "b"]))
    assert isinstance(generate(model, [1], max_new_tokens=0), Generation)


# --- beam search ---------------------------------------------------------------------------------


def test_beam_search_with_one_beam_is_greedy_and_with_enough_beams_is_exact():
    model = make_model(vocab=5, scale=4.0)
    assert beam_search(model, [1, 2], num_beams=1, max_new_tokens=6)[0].ids == reference_greedy(model, [1, 2], 6)
    # with num_beams = V^(n-1) nothing is ever pruned: the best beam is the best sequence
    n = 3
    best = beam_search(model, [1, 2], num_beams=25, max_new_tokens=n, length_penalty=0.0)[0]
    seqs = list(itertools.product(range(5), repeat=n))
    lps = score(model, [[1, 2]] * len(seqs), [list(s) for s in seqs])
    totals = [sum(x) for x in lps]
    i = max(range(len(seqs)), key=totals.__getitem__)
    assert best.ids == list(seqs[i]) and best.logprob == pytest.approx(totals[i], abs=1e-4)
    with pytest.raises(ValueError, match="num_beams"):
        beam_search(model, [1], num_beams=0)


# --- speculative decoding ------------------------------------------------------------------------


def test_speculative_greedy_equals_the_targets_greedy():
    target, draft = make_model(seed=0), make_model(seed=1, n_layer=1)
    for k in (1, 3, 5):
        spec = speculative_generate(target, draft, [1, 2, 3], max_new_tokens=25, k=k, temperature=0)
        assert spec.ids == reference_greedy(target, [1, 2, 3], 25)
        assert 0 <= spec.accepted <= spec.proposed
    same = speculative_generate(target, target, [1, 2, 3], max_new_tokens=20, k=4, temperature=0)
    assert same.acceptance_rate == 1.0 and same.rounds == 4  # 4 rounds of 4 + 1 bonus tokens


def _two_token_distribution(model, prompt, v):
    """Exact probabilities of the first two generated tokens, ``(v, v)``."""
    seqs = [[a, b] for a in range(v) for b in range(v)]
    lps = score(model, [prompt] * len(seqs), seqs)
    return torch.tensor([math.exp(sum(x)) for x in lps]).view(v, v)


def test_speculative_sampling_follows_the_targets_distribution():
    """Statistical test on a 4-token vocabulary: the empirical distribution of the first two
    tokens over 2,000 seeded runs against the target's exact one (chi-square, 15 degrees of
    freedom, critical value 37.7 at p = 0.001). The draft's own distribution is far enough from
    the target's that sampling from the draft would fail the same test by a wide margin."""
    v, prompt, n = 4, [1, 2], 2000
    target = make_model(seed=0, vocab=v, scale=6.0)
    draft = make_model(seed=5, vocab=v, scale=6.0, n_layer=1)
    p = _two_token_distribution(target, prompt, v)
    q = _two_token_distribution(draft, prompt, v)
    critical = 37.7
    power = n * float(((q - p) ** 2 / p).sum())  # the chi-square a draft-only sampler would get
    assert power > 5 * critical, "the draft is too close to the target for the test to mean much"
    counts = torch.zeros(v, v)
    g = torch.Generator().manual_seed(0)
    accepted = proposed = 0
    for _ in range(n):
        s = speculative_generate(target, draft, prompt, max_new_tokens=2, k=2, generator=g)
        counts[s.ids[0], s.ids[1]] += 1
        accepted, proposed = accepted + s.accepted, proposed + s.proposed
    chi2 = float(((counts - n * p) ** 2 / (n * p)).sum())
    assert chi2 < critical, f"chi-square {chi2:.1f} >= {critical}: not the target's distribution"
    assert 0 < accepted < proposed  # both accepting and rejecting happened


def test_speculative_bad_inputs():
    target = make_model()
    with pytest.raises(ValueError, match="vocabulary"):
        speculative_generate(target, make_model(vocab=41), [1], max_new_tokens=3)
    with pytest.raises(ValueError, match="k "):
        speculative_generate(target, target, [1], k=0)


# --- CUDA ----------------------------------------------------------------------------------------


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (optional resource)")
@pytest.mark.parametrize("pos", ["learned", "sinusoidal", "rope"])
@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("norm", ["layernorm", "rmsnorm"])
def test_cuda_cache_equals_no_cache_and_cpu(pos, fast, norm):
    model = make_model(pos=pos, fast_attention=fast, norm=norm)
    prompts = [[1, 2, 3, 4, 5], [4], [9, 8, 7]]
    cpu = generate(model, prompts, max_new_tokens=20, temperature=0)
    gpu = generate(model.cuda(), prompts, max_new_tokens=20, temperature=0)
    assert gpu.ids == generate(model, prompts, max_new_tokens=20, temperature=0, use_cache=False).ids
    assert cpu.ids == gpu.ids


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (optional resource)")
def test_cuda_seeded_sampling_is_repeatable():
    model = make_model(pos="rope").cuda()
    runs = [generate(model, [[1, 2]], max_new_tokens=20, temperature=1.0, top_p=0.9, seed=3).ids
            for _ in range(2)]
    assert runs[0] == runs[1]


# --- the command line: `minillm chat` and `minillm generate` -------------------------------------


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A tiny model folder as `minillm pretrain` writes it (random weights, a small BPE)."""
    from minillm.tokenizer import BPETokenizer

    folder = tmp_path_factory.mktemp("chatmodel")
    tok = BPETokenizer().train("the cat sat on the mat. the dog ran. " * 20, 270)
    torch.manual_seed(0)
    GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=32, n_layer=1, n_head=2, n_embd=16)).save(folder)
    tok.save(folder / "tokenizer.json")
    return folder


def _run_cli(monkeypatch, argv, stdin_text):
    import io

    from minillm.cli import main

    monkeypatch.setattr("sys.stdin", io.StringIO(stdin_text))
    return main(argv)


def test_chat_streams_replies_resets_and_quits(model_dir, monkeypatch, capsys):
    rc = _run_cli(monkeypatch, ["chat", str(model_dir), "--max-new-tokens", "5", "--seed", "3"],
                  "the cat\n/reset\nthe dog\n/quit\nnever read\n")
    out = capsys.readouterr().out
    assert rc == 0
    assert "base model" in out  # no recipe.json saying chat: plain continuation
    assert out.count("bot> ") == 2 and "(conversation forgotten)" in out


def test_chat_uses_the_template_and_keeps_history(model_dir, monkeypatch, capsys, tmp_path):
    import json
    import shutil

    import minillm.generate as gen
    from minillm.tokenizer import BPETokenizer

    folder = tmp_path / "chat"
    shutil.copytree(model_dir, folder)
    (folder / "recipe.json").write_text(json.dumps({"chat": True}))
    seen = []

    class FakeStream:
        def __init__(self, model, tokenizer, prompt, **kw):
            seen.append((list(prompt), kw))
            self.generation = None

        def __iter__(self):
            yield "hi"

    monkeypatch.setattr(gen, "stream", FakeStream)
    assert _run_cli(monkeypatch, ["chat", str(folder)], "a\nb\n") == 0
    tok = BPETokenizer.load(folder / "tokenizer.json")
    sp = tok.special_tokens
    first, second = seen[0][0], seen[1][0]
    assert first == [sp["<|user|>"], *tok.encode(" a"), sp["<|end|>"], sp["<|assistant|>"]]
    # the second prompt holds the first turn, the reply and its end token
    assert second[: len(first)] == first and sp["<|end|>"] in second[len(first):]
    assert sp["<|end|>"] in seen[0][1]["stop_ids"]
    assert "chat template" in capsys.readouterr().out


def test_ctrl_c_stops_a_reply_not_the_program(model_dir, monkeypatch, capsys):
    import io

    import minillm.generate as gen
    from minillm.cli import main

    class Interrupted:
        def __init__(self, *a, **kw):
            self.generation = None

        def __iter__(self):
            yield "partial"
            raise KeyboardInterrupt

    class Keys(io.StringIO):
        """stdin whose first read is a Ctrl-C at the prompt."""

        first = True

        def readline(self, *a):
            if self.first:
                self.first = False
                raise KeyboardInterrupt
            return super().readline(*a)

    monkeypatch.setattr(gen, "stream", Interrupted)
    monkeypatch.setattr("sys.stdin", Keys("hello\nagain\n/quit\n"))
    assert main(["chat", str(model_dir)]) == 0
    out = capsys.readouterr().out
    assert out.count("[stopped]") == 2 and "(type /quit or press Ctrl-D to leave)" in out


def test_cli_mistakes_are_one_line_exit_2(model_dir, monkeypatch, capsys):
    from minillm.cli import main

    cases = [
        ["chat", str(model_dir), "--temperature", "-1"],
        ["chat", str(model_dir), "--top-p", "0"],
        ["chat", str(model_dir / "missing")],
        ["generate", str(model_dir), "--top-k", "0"],
        ["generate", str(model_dir), "--prompt", ""],
        ["generate", str(model_dir), "--min-p", "2"],
    ]
    for argv in cases:
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse refuses a bad flag value itself
            code = exc.code
        assert code == 2, argv
        err = capsys.readouterr().err
        assert "error: " in err and err.count("\n") == 1 and "Traceback" not in err, err


def test_generate_cli_takes_the_sampling_flags(model_dir, capsys):
    from minillm.cli import main

    argv = ["generate", str(model_dir), "--prompt", "the cat", "--max-new-tokens", "6", "--top-p", "0.9",
            "--min-p", "0.05", "--repetition-penalty", "1.2", "--num-samples", "2", "--seed", "1"]
    assert main(argv) == 0
    first = capsys.readouterr().out
    assert first.count("--- sample") == 2 and first.count("the cat") == 2
    assert main(argv) == 0 and capsys.readouterr().out == first  # the seed makes it repeatable


def test_chat_in_a_real_process(model_dir):
    """The installed entry point, driven through a pipe (no terminal)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "minillm", "chat", str(model_dir), "--max-new-tokens", "4"],
                          input="the cat\n/quit\n", capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "bot> " in proc.stdout and "Traceback" not in proc.stderr


# --- Hugging Face export -------------------------------------------------------------------------


@pytest.mark.parametrize("tie", [True, False])
def test_save_hf_loads_in_transformers_with_the_same_logits_and_greedy_text(tmp_path, tie):
    transformers = pytest.importorskip("transformers")
    tokenizers = pytest.importorskip("tokenizers")
    from minillm.tokenizer import BPETokenizer

    tok = BPETokenizer().train("the cat sat on the mat. the dog ran far away. " * 30, 280)
    model = make_model(vocab=tok.vocab_size, block=64, pos="learned", tie_weights=tie, scale=5.0)
    folder = model.save_hf(tmp_path / "hf", tokenizer=tok)
    hf = transformers.GPT2LMHeadModel.from_pretrained(folder, local_files_only=True).eval()
    hf_tok = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
    text = "the dog sat on the cat"
    ids = hf_tok.encode(text).ids
    assert ids == tok.encode(text)
    x = torch.tensor([ids])
    with torch.no_grad():
        torch.testing.assert_close(hf(x).logits, model(x)[0], atol=1e-4, rtol=1e-4)
        hf_out = hf.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=20, do_sample=False,
                             use_cache=True, pad_token_id=0)
    ours = generate(model, ids, tok, max_new_tokens=20, temperature=0)
    assert hf_out[0, len(ids):].tolist() == ours.ids[0]
    assert hf_tok.decode(ours.ids[0], skip_special_tokens=False) == ours.text[0]
    # and back into minillm
    again = GPT.from_hf_gpt2(folder)
    torch.testing.assert_close(again(x)[0], model(x)[0])


def test_save_hf_names_the_setting_that_stands_in_the_way(tmp_path):
    with pytest.raises(ValueError, match="pos='rope'"):
        make_model(pos="rope").save_hf(tmp_path)
    with pytest.raises(ValueError, match="norm='rmsnorm'.*bias=False"):
        make_model(norm="rmsnorm", bias=False).save_hf(tmp_path)
    with pytest.raises(ValueError, match="gelu='exact'"):
        make_model(gelu="exact").save_hf(tmp_path)


# --- the sampling lab's static view and the chapter's plots --------------------------------------


def test_next_token_table_and_its_html():
    from minillm.widgets import next_token_table, render_next_token_html

    model, tok = scripted_model("abc"), ByteTokenizer()
    rows = next_token_table(model, tok, "a", temperature=1.0, top_k=2, n=5)
    assert [r[0] for r in rows][0] == "b" and len(rows) == 5
    assert sum(r[3] for r in rows) == 2  # top-k 2: two tokens can still be drawn
    assert abs(sum(r[2] for r in rows) - 1.0) < 1e-5  # all the remaining mass is in the kept two
    greedy_rows = next_token_table(model, tok, "a", temperature=0.0, n=3)
    assert greedy_rows[0][2] == 1.0 and sum(r[3] for r in greedy_rows) == 1
    html = render_next_token_html(rows, sample_text="a<b")
    assert "<table" in html and "a&lt;b" in html
    with pytest.raises(ValueError, match="prompt"):
        next_token_table(model, tok, "")


def test_chapter5_plots():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from minillm.viz import plot_frontier, plot_token_distribution

    ax = plot_token_distribution([0.5, 0.3, 0.2], ["a", " b", "\n"], kept=[True, True, False])
    assert len(ax.patches) == 3 and ax.get_ylabel() == "probability"
    ax = plot_frontier({"temperature 0.5": (-1.0, 0.4), "temperature 1.0": (-1.5, 0.6), "top-p 0.9": (-1.1, 0.5)},
                       "log p", "distinct", "frontier")
    assert len(ax.get_lines()) == 2  # one line per family
    plt.close("all")


@pytest.mark.parametrize("options", [dict(mlp_act="relu2"), dict(qk_norm=True),
                                     dict(logit_softcap=3.0), dict(qk_norm=True, pos="learned")])
def test_cache_equals_full_forward_with_the_speed_options(options):
    """The KV-cache path honours GPTConfig's training-speed options (chapter 4, issue 16)."""
    from minillm.generate import generate
    from minillm.model import GPT, GPTConfig

    torch.manual_seed(0)
    cfg = GPTConfig(**{"vocab_size": 50, "block_size": 32, "n_layer": 2, "n_head": 2, "n_embd": 16,
                       "pos": "rope", **options})
    model = GPT(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():  # move away from the initialisation so options matter
            p.add_(torch.randn_like(p) * 0.3)
    prompt = torch.tensor([[1, 2, 3, 4]])
    cached = generate(model, prompt, max_new_tokens=12, temperature=0).ids[0]
    ids = prompt
    for _ in range(12):  # greedy with the full forward, no cache
        nxt = model(ids)[0][:, -1].argmax(-1, keepdim=True)
        ids = torch.cat([ids, nxt], 1)
    assert list(cached) == ids[0, 4:].tolist()
