"""Chapter 7's exercise checks accept right answers and reject wrong ones, saying what is wrong."""

import pytest
import torch
import torch.nn.functional as F

import minillm.course.checks_rlhf as ch
from minillm import rlhf


def bt(rc, rr):
    return -F.logsigmoid(rc - rr).mean()


def test_bradley_terry():
    ch.check_bradley_terry(bt)
    wrong = {
        "rewards the rejected": lambda rc, rr: -F.logsigmoid(rr - rc).mean(),
        "sums over pairs": lambda rc, rr: -F.logsigmoid(rc - rr).sum(),
        "off": lambda rc, rr: torch.tensor(0.5),  # a constant
        "off|shape": lambda rc, rr: -F.logsigmoid(rc).mean(),  # ignores r_rejected
        "infinite": lambda rc, rr: -torch.log(torch.sigmoid(rc - rr)).mean(),
        "itself": rlhf.bradley_terry_loss,
        "calls minillm": lambda rc, rr: rlhf.bradley_terry_loss(rc, rr),
    }
    for msg, fn in wrong.items():
        with pytest.raises(AssertionError, match=msg):
            ch.check_bradley_terry(fn)
    from minillm.rlhf import bradley_terry_loss as imported

    with pytest.raises(AssertionError, match="calls minillm"):
        ch.check_bradley_terry(lambda rc, rr: imported(rc, rr) + 0)
    assert rlhf.bradley_terry_loss(torch.tensor([1.0]), torch.tensor([0.0])) > 0  # restored after the trap


def dpo(pc, pr, rc, rr, beta):
    return -F.logsigmoid(beta * ((pc - rc) - (pr - rr))).mean()


def test_dpo_loss():
    ch.check_dpo_loss(dpo)
    wrong = {
        "ignores the reference": lambda pc, pr, rc, rr, beta: -F.logsigmoid(beta * (pc - pr)).mean(),
        "off": lambda pc, pr, rc, rr, beta: -F.logsigmoid(0.1 * ((pc - rc) - (pr - rr))).mean() * (beta / beta),
        "does not change with beta|off": lambda pc, pr, rc, rr, beta: -F.logsigmoid((pc - rc) - (pr - rr)).mean(),
        "calls minillm": lambda *a: rlhf.dpo_loss(*a)[0],
        "one number": lambda pc, pr, rc, rr, beta: -F.logsigmoid(beta * ((pc - rc) - (pr - rr))),
    }
    for msg, fn in wrong.items():
        with pytest.raises(AssertionError, match=msg):
            ch.check_dpo_loss(fn)


def gae1(r, v, gamma, lam):
    adv = torch.zeros_like(r)
    running = 0.0
    for t in reversed(range(len(r))):
        nxt = v[t + 1] if t + 1 < len(r) else 0.0
        running = r[t] + gamma * nxt - v[t] + gamma * lam * running
        adv[t] = running
    return adv


def test_gae():
    ch.check_gae(gae1)
    wrong = {
        "one-step TD": lambda r, v, g, lam: r + g * torch.cat([v[1:], torch.zeros(1)]) - v,
        "off": lambda r, v, g, lam: gae1(r, v, g, 0.95),  # ignores lam
        "advantages": lambda r, v, g, lam: gae1(r, v, 1.0, lam),  # ignores gamma
        "shape": lambda r, v, g, lam: gae1(r, v, g, lam).sum(),
        "calls minillm": lambda r, v, g, lam: rlhf.gae(r[None], v[None], gamma=g, lam=lam)[0][0],
    }
    for msg, fn in wrong.items():
        with pytest.raises(AssertionError, match=msg):
            ch.check_gae(fn)


def ppo(new, old, adv, eps):
    ratio = torch.exp(new - old)
    return -torch.minimum(ratio * adv, ratio.clamp(1 - eps, 1 + eps) * adv).mean()


def test_ppo_clip():
    ch.check_ppo_clip(ppo)
    wrong = {
        "does not clip": lambda n, o, a, e: -(torch.exp(n - o) * a).mean(),
        "clipped term alone": lambda n, o, a, e: -(torch.exp(n - o).clamp(1 - e, 1 + e) * a).mean(),
        "wrong sign": lambda n, o, a, e: -ppo(n, o, a, e),
        "off": lambda n, o, a, e: ppo(n, o, a, 0.2),  # ignores eps
        "no gradient": lambda n, o, a, e: ppo(n.detach(), o, a, e),
        "calls minillm": lambda n, o, a, e: rlhf.ppo_clip_loss(n, o, a, e),
    }
    for msg, fn in wrong.items():
        with pytest.raises(AssertionError, match=msg):
            ch.check_ppo_clip(fn)


def group_adv(r, k):
    g = r.view(-1, k)
    return ((g - g.mean(1, keepdim=True)) / (g.std(1, keepdim=True) + 1e-4)).view(-1)


def test_group_advantages():
    ch.check_group_advantages(group_adv)
    wrong = {
        "whole batch": lambda r, k: (r - r.mean()) / (r.std() + 1e-4),
        "do not divide": lambda r, k: (r.view(-1, k) - r.view(-1, k).mean(1, keepdim=True)).view(-1),
        "NaN or inf": lambda r, k: ((r.view(-1, k) - r.view(-1, k).mean(1, keepdim=True))
                                    / r.view(-1, k).std(1, keepdim=True)).view(-1),
        "off": lambda r, k: group_adv(r, 4),  # ignores group_size
        "shape": lambda r, k: group_adv(r, k)[:-1],
        "itself": rlhf.group_relative_advantages,
    }
    for msg, fn in wrong.items():
        with pytest.raises(AssertionError, match=msg):
            ch.check_group_advantages(fn)


def test_new_preference_project():
    task = rlhf.qa_task(4, template="Q {question} A:")
    prompts = task.prompts[:2] * 2
    texts = ["a b c", task.first_names[1], "a b c d e", "b"]

    def longer(p, a):
        return len(a.split())

    ch.check_new_preference(longer, task, 1.0, 2.0, (prompts, texts))
    with pytest.raises(AssertionError, match="same score"):
        ch.check_new_preference(lambda p, a: 1.0, task, 1.0, 2.0, (prompts, texts))
    with pytest.raises(AssertionError, match="chapter's own score"):
        ch.check_new_preference(task.score, task, 1.0, 2.0, (prompts, texts))
    with pytest.raises(AssertionError, match="not better"):
        ch.check_new_preference(longer, task, 2.0, 1.0, (prompts, texts))
