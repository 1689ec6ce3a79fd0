"""Tests for minillm.distill (chapter 10): the Hinton et al. 2015 loss against the paper's formula
with hand-computed values (no well-kept library ships this exact loss as a standalone function)."""

import math

import pytest
import torch
import torch.nn.functional as F

from minillm.distill import distillation_loss


def test_distillation_loss_hand_values():
    s = torch.tensor([[0.0, 0.0], [5.0, -5.0]])
    t = torch.tensor([[math.log(3), 0.0], [0.0, 0.0]])
    y = torch.tensor([0, -100])  # second position ignored
    # T=1: p_t = [0.75, 0.25], p_s = [0.5, 0.5]; KL = 0.75 ln 1.5 + 0.25 ln 0.5 = 0.1308120
    # CE = ln 2 = 0.6931472; alpha = 0.5 -> 0.4119796
    assert distillation_loss(s, t, y, T=1.0, alpha=0.5).item() == pytest.approx(0.4119796, abs=1e-6)
    # T=2: p_t = [0.6339746, 0.3660254] (sqrt(3)/(sqrt(3)+1)); KL = 0.6339746 * 0.2374008
    #      - 0.3660254 * 0.3119054 = 0.0363408; times T^2 = 4 -> 0.1453632; alpha = 1: no CE
    assert distillation_loss(s, t, y, T=2.0, alpha=1.0).item() == pytest.approx(0.1453632, abs=1e-6)
    # alpha = 0: plain cross-entropy, equal to torch's with ignore_index
    assert distillation_loss(s, t, y, alpha=0.0).item() == pytest.approx(F.cross_entropy(s, y).item())


def test_distillation_loss_zero_when_student_equals_teacher_and_no_teacher_grad():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 7, generator=g)
    y = torch.randint(0, 7, (2, 3), generator=g)
    assert distillation_loss(logits, logits, y, T=3.0, alpha=1.0).item() == pytest.approx(0.0, abs=1e-6)
    s = torch.randn(2, 3, 7, generator=g, requires_grad=True)
    t = torch.randn(2, 3, 7, generator=g, requires_grad=True)
    distillation_loss(s, t, y).backward()
    assert s.grad is not None and t.grad is None


def test_distillation_bad_input():
    s = torch.zeros(2, 5)
    with pytest.raises(ValueError, match=r"teacher_logits has shape \(2, 4\) but student_logits"):
        distillation_loss(s, torch.zeros(2, 4), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match=r"targets must have shape \(2,\)"):
        distillation_loss(s, s, torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="T must be > 0"):
        distillation_loss(s, s, torch.zeros(2, dtype=torch.long), T=0)
    with pytest.raises(ValueError, match="alpha must lie in"):
        distillation_loss(s, s, torch.zeros(2, dtype=torch.long), alpha=2)
    with pytest.raises(ValueError, match="every target is ignore_index=-100"):
        distillation_loss(s, s, torch.full((2,), -100))
    with pytest.raises(ValueError, match=r"targets must be token ids in \[0, 5\)"):
        distillation_loss(s, s, torch.tensor([0, 9]))


def _tiny_gpt(seed, n_embd=16, vocab=50):
    from minillm.model import GPT, GPTConfig

    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=vocab, block_size=16, n_layer=1, n_head=2, n_embd=n_embd, pos="rope"))


def test_distill_trainer_loss_is_the_distillation_loss_and_eval_is_plain_ce():
    import numpy as np

    from minillm.distill import DistillTrainer
    from minillm.train import TrainConfig

    teacher, student = _tiny_gpt(0, 32), _tiny_gpt(1)
    ids = np.random.default_rng(0).integers(0, 50, 2000)
    cfg = TrainConfig(steps=3, batch_size=4, block_size=16, warmup_steps=1, eval_every=0, eval_batches=2,
                      progress=False)
    tr = DistillTrainer(student, teacher, ids, ids, cfg, T=3.0, alpha=0.7, device="cpu")
    x, y = tr.train_data.batch(0)
    student.train()
    _, loss = tr._forward(student, (x, y))
    with torch.no_grad():
        want = distillation_loss(student(x)[0], teacher(x)[0], y, T=3.0, alpha=0.7)
    assert loss.item() == pytest.approx(want.item(), rel=1e-5)
    before = [p.clone() for p in teacher.parameters()]
    tr.fit()
    assert all(torch.equal(a, b) for a, b in zip(before, teacher.parameters()))  # the teacher is frozen
    student.eval()
    _, ce = tr._forward(student, (x, y))
    assert ce.item() == pytest.approx(F.cross_entropy(student(x)[0].flatten(0, 1), y.flatten()).item(), rel=1e-5)


def test_distill_trainer_bad_input():
    import numpy as np

    from minillm.distill import DistillTrainer
    from minillm.train import TrainConfig

    ids = np.zeros(500, dtype=np.int64)
    cfg = TrainConfig(steps=1, batch_size=2, block_size=16, progress=False)
    with pytest.raises(ValueError, match="vocab_size=40 but student has 50"):
        DistillTrainer(_tiny_gpt(1), _tiny_gpt(0, vocab=40), ids, None, cfg, device="cpu")
    with pytest.raises(ValueError, match="T must be"):
        DistillTrainer(_tiny_gpt(1), _tiny_gpt(0), ids, None, cfg, T=0, device="cpu")
    with pytest.raises(ValueError, match="alpha must be"):
        DistillTrainer(_tiny_gpt(1), _tiny_gpt(0), ids, None, cfg, alpha=1.5, device="cpu")
    with pytest.raises(TypeError, match="teacher must be"):
        DistillTrainer(_tiny_gpt(1), "teacher", ids, None, cfg, device="cpu")


def test_teacher_text_samples_the_teacher():
    from minillm.distill import teacher_text
    from minillm.generate import generate

    teacher = _tiny_gpt(0)
    ids = teacher_text(teacher, 40, [3], batch_size=2, new_tokens=9, seed=5)
    assert ids.shape == (40,) and ids.dtype.kind == "i"
    assert list(ids[[0, 10, 20, 30]]) == [3, 3, 3, 3]  # every row starts with its prompt
    g = torch.Generator().manual_seed(5)
    first = generate(teacher, [[3], [3]], max_new_tokens=9, generator=g).ids
    assert list(ids[1:10]) == first[0] and list(ids[11:20]) == first[1]
    assert teacher.training  # left as it was (a fresh GPT is in training mode)
    with pytest.raises(ValueError, match="exceed the teacher's context"):
        teacher_text(teacher, 10, [3], new_tokens=16)
    with pytest.raises(TypeError, match="prompt_ids"):
        teacher_text(teacher, 10, "\n\n")
