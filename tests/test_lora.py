"""LoRA (minillm.lora): the layer, merging, adapters on disk, bad inputs, and peft as reference."""

import pytest
import torch
from torch import nn

from minillm.lora import (
    LoRALinear,
    apply_lora,
    base_fingerprint,
    load_adapter,
    lora_layers,
    merge_lora,
    save_adapter,
    trainable_parameters,
    unmerge_lora,
)
from minillm.model import GPT, GPTConfig


def tiny_gpt(seed=0):
    torch.manual_seed(seed)
    return GPT(GPTConfig.preset("tiny", vocab_size=50, block_size=16, n_layer=2, n_head=2,
                                n_embd=16, pos="rope")).eval()


def randomize_b(model, seed=1):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in lora_layers(model).values():
            m.lora_B.copy_(torch.randn(m.lora_B.shape, generator=g) * 0.1)


def test_lora_linear_starts_as_the_base_and_adds_scaled_BA():
    torch.manual_seed(0)
    base = nn.Linear(6, 4)
    x = torch.randn(3, 6)
    ref = base(x)
    layer = LoRALinear(base, r=2, alpha=8)
    assert layer.lora_A.shape == (2, 6) and layer.lora_B.shape == (4, 2)
    assert torch.equal(layer.lora_B, torch.zeros(4, 2)) and layer.lora_A.abs().sum() > 0
    torch.testing.assert_close(layer(x), ref)  # B = 0: the adapted layer is the base layer
    with torch.no_grad():
        layer.lora_B.normal_()
    expected = ref + 4.0 * x @ (layer.lora_B @ layer.lora_A).t()  # scaling alpha / r = 4
    torch.testing.assert_close(layer(x), expected)
    assert not base.weight.requires_grad and layer.lora_A.requires_grad


def test_merge_and_unmerge_are_exact():
    model = tiny_gpt()
    apply_lora(model, r=4, alpha=8)
    randomize_b(model)
    x = torch.randint(0, 50, (2, 10))
    before = model(x)[0]
    w0 = {n: m.base.weight.clone() for n, m in lora_layers(model).items()}
    merge_lora(model)
    torch.testing.assert_close(model(x)[0], before, atol=1e-5, rtol=1e-5)
    for n, m in lora_layers(model).items():
        torch.testing.assert_close(m.base.weight, w0[n] + m.delta_weight())
    unmerge_lora(model)
    for n, m in lora_layers(model).items():
        torch.testing.assert_close(m.base.weight, w0[n], atol=1e-7, rtol=0)
    torch.testing.assert_close(model(x)[0], before, atol=1e-5, rtol=1e-5)
    with pytest.raises(RuntimeError, match="not merged"):
        unmerge_lora(model)


def test_generation_uses_the_adapters():
    """Greedy generation (the KV-cache inference path) of an adapted model equals the merged
    model's, and differs from the base's: the adapters are not skipped (they were once, when the
    fast path read the wrapped layers' base weights, ignoring the adapters)."""
    model = tiny_gpt()
    x = torch.randint(0, 50, (2, 4), generator=torch.Generator().manual_seed(0))
    plain = model.generate(x, 8, temperature=0)
    apply_lora(model, r=4, alpha=8)
    randomize_b(model, seed=3)
    with torch.no_grad():
        for m in lora_layers(model).values():
            m.lora_B.mul_(30)  # an update large enough to change the greedy tokens
    adapted = model.generate(x, 8, temperature=0)
    merge_lora(model)
    merged = model.generate(x, 8, temperature=0)
    assert torch.equal(adapted, merged)
    assert not torch.equal(adapted, plain)


def test_only_the_adapters_train_and_the_count_is_r_times_in_plus_out():
    model = tiny_gpt()
    total_before = sum(p.numel() for p in model.parameters())
    apply_lora(model, r=2, alpha=4, target_modules=["attn.qkv"])
    trainable, total = trainable_parameters(model)
    assert trainable == 2 * 2 * (16 + 48)  # two blocks, r * (in + out)
    assert total == total_before + trainable
    assert all(("lora_" in n) == p.requires_grad for n, p in model.named_parameters())


def test_matches_peft_forward_and_merged_weights():
    """Same base, same A and B: our forward and merged weights equal Hugging Face peft's."""
    peft = pytest.importorskip("peft")
    base = tiny_gpt()
    ours = tiny_gpt()
    apply_lora(ours, r=4, alpha=12, target_modules=["attn.qkv", "mlp.fc"])
    randomize_b(ours)
    config = peft.LoraConfig(r=4, lora_alpha=12, target_modules=["attn.qkv", "mlp.fc"],
                             lora_dropout=0.0, bias="none")
    theirs = peft.get_peft_model(base, config)
    ours_layers = lora_layers(ours)
    n_copied = 0
    with torch.no_grad():
        for name, module in theirs.named_modules():
            if hasattr(module, "lora_A") and isinstance(module.lora_A, nn.ModuleDict) and "default" in module.lora_A:
                key = name.removeprefix("base_model.model.")
                mine = ours_layers[key]
                module.lora_A["default"].weight.copy_(mine.lora_A)
                module.lora_B["default"].weight.copy_(mine.lora_B)
                assert module.scaling["default"] == pytest.approx(mine.scaling)
                n_copied += 1
    assert n_copied == 4
    x = torch.randint(0, 50, (3, 12))
    torch.testing.assert_close(ours(x)[0], theirs(x)[0], atol=1e-5, rtol=1e-5)
    merged = theirs.merge_and_unload()
    merge_lora(ours)
    for key, mine in ours_layers.items():
        torch.testing.assert_close(mine.base.weight, merged.get_submodule(key).weight)
    torch.testing.assert_close(ours(x)[0], merged(x)[0], atol=1e-5, rtol=1e-5)


def test_adapter_save_load_round_trip(tmp_path):
    model = tiny_gpt()
    apply_lora(model, r=3, alpha=6)
    randomize_b(model)
    x = torch.randint(0, 50, (2, 8))
    expected = model(x)[0]
    path = save_adapter(model, tmp_path / "adapter.safetensors")
    n_adapter = sum(m.lora_A.numel() + m.lora_B.numel() for m in lora_layers(model).values())
    assert path.stat().st_size < 4 * n_adapter + 4096  # only the adapter, not the base
    fresh = load_adapter(tiny_gpt(), path)
    torch.testing.assert_close(fresh(x)[0], expected)
    assert {n: m.r for n, m in lora_layers(fresh).items()} == {n: 3 for n in lora_layers(model)}


def test_adapter_for_another_base_is_refused(tmp_path):
    model = tiny_gpt(seed=0)
    apply_lora(model, r=2)
    path = save_adapter(model, tmp_path / "a.safetensors")
    other = tiny_gpt(seed=5)
    assert base_fingerprint(other) != base_fingerprint(tiny_gpt(seed=0))
    with pytest.raises(ValueError, match="another base model"):
        load_adapter(other, path)
    with pytest.raises(ValueError, match="already has LoRA"):
        load_adapter(model, path)
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="not a readable"):
        load_adapter(tiny_gpt(), tmp_path / "junk.safetensors")
    with pytest.raises(FileNotFoundError, match="not found"):
        load_adapter(tiny_gpt(), tmp_path / "missing.safetensors")


@pytest.mark.parametrize("r", [0, -1, 17, 2.5, True])
def test_bad_rank_is_refused(r):
    with pytest.raises(ValueError, match="rank r must be an int from 1 to"):
        apply_lora(tiny_gpt(), r=r, target_modules=["attn.proj"])  # a 16 -> 16 layer


def test_bad_targets_are_refused():
    with pytest.raises(ValueError, match="'attn.query' matches no nn.Linear"):
        apply_lora(tiny_gpt(), r=2, target_modules=["attn.query"])
    with pytest.raises(ValueError, match="target_modules is empty"):
        apply_lora(tiny_gpt(), r=2, target_modules=[])
    with pytest.raises(ValueError, match="alpha must be positive"):
        apply_lora(tiny_gpt(), r=2, alpha=0)
    with pytest.raises(ValueError, match="no LoRA layers"):
        merge_lora(tiny_gpt())
    model = apply_lora(tiny_gpt(), r=2)
    with pytest.raises(ValueError, match="already has LoRA"):
        apply_lora(model, r=2)


def test_generation_with_the_kv_cache_uses_unmerged_adapters():
    """The cached decoding path must run a LoRA layer's forward, not read its base weight alone."""
    from minillm.generate import generate

    model = tiny_gpt(3).eval()
    prompt = torch.randint(0, model.config.vocab_size, (1, 5))
    before = generate(model, prompt, max_new_tokens=8, temperature=0.0).ids
    apply_lora(model, r=4, alpha=8.0)
    with torch.no_grad():
        for layer in lora_layers(model).values():
            layer.lora_B.normal_(0, 0.5)  # an adapter that changes the outputs
    cached = generate(model, prompt, max_new_tokens=8, temperature=0.0).ids
    uncached = generate(model, prompt, max_new_tokens=8, temperature=0.0, use_cache=False).ids
    assert cached == uncached, "the KV-cache path skipped the unmerged adapters"
    assert cached != before, "the adapters should change this greedy output"
    merge_lora(model)
    assert generate(model, prompt, max_new_tokens=8, temperature=0.0).ids == cached
