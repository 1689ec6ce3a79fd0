"""Chapter 6's exercise checks accept the right answers and reject the wrong ones, in words.

Two layers: the checks of ``minillm.course.checks_finetuning`` called directly with right and
wrong functions (fast, on a small tokenizer), and the check cells of
``solutions/06-finetuning.ipynb`` run with wrong answers in place of each solution region
(``tests/exercise_harness.py``; the notebook's setup loads the cached course model "tinyworld").
"""

import random

import pytest
import torch
from exercise_harness import Wrong, count_wrong, ids, run_right, run_wrong
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


ROLE = {"system": "<|system|>", "user": "<|user|>", "assistant": "<|assistant|>"}


def my_encode_chat(t, messages, space=" ", end_learned=True, mask=True):
    """A learner's encode_chat, right with the defaults; the arguments make the classic slips."""
    ids, learn = [], []
    for m in messages:
        head, body = t.encode(ROLE[m["role"]]), t.encode(space + m["content"] + "<|end|>")
        ids += head + body
        is_a = m["role"] == "assistant"
        learn += [False] * len(head) + [is_a] * (len(body) - 1) + [is_a and end_learned]
    return ids[:-1], [x if (ok or not mask) else IGNORE for x, ok in zip(ids[1:], learn[1:])]


def test_loss_mask(tok):
    ch.check_loss_mask(my_encode_chat, tok)

    def all_masked(t, m):
        ids, tg = my_encode_chat(t, m)
        return ids, [IGNORE] * len(tg)

    def shifted(t, m):  # the mask one position off
        ids, tg = my_encode_chat(t, m)
        full = my_encode_chat(t, m, mask=False)[1]
        keep = [x != IGNORE for x in tg]
        return ids, [f if k else IGNORE for f, k in zip(full, keep[1:] + [False])]

    def calls_library(t, m):
        return encode_chat(t, m)

    def whole_sequence(t, m):  # ids not shifted: the whole conversation
        ids, tg = my_encode_chat(t, m)
        return ids + [0], tg + [IGNORE]

    wrongs = ((lambda t, m: my_encode_chat(t, m, mask=False), "every target is kept"),
              (all_masked, "every target is -100"),
              (shifted, "wrong places|you keep"),
              (lambda t, m: my_encode_chat(t, m, end_learned=False), "you keep"),
              (lambda t, m: my_encode_chat(t, m, space=""), "ids should be"),
              (whole_sequence, "ids should be"),
              (encode_chat, "library's own"),
              (calls_library, "calls minillm.finetune.encode_chat"),
              (lambda t, m: ([], []), "ids should be"))
    for bad, msg in wrongs:
        with pytest.raises(AssertionError, match=msg):
            ch.check_loss_mask(bad, tok)
    assert encode_chat(tok, [{"role": "user", "content": "a"}])  # the trap is lifted afterwards


class Right(nn.Module):
    def __init__(self, base, r, alpha):
        super().__init__()
        self.base, self.scaling = base, alpha / r
        base.weight.requires_grad_(False)
        base.bias.requires_grad_(False)
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features))
        nn.init.kaiming_uniform_(self.lora_A, a=5 ** 0.5)
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r))

    def forward(self, x):
        return self.base(x) + self.scaling * (x @ self.lora_A.t()) @ self.lora_B.t()


def test_lora_forward():
    ch.check_lora_forward(Right)

    class NoScale(Right):
        def forward(self, x):
            return self.base(x) + x @ self.lora_A.t() @ self.lora_B.t()

    class ScaleByAlpha(Right):
        def forward(self, x):
            return self.base(x) + 8.0 * (x @ self.lora_A.t()) @ self.lora_B.t()

    class ZeroA(Right):
        def __init__(self, base, r, alpha):
            super().__init__(base, r, alpha)
            nn.init.zeros_(self.lora_A)

    class RandomB(Right):
        def __init__(self, base, r, alpha):
            super().__init__(base, r, alpha)
            nn.init.normal_(self.lora_B)

    class Unfrozen(Right):
        def __init__(self, base, r, alpha):
            super().__init__(base, r, alpha)
            base.weight.requires_grad_(True)

    class Transposed(Right):
        def __init__(self, base, r, alpha):
            super().__init__(base, r, alpha)
            self.lora_A = nn.Parameter(torch.randn(base.in_features, r))

    class NoBase(Right):
        def forward(self, x):
            return self.scaling * (x @ self.lora_A.t()) @ self.lora_B.t()

    class Wraps(nn.Module):  # the library's layer inside
        def __init__(self, base, r, alpha):
            super().__init__()
            self.inner = LoRALinear(base, r, alpha)
            self.lora_A, self.lora_B = self.inner.lora_A, self.inner.lora_B

        def forward(self, x):
            return self.inner(x)

    class Sub(LoRALinear):
        pass

    for bad, msg in ((NoScale, "alpha / r"), (ScaleByAlpha, "alpha / r"), (ZeroA, "start random"),
                     (RandomB, "start at zero"), (Unfrozen, "freeze"), (Transposed, r"\(r, in\)"),
                     (NoBase, "output"), (LoRALinear, "LoRALinear"), (Sub, "LoRALinear"),
                     (Wraps, "holds a minillm.lora.LoRALinear")):
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
    with pytest.raises(AssertionError, match="should give W back"):
        ch.check_merge(merge, lambda w, a, b, alpha: w)
    with pytest.raises(AssertionError, match="r = 2, alpha = 5"):  # the scale of the first case, hard-coded
        ch.check_merge(lambda w, a, b, alpha: w + 2.0 * b @ a, lambda w, a, b, alpha: w - 2.0 * b @ a)
    with pytest.raises(AssertionError, match="merged weight"):  # r taken from A's columns
        ch.check_merge(lambda w, a, b, alpha: w + alpha / a.shape[1] * b @ a, unmerge)


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


CH6 = "solutions/06-finetuning.ipynb"

WRONG_CH6 = [
    # 6.1 the loss mask
    Wrong("6.1", """
        from minillm.finetune import encode_chat
        return encode_chat(tokenizer, messages)
        """, r"calls minillm\.finetune\.encode_chat", name="calls the library's encode_chat"),
    Wrong("6.1", """
        ids, learn = [], []
        for m in messages:
            head, body = tokenizer.encode(ROLE[m["role"]]), tokenizer.encode(m["content"] + END)
            ids += head + body
            learn += [False] * len(head) + [m["role"] == "assistant"] * len(body)
        return ids[:-1], [t if ok else IGNORE for t, ok in zip(ids[1:], learn[1:])]
        """, r"ids should be", name="no space after the role token"),
    Wrong("6.1", """
        ids = []
        for m in messages:
            ids += tokenizer.encode(ROLE[m["role"]]) + tokenizer.encode(" " + m["content"] + END)
        return ids[:-1], ids[1:]
        """, r"every target is kept", name="no mask"),
    Wrong("6.1", """
        ids, learn = [], []
        for m in messages:
            head, body = tokenizer.encode(ROLE[m["role"]]), tokenizer.encode(" " + m["content"] + END)
            ids += head + body
            learn += [False] * len(head) + [m["role"] == "assistant"] * len(body)
        return ids[:-1], [t if ok else IGNORE for t, ok in zip(ids[:-1], learn[:-1])]
        """, r"you keep|wrong places", name="targets not shifted"),
    Wrong("6.1", """
        ids, learn = [], []
        for m in messages:
            head, body = tokenizer.encode(ROLE[m["role"]]), tokenizer.encode(" " + m["content"] + END)
            ids += head + body
            learn += [False] * len(head) + [m["role"] != "user"] * len(body)
        return ids[:-1], [t if ok else IGNORE for t, ok in zip(ids[1:], learn[1:])]
        """, r"you keep", name="learns the system turn too"),
    # 6.2 a LoRA layer (two regions: __init__ and forward)
    Wrong("6.2", [None, "return self.base(x) + (x @ self.lora_A.T) @ self.lora_B.T"], r"alpha / r",
          name="no alpha / r scaling"),
    Wrong("6.2", [None, "return self.base(x)"], r"output", name="ignores the adapter"),
    Wrong("6.2", ["""
        self.base = base
        self.scaling = alpha / r
        self.lora_A = nn.Parameter(torch.randn(r, base.in_features))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r))
        """, None], r"freeze", name="base not frozen"),
    Wrong("6.2", ["""
        self.base = base
        base.requires_grad_(False)
        self.scaling = alpha / r
        self.lora_A = nn.Parameter(torch.randn(r, base.in_features))
        self.lora_B = nn.Parameter(torch.randn(base.out_features, r))
        """, None], r"start at zero", name="B random"),
    Wrong("6.2", ["""
        from minillm.lora import LoRALinear
        self.inner = LoRALinear(base, r, alpha)
        self.lora_A, self.lora_B = self.inner.lora_A, self.inner.lora_B
        """, "return self.inner(x)"], r"holds a minillm\.lora\.LoRALinear", name="wraps the library's layer"),
    # 6.3 merge and unmerge (two cells' worth of regions in one cell)
    Wrong("6.3", ["return W + B @ A", None], r"merged weight", name="no scaling"),
    Wrong("6.3", ["return W + (alpha / A.shape[1]) * B @ A", None], r"merged weight", name="r from A's columns"),
    Wrong("6.3", [None, "return W"], r"should give W back", name="unmerge does nothing"),
    # 6.4 the classification head's input
    Wrong("6.4", "return hidden[:, -1]", r"padding token", name="the last position"),
    Wrong("6.4", "return hidden[:, 0]", r"first token", name="the first token"),
    Wrong("6.4", "return hidden.mean(1)", r"your features", name="mean over positions"),
    # 6.5 predict the LoRA parameter count
    Wrong("6.5", "prediction = sum(p.numel() for p in base.parameters())", r"whole model", name="the whole model"),
    Wrong("6.5", "prediction = base.config.n_layer * 8 * (4 * base.config.n_embd)", r"is not it", name="qkv only"),
    Wrong("6.5", "prediction = 8 * ((base.config.n_embd + 3 * base.config.n_embd) + 2 * base.config.n_embd)",
          r"is not it", name="one block only"),
    Wrong("6.5", "prediction = 40960.0", r"as an int", name="a float"),
    # 6.6 the mini-project's report
    Wrong("6.6", 'report = {"what": "idk", "before": 0.0, "after": 0.0, "n_examples": 120}', r"equal",
          name="before == after"),
    Wrong("6.6", 'report = {"what": "idk", "before": 0.0, "after": 90, "n_examples": 120}', r"in \[0, 1\]",
          name="a percentage"),
    Wrong("6.6", 'report = {"before": 0.0, "after": 0.9, "n_examples": 120}', r"needs a 'what'", name="no what"),
    Wrong("6.6", 'report = {"what": "idk", "before": 0.0, "after": 0.9, "n_examples": 5}', r"at least 20",
          name="too few examples"),
]


@pytest.mark.parametrize("wrong", WRONG_CH6, ids=ids(WRONG_CH6))
def test_chapter_6_checks_reject(wrong):
    run_wrong(CH6, wrong)


@pytest.mark.parametrize("exercise", ["6.1", "6.2", "6.3", "6.4", "6.5"])
def test_chapter_6_solutions_pass(exercise):
    run_right(CH6, exercise)


def test_enough_wrong_answers():
    counts = count_wrong(WRONG_CH6)
    assert counts["6"] >= 20, counts
