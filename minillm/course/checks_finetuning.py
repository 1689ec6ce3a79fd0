"""Checks for chapter 6's exercises (fine-tuning): the loss mask, a LoRA layer, merging, the
classification head's features, a predicted parameter count, the mini-project's report.

Each check compares the learner's function with :mod:`minillm.finetune` / :mod:`minillm.lora` on
inputs it makes itself (so a function that ignores an argument, or returns a constant, fails)
and says in words what is wrong. ``tests/test_exercise_checks_ch06.py`` feeds them wrong answers.
"""

from __future__ import annotations

import torch
from torch import nn

from .checks import check, check_close, own_work

IGNORE = -100


def _chats(tokenizer):
    return [
        [{"role": "user", "content": "Where was Mara Tolley born?"},
         {"role": "assistant", "content": "Mara Tolley was born in Brookford."}],
        [{"role": "system", "content": "Answer briefly."},
         {"role": "user", "content": "What is Tom's job?"},
         {"role": "assistant", "content": "Tom works as a baker."},
         {"role": "user", "content": "And his colour?"},
         {"role": "assistant", "content": "Red."}],
    ]


def check_loss_mask(fn, tokenizer) -> None:
    """``fn(tokenizer, messages) -> (ids, targets)`` must equal :func:`minillm.finetune.encode_chat`."""
    from ..finetune import encode_chat

    mine = own_work(fn, encode_chat, what="your encode_chat")
    for msgs in _chats(tokenizer):
        out = mine(tokenizer, msgs)
        check(isinstance(out, tuple) and len(out) == 2, "return a tuple (ids, targets)")
        ids, targets = (list(map(int, x)) for x in out)
        want_ids, want = encode_chat(tokenizer, msgs)
        check(ids == want_ids, "ids should be the whole conversation's tokens without the last one "
                               "(the input of next-token prediction)")
        check(len(targets) == len(want), f"targets has {len(targets)} entries, expected {len(want)} "
                                         "(one per input token)")
        n_learn, n_want = sum(t != IGNORE for t in targets), sum(t != IGNORE for t in want)
        check(n_learn != len(targets), "every target is kept: the loss would train the model to "
                                       "write the user's questions too; set the non-assistant targets to -100")
        check(n_learn > 0, "every target is -100: nothing would be learned; keep the assistant's tokens")
        check(n_learn == n_want, f"you keep {n_learn} targets, the assistant wrote {n_want} tokens "
                                 "(its replies and each closing <|end|>)")
        check(targets == want, "the kept targets are in the wrong places: target t is token t + 1, "
                               "kept when token t + 1 belongs to an assistant turn")


def check_lora_forward(cls) -> None:
    """``cls(base, r, alpha)`` must behave as :class:`minillm.lora.LoRALinear` with the same A, B."""
    from ..lora import LoRALinear

    check(not (isinstance(cls, type) and issubclass(cls, LoRALinear)),
          "your class is minillm.lora.LoRALinear (or built on it); write the layer from nn.Module")
    torch.manual_seed(0)
    base = nn.Linear(12, 8)
    x = torch.randn(5, 12)
    mine = cls(base, 4, 8.0)
    check(not any(isinstance(m, LoRALinear) for m in mine.modules()),
          "your layer holds a minillm.lora.LoRALinear; write the low-rank update yourself")
    check(hasattr(mine, "lora_A") and hasattr(mine, "lora_B"), "keep the matrices as self.lora_A "
                                                               "(r, in) and self.lora_B (out, r)")
    check(tuple(mine.lora_A.shape) == (4, 12) and tuple(mine.lora_B.shape) == (8, 4),
          f"lora_A should be (r, in) = (4, 12) and lora_B (out, r) = (8, 4), got "
          f"{tuple(mine.lora_A.shape)} and {tuple(mine.lora_B.shape)}")
    check(bool((mine.lora_B.detach() == 0).all()), "lora_B must start at zero, so that the adapted layer "
                                          "starts exactly as the base layer")
    check(float(mine.lora_A.detach().abs().sum()) > 0, "lora_A must start random (not zero): with A = B = 0 "
                                              "no gradient reaches either matrix")
    check(not base.weight.requires_grad, "freeze the base layer's weight (requires_grad_(False))")
    ref = LoRALinear(nn.Linear(12, 8), 4, 8.0)
    ref.base.load_state_dict(base.state_dict())
    with torch.no_grad():
        mine.lora_B.copy_(torch.randn(8, 4))
        ref.lora_A.copy_(mine.lora_A)
        ref.lora_B.copy_(mine.lora_B)
    check_close(mine(x), ref(x), "your LoRA layer's output (did you scale by alpha / r?)",
                rtol=1e-4, atol=1e-5)


def check_merge(merge, unmerge) -> None:
    """``merge(W, A, B, alpha)`` returns ``W + (alpha / r) B A``; ``unmerge`` undoes it."""
    torch.manual_seed(1)
    w, a, b = torch.randn(6, 10), torch.randn(3, 10), torch.randn(6, 3)
    w0 = w.clone()
    merged = merge(w, a, b, 6.0)
    check(isinstance(merged, torch.Tensor) and merged.shape == w.shape,
          f"merge should return a tensor shaped like W {tuple(w.shape)}")
    check_close(merged, w0 + 2.0 * b @ a, "your merged weight (W + alpha / r * B @ A, r = 3)",
                rtol=1e-5, atol=1e-5)
    x = torch.randn(4, 10)
    check_close(x @ merged.t(), x @ w0.t() + 2.0 * (x @ a.t() @ b.t()),
                "the merged layer's output", rtol=1e-4, atol=1e-4)
    back = unmerge(merged.clone(), a, b, 6.0)
    check_close(back, w0, "unmerge(merge(W)) (it should give W back)", rtol=1e-5, atol=1e-5)
    check(not torch.equal(merge(w0.clone(), a, b * 2, 6.0), merged), "merge ignores B")
    a2, b2 = torch.randn(2, 10), torch.randn(6, 2)  # another rank and alpha: the scale is 5 / 2
    check_close(merge(w0.clone(), a2, b2, 5.0), w0 + 2.5 * b2 @ a2,
                "your merged weight for r = 2, alpha = 5 (the scale is alpha / r, with r the rows of A)",
                rtol=1e-5, atol=1e-5)
    check_close(unmerge(w0 + 2.5 * b2 @ a2, a2, b2, 5.0), w0,
                "unmerge for r = 2, alpha = 5 (it should give W back)", rtol=1e-5, atol=1e-5)


def check_last_token_features(fn) -> None:
    """``fn(hidden (B, T, C), padding_mask (B, T)) -> (B, C)``: each row's last real token."""
    torch.manual_seed(2)
    hidden = torch.randn(3, 5, 4)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 0, 0, 0, 0]], dtype=torch.bool)
    out = fn(hidden, mask)
    check(isinstance(out, torch.Tensor) and tuple(out.shape) == (3, 4),
          f"return one vector per sequence, shape (B, C) = (3, 4); got {getattr(out, 'shape', out)}")
    check(not torch.equal(out, hidden[:, -1]), "hidden[:, -1] is a padding token for the shorter "
                                               "rows; use the padding mask to find the last real one")
    check(not torch.equal(out, hidden[:, 0]), "the first token has seen only itself under the causal "
                                              "mask; take the last real token")
    want = hidden[torch.arange(3), mask.long().sum(1) - 1]
    check_close(out, want, "your features (row b should be hidden[b, last real position])")


def check_lora_count(answer, model, r: int, targets) -> None:
    """The learner's predicted number of LoRA parameters for ``model`` with rank ``r`` on ``targets``."""
    from ..lora import _linear_names, _matches

    check(isinstance(answer, int) and not isinstance(answer, bool), "write your prediction as an int")
    layers = [model.get_submodule(n) for n in _linear_names(model) if any(_matches(n, t) for t in targets)]
    want = sum(r * (m.in_features + m.out_features) for m in layers)
    total = sum(p.numel() for p in model.parameters())
    check(answer != total, "that is the whole model's parameter count; LoRA trains only A and B")
    check(answer == want, f"{answer} is not it: each adapted layer adds r * (in + out) parameters "
                          f"({len(layers)} layers here)")


def check_project(report: dict) -> None:
    """The mini-project's report: a measured number before and after, on named data."""
    check(isinstance(report, dict), "report should be a dict")
    for key in ("what", "before", "after", "n_examples"):
        check(key in report, f"the report needs a {key!r} entry")
    for key in ("before", "after"):
        v = report[key]
        check(isinstance(v, float) and 0.0 <= v <= 1.0, f"report[{key!r}] should be a measured "
                                                          f"accuracy in [0, 1], got {v!r}")
    check(isinstance(report["n_examples"], int) and report["n_examples"] >= 20,
          "measure on at least 20 examples")
    check(report["before"] != report["after"], "before and after are equal: did you measure both?")
