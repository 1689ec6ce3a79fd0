"""minillm.model: shapes, known values, the two files, Hugging Face GPT-2 interop, bad input."""

import json
import math

import pytest
import torch
import torch.nn.functional as F

from minillm.model import GPT, GPTConfig

V = 97


def tiny(**overrides) -> GPTConfig:
    base = dict(vocab_size=V, block_size=24, n_layer=2, n_head=3, n_embd=24)
    return GPTConfig(**{**base, **overrides})


def ids(b, t, seed=0, v=V):
    return torch.randint(0, v, (b, t), generator=torch.Generator().manual_seed(seed))


VARIANTS = [
    dict(pos="learned", norm="layernorm"),
    dict(pos="sinusoidal", norm="rmsnorm"),
    dict(pos="rope", norm="rmsnorm", bias=False),
    dict(pos="rope", norm="layernorm", tie_weights=False),
]


# --- config ----------------------------------------------------------------------------------


def test_presets_and_overrides():
    for name in GPTConfig.PRESETS:
        cfg = GPTConfig.preset(name)
        assert cfg.n_embd % cfg.n_head == 0
    assert GPTConfig.preset("tiny", vocab_size=300).vocab_size == 300
    g = GPTConfig.preset("gpt2")
    assert (g.vocab_size, g.block_size, g.n_layer, g.n_head, g.n_embd) == (50257, 1024, 12, 12, 768)
    with pytest.raises(ValueError, match="unknown preset"):
        GPTConfig.preset("huge")


@pytest.mark.parametrize(
    "bad, match",
    [
        (dict(n_embd=10, n_head=3), "divisible"),
        (dict(norm="batchnorm"), "norm"),
        (dict(pos="alibi"), "pos"),
        (dict(vocab_size=0), "vocab_size"),
        (dict(dropout=1.5), "dropout"),
        (dict(pos="rope", n_embd=30, n_head=6), "even"),
        (dict(gelu="relu"), "gelu"),
    ],
)
def test_config_rejects_bad_values(bad, match):
    with pytest.raises(ValueError, match=match):
        tiny(**bad)


def test_config_dict_round_trip_and_unknown_keys():
    cfg = tiny(pos="rope")
    assert GPTConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown GPTConfig fields"):
        GPTConfig.from_dict({**cfg.to_dict(), "n_layers": 3})


# --- forward ---------------------------------------------------------------------------------


@pytest.mark.parametrize("gelu, reference", [("tanh", torch.nn.GELU(approximate="tanh")),
                                              ("exact", torch.nn.GELU())])
def test_mlp_gelu_option_matches_torch(gelu, reference):
    from minillm.model import MLP

    torch.manual_seed(0)
    mlp = MLP(tiny(gelu=gelu, bias=True))
    x = torch.randn(2, 5, mlp.fc.in_features) * 3
    expected = mlp.proj(reference(mlp.fc(x)))
    torch.testing.assert_close(mlp(x), expected, rtol=0, atol=0)
    other = MLP(tiny(gelu="exact" if gelu == "tanh" else "tanh", bias=True))
    other.load_state_dict(mlp.state_dict())
    assert not torch.equal(other(x), expected)  # the two forms really differ



@pytest.mark.parametrize("variant", VARIANTS)
def test_forward_shapes_and_loss(variant):
    torch.manual_seed(0)
    model = GPT(tiny(**variant))
    x, y = ids(3, 24), ids(3, 24, seed=1)
    logits, loss = model(x)
    assert logits.shape == (3, 24, V) and loss is None
    logits, loss = model(x, y)
    torch.testing.assert_close(loss, F.cross_entropy(logits.reshape(-1, V), y.reshape(-1)))
    # GPT-2 initialisation gives near-uniform predictions: loss close to ln(V)
    assert abs(loss.item() - math.log(V)) < 0.15, loss.item()
    last, _ = model(x, last_only=True)
    assert last.shape == (3, 1, V)
    torch.testing.assert_close(last[:, 0], logits[:, -1], atol=1e-5, rtol=1e-5)


def test_ignore_index_masks_positions():
    torch.manual_seed(0)
    model = GPT(tiny())
    x, y = ids(2, 10), ids(2, 10, seed=1)
    logits, _ = model(x)
    y_masked = y.clone()
    y_masked[:, :4] = -100
    _, loss = model(x, y_masked)
    torch.testing.assert_close(loss, F.cross_entropy(logits[:, 4:].reshape(-1, V), y[:, 4:].reshape(-1)))


@pytest.mark.parametrize("variant", VARIANTS)
def test_fast_and_scratch_attention_agree(variant):
    torch.manual_seed(1)
    model = GPT(tiny(**variant)).eval()
    x = ids(2, 17)
    fast, _ = model(x)
    model.fast_attention = False
    slow, _ = model(x)
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=1e-5)
    assert not model.blocks[0].attn.fast


@pytest.mark.parametrize("variant", VARIANTS)
def test_future_tokens_do_not_change_the_past(variant):
    torch.manual_seed(2)
    model = GPT(tiny(**variant)).eval()
    x = ids(1, 20)
    x2 = x.clone()
    x2[0, 12:] = (x2[0, 12:] + 1) % V
    a, _ = model(x)
    b, _ = model(x2)
    torch.testing.assert_close(a[:, :12], b[:, :12], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(a[:, 12:], b[:, 12:])


@pytest.mark.parametrize("variant", VARIANTS)
def test_positions_matter(variant):
    # without position information, the last token's logits would not depend on token order
    torch.manual_seed(3)
    model = GPT(tiny(**variant)).eval()
    x = ids(1, 12)
    shuffled = torch.cat([x[:, :-1].flip(1), x[:, -1:]], dim=1)
    a, _ = model(x, last_only=True)
    b, _ = model(shuffled, last_only=True)
    assert not torch.allclose(a, b, atol=1e-5)


def test_left_padding_with_rope_gives_the_unpadded_logits():
    # RoPE makes attention depend on relative positions only, so masking left padding must
    # reproduce the logits of the sequence on its own
    torch.manual_seed(4)
    model = GPT(tiny(pos="rope")).eval()
    x = ids(1, 10)
    padded = torch.cat([torch.zeros(1, 5, dtype=torch.long), x], dim=1)
    keep = torch.tensor([[False] * 5 + [True] * 10])
    alone, _ = model(x)
    for fast in (True, False):
        model.fast_attention = fast
        with_pad, _ = model(padded, padding_mask=keep)
        assert torch.isfinite(with_pad).all()
        torch.testing.assert_close(with_pad[:, 5:], alone, atol=1e-5, rtol=1e-5)


def test_rope_tables_grown_during_generation_still_train():
    # generating past block_size with a rolling cache grows the RoPE tables inside
    # torch.inference_mode; a training step afterwards must still be able to use them
    from minillm.generate import generate

    torch.manual_seed(6)
    model = GPT(tiny(pos="rope")).eval()
    before = model.rope_cos.size(0)
    generate(model, [[1, 2, 3]], max_new_tokens=40, temperature=0, overflow="slide")
    assert model.rope_cos.size(0) > before, "the test must grow the tables"
    assert not model.rope_cos.is_inference() and not model.rope_sin.is_inference()
    model.train()
    _, loss = model(ids(2, 24), ids(2, 24, seed=1))
    loss.backward()
    assert model.blocks[0].attn.qkv.weight.grad is not None


def test_attention_weights():
    torch.manual_seed(5)
    model = GPT(tiny())
    w = model.attention_weights(ids(2, 9))
    assert w.shape == (2, 2, 3, 9, 9)  # (layer, batch, head, query, key)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 2, 3, 9), atol=1e-5, rtol=1e-5)
    assert (w.triu(diagonal=1) == 0).all()


def test_a_few_steps_fit_one_batch():
    torch.manual_seed(6)
    model = GPT(tiny())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    x = ids(4, 24)
    y = torch.roll(x, -1, dims=1)
    first = None
    for _ in range(40):
        _, loss = model(x, y)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.3 * first, (first, loss.item())


# --- sizes -----------------------------------------------------------------------------------


def formula(c: GPTConfig) -> int:
    n = c.vocab_size * c.n_embd + c.block_size * c.n_embd  # token and position embeddings
    n += c.n_layer * (12 * c.n_embd**2 + 13 * c.n_embd)  # per block: attention, MLP, two norms
    return n + 2 * c.n_embd  # final norm (tied head adds nothing)


def test_num_params_gpt2_is_124m():
    with torch.device("meta"):  # shapes only, no memory
        model = GPT(GPTConfig.preset("gpt2"))
    assert model.num_params() == 124_439_808 == formula(model.config)
    assert model.num_params(non_embedding=True) == 124_439_808 - 50257 * 768 - 1024 * 768
    parts = model.parameter_breakdown()
    assert parts["token embedding"] == 50257 * 768 and parts["output head"] == 0
    assert parts["MLP"] == 12 * (8 * 768**2 + 5 * 768)


def test_num_params_untied_and_rmsnorm():
    cfg = tiny(tie_weights=False, norm="rmsnorm", bias=False, pos="rope")
    model = GPT(cfg)
    c = cfg.n_embd
    expected = 2 * V * c + cfg.n_layer * (12 * c * c + 2 * c) + c
    assert model.num_params() == expected
    assert sum(model.parameter_breakdown().values()) == expected


def test_flops_per_token_against_torch_flop_counter():
    from torch.utils.flop_counter import FlopCounterMode

    cfg = tiny(block_size=32, n_embd=48, n_layer=3, n_head=4)
    model = GPT(cfg).eval()
    model.fast_attention = False  # the counter sees the from-scratch attention's matmuls
    x = ids(2, 32)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    measured = counter.get_total_flops() / x.numel()
    estimate = model.flops_per_token(seq_len=32, training=False)
    # the estimate also counts biases and norms as multiply-adds; the counter counts matmuls only
    assert abs(estimate - measured) / measured < 0.03, (estimate, measured)
    assert model.flops_per_token(seq_len=32) == 3 * estimate


# --- generate --------------------------------------------------------------------------------


def test_generate():
    torch.manual_seed(7)
    model = GPT(tiny())
    model.train()
    prompt = ids(2, 3)
    out = model.generate(prompt, 30)  # more than block_size=24: the context is cropped
    assert out.shape == (2, 33) and torch.equal(out[:, :3], prompt)
    assert out.min() >= 0 and out.max() < V
    assert model.training, "generate must restore training mode"
    a = model.generate(prompt, 10, generator=torch.Generator().manual_seed(1))
    b = model.generate(prompt, 10, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    greedy = model.generate(prompt, 10, temperature=0)
    torch.testing.assert_close(model.generate(prompt, 10, top_k=1), greedy)
    # greedy picks the argmax of the forward pass
    model.eval()
    logits, _ = model(greedy[:, :-1])
    assert torch.equal(logits[:, -1].argmax(-1), greedy[:, -1])
    with pytest.raises(ValueError, match="temperature"):
        model.generate(prompt, 3, temperature=-1)
    with pytest.raises(ValueError, match="top_k"):
        model.generate(prompt, 3, top_k=0)


# --- the two files ---------------------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_save_load_round_trip(tmp_path, variant):
    torch.manual_seed(8)
    model = GPT(tiny(**variant, dropout=0.1)).eval()
    model.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.json", "model.safetensors"]
    assert json.loads((tmp_path / "m" / "config.json").read_text())["pos"] == variant["pos"]
    loaded = GPT.load(tmp_path / "m").eval()
    assert loaded.config == model.config
    for (k, a), (k2, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(a, b), k
    x = ids(2, 11)
    torch.testing.assert_close(loaded(x)[0], model(x)[0], atol=0, rtol=0)
    if model.config.tie_weights:
        assert loaded.head.weight is loaded.tok_emb.weight


def test_save_overwrites_atomically(tmp_path):
    a, b = GPT(tiny()), GPT(tiny(n_layer=3))
    a.save(tmp_path)
    b.save(tmp_path)
    assert GPT.load(tmp_path).config.n_layer == 3
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temporary files left"


def test_load_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        GPT.load(tmp_path)
    GPT(tiny()).save(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        GPT.load(tmp_path)


def test_load_truncated_weights(tmp_path):
    GPT(tiny()).save(tmp_path)
    w = tmp_path / "model.safetensors"
    w.write_bytes(w.read_bytes()[: w.stat().st_size // 2])
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        GPT.load(tmp_path)


def test_load_garbage_files(tmp_path):
    GPT(tiny()).save(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        GPT.load(tmp_path)
    GPT(tiny()).save(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="safetensors"):
        GPT.load(tmp_path)


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(n_layer=3), "missing"),
        (dict(n_layer=1), "unexpected"),
        (dict(n_embd=30), "wrong shape"),
        (dict(vocab_size=98), "wrong shape"),
        (dict(tie_weights=False), "missing"),
    ],
)
def test_load_mismatched_config(tmp_path, change, match):
    GPT(tiny()).save(tmp_path)
    cfg = json.loads((tmp_path / "config.json").read_text())
    cfg.update(change)
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match=match):
        GPT.load(tmp_path)


def test_load_tensors_is_all_or_nothing():
    torch.manual_seed(9)
    model = GPT(tiny())
    before = {k: v.clone() for k, v in model.state_dict().items()}
    partial = {k: torch.zeros_like(v) for k, v in model.state_dict().items() if "blocks.1" not in k}
    with pytest.raises(ValueError, match="missing"):
        model.load_tensors(partial)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), f"{k} changed by a failed load"


# --- Hugging Face GPT-2 ----------------------------------------------------------------------


@pytest.mark.parametrize("tie", [True, False])
def test_from_hf_gpt2_matches_transformers(tmp_path, tie):
    transformers = pytest.importorskip(
        "transformers", reason="transformers (a dev dependency) is needed for the interop test"
    )
    torch.manual_seed(10)
    hf_cfg = transformers.GPT2Config(
        vocab_size=101, n_positions=33, n_embd=40, n_layer=3, n_head=5,
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, tie_word_embeddings=tie,
        bos_token_id=0, eos_token_id=0,
    )
    hf = transformers.GPT2LMHeadModel(hf_cfg).eval()
    with torch.no_grad():  # larger random weights than the init, so errors would show
        for name, p in hf.named_parameters():
            is_norm_weight = ".ln_" in f".{name}" and name.endswith("weight")
            p.normal_(1.0 if is_norm_weight else 0.0, 0.2)
    hf.save_pretrained(tmp_path, safe_serialization=True)
    model = GPT.from_hf_gpt2(tmp_path).eval()
    assert model.config.tie_weights == tie and model.config.block_size == 33
    assert model.num_params() == hf.num_parameters()
    x = ids(3, 33, v=101)
    with torch.no_grad():
        expected = hf(x).logits
    got, _ = model(x)
    assert expected.abs().max() > 1.0  # the comparison is not between near-zero numbers
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)
    model.fast_attention = False
    torch.testing.assert_close(model(x)[0], expected, atol=1e-4, rtol=1e-4)


def test_from_hf_gpt2_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        GPT.from_hf_gpt2(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(ValueError, match="gpt2"):
        GPT.from_hf_gpt2(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2", "n_layer": 2}))
    with pytest.raises(ValueError, match=r"lacks \['vocab_size', 'n_positions', 'n_head', 'n_embd'\]"):
        GPT.from_hf_gpt2(tmp_path)


# --- bad input -------------------------------------------------------------------------------


def test_bad_input_errors():
    model = GPT(tiny())
    with pytest.raises(ValueError, match=r"longer than the model's context \(block_size=24\)"):
        model(ids(1, 25))
    bad = ids(1, 5)
    bad[0, 2] = V
    with pytest.raises(ValueError, match=f"token id {V} in idx is outside the vocabulary"):
        model(bad)
    bad[0, 2] = -1
    with pytest.raises(ValueError, match="token id -1"):
        model(bad)
    with pytest.raises(TypeError, match="integer token ids"):
        model(ids(1, 5).float())
    with pytest.raises(ValueError, match=r"shape \(B, T\)"):
        model(ids(1, 5)[0])
    with pytest.raises(TypeError, match="torch.Tensor"):
        model([[1, 2, 3]])
    with pytest.raises(ValueError, match="targets has shape"):
        model(ids(2, 5), ids(2, 4))
    with pytest.raises(TypeError, match="targets"):
        model(ids(2, 5), ids(2, 5).float())
    with pytest.raises(ValueError, match="padding_mask"):
        model(ids(2, 5), padding_mask=torch.ones(2, 5))
    with pytest.raises(ValueError, match="at least one token"):
        model(torch.zeros(1, 0, dtype=torch.long))
    # int32 ids are fine
    torch.testing.assert_close(model(ids(1, 5).int())[0], model(ids(1, 5))[0])


def test_download_gpt2_pins_files_and_skips_cached_ones(tmp_path, monkeypatch):
    # no network: record what would be downloaded instead of downloading it
    import hashlib

    import minillm.data
    from minillm.model import GPT2_FILES, GPT2_REVISION, download_gpt2

    calls = []

    def fake_download(url, path, sha256, progress=True):
        calls.append((url, path.name, sha256))
        path.write_bytes(b"x")
        return path

    monkeypatch.setattr(minillm.data, "download", fake_download)
    cached = b'{"model_type": "gpt2"}'
    (tmp_path / "config.json").write_bytes(cached)
    monkeypatch.setitem(GPT2_FILES, "config.json", hashlib.sha256(cached).hexdigest())
    assert download_gpt2(tmp_path, progress=False) == tmp_path
    assert [name for _, name, _ in calls] == ["model.safetensors", "tokenizer.json"]
    for url, name, sha in calls:
        assert url == f"https://huggingface.co/openai-community/gpt2/resolve/{GPT2_REVISION}/{name}"
        assert sha == GPT2_FILES[name] and len(sha) == 64


def test_forward_compiles_as_one_graph():
    """torch.compile must see one graph: reading the token ids' range back to Python (the eager
    value checks) broke it in two and stalled a GPU every step (benchmarks/gpu_pretrain.py)."""
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=50, block_size=16, n_layer=1, n_head=2, n_embd=16))
    x = torch.randint(0, 50, (2, 8))
    want_logits, want_loss = model(x, x)
    compiled = torch.compile(model, backend="eager", fullgraph=True)  # fullgraph: a break raises
    logits, loss = compiled(x, x)
    torch.testing.assert_close(logits, want_logits)
    torch.testing.assert_close(loss, want_loss)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        model(x + 50)  # the uncompiled model still names a bad id
