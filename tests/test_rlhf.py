"""Tests for minillm.rlhf (chapter 7).

References: no well-kept library exposes these losses as standalone functions on plain tensors
(trl's DPO loss lives inside ``DPOTrainer._compute_loss`` and needs a model and a trainer, and
trl pulls datasets/pyarrow/pandas), so every loss is checked against the paper's formula with
values computed by hand in the comments.
"""

import json
import math
import random

import pytest
import torch
from torch import nn

from minillm.rlhf import (
    Labeller,
    PreferencePair,
    RewardHead,
    bradley_terry_loss,
    dpo_loss,
    gae,
    group_relative_advantages,
    grpo_loss,
    kl_penalty,
    load_preferences,
    pair_accuracy,
    ppo_clip_loss,
    save_preferences,
    train_reward_model,
)


def sig(x):
    return 1 / (1 + math.exp(-x))


# --- losses against hand-computed values ------------------------------------------------------


def test_bradley_terry_loss_hand_values():
    # margins 1 and -2: loss = mean(-log sig(1), -log sig(-2)) = mean(0.313262, 2.126928)
    loss = bradley_terry_loss(torch.tensor([2.0, 0.0]), torch.tensor([1.0, 2.0]))
    assert loss.item() == pytest.approx((0.3132617 + 2.1269280) / 2, abs=1e-6)
    assert pair_accuracy([2.0, 0.0], [1.0, 2.0]) == 0.5


def test_dpo_loss_paper_formula_hand_values():
    """Rafailov et al. 2023, eq. 7: -log sig(beta((pc - rc) - (pr - rr))), by hand."""
    pc, pr = torch.tensor([-10.0, -5.0]), torch.tensor([-12.0, -4.0])
    rc, rr = torch.tensor([-11.0, -5.0]), torch.tensor([-11.0, -6.0])
    loss, r_ch, r_rej = dpo_loss(pc, pr, rc, rr, beta=0.5)
    # pair 1: chosen logratio 1, rejected -1 -> margin 0.5*2 = 1 -> -log sig(1) = 0.3132617
    # pair 2: chosen 0, rejected 2 -> margin 0.5*-2 = -1 -> -log sig(-1) = 1.3132617
    assert loss.item() == pytest.approx((0.3132617 + 1.3132617) / 2, abs=1e-6)
    torch.testing.assert_close(r_ch, torch.tensor([0.5, 0.0]))
    torch.testing.assert_close(r_rej, torch.tensor([-0.5, 1.0]))
    assert not r_ch.requires_grad


def test_dpo_gradient_raises_chosen_lowers_rejected():
    pc = torch.tensor([-3.0], requires_grad=True)
    pr = torch.tensor([-3.0], requires_grad=True)
    loss, _, _ = dpo_loss(pc, pr, torch.tensor([-3.0]), torch.tensor([-3.0]), beta=1.0)
    loss.backward()
    assert pc.grad.item() == pytest.approx(-0.5)  # d/dm -log sig(m) at m=0 is -1/2
    assert pr.grad.item() == pytest.approx(0.5)


def test_gae_hand_values():
    """Schulman et al. 2016, eq. 16, unrolled by hand with gamma=0.9, lam=0.8."""
    rewards = torch.tensor([[1.0, 0.0, 2.0], [1.0, 2.0, 5.0]])
    values = torch.tensor([[0.5, 1.0, 1.5], [1.0, 1.0, 9.0]])
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    adv, ret = gae(rewards, values, mask, gamma=0.9, lam=0.8)
    # row 0: d2 = 2 - 1.5 = 0.5; d1 = 0.9*1.5 - 1 = 0.35 -> 0.35 + 0.72*0.5 = 0.71;
    #        d0 = 1 + 0.9 - 0.5 = 1.4 -> 1.4 + 0.72*0.71 = 1.9112
    # row 1 ends at t=1: d1 = 2 - 1 = 1; d0 = 1 + 0.9 - 1 = 0.9 -> 0.9 + 0.72 = 1.62; pad 0
    torch.testing.assert_close(adv, torch.tensor([[1.9112, 0.71, 0.5], [1.62, 1.0, 0.0]]))
    torch.testing.assert_close(ret, torch.tensor([[2.4112, 1.71, 2.0], [2.62, 2.0, 0.0]]))
    # lam=1, gamma=1: advantage = return-to-go minus value (Monte Carlo)
    adv1, _ = gae(rewards[:1], values[:1], gamma=1.0, lam=1.0)
    torch.testing.assert_close(adv1, torch.tensor([[3.0 - 0.5, 2.0 - 1.0, 2.0 - 1.5]]))
    # bootstrapping from last_value
    adv2, _ = gae([[1.0]], [[0.0]], gamma=0.5, lam=1.0, last_value=[4.0])
    assert adv2.item() == pytest.approx(3.0)


def test_ppo_clip_loss_hand_values():
    """Schulman et al. 2017, eq. 7, by hand with eps=0.2."""
    logp_old = torch.zeros(4)
    logp_new = torch.log(torch.tensor([1.5, 1.5, 0.5, 1.1]))
    adv = torch.tensor([1.0, -1.0, -2.0, 3.0])
    # ratio 1.5, A=1: min(1.5, 1.2) = 1.2; ratio 1.5, A=-1: min(-1.5, -1.2) = -1.5
    # ratio 0.5, A=-2: min(-1.0, -1.6) = -1.6; ratio 1.1, A=3: 3.3
    loss = ppo_clip_loss(logp_new, logp_old, adv, clip_eps=0.2)
    assert loss.item() == pytest.approx(-(1.2 - 1.5 - 1.6 + 3.3) / 4, abs=1e-6)
    masked = ppo_clip_loss(logp_new, logp_old, adv, 0.2, mask=torch.tensor([1, 0, 0, 1]))
    assert masked.item() == pytest.approx(-(1.2 + 3.3) / 2, abs=1e-6)


def test_kl_penalty_estimators_hand_values_and_unbiased():
    logp, ref = torch.tensor([-1.0]), torch.tensor([-2.0])  # log_r = -1
    assert kl_penalty(logp, ref, "k1").item() == pytest.approx(1.0)
    assert kl_penalty(logp, ref, "k2").item() == pytest.approx(0.5)
    assert kl_penalty(logp, ref, "k3").item() == pytest.approx(math.exp(-1) - 1 + 1, abs=1e-6)
    # k1 and k3 are unbiased: their mean over samples from p approaches KL(p || q)
    p, q = torch.tensor([0.7, 0.2, 0.1]), torch.tensor([0.3, 0.4, 0.3])
    true_kl = (p * (p / q).log()).sum().item()
    x = torch.multinomial(p, 200_000, replacement=True, generator=torch.Generator().manual_seed(0))
    for kind in ("k1", "k3"):
        est = kl_penalty(p.log()[x], q.log()[x], kind).mean().item()
        assert est == pytest.approx(true_kl, abs=0.01), kind
    assert (kl_penalty(p.log()[x], q.log()[x], "k3") >= 0).all()


def test_group_relative_advantages_hand_values():
    adv = group_relative_advantages(torch.tensor([1.0, 0.0, 0.0, 1.0, 5.0, 5.0]), 3, eps=0.0)
    # group 1 [1,0,0]: mean 1/3, sample std sqrt(1/3) -> [(2/3)/0.57735, -(1/3)/0.57735, ...]
    s = math.sqrt(1 / 3)
    torch.testing.assert_close(adv[:3], torch.tensor([(2 / 3) / s, -(1 / 3) / s, -(1 / 3) / s]))
    # group 2 [1,5,5]: mean 11/3, std sqrt(16/3)
    s2 = math.sqrt(16 / 3)
    torch.testing.assert_close(adv[3:], torch.tensor([(-8 / 3) / s2, (4 / 3) / s2, (4 / 3) / s2]))
    same = group_relative_advantages(torch.tensor([2.0, 2.0]), 2)
    torch.testing.assert_close(same, torch.zeros(2))


def test_grpo_loss_hand_values():
    """Shao et al. 2024, eq. 3 with the k3 KL, by hand."""
    logp_new = torch.log(torch.tensor([[1.5, 1.0], [1.0, 1.0]]))
    logp_old = torch.zeros(2, 2)
    ref = torch.zeros(2, 2)
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    adv = torch.tensor([1.0, -1.0])
    # answer 0: token 0 ratio 1.5 -> min(1.5, 1.2) = 1.2, k3 = 1/1.5 - 1 + log 1.5 = 0.0721318
    #           token 1 ratio 1 -> 1, k3 = 0. mean = (1.2 - 0.1*0.0721318 + 1) / 2
    # answer 1: one token ratio 1, A=-1 -> -1
    k3 = 1 / 1.5 - 1 + math.log(1.5)
    expected = -(((1.2 - 0.1 * k3) + 1.0) / 2 + -1.0) / 2
    loss = grpo_loss(logp_new, logp_old, ref, adv, mask, clip_eps=0.2, beta=0.1)
    assert loss.item() == pytest.approx(expected, abs=1e-6)


# --- labeller and files -----------------------------------------------------------------------


def test_labeller_matches_bradley_terry_probability_and_noise_ceiling():
    lab = Labeller(len, temperature=2.0)  # prefers longer answers
    rng = random.Random(0)
    a, b = "xxxx", "xx"  # p(a) = sig(2/2) = 0.731
    picks = [lab.prefer(a, b, rng) for _ in range(20_000)]
    assert 1 - sum(picks) / len(picks) == pytest.approx(sig(1.0), abs=0.01)
    assert lab.noise_ceiling([(a, b), ("x", "xx")]) == pytest.approx(sig(1.0) * 0.5 + sig(0.5) * 0.5)
    strict = Labeller(len, temperature=0)
    assert all(strict.prefer(a, b, rng) == 0 for _ in range(50))
    assert strict.noise_ceiling([(a, b)]) == 1.0
    pair = strict.label("p", "x", "xyz", rng)
    assert (pair.chosen, pair.rejected) == ("xyz", "x")


def test_preferences_round_trip(tmp_path):
    pairs = [PreferencePair("q1", "good", "bad"), PreferencePair("q2", "é", "e")]
    path = save_preferences(pairs, tmp_path / "labels.json")
    assert load_preferences(path) == pairs
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_preference_bad_input(tmp_path):
    with pytest.raises(ValueError, match="identical chosen and rejected"):
        PreferencePair("q", "same", "same")
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"pairs": []}))
    with pytest.raises(ValueError, match="empty.json holds no pairs"):
        load_preferences(empty)
    dup = tmp_path / "dup.json"
    dup.write_text(json.dumps({"pairs": [{"prompt": "q", "chosen": "a", "rejected": "a"}]}))
    with pytest.raises(ValueError, match="dup.json: pair 0: .*identical"):
        load_preferences(dup)
    with pytest.raises(ValueError, match="prefer got the same answer"):
        Labeller(len).prefer("a", "a", random.Random(0))
    with pytest.raises(ValueError, match="temperature"):
        Labeller(len, temperature=-1)
    with pytest.raises(TypeError, match="score_fn"):
        Labeller("len")


# --- reward model and a PPO bandit -------------------------------------------------------------


def test_reward_model_learns_toy_linearly_separable_preferences():
    g = torch.Generator().manual_seed(0)
    w_true = torch.randn(8, generator=g)
    x = torch.randn(600, 2, 8, generator=g)
    better = (x @ w_true).argmax(1)  # the answer the hidden scorer prefers
    chosen, rejected = x[torch.arange(600), better], x[torch.arange(600), 1 - better]
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 1), nn.Flatten(0))
    losses = train_reward_model(model, chosen[:400], rejected[:400], steps=300, lr=0.05)
    assert losses[-1] < losses[0] / 3
    with torch.no_grad():
        acc = pair_accuracy(model(chosen[400:]), model(rejected[400:]))
    assert acc > 0.95


def test_reward_head_reads_last_real_token():
    emb = nn.Embedding(10, 4)
    head = RewardHead(emb, hidden_size=4)
    ids = torch.tensor([[1, 2, 3], [4, 5, 0]])
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    r = head(ids, mask)
    assert r.shape == (2,)
    expected = head.head(emb(torch.tensor([3, 5]))).squeeze(-1)
    torch.testing.assert_close(r, expected)
    r_nomask = head(ids)
    torch.testing.assert_close(r_nomask[1], head.head(emb(torch.tensor(0))).squeeze(-1))
    with pytest.raises(ValueError, match="hidden_size=5"):
        RewardHead(emb, hidden_size=5)(ids)
    with pytest.raises(ValueError, match="mask has a row with no real token"):
        head(ids, torch.tensor([[1, 1, 1], [0, 0, 0]]))
    with pytest.raises(ValueError, match=r"ids must have shape \(B, T\)"):
        head(torch.tensor([1, 2]))


def test_ppo_clip_improves_a_three_armed_bandit():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    arm_means = torch.tensor([0.2, 0.5, 0.8])
    logits = torch.zeros(3, requires_grad=True)
    opt = torch.optim.Adam([logits], lr=0.05)
    for _ in range(150):
        with torch.no_grad():
            probs = torch.softmax(logits, 0)
            actions = torch.multinomial(probs, 64, replacement=True, generator=g)
            rewards = arm_means[actions] + 0.3 * torch.randn(64, generator=g)
            adv = rewards - rewards.mean()
            logp_old = torch.log_softmax(logits, 0)[actions]
        for _ in range(4):  # several epochs on one batch: what the clip is for
            logp_new = torch.log_softmax(logits, 0)[actions]
            loss = ppo_clip_loss(logp_new, logp_old, adv, clip_eps=0.2)
            opt.zero_grad()
            loss.backward()
            opt.step()
    p_best = torch.softmax(logits, 0)[2].item()
    assert p_best > 0.9, p_best


# --- bad input ----------------------------------------------------------------------------------


def test_loss_bad_input():
    with pytest.raises(ValueError, match=r"r_rejected has shape \(3,\) but r_chosen has shape \(2,\)"):
        bradley_terry_loss(torch.zeros(2), torch.zeros(3))
    with pytest.raises(ValueError, match="r_chosen is empty"):
        bradley_terry_loss(torch.zeros(0), torch.zeros(0))
    with pytest.raises(ValueError, match="beta must be a number > 0"):
        dpo_loss(*[torch.zeros(2)] * 4, beta=0)
    with pytest.raises(ValueError, match="ref_rejected_logps has shape"):
        dpo_loss(torch.zeros(2), torch.zeros(2), torch.zeros(2), torch.zeros(1))
    with pytest.raises(ValueError, match="clip_eps"):
        ppo_clip_loss(torch.zeros(2), torch.zeros(2), torch.zeros(2), clip_eps=1.5)
    with pytest.raises(ValueError, match="mask selects no element"):
        ppo_clip_loss(torch.zeros(2), torch.zeros(2), torch.zeros(2), mask=torch.zeros(2))
    with pytest.raises(ValueError, match="kind must be 'k1', 'k2' or 'k3', got 'k4'"):
        kl_penalty(torch.zeros(2), torch.zeros(2), "k4")
    with pytest.raises(ValueError, match=r"rewards must have shape \(B, T\)"):
        gae(torch.zeros(3), torch.zeros(3))
    with pytest.raises(ValueError, match="gamma and lam"):
        gae(torch.zeros(1, 3), torch.zeros(1, 3), gamma=1.5)
    with pytest.raises(ValueError, match="not a positive multiple of group_size=4"):
        group_relative_advantages(torch.zeros(6), 4)
    with pytest.raises(ValueError, match="group_size must be an int >= 2"):
        group_relative_advantages(torch.zeros(6), 1)
    with pytest.raises(ValueError, match=r"advantages must have shape \(B,\)"):
        grpo_loss(*[torch.zeros(2, 3)] * 3, torch.zeros(3), torch.ones(2, 3))
    with pytest.raises(TypeError, match="logp must be a tensor of numbers"):
        kl_penalty("abc", torch.zeros(1))


def test_held_out_comparison_refuses_what_it_cannot_compare():
    from minillm.rlhf import held_out_comparison

    with pytest.raises(ValueError, match="models must be a non-empty dict"):
        held_out_comparison({}, None, None, {"n_train": 4, "n_held": 4})
    with pytest.raises(ValueError, match=r"missing \['n_held'\]"):
        held_out_comparison({"a": None}, None, None, {"n_train": 4})
