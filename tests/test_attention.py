"""minillm.attention against references nobody here wrote: torch's SDPA and nn.MultiheadAttention.

Tolerances: float32 throughout, ``atol=rtol=1e-5`` unless a test says otherwise (the two sides
sum the same products in different orders, which moves results by a few ulp).
"""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from minillm.attention import (
    MultiHeadAttention,
    apply_rope,
    causal_mask,
    merge_heads,
    rope_cos_sin,
    scaled_dot_product_attention,
    sinusoidal_positions,
    split_heads,
)

TOL = dict(atol=1e-5, rtol=1e-5)

# (batch, heads, T, head_dim): batch 1, one token, odd and non-power-of-two sizes
SHAPES = [(1, 1, 1, 8), (1, 2, 1, 5), (2, 3, 7, 12), (3, 1, 13, 24), (1, 4, 33, 10), (2, 2, 64, 7)]


def _qkv(shape, seed=0, t_key=None):
    g = torch.Generator().manual_seed(seed)
    b, h, t, d = shape
    tk = t if t_key is None else t_key
    q = torch.randn(b, h, t, d, generator=g)
    k = torch.randn(b, h, tk, d, generator=g)
    v = torch.randn(b, h, tk, d + 3, generator=g)  # value size may differ from the key size
    return q, k, v


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("causal", [False, True])
def test_sdpa_matches_torch(shape, causal):
    q, k, v = _qkv(shape)
    ours = scaled_dot_product_attention(q, k, v, causal=causal)
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    torch.testing.assert_close(ours, ref, **TOL)


@pytest.mark.parametrize("shape", SHAPES[2:])
def test_sdpa_padding_mask_matches_torch(shape):
    q, k, v = _qkv(shape, seed=1)
    b, _, t, _ = shape
    pad = torch.ones(b, t, dtype=torch.bool)
    pad[0, : t // 3] = False  # left padding on the first sequence
    pad[-1, -1] = False
    ours = scaled_dot_product_attention(q, k, v, padding_mask=pad)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=pad[:, None, None, :])
    torch.testing.assert_close(ours, ref, **TOL)


def test_sdpa_custom_scale_and_3d_inputs():
    q, k, v = _qkv((2, 1, 9, 6), seed=2)
    q, k, v = q[:, 0], k[:, 0], v[:, 0]  # (B, T, D): no head dimension
    ours = scaled_dot_product_attention(q, k, v, causal=True, scale=0.3)
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.3)
    torch.testing.assert_close(ours, ref, **TOL)


def test_causal_mask_with_more_keys_than_queries_matches_lower_right():
    # queries are the last 3 of 8 tokens (as with a KV cache): torch calls this lower-right causal
    from torch.nn.attention.bias import causal_lower_right

    q, k, v = _qkv((2, 2, 3, 8), seed=3, t_key=8)
    ours = scaled_dot_product_attention(q, k, v, causal=True)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=causal_lower_right(3, 8))
    torch.testing.assert_close(ours, ref, **TOL)
    assert causal_mask(3, 8)[-1].all() and causal_mask(3, 8)[0].sum() == 6


def test_weights_are_causal_and_sum_to_one():
    q, k, v = _qkv((2, 3, 10, 8), seed=4)
    out, w = scaled_dot_product_attention(q, k, v, causal=True, return_weights=True)
    assert w.shape == (2, 3, 10, 10)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 3, 10), **TOL)
    assert (w.triu(diagonal=1) == 0).all(), "a token attended to a future token"
    torch.testing.assert_close(out, w @ v, **TOL)
    # the first token can only look at itself
    torch.testing.assert_close(out[..., 0, :], v[..., 0, :], **TOL)


def test_fully_masked_row_gives_zeros_not_nan():
    q, k, v = _qkv((1, 1, 4, 8), seed=5)
    pad = torch.tensor([[False, False, True, True]])
    out, w = scaled_dot_product_attention(q, k, v, causal=True, padding_mask=pad, return_weights=True)
    assert torch.isfinite(out).all() and torch.isfinite(w).all()
    assert (out[0, 0, :2] == 0).all() and (w[0, 0, :2] == 0).all()
    torch.testing.assert_close(w[0, 0, 2:].sum(-1), torch.ones(2), **TOL)


def test_uniform_scores_average_the_values():
    # with identical keys every allowed key gets the same weight: causal attention = running mean
    t, d = 6, 4
    v = torch.randn(1, t, d, generator=torch.Generator().manual_seed(6))
    q = torch.randn(1, t, d)
    k = torch.zeros(1, t, d)
    out = scaled_dot_product_attention(q, k, v, causal=True)
    running_mean = v.cumsum(1) / torch.arange(1, t + 1)[None, :, None]
    torch.testing.assert_close(out, running_mean, **TOL)


def test_split_and_merge_heads():
    x = torch.randn(2, 5, 12)
    h = split_heads(x, 3)
    assert h.shape == (2, 3, 5, 4)
    torch.testing.assert_close(h[:, 1], x[:, :, 4:8])  # head 1 owns channels 4..7
    torch.testing.assert_close(merge_heads(h), x)
    with pytest.raises(ValueError, match="not divisible"):
        split_heads(x, 5)


def _copy_into_reference(ours: MultiHeadAttention, c: int, h: int, bias: bool) -> nn.MultiheadAttention:
    ref = nn.MultiheadAttention(c, h, bias=bias, batch_first=True)
    with torch.no_grad():
        ref.in_proj_weight.copy_(ours.qkv.weight)  # same layout: q rows, then k, then v
        ref.out_proj.weight.copy_(ours.proj.weight)
        if bias:
            ref.in_proj_bias.copy_(ours.qkv.bias)
            ref.out_proj.bias.copy_(ours.proj.bias)
    return ref.eval()


@pytest.mark.parametrize("b,t,c,h", [(1, 1, 8, 2), (2, 7, 12, 3), (3, 17, 30, 5), (1, 40, 48, 6)])
@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("fast", [True, False])
def test_multihead_matches_torch_multiheadattention(b, t, c, h, causal, fast):
    torch.manual_seed(b * 100 + t)
    ours = MultiHeadAttention(c, h, bias=True, causal=causal, fast=fast).eval()
    ref = _copy_into_reference(ours, c, h, bias=True)
    x = torch.randn(b, t, c)
    mask = ~causal_mask(t) if causal else None  # nn.MultiheadAttention: True = blocked
    expected, expected_w = ref(x, x, x, attn_mask=mask, need_weights=True, average_attn_weights=False)
    torch.testing.assert_close(ours(x), expected, **TOL)
    got, w = ours(x, return_weights=True)
    torch.testing.assert_close(got, expected, **TOL)
    torch.testing.assert_close(w, expected_w, **TOL)


def test_multihead_without_bias_and_with_padding_mask():
    torch.manual_seed(7)
    b, t, c, h = 2, 9, 20, 4
    ours = MultiHeadAttention(c, h, bias=False, causal=False).eval()
    ref = _copy_into_reference(ours, c, h, bias=False)
    x = torch.randn(b, t, c)
    keep = torch.ones(b, t, dtype=torch.bool)
    keep[1, 6:] = False
    expected, _ = ref(x, x, x, key_padding_mask=~keep)
    torch.testing.assert_close(ours(x, mask=keep[:, None, None, :]), expected, **TOL)
    ours.fast = False
    torch.testing.assert_close(ours(x, mask=keep[:, None, None, :]), expected, **TOL)


def test_multihead_gradients_match_between_fast_and_scratch():
    torch.manual_seed(8)
    m = MultiHeadAttention(24, 4)
    x = torch.randn(2, 11, 24, requires_grad=True)
    grads = []
    for fast in (True, False):
        m.fast = fast
        x.grad = None
        m.zero_grad()
        m(x).square().sum().backward()
        grads.append((x.grad.clone(), m.qkv.weight.grad.clone()))
    torch.testing.assert_close(grads[0][0], grads[1][0], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(grads[0][1], grads[1][1], atol=1e-4, rtol=1e-4)


def test_multihead_rejects_bad_sizes():
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(10, 3)
    with pytest.raises(TypeError, match="bool"):
        scaled_dot_product_attention(*_qkv((1, 1, 3, 4)), padding_mask=torch.ones(1, 3))


# --- positions -------------------------------------------------------------------------------


def test_sinusoidal_known_values():
    table = sinusoidal_positions(50, 16)
    assert table.shape == (50, 16)
    torch.testing.assert_close(table[0, 0::2], torch.zeros(8))  # sin(0)
    torch.testing.assert_close(table[0, 1::2], torch.ones(8))  # cos(0)
    pos = torch.arange(50.0)
    torch.testing.assert_close(table[:, 0], torch.sin(pos))  # fastest wave: frequency 1
    torch.testing.assert_close(table[:, 15], torch.cos(pos / 10000 ** (14 / 16)))
    odd = sinusoidal_positions(5, 7)
    assert odd.shape == (5, 7) and torch.isfinite(odd).all()
    torch.testing.assert_close(odd[:, :6], sinusoidal_positions(5, 7)[:, :6])


def _rope_complex(x: torch.Tensor, positions: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """An independent RoPE: pair channel i with i + D/2 as a complex number, multiply by e^(i m theta)."""
    d = x.size(-1)
    theta = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    z = torch.complex(x[..., : d // 2].double(), x[..., d // 2 :].double())
    z = z * torch.polar(torch.ones_like(theta), positions.double()[:, None] * theta)
    return torch.cat([z.real, z.imag], dim=-1).float()


@pytest.mark.parametrize("d", [2, 6, 16, 64])
def test_rope_matches_complex_rotation(d):
    t = 37
    x = torch.randn(3, t, d, generator=torch.Generator().manual_seed(d))
    cos, sin = rope_cos_sin(t, d)
    torch.testing.assert_close(apply_rope(x, cos, sin), _rope_complex(x, torch.arange(t)), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("d", [4, 10, 32])
def test_rope_dot_product_depends_only_on_relative_position(d):
    """<rope(q, m), rope(k, n)> is the same for (m, n) and (m + s, n + s), and not for other gaps."""
    g = torch.Generator().manual_seed(d)
    q, k = torch.randn(d, generator=g), torch.randn(d, generator=g)
    cos, sin = rope_cos_sin(200, d)

    def score(m, n):
        return torch.dot(apply_rope(q, cos[m], sin[m]), apply_rope(k, cos[n], sin[n])).item()

    for m, n in [(5, 2), (3, 3), (0, 9), (40, 17)]:
        for s in (1, 13, 150):
            assert math.isclose(score(m, n), score(m + s, n + s), rel_tol=1e-4, abs_tol=1e-4), (m, n, s)
    # a different gap gives a different score (otherwise the test above could not fail)
    assert abs(score(5, 2) - score(5, 4)) > 1e-3
    # rotations keep lengths, and position 0 is no rotation at all
    torch.testing.assert_close(apply_rope(q, cos[77], sin[77]).norm(), q.norm(), **TOL)
    torch.testing.assert_close(apply_rope(q, cos[0], sin[0]), q, **TOL)


def test_rope_rejects_odd_head_dim():
    with pytest.raises(ValueError, match="even"):
        rope_cos_sin(8, 5)


def test_multihead_with_rope_attention_is_shift_invariant():
    # with RoPE and nothing else carrying position, shifting every position by s changes nothing
    torch.manual_seed(9)
    m = MultiHeadAttention(16, 2).eval()
    x = torch.randn(1, 6, 16)
    cos, sin = rope_cos_sin(40, 8)
    y0 = m(x, rope=(cos[:6], sin[:6]))
    y1 = m(x, rope=(cos[30:36], sin[30:36]))
    torch.testing.assert_close(y0, y1, atol=1e-4, rtol=1e-4)
    y_none = m(x)
    assert not torch.allclose(y0, y_none, atol=1e-4)


@pytest.mark.parametrize("fast", [True, False])
def test_multihead_with_rope_equals_rotating_each_head(fast):
    # the module rotates queries and keys together; the reference rotates each (B, H, T, D) head
    # tensor with apply_rope and calls torch's own attention
    torch.manual_seed(10)
    b, t, c, h = 3, 9, 24, 3
    m = MultiHeadAttention(c, h, fast=fast).eval()
    x = torch.randn(b, t, c)
    cos, sin = rope_cos_sin(t, c // h)
    q, k, v = (split_heads(z, h) for z in m.qkv(x).split(c, dim=2))
    q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
    ref = m.proj(merge_heads(F.scaled_dot_product_attention(q, k, v, is_causal=True)))
    torch.testing.assert_close(m(x, rope=(cos, sin)), ref, **TOL)
