"""Chapter 6's exercise checks accept the right answers and reject the wrong ones, in words."""

import random

import pytest
import torch
from torch import nn

import minillm.course.checks_finetuning as ch
from minillm.finetune import IGNORE, encode_chat
from minillm.lora import LoRALinear
from minillm.model import GPT, GPTConfig
from minillm.tokenizer import BPETokenizer
from minillm.world import World


@pytest.fixture(scope="module")
def tok():
    w = World(0)
    return BPETokenizer().train(" ".join(w.biography(p, random.Random(p.id)) for p in w.people[:100]), 300)


def test_loss_mask(tok):
    ch.check_loss_mask(encode_chat, tok)

    def unmasked(t, m):
        return encode_chat(t, m, mask_prompt=False)

    def all_masked(t, m):
        ids, tg = encode_chat(t, m)
        return ids, [IGNORE] * len(tg)

    def shifted(t, m):  # the mask one position off
        ids, tg = encode_chat(t, m)
        full = encode_chat(t, m, mask_prompt=False)[1]
        keep = [x != IGNORE for x in tg]
        return ids, [f if k else IGNORE for f, k in zip(full, keep[1:] + [False])]

    def no_end(t, m):  # forgets the closing <|end|> of the assistant turns
        ids, tg = encode_chat(t, m)
        end = t.encode("<|end|>")[0]
        return ids, [IGNORE if x == end else x for x in tg]

    for bad, msg in ((unmasked, "every target is kept"), (all_masked, "every target is -100"),
                     (shifted, "wrong places|you keep"), (no_end, "you keep")):
        with pytest.raises(AssertionError, match=msg):
            ch.check_loss_mask(bad, tok)


def test_lora_forward():
    ch.check_lora_forward(LoRALinear)

    class NoScale(LoRALinear):
        def forward(self, x):
            return self.base(x) + x @ self.lora_A.t() @ self.lora_B.t()

    class ZeroA(LoRALinear):
        def __init__(self, base, r, alpha):
            super().__init__(base, r, alpha)
            nn.init.zeros_(self.lora_A)

    class RandomB(LoRALinear):
        def __init__(self, base, r, alpha):
            super().__init__(base, r, alpha)
            nn.init.normal_(self.lora_B)

    class Unfrozen(LoRALinear):
        def __init__(self, base, r, alpha):
            super().__init__(base, r, alpha)
            base.weight.requires_grad_(True)

    for bad, msg in ((NoScale, "alpha / r"), (ZeroA, "start random"), (RandomB, "start at zero"),
                     (Unfrozen, "freeze")):
        with pytest.raises(AssertionError, match=msg):
            ch.check_lora_forward(bad)


def test_merge():
    def merge(w, a, b, alpha):
        return w + alpha / a.shape[0] * b @ a

    def unmerge(w, a, b, alpha):
        return w - alpha / a.shape[0] * b @ a

    ch.check_merge(merge, unmerge)
    with pytest.raises(AssertionError, match="merged weight"):
        ch.check_merge(lambda w, a, b, alpha: w + b @ a, unmerge)  # no scaling
    with pytest.raises(AssertionError, match="merged weight"):
        ch.check_merge(lambda w, a, b, alpha: w + alpha * b @ a, unmerge)  # alpha, not alpha / r
    with pytest.raises(AssertionError, match="gives W back|unmerge"):
        ch.check_merge(merge, lambda w, a, b, alpha: w)


def test_last_token_features():
    def right(h, m):
        return h[torch.arange(h.size(0)), m.long().sum(1) - 1]

    ch.check_last_token_features(right)
    for bad, msg in ((lambda h, m: h[:, -1], "padding token"), (lambda h, m: h[:, 0], "first token"),
                     (lambda h, m: h.mean(1), "your features"), (lambda h, m: h[0], "shape")):
        with pytest.raises(AssertionError, match=msg):
            ch.check_last_token_features(bad)


def test_lora_count():
    torch.manual_seed(0)
    model = GPT(GPTConfig.preset("tiny", vocab_size=50, block_size=8, n_layer=2, n_head=2, n_embd=8))
    right = 2 * 4 * ((8 + 24) + (8 + 8))
    ch.check_lora_count(right, model, 4, ["attn.qkv", "attn.proj"])
    with pytest.raises(AssertionError, match="whole model"):
        ch.check_lora_count(sum(p.numel() for p in model.parameters()), model, 4, ["attn.qkv", "attn.proj"])
    with pytest.raises(AssertionError, match="is not it"):
        ch.check_lora_count(right // 2, model, 4, ["attn.qkv", "attn.proj"])
    with pytest.raises(AssertionError, match="as an int"):
        ch.check_lora_count(float(right), model, 4, ["attn.qkv", "attn.proj"])


def test_project():
    ch.check_project({"what": "x", "before": 0.1, "after": 0.6, "n_examples": 40})
    for bad, msg in (({"before": 0.1}, "needs a 'what'"),
                     ({"what": "x", "before": 1.5, "after": 0.2, "n_examples": 40}, "in \\[0, 1\\]"),
                     ({"what": "x", "before": 0.5, "after": 0.5, "n_examples": 40}, "equal"),
                     ({"what": "x", "before": 0.1, "after": 0.5, "n_examples": 3}, "at least 20")):
        with pytest.raises(AssertionError, match=msg):
            ch.check_project(bad)
