"""Tests for minillm.quantize (chapter 10): error bounds of the paper formulas, exact packing,
a quantised MLP and a tiny GPT close to float32, and int8 compared with PyTorch's own
``torch.ao.quantization.quantize_dynamic`` on the same model."""

import warnings

import pytest
import torch
from torch import nn

from minillm.model import GPT, GPTConfig
from minillm.quantize import (
    QuantLinear,
    dequantize_int4,
    dequantize_int8,
    load_quantized,
    model_size_bytes,
    pack_int4,
    quantize_int4,
    quantize_int8,
    quantize_model,
    save_quantized,
    unpack_int4,
)


def weights(out=16, inp=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(out, inp, generator=g)
    w[3] = 0.0  # a zero row
    w[5] = torch.rand(inp, generator=g) + 0.5  # all positive: the asymmetric case matters
    return w


def test_int8_round_trip_within_half_a_step():
    w = weights()
    q, scale = quantize_int8(w)
    assert q.dtype == torch.int8 and scale.shape == (16,)
    err = (dequantize_int8(q, scale) - w).abs()
    assert (err <= scale[:, None] / 2 * (1 + 1e-6) + 1e-7).all()
    assert q.abs().max() == 127  # the absmax of each row maps to +-127
    torch.testing.assert_close(dequantize_int8(q, scale)[3], torch.zeros(64))


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("group_size", [8, 32])
def test_int4_round_trip_within_half_a_step(symmetric, group_size):
    w = weights()
    packed, scale, zero = quantize_int4(w, group_size, symmetric)
    assert packed.shape == (16, 32) and packed.dtype == torch.uint8
    assert scale.shape == zero.shape == (16, 64 // group_size)
    deq = dequantize_int4(packed, scale, zero)
    bound = scale.repeat_interleave(group_size, dim=1) / 2
    assert ((deq - w).abs() <= bound * (1 + 1e-5) + 1e-7).all()
    assert (deq[3] == 0).all()


def test_asymmetric_int4_fits_one_sided_groups_better():
    w = torch.rand(4, 64, generator=torch.Generator().manual_seed(0))  # all in [0, 1)
    err = {s: (dequantize_int4(*quantize_int4(w, 32, s)) - w).abs().mean() for s in (True, False)}
    assert err[False] < err[True] * 0.7


def test_pack_unpack_exact():
    codes = torch.randint(0, 16, (5, 2, 10), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    packed = pack_int4(codes)
    assert packed.shape == (5, 2, 5)
    assert torch.equal(unpack_int4(packed), codes)
    # by hand: codes [1, 2] -> low nibble 1, high nibble 2 -> 0x21 = 33
    assert pack_int4(torch.tensor([1, 2], dtype=torch.uint8)).tolist() == [33]
    every_byte = torch.arange(256, dtype=torch.int32).to(torch.uint8)
    assert torch.equal(pack_int4(unpack_int4(every_byte)), every_byte)


def mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))


def rel_err(a, b):
    return ((a - b).norm() / b.norm()).item()


@pytest.mark.parametrize("bits,tol", [(8, 0.01), (4, 0.15)])
def test_quantized_mlp_close_to_float(bits, tol):
    model = mlp()
    x = torch.randn(32, 64, generator=torch.Generator().manual_seed(1))
    ref = model(x)
    size_fp = model_size_bytes(model)
    q = quantize_model(mlp(), bits=bits, group_size=32)
    assert all(isinstance(q[i], QuantLinear) for i in (0, 2))
    assert rel_err(q(x), ref) < tol
    # int8: ~1/4 of float32 weights; int4: ~1/8 plus scales
    assert model_size_bytes(q) < size_fp * (0.3 if bits == 8 else 0.2)


def test_int8_same_order_as_torch_quantize_dynamic():
    try:
        from torch.ao.quantization import quantize_dynamic

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = quantize_dynamic(mlp(), {nn.Linear}, dtype=torch.qint8)
    except (ImportError, RuntimeError, AttributeError) as e:
        pytest.skip(f"torch.ao.quantization.quantize_dynamic is unavailable in this torch build: {e}")
    x = torch.randn(64, 64, generator=torch.Generator().manual_seed(2))
    ref = mlp()(x)
    ours = quantize_model(mlp(), bits=8)(x)
    e_ours, e_theirs = rel_err(ours, ref), rel_err(theirs(x), ref)
    # both are int8 weights with per-tensor/per-row scales; torch also quantises activations
    assert e_ours < 0.02 and e_theirs < 0.05
    assert 0.05 < e_ours / e_theirs < 10, (e_ours, e_theirs)


def tiny_gpt():
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=64, block_size=16, n_layer=2, n_head=2, n_embd=32))


@pytest.mark.parametrize("bits", [8, 4])
def test_quantized_gpt_save_load_identical(tmp_path, bits):
    model = tiny_gpt().eval()
    idx = torch.randint(0, 64, (2, 16), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref = model(idx)[0]  # GPT returns (logits, loss)
    q = quantize_model(model, bits=bits, group_size=16)
    with torch.no_grad():
        out = q(idx)[0]
    assert rel_err(out, ref) < (0.02 if bits == 8 else 0.2)
    save_quantized(q, tmp_path / "q")
    loaded = load_quantized(tiny_gpt().eval(), tmp_path / "q")
    with torch.no_grad():
        again = loaded(idx)[0]
    assert torch.equal(again, out)
    assert sum(isinstance(m, QuantLinear) for m in loaded.modules()) == sum(
        isinstance(m, QuantLinear) for m in q.modules()
    )


def test_quantize_bad_input(tmp_path):
    with pytest.raises(ValueError, match="in_features=100, not divisible by group_size=32"):
        quantize_model(nn.Sequential(nn.Linear(100, 4)), bits=4, group_size=32)
    with pytest.raises(ValueError, match=r"w's width \(in_features=100\) is not divisible by group_size=32"):
        quantize_int4(torch.randn(4, 100), group_size=32)
    with pytest.raises(ValueError, match="bits must be 4 or 8, got 3"):
        quantize_model(mlp(), bits=3)
    with pytest.raises(ValueError, match="bits must be 4 or 8, got 16"):
        QuantLinear(8, 8, bits=16)
    with pytest.raises(ValueError, match="w must be a 2-D float tensor"):
        quantize_int8(torch.randn(3))
    with pytest.raises(ValueError, match="w holds inf or NaN"):
        quantize_int8(torch.tensor([[float("nan")]]))
    with pytest.raises(ValueError, match="group_size must be an even int"):
        quantize_int4(torch.randn(2, 8), group_size=3)
    with pytest.raises(ValueError, match="model has no QuantLinear layer"):
        save_quantized(mlp(), tmp_path / "x")
    with pytest.raises(FileNotFoundError, match="no quantization.json"):
        load_quantized(mlp(), tmp_path / "nothing")
    save_quantized(quantize_model(mlp(), bits=8), tmp_path / "m")
    with pytest.raises(ValueError, match="names layer '2', which this model does not have"):
        load_quantized(nn.Sequential(nn.Linear(64, 128)), tmp_path / "m")
    # skip_indivisible keeps that layer in float
    m = quantize_model(nn.Sequential(nn.Linear(100, 32), nn.Linear(32, 4)), bits=4, group_size=32,
                       skip_indivisible=True)
    assert isinstance(m[0], nn.Linear) and isinstance(m[1], QuantLinear)


def test_export_gguf_reads_back(tmp_path):
    gguf = pytest.importorskip("gguf", reason="gguf (dev extra) is the GGUF reader")
    import numpy as np

    from minillm.quantize import export_gguf, gguf_name

    model = GPT(GPTConfig(vocab_size=64, block_size=16, n_layer=2, n_head=2, n_embd=32))
    path = export_gguf(model, tmp_path / "tiny.gguf")
    reader = gguf.GGUFReader(path)
    field = reader.fields["gpt2.block_count"]
    assert int(field.parts[field.data[0]][0]) == 2
    assert bytes(reader.fields["general.architecture"].parts[-1]).decode() == "gpt2"
    tensors = {t.name: t for t in reader.tensors}
    state = model.state_dict()
    assert set(tensors) == {gguf_name(n) for n in state}
    for name, t in state.items():
        np.testing.assert_array_equal(np.asarray(tensors[gguf_name(name)].data).reshape(t.shape), t.numpy())
    assert "blk.1.ffn_up.weight" in tensors and "output.weight" in tensors
    half = gguf.GGUFReader(export_gguf(model, tmp_path / "half.gguf", dtype="f16"))
    up = next(t for t in half.tensors if t.name == "blk.0.ffn_up.weight")
    np.testing.assert_allclose(np.asarray(up.data, dtype=np.float32).reshape(128, 32),
                               state["blocks.0.mlp.fc.weight"].numpy(), atol=1e-3)
    with pytest.raises(ValueError, match="config differs: {'pos': 'rope'}"):
        export_gguf(GPT(GPTConfig(vocab_size=64, block_size=16, n_layer=1, n_head=2, n_embd=32, pos="rope")),
                    tmp_path / "x.gguf")
    with pytest.raises(ValueError, match="dtype must be 'f32' or 'f16', got 'q4'"):
        export_gguf(model, tmp_path / "y.gguf", dtype="q4")
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("bits", [8, 4])
def test_quantized_gpt_generates_like_its_forward(bits):
    """Generation (KV cache) on a quantised model goes through the QuantLinear modules: greedy
    tokens equal those of re-running the full forward pass at every step."""
    from minillm.generate import generate
    from minillm.model import GPT, GPTConfig

    torch.manual_seed(0)
    m = GPT(GPTConfig(vocab_size=64, block_size=32, n_layer=2, n_head=2, n_embd=32, pos="rope")).eval()
    quantize_model(m, bits=bits, group_size=16)
    fast = generate(m, [[1, 2, 3]], max_new_tokens=8, temperature=0).ids[0]
    slow = generate(m, [[1, 2, 3]], max_new_tokens=8, temperature=0, use_cache=False).ids[0]
    assert fast == slow


def test_save_quantized_writes_a_tied_head_once(tmp_path):
    import json

    from safetensors.torch import load_file

    torch.manual_seed(0)
    m = GPT(GPTConfig(vocab_size=64, block_size=16, n_layer=1, n_head=2, n_embd=32)).eval()
    for b in m.blocks:
        quantize_model(b, bits=8)
    save_quantized(m, tmp_path)
    assert "head.weight" not in load_file(str(tmp_path / "quantized.safetensors"))
    assert json.loads((tmp_path / "quantization.json").read_text())["tied"] == {"head.weight": "tok_emb.weight"}
    fresh = load_quantized(GPT(GPTConfig(vocab_size=64, block_size=16, n_layer=1, n_head=2, n_embd=32)), tmp_path)
    x = torch.randint(0, 64, (1, 8))
    assert torch.equal(fresh.eval()(x)[0], m(x)[0])
    untied = GPT(GPTConfig(vocab_size=64, block_size=16, n_layer=1, n_head=2, n_embd=32, tie_weights=False))
    with pytest.raises(ValueError, match="not tied"):
        load_quantized(untied, tmp_path)
