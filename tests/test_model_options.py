"""Tests for GPTConfig's speed-record options: mlp_act, qk_norm, zero_init_proj, logit_softcap.

Each option is checked against its formula computed another way: squared ReLU by hand, QK-norm
against ``torch.nn.RMSNorm`` applied to each head's queries and keys before
``torch.nn.functional.scaled_dot_product_attention``, soft-capping as ``c * tanh(z / c)`` of the
uncapped model's logits, and zero-initialised projections as blocks that start as the identity.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from minillm.attention import MultiHeadAttention, apply_rope, rope_cos_sin
from minillm.model import GPT, GPTConfig

V = 40


def ids(b=2, t=12, seed=0):
    return torch.randint(0, V, (b, t), generator=torch.Generator().manual_seed(seed))


def test_defaults_are_off():
    c = GPTConfig()
    assert (c.mlp_act, c.qk_norm, c.zero_init_proj, c.logit_softcap) == ("gelu", False, False, None)
    names = set(GPT(GPTConfig.preset("tiny", vocab_size=V)).state_dict())
    assert not any("q_norm" in n or "k_norm" in n for n in names)


@pytest.mark.parametrize("option", [
    dict(mlp_act="relu2"), dict(qk_norm=True), dict(qk_norm=True, pos="rope"),
    dict(zero_init_proj=True), dict(logit_softcap=30.0), dict(tie_weights=False),
])
def test_each_option_keeps_shapes_trains_and_round_trips(option, tmp_path):
    torch.manual_seed(0)
    model = GPT(GPTConfig.preset("tiny", vocab_size=V, block_size=16, **option))
    x = ids(t=16)
    logits, loss = model(x, x)
    assert logits.shape == (2, 16, V) and torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    model.save(tmp_path)
    again = GPT.load(tmp_path)
    assert again.config == model.config
    torch.testing.assert_close(again(x)[0], model(x)[0])


def test_relu2_mlp_is_squared_relu():
    torch.manual_seed(0)
    model = GPT(GPTConfig.preset("tiny", vocab_size=V, mlp_act="relu2"))
    mlp = model.blocks[0].mlp
    x = torch.randn(3, 5, 64)
    expected = mlp.proj(torch.clamp(mlp.fc(x), min=0) ** 2)
    torch.testing.assert_close(mlp(x), expected)


@pytest.mark.parametrize("rope", [False, True])
def test_qk_norm_matches_torch_rmsnorm_per_head(rope):
    torch.manual_seed(0)
    c, h, t = 32, 4, 10
    d = c // h
    attn = MultiHeadAttention(c, h, bias=False, qk_norm=True)
    with torch.no_grad():  # gains other than 1, different for queries and keys
        attn.q_norm.weight.uniform_(0.5, 2.0)
        attn.k_norm.weight.uniform_(0.5, 2.0)
    ref_q = torch.nn.RMSNorm(d, eps=1e-6)
    ref_k = torch.nn.RMSNorm(d, eps=1e-6)
    ref_q.load_state_dict(attn.q_norm.state_dict())
    ref_k.load_state_dict(attn.k_norm.state_dict())
    x = torch.randn(2, t, c)
    q, k, v = attn.qkv(x).split(c, dim=-1)
    q, k, v = (z.view(2, t, h, d).transpose(1, 2) for z in (q, k, v))
    q, k = ref_q(q), ref_k(k)
    tables = None
    if rope:
        tables = rope_cos_sin(t, d)
        q, k = apply_rope(q, *tables), apply_rope(k, *tables)
    y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    expected = attn.proj(y.transpose(1, 2).reshape(2, t, c))
    torch.testing.assert_close(attn(x, rope=tables), expected, atol=1e-5, rtol=1e-5)
    # the from-scratch path agrees too
    attn.fast = False
    torch.testing.assert_close(attn(x, rope=tables), expected, atol=1e-5, rtol=1e-5)


def test_zero_init_proj_makes_every_block_the_identity_at_start():
    torch.manual_seed(0)
    model = GPT(GPTConfig.preset("tiny", vocab_size=V, zero_init_proj=True))
    for block in model.blocks:
        assert not block.attn.proj.weight.any() and not block.mlp.proj.weight.any()
    x = ids()
    with torch.no_grad():
        expected = model.head(model.norm_f(model._embed(x)))
    torch.testing.assert_close(model(x)[0], expected)
    plain = GPT(GPTConfig.preset("tiny", vocab_size=V))
    assert plain.blocks[0].mlp.proj.weight.any()


def test_logit_softcap_is_c_tanh_of_the_uncapped_logits():
    torch.manual_seed(0)
    capped = GPT(GPTConfig.preset("tiny", vocab_size=V, logit_softcap=2.0))
    plain = GPT(GPTConfig.preset("tiny", vocab_size=V))
    plain.load_state_dict(capped.state_dict())
    with torch.no_grad():
        for p in plain.parameters():  # large logits, so the cap matters
            p.mul_(3.0)
        for p in capped.parameters():
            p.mul_(3.0)
    x = ids()
    raw = plain(x)[0]
    assert raw.abs().max() > 2.0
    out = capped(x)[0]
    torch.testing.assert_close(out, 2.0 * torch.tanh(raw / 2.0))
    assert out.abs().max() < 2.0


@pytest.mark.parametrize("field, value, match", [
    ("mlp_act", "swish", "mlp_act must be 'gelu' or 'relu2'"),
    ("qk_norm", 1, "qk_norm must be True or False"),
    ("zero_init_proj", "yes", "zero_init_proj must be True or False"),
    ("logit_softcap", 0.0, "logit_softcap must be None"),
    ("logit_softcap", -3.0, "logit_softcap must be None"),
    ("logit_softcap", float("inf"), "logit_softcap must be None"),
    ("logit_softcap", True, "logit_softcap must be None"),
])
def test_bad_option_values_are_named(field, value, match):
    with pytest.raises(ValueError, match=match):
        GPTConfig(**{field: value})
