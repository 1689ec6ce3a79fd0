"""Learning from preferences: the losses and small pieces behind RLHF, DPO and GRPO (chapter 7).

Everything here works on plain tensors (log-probabilities, rewards, values) or on callables, so
chapter 7 can plug in any model. Trainers are built on top of these pieces.

Read top to bottom:

1. Preferences: :class:`PreferencePair`, a simulated human :class:`Labeller` (Bradley-Terry
   sampling around a known score) and JSON files of labels.
2. Reward models: :func:`bradley_terry_loss`, :class:`RewardHead`, :func:`train_reward_model`.
3. Policy optimisation: :func:`gae`, :func:`ppo_clip_loss`, :func:`kl_penalty`.
4. Without a reward model: :func:`dpo_loss`; without a value model:
   :func:`group_relative_advantages` and :func:`grpo_loss`.
5. Trainers on a :class:`minillm.model.GPT` policy, sharing one loop (AdamW on
   :func:`minillm.train.param_groups`, :func:`minillm.train.lr_at`, atomic checkpoints with exact
   resume, a progress bar), sampling with :func:`minillm.generate.generate`:
   :class:`RewardModel` + :class:`RewardModelTrainer`, :class:`PPOTrainer`, :class:`DPOTrainer`,
   :class:`GRPOTrainer`, all configured by :class:`RLConfig`.
6. Verifiable rewards (RLVR): :class:`ExactAnswerReward`.
7. Chapter 7's task: :func:`qa_task` (TinyWorld questions and a labeller's hidden taste),
   :func:`course_task` (the chat model's version),
   :func:`sample_pairs`, :func:`evaluate_policy`, :func:`policy_format`.

Papers:

- Bradley, Terry (1952), "Rank analysis of incomplete block designs: I. The method of paired
  comparisons", Biometrika 39. https://doi.org/10.2307/2334029
- Ouyang et al. (2022), "Training language models to follow instructions with human feedback".
  https://arxiv.org/abs/2203.02155
- Schulman, Moritz, Levine, Jordan, Abbeel (2016), "High-Dimensional Continuous Control Using
  Generalized Advantage Estimation". https://arxiv.org/abs/1506.02438
- Schulman, Wolski, Dhariwal, Radford, Klimov (2017), "Proximal Policy Optimization
  Algorithms". https://arxiv.org/abs/1707.06347
- Schulman (2020), "Approximating KL Divergence" (blog). http://joschu.net/blog/kl-approx.html
- Rafailov, Sharma, Mitchell, Ermon, Manning, Finn (2023), "Direct Preference Optimization: Your
  Language Model is Secretly a Reward Model". https://arxiv.org/abs/2305.18290
- Shao et al. (2024), "DeepSeekMath: Pushing the Limits of Mathematical Reasoning in Open
  Language Models" (GRPO). https://arxiv.org/abs/2402.03300
"""

from __future__ import annotations

import json
import math
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .utils import (
    InputTypeError,
    atomic_write,
    check_bool,
    check_float,
    check_int,
    check_items,
    read_json,
)

# --- helpers -----------------------------------------------------------------------------------


def _tensor(x, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        try:
            x = torch.as_tensor(x, dtype=torch.float32)
        except (TypeError, ValueError) as e:
            raise InputTypeError(f"{name} must be a tensor of numbers, got {type(x).__name__}") from e
    if not torch.is_floating_point(x):
        x = x.float()
    return x


def _same_shape(**tensors: torch.Tensor) -> None:
    names = list(tensors)
    first = tensors[names[0]]
    for n in names[1:]:
        if tensors[n].shape != first.shape:
            raise ValueError(
                f"{n} has shape {tuple(tensors[n].shape)} but {names[0]} has shape "
                f"{tuple(first.shape)}; they must match (one entry per pair, sequence or token)"
            )
    if first.numel() == 0:
        raise ValueError(f"{names[0]} is empty; pass at least one element")


def _masked_mean(x: torch.Tensor, mask: torch.Tensor | None, name: str = "mask") -> torch.Tensor:
    if mask is None:
        return x.mean()
    if not isinstance(mask, torch.Tensor) or mask.shape != x.shape:
        raise ValueError(f"{name} must be a tensor of shape {tuple(x.shape)} (the same as the values it selects), "
                         f"got {tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__}")
    mask = mask.to(x.dtype)
    total = mask.sum()
    if total == 0:
        raise ValueError(f"{name} selects no element (all zeros); nothing to average over")
    return (x * mask).sum() / total


# --- 1. preferences ----------------------------------------------------------------------------


@dataclass
class PreferencePair:
    """One human judgement: for ``prompt``, the answer ``chosen`` was preferred to ``rejected``."""

    prompt: str
    chosen: str
    rejected: str

    def __post_init__(self):
        for field in ("prompt", "chosen", "rejected"):
            if not isinstance(getattr(self, field), str):
                raise InputTypeError(f"PreferencePair.{field} must be a str, got {getattr(self, field)!r}")
        if self.chosen == self.rejected:
            raise ValueError(
                f"PreferencePair has identical chosen and rejected answers ({self.chosen!r}) for "
                f"prompt {self.prompt!r}; a preference needs two different answers"
            )


class Labeller:
    """A simulated human labeller who prefers answers with a higher (hidden) score, noisily.

    ``score_fn`` maps an answer (a str) to a number: the labeller's true taste, known to us
    but not to the reward model we train. The labeller prefers ``a`` to ``b`` with the
    Bradley-Terry probability ``sigmoid((score(a) - score(b)) / temperature)``: a small
    temperature gives a careful labeller, a large one a careless one; ``temperature=0`` always
    picks the higher score (a coin decides exact ties).

    Because the noise is known, so is the best accuracy any reward model can reach against these
    labels: :meth:`noise_ceiling`.
    """

    def __init__(self, score_fn: Callable[[str], float], temperature: float = 1.0,
                 with_prompt: bool = False):
        if not callable(score_fn):
            raise InputTypeError(f"score_fn must be a callable text -> score, got {score_fn!r}")
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
            raise InputTypeError(f"temperature must be a number >= 0, got {temperature!r}")
        if not temperature >= 0 or not math.isfinite(temperature):
            raise ValueError(f"temperature must be a finite number >= 0, got {temperature!r}")
        check_bool("with_prompt", with_prompt)
        self.score_fn = score_fn
        self.temperature = float(temperature)
        self.with_prompt = bool(with_prompt)

    def score(self, answer: str, prompt: str | None = None) -> float:
        """The labeller's true score of ``answer`` (``score_fn(prompt, answer)`` when the labeller
        was made with ``with_prompt=True``: its taste then depends on the question asked)."""
        if self.with_prompt:
            if prompt is None:
                raise ValueError("this labeller judges answers to a prompt (with_prompt=True); pass prompt=")
            return float(self.score_fn(prompt, answer))
        return float(self.score_fn(answer))

    def prob_prefers_first(self, a: str, b: str, prompt: str | None = None) -> float:
        """The probability that the labeller prefers ``a`` to ``b`` (as answers to ``prompt``)."""
        diff = self.score(a, prompt) - self.score(b, prompt)
        if self.temperature == 0:
            return 0.5 if diff == 0 else float(diff > 0)
        return 1.0 / (1.0 + math.exp(-max(min(diff / self.temperature, 700.0), -700.0)))

    def prefer(self, a: str, b: str, rng, prompt: str | None = None) -> int:
        """Return 0 if the labeller prefers ``a`` (the first answer), 1 if it prefers ``b``.

        ``rng`` is anything with a ``random()`` method returning a float in [0, 1)
        (``random.Random(seed)`` or ``numpy.random.default_rng(seed)``).
        """
        if a == b:
            raise ValueError(f"prefer got the same answer twice ({a!r}); pass two different answers")
        if not hasattr(rng, "random"):
            raise InputTypeError(f"rng must have a random() method (e.g. random.Random(0)), got {rng!r}")
        return 0 if rng.random() < self.prob_prefers_first(a, b, prompt) else 1

    def label(self, prompt: str, a: str, b: str, rng) -> PreferencePair:
        """Ask the labeller to compare ``a`` and ``b`` for ``prompt``; return the pair it makes."""
        if self.prefer(a, b, rng, prompt if self.with_prompt else None) == 0:
            return PreferencePair(prompt, a, b)
        return PreferencePair(prompt, b, a)

    def noise_ceiling(self, pairs: Sequence[tuple[str, str]]) -> float:
        """The expected accuracy of the best possible predictor of this labeller's choices.

        For each ``(a, b)`` (or ``(prompt, a, b)``, or a :class:`PreferencePair`) the best guess
        is the answer with the higher true score; it agrees with the labeller with probability
        ``max(p, 1 - p)``. The mean over pairs is the ceiling.
        """
        if len(pairs) == 0:
            raise ValueError("noise_ceiling got no pairs; pass a list of (answer_a, answer_b)")
        probs = []
        for p in pairs:
            if isinstance(p, PreferencePair):
                p = (p.prompt, p.chosen, p.rejected)
            prompt, a, b = (None, *p) if len(p) == 2 else p
            probs.append(self.prob_prefers_first(a, b, prompt))
        return sum(max(p, 1 - p) for p in probs) / len(probs)


def save_preferences(pairs: Sequence[PreferencePair], path) -> Path:
    """Write preference pairs to a JSON file (atomically: a crash never leaves half a file)."""
    if not isinstance(path, (str, os.PathLike)):
        raise InputTypeError(f"path must be a file path (str or Path), got {path!r}")
    pairs = check_items("pairs", pairs, PreferencePair, "a PreferencePair")
    path = Path(path)
    with atomic_write(path, "w") as f:
        json.dump({"pairs": [asdict(p) for p in pairs]}, f, indent=1, ensure_ascii=False)
    return path


def load_preferences(path) -> list[PreferencePair]:
    """Read the pairs :func:`save_preferences` wrote. An empty file of labels is an error."""
    if not isinstance(path, (str, Path)):
        raise InputTypeError(f"path must be a file path (str or Path), got {path!r}")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no preference file at {path}")
    if path.is_dir():
        raise ValueError(f"{path} is a folder, not a preference file; give the .json file save_preferences wrote")
    try:
        data = read_json(path, dict, "a preference file")
    except ValueError as e:
        raise ValueError(f"preference file {e}") from None
    if not isinstance(data.get("pairs"), list):
        raise ValueError(f"preference file {path} must hold {{'pairs': [...]}}")
    if not data["pairs"]:
        raise ValueError(f"preference file {path} holds no pairs; label some answers first")
    out = []
    for i, d in enumerate(data["pairs"]):
        extra = sorted(set(d) - {"prompt", "chosen", "rejected"}) if isinstance(d, dict) else []
        if extra:
            raise ValueError(f"preference file {path}: pair {i} has unknown field {extra[0]!r}; a pair holds "
                             "'prompt', 'chosen' and 'rejected'")
        if isinstance(d, dict):
            for key in ("prompt", "chosen", "rejected"):
                if key not in d:
                    raise ValueError(f"preference file {path}: pair {i} has no {key!r}; a pair holds 'prompt', "
                                     "'chosen' and 'rejected' strings")
                if not isinstance(d[key], str):
                    raise ValueError(f"preference file {path}: pair {i}: {key!r} must be a string, got {d[key]!r:.40}")
        try:
            out.append(PreferencePair(d["prompt"], d["chosen"], d["rejected"]))
        except (KeyError, TypeError) as e:
            raise ValueError(
                f"preference file {path}: pair {i} needs 'prompt', 'chosen', 'rejected' strings"
            ) from e
        except ValueError as e:
            raise ValueError(f"preference file {path}: pair {i}: {e}") from e
    return out


# --- 2. reward models --------------------------------------------------------------------------


def bradley_terry_loss(r_chosen, r_rejected) -> torch.Tensor:
    """The reward-model loss ``mean(-log sigmoid(r_chosen - r_rejected))`` (Bradley-Terry).

    ``r_chosen``, ``r_rejected``: (N,) scalar rewards of the preferred and the other answer.
    Minimising it makes the reward model give the preferred answer the higher score
    (Ouyang et al. 2022, eq. 1).
    """
    r_chosen, r_rejected = _tensor(r_chosen, "r_chosen"), _tensor(r_rejected, "r_rejected")
    _same_shape(r_chosen=r_chosen, r_rejected=r_rejected)
    return -F.logsigmoid(r_chosen - r_rejected).mean()


def pair_accuracy(r_chosen, r_rejected) -> float:
    """The fraction of pairs where the chosen answer gets the strictly higher reward."""
    r_chosen, r_rejected = _tensor(r_chosen, "r_chosen"), _tensor(r_rejected, "r_rejected")
    _same_shape(r_chosen=r_chosen, r_rejected=r_rejected)
    return (r_chosen > r_rejected).float().mean().item()


class RewardHead(nn.Module):
    """A reward model: a backbone's hidden state at each sequence's last real token -> a scalar.

    ``backbone`` is any callable mapping ids (B, T) -> hidden states (B, T, C), or
    ``(ids, mask) -> (B, T, C)`` when ``backbone_takes_mask=True``. ``hidden_size`` is C.
    ``forward(ids, mask=None)`` returns rewards (B,). ``mask`` (B, T) marks real tokens with 1;
    the reward is read at the last 1 of each row (so right padding is fine), or at the last
    position when there is no mask.
    """

    def __init__(self, backbone: Callable, hidden_size: int, backbone_takes_mask: bool = False):
        super().__init__()
        if not callable(backbone):
            raise InputTypeError(f"backbone must be callable (ids -> hidden (B, T, C)), got {backbone!r}")
        if isinstance(hidden_size, bool) or not isinstance(hidden_size, int) or hidden_size < 1:
            raise ValueError(f"hidden_size must be a positive int, got {hidden_size!r}")
        self.backbone = backbone
        self.hidden_size = hidden_size
        self.backbone_takes_mask = backbone_takes_mask
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if ids.dim() != 2:
            raise ValueError(f"ids must have shape (B, T), got {tuple(ids.shape)}")
        if mask is not None and mask.shape != ids.shape:
            raise ValueError(f"mask has shape {tuple(mask.shape)} but ids has {tuple(ids.shape)}")
        hidden = self.backbone(ids, mask) if self.backbone_takes_mask else self.backbone(ids)
        if not isinstance(hidden, torch.Tensor) or hidden.dim() != 3 or hidden.shape[:2] != ids.shape:
            got = tuple(hidden.shape) if isinstance(hidden, torch.Tensor) else type(hidden).__name__
            raise ValueError(f"backbone must return hidden states (B, T, C) = {(*ids.shape, 'C')}, got {got}")
        if hidden.shape[-1] != self.hidden_size:
            raise ValueError(
                f"backbone returns C={hidden.shape[-1]} channels but hidden_size={self.hidden_size}"
            )
        B, T = ids.shape
        if mask is None:
            last = torch.full((B,), T - 1, dtype=torch.long, device=ids.device)
        else:
            m = mask.to(torch.long)
            if (m.sum(1) == 0).any():
                raise ValueError("mask has a row with no real token (all zeros); each sequence needs one")
            positions = torch.arange(T, device=ids.device).expand(B, T)
            last = (positions * m).argmax(1)
        h_last = hidden[torch.arange(B, device=ids.device), last]  # (B, C)
        return self.head(h_last).squeeze(-1)


def train_reward_model(
    model: nn.Module,
    chosen,
    rejected,
    steps: int = 200,
    lr: float = 1e-2,
    batch_size: int | None = None,
    seed: int = 0,
) -> list[float]:
    """Fit ``model`` (inputs -> rewards (N,)) on preference pairs with :func:`bradley_terry_loss`.

    ``chosen``, ``rejected``: (N, ...) inputs the model accepts (pre-computed features for a toy
    run, or token ids for a :class:`RewardHead`). Adam, ``steps`` updates on mini-batches of
    ``batch_size`` pairs (all pairs when None). Returns the loss at each step.
    """
    if not isinstance(model, nn.Module):
        raise InputTypeError(f"model must be a torch nn.Module with parameters to train, got {type(model).__name__}")
    if len(chosen) != len(rejected):
        raise ValueError(f"chosen has {len(chosen)} pairs but rejected has {len(rejected)}")
    if len(chosen) == 0:
        raise ValueError("chosen is empty; pass at least one preference pair")
    steps = check_int("steps", steps, 1)
    lr = check_float("lr", lr, 0, exclusive_minimum=True)
    batch_size = check_int("batch_size", batch_size, 1, allow_none=True)
    check_int("seed", seed, 0)
    n = len(chosen)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        idx = torch.randperm(n, generator=gen)[: batch_size or n]
        rc, rr = model(chosen[idx]), model(rejected[idx])
        loss = bradley_terry_loss(rc.reshape(-1), rr.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


# --- 3. policy optimisation: PPO ---------------------------------------------------------------


def gae(rewards, values, mask=None, gamma: float = 1.0, lam: float = 0.95, last_value=None):
    """Generalised advantage estimation (Schulman et al. 2016) over a batch of sequences.

    ``rewards``, ``values``: (B, T), the reward and the value estimate at each step.
    ``mask``: (B, T), 1 on real steps and 0 on padding after a sequence ends (right padding);
    an episode ends at the last 1 of each row. ``last_value``: (B,) value after step T-1 for
    rows still running there (0 when None: the episode ended).

    ``delta_t = r_t + gamma V_{t+1} - V_t``;  ``A_t = delta_t + gamma lam A_{t+1}``.
    Returns ``(advantages, returns)``, both (B, T), zero on padding; ``returns = A + V``.
    """
    rewards, values = _tensor(rewards, "rewards"), _tensor(values, "values")
    _same_shape(rewards=rewards, values=values)
    if rewards.dim() != 2:
        raise ValueError(f"rewards must have shape (B, T), got {tuple(rewards.shape)}")
    for name, v in (("gamma", gamma), ("lam", lam)):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise InputTypeError(f"{name} must be a number in [0, 1], got {v!r}")
    if not 0 <= gamma <= 1 or not 0 <= lam <= 1:
        raise ValueError(f"gamma and lam must lie in [0, 1], got gamma={gamma}, lam={lam}")
    B, T = rewards.shape
    m = torch.ones_like(rewards) if mask is None else _tensor(mask, "mask").to(rewards.dtype)
    if m.shape != rewards.shape:
        raise ValueError(f"mask has shape {tuple(m.shape)} but rewards has {tuple(rewards.shape)}")
    next_value = torch.zeros(B, dtype=rewards.dtype) if last_value is None else _tensor(last_value, "last_value")
    if next_value.shape != (B,):
        raise ValueError(f"last_value must have shape (B,) = ({B},), got {tuple(next_value.shape)}")
    adv = torch.zeros_like(rewards)
    running = torch.zeros(B, dtype=rewards.dtype)
    next_alive = torch.ones(B, dtype=rewards.dtype)  # is step t+1 part of the same episode?
    for t in reversed(range(T)):
        delta = rewards[:, t] + gamma * next_value * next_alive - values[:, t]
        running = delta + gamma * lam * running * next_alive
        running = running * m[:, t]
        adv[:, t] = running
        next_value, next_alive = values[:, t], m[:, t]
    adv = adv * m
    return adv, (adv + values) * m


def ppo_clip_loss(logp_new, logp_old, advantages, clip_eps: float = 0.2, mask=None) -> torch.Tensor:
    """PPO's clipped surrogate loss (Schulman et al. 2017, eq. 7), to minimise.

    ``logp_new``: log-probabilities of the taken actions under the policy being trained (with
    gradient); ``logp_old``: the same under the policy that sampled them; ``advantages``: their
    advantages. All the same shape, e.g. (B, T) per token or (N,) per action; ``mask`` selects
    the real entries. With ``ratio = exp(logp_new - logp_old)``:
    ``loss = -mean(min(ratio * A, clip(ratio, 1 - eps, 1 + eps) * A))``.
    """
    logp_new, logp_old = _tensor(logp_new, "logp_new"), _tensor(logp_old, "logp_old")
    advantages = _tensor(advantages, "advantages")
    _same_shape(logp_new=logp_new, logp_old=logp_old, advantages=advantages)
    if isinstance(clip_eps, bool) or not isinstance(clip_eps, (int, float)):
        raise InputTypeError(f"clip_eps must be a number in (0, 1), got {clip_eps!r} (0.2 is usual)")
    if not 0 < clip_eps < 1:
        raise ValueError(f"clip_eps must lie in (0, 1), got {clip_eps!r} (0.2 is usual)")
    ratio = torch.exp(logp_new - logp_old.detach())
    surrogate = torch.minimum(ratio * advantages, ratio.clamp(1 - clip_eps, 1 + clip_eps) * advantages)
    return -_masked_mean(surrogate, mask)


def kl_penalty(logp, ref_logp, kind: str = "k1") -> torch.Tensor:
    """Per-token estimates of KL(policy || reference) from sampled tokens' log-probabilities.

    ``logp``, ``ref_logp``: (…) log-probabilities of the sampled tokens under the policy and the
    reference model. With ``log_r = ref_logp - logp`` (Schulman 2020):

    - ``"k1"``: ``-log_r``, unbiased but can be negative (used in RLHF's reward penalty);
    - ``"k2"``: ``log_r**2 / 2``, biased, low variance;
    - ``"k3"``: ``exp(log_r) - 1 - log_r``, unbiased and never negative (used by GRPO).
    """
    logp, ref_logp = _tensor(logp, "logp"), _tensor(ref_logp, "ref_logp")
    _same_shape(logp=logp, ref_logp=ref_logp)
    log_r = ref_logp - logp
    if kind == "k1":
        return -log_r
    if kind == "k2":
        return 0.5 * log_r**2
    if kind == "k3":
        return torch.exp(log_r) - 1 - log_r
    raise ValueError(f"kind must be 'k1', 'k2' or 'k3', got {kind!r}")


# --- 4. DPO and GRPO ---------------------------------------------------------------------------


def dpo_loss(
    policy_chosen_logps,
    policy_rejected_logps,
    ref_chosen_logps,
    ref_rejected_logps,
    beta: float = 0.1,
):
    """Direct Preference Optimisation loss (Rafailov et al. 2023, eq. 7).

    Each argument is (N,): the summed log-probability of a whole answer under the policy or the
    frozen reference model. The implicit reward of an answer is
    ``beta * (log pi(y|x) - log pi_ref(y|x))``, and the loss is the Bradley-Terry loss on the
    two implicit rewards. Returns ``(loss, chosen_rewards, rejected_rewards)``; the rewards
    (N,) are detached, for logging.
    """
    pc = _tensor(policy_chosen_logps, "policy_chosen_logps")
    pr = _tensor(policy_rejected_logps, "policy_rejected_logps")
    rc = _tensor(ref_chosen_logps, "ref_chosen_logps")
    rr = _tensor(ref_rejected_logps, "ref_rejected_logps")
    _same_shape(policy_chosen_logps=pc, policy_rejected_logps=pr, ref_chosen_logps=rc, ref_rejected_logps=rr)
    if isinstance(beta, bool) or not isinstance(beta, (int, float)):
        raise InputTypeError(f"beta must be a number > 0, got {beta!r} (0.1 is usual)")
    if not beta > 0 or not math.isfinite(beta):
        raise ValueError(f"beta must be a number > 0, got {beta!r} (0.1 is usual)")
    chosen_logratio, rejected_logratio = pc - rc, pr - rr
    loss = -F.logsigmoid(beta * (chosen_logratio - rejected_logratio)).mean()
    return loss, (beta * chosen_logratio).detach(), (beta * rejected_logratio).detach()


def group_relative_advantages(rewards, group_size: int, eps: float = 1e-4) -> torch.Tensor:
    """GRPO's advantages: each answer's reward standardised within its group (Shao et al. 2024).

    ``rewards``: (N,) with ``N = prompts * group_size``; the answers to one prompt are
    consecutive. Returns (N,) ``(r - mean_group) / (std_group + eps)``, with the sample standard
    deviation (Bessel's correction, as common implementations use). A group whose answers all
    get the same reward has advantage 0: it teaches nothing.
    """
    rewards = _tensor(rewards, "rewards")
    if rewards.dim() != 1:
        raise ValueError(f"rewards must have shape (N,), got {tuple(rewards.shape)}")
    if isinstance(group_size, bool) or not isinstance(group_size, int):
        raise InputTypeError(f"group_size must be an int >= 2 (answers per prompt), got {group_size!r}")
    if group_size < 2:
        raise ValueError(f"group_size must be an int >= 2 (answers per prompt), got {group_size!r}")
    eps = check_float("eps", eps, 0)
    if rewards.numel() == 0 or rewards.numel() % group_size:
        raise ValueError(
            f"rewards has {rewards.numel()} entries, not a positive multiple of group_size={group_size}"
        )
    g = rewards.view(-1, group_size)
    adv = (g - g.mean(1, keepdim=True)) / (g.std(1, keepdim=True) + eps)
    return adv.view(-1)


def grpo_loss(
    logp_new,
    logp_old,
    ref_logp,
    advantages,
    mask,
    clip_eps: float = 0.2,
    beta: float = 0.04,
) -> torch.Tensor:
    """GRPO's loss (Shao et al. 2024, eq. 3), to minimise.

    ``logp_new``, ``logp_old``, ``ref_logp``, ``mask``: (B, T) per-token log-probabilities of
    the sampled answers under the trained, sampling and reference policies, and 1 on answer
    tokens. ``advantages``: (B,) from :func:`group_relative_advantages`, shared by every token
    of an answer. Per token: the clipped PPO surrogate minus ``beta`` times the k3 KL estimate;
    averaged over each answer's tokens, then over answers.
    """
    logp_new, logp_old = _tensor(logp_new, "logp_new"), _tensor(logp_old, "logp_old")
    ref_logp, mask = _tensor(ref_logp, "ref_logp"), _tensor(mask, "mask")
    _same_shape(logp_new=logp_new, logp_old=logp_old, ref_logp=ref_logp, mask=mask)
    if logp_new.dim() != 2:
        raise ValueError(f"logp_new must have shape (B, T), got {tuple(logp_new.shape)}")
    advantages = _tensor(advantages, "advantages")
    if advantages.shape != logp_new.shape[:1]:
        raise ValueError(
            f"advantages must have shape (B,) = ({logp_new.shape[0]},), got {tuple(advantages.shape)}"
        )
    if isinstance(clip_eps, bool) or not isinstance(clip_eps, (int, float)):
        raise InputTypeError(f"clip_eps must be a number in (0, 1), got {clip_eps!r}")
    if not 0 < clip_eps < 1:
        raise ValueError(f"clip_eps must lie in (0, 1), got {clip_eps!r}")
    lengths = mask.sum(1)
    if (lengths == 0).any():
        raise ValueError("mask has an answer with no token (a row of zeros); each answer needs one")
    ratio = torch.exp(logp_new - logp_old.detach())
    a = advantages[:, None]
    surrogate = torch.minimum(ratio * a, ratio.clamp(1 - clip_eps, 1 + clip_eps) * a)
    per_token = surrogate - beta * kl_penalty(logp_new, ref_logp.detach(), "k3")
    return -((per_token * mask).sum(1) / lengths).mean()


def agreement_rate(pairs: Sequence[PreferencePair], labeller: Labeller) -> float:
    """How often ``pairs`` (a learner's labels, say) agree with ``labeller``'s true score.

    A pair agrees when the labeller's score ranks ``chosen`` above ``rejected``; a tie counts
    one half. 1.0: the same taste as the labeller; 0.5: unrelated to it (chapter 7.1).
    """
    if not hasattr(labeller, "score"):
        raise InputTypeError(f"labeller must be a Labeller (with .score(text)), got {type(labeller).__name__} "
                             f"{labeller!r:.40}")
    pairs = list(pairs)
    if not pairs:
        raise ValueError("agreement_rate got no pairs; label some answers first")
    total = 0.0
    for p in pairs:
        sc, sr = labeller.score(p.chosen, p.prompt), labeller.score(p.rejected, p.prompt)
        total += 1.0 if sc > sr else 0.5 if sc == sr else 0.0
    return total / len(pairs)


# --- 5. trainers: token sequences, a shared loop, reward model, PPO, DPO, GRPO ----------------


def tokenizer_fingerprint(tokenizer) -> str:
    """A short hash of a tokenizer's vocabulary (every token's bytes, in id order).

    A reward model stores it, so that scoring answers encoded by another tokenizer (whose ids
    mean other strings) is refused with a clear error instead of producing nonsense rewards.
    """
    import hashlib

    if not hasattr(tokenizer, "vocab_size") or not hasattr(tokenizer, "token_bytes"):
        raise InputTypeError(f"tokenizer must be a minillm tokenizer (with vocab_size and token_bytes), got "
                             f"{type(tokenizer).__name__} {tokenizer!r:.40}")
    h = hashlib.sha256()
    for i in range(tokenizer.vocab_size):
        b = tokenizer.token_bytes(i)
        h.update(len(b).to_bytes(4, "little") + b)
    return h.hexdigest()[:16]


def hidden_states(model, ids: torch.Tensor) -> torch.Tensor:
    """A :class:`minillm.model.GPT`'s last hidden states (after the final norm): (B, T) -> (B, T, C).

    ``model.head(hidden_states(model, ids))`` equals ``model(ids)[0]``; reward and value heads
    read these states instead of the next-token logits.
    """
    _check_policy(model, "model")
    model._check_idx(ids)
    rope, _ = model._attention_args(ids.size(1), None)
    x = model._embed(ids)
    for block in model.blocks:
        x = block(x, rope=rope)
    return model.norm_f(x)


class Backbone(nn.Module):
    """A GPT without its output head, as a module: ids (B, T) -> hidden states (B, T, C)."""

    def __init__(self, gpt):
        super().__init__()
        _check_policy(gpt, "gpt")
        self.gpt = gpt

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return hidden_states(self.gpt, ids)


def pad_right(rows: Sequence[Sequence[int]], pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Id lists -> right-padded ids (B, T) and a float mask (B, T), 1 at real tokens.

    With right padding and causal attention, padding never changes a real token's output, so
    training code needs no attention mask (generation pads on the left, for the cache).
    """
    pad_id = check_int("pad_id", pad_id, 0)
    if isinstance(rows, (str, bytes)) or not isinstance(rows, (Sequence, torch.Tensor)):
        raise InputTypeError(f"rows must be a list of lists of token ids, got {type(rows).__name__} {rows!r:.40}")
    for i, r in enumerate(rows):
        if isinstance(r, torch.Tensor):
            r = r.tolist()
        if isinstance(r, (str, bytes)) or not isinstance(r, Sequence):
            raise InputTypeError(f"rows[{i}] must be a list of token ids, got {r!r:.40}")
        bad = [t for t in r if isinstance(t, bool) or not isinstance(t, int)]
        if bad:
            raise InputTypeError(f"rows[{i}] holds {bad[0]!r} of type {type(bad[0]).__name__}; token ids are ints")
    if len(rows) == 0:
        raise ValueError("pad_right got no rows; pass at least one list of token ids")
    t = max(len(r) for r in rows)
    if t == 0:
        raise ValueError("every row is empty; pass at least one token")
    ids = torch.full((len(rows), t), pad_id, dtype=torch.long)
    mask = torch.zeros(len(rows), t)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.as_tensor(list(r), dtype=torch.long)
        mask[i, : len(r)] = 1
    return ids, mask


def answer_logprobs(model, prompt_ids, answer_ids, return_hidden: bool = False):
    """Per-token log-probabilities of answers given prompts, with gradient (chapter 7).

    ``prompt_ids``, ``answer_ids``: B lists of token ids each (prompts non-empty). Returns
    ``(logp, mask)``, both (B, L) with L the longest answer: ``logp[b, j] = log p(answer_b[j] |
    prompt_b, answer_b[:j])``, 0 where ``mask`` is 0 (past an answer's end). With
    ``return_hidden=True`` also the hidden states (B, L, C) from which each answer token is
    predicted: the "state" a value head reads.
    """
    _check_policy(model, "model")
    for name, v in (("prompt_ids", prompt_ids), ("answer_ids", answer_ids)):
        if isinstance(v, (str, bytes)) or not isinstance(v, Sequence) or not all(
                isinstance(r, (list, tuple)) for r in v):
            raise InputTypeError(f"{name} must be a list of lists of token ids (one per row), got {v!r:.40}")
        for i, r in enumerate(v):
            bad = [t for t in r if isinstance(t, bool) or not isinstance(t, int)]
            if bad:
                raise InputTypeError(f"{name}[{i}] holds {bad[0]!r} of type {type(bad[0]).__name__}; token ids "
                                     "are ints")
    if len(prompt_ids) != len(answer_ids):
        raise ValueError(f"{len(prompt_ids)} prompts but {len(answer_ids)} answers; pass one answer per prompt")
    check_bool("return_hidden", return_hidden)
    if any(len(p) == 0 for p in prompt_ids):
        raise ValueError("a prompt is empty; the first answer token needs a token before it")
    if not prompt_ids:
        raise ValueError("prompt_ids is empty; pass at least one row")
    rows = [list(p) + list(a) for p, a in zip(prompt_ids, answer_ids)]
    if max(len(r) for r in rows) < 2:
        raise ValueError("every prompt plus its answer is a single token, and every answer in answer_ids is "
                         "empty; there is no answer token to score")
    limit = model.config.block_size
    if max(len(r) for r in rows) > limit:
        raise ValueError(f"a prompt plus its answer has {max(len(r) for r in rows)} tokens, more than the "
                         f"model's context (block_size={limit}); use shorter prompts or max_new_tokens")
    ids, _ = pad_right(rows)
    dev = model.tok_emb.weight.device
    ids = ids.to(dev)
    h = hidden_states(model, ids)  # (B, T, C)
    logp_all = torch.log_softmax(model.head(h[:, :-1]).float(), -1).gather(-1, ids[:, 1:, None])[..., 0]
    L = max(1, max(len(a) for a in answer_ids))
    start = torch.tensor([len(p) - 1 for p in prompt_ids], device=dev)[:, None]  # predicts answer[0]
    j = torch.arange(L, device=dev)[None, :]
    mask = (j < torch.tensor([len(a) for a in answer_ids], device=dev)[:, None]).float()
    idx = (start + j).clamp(max=ids.size(1) - 2)
    logp = logp_all.gather(1, idx) * mask
    if return_hidden:
        return logp, mask, h.gather(1, idx[..., None].expand(-1, -1, h.size(-1)))
    return logp, mask


@dataclass
class RLConfig:
    """Settings shared by the chapter's trainers (reward model, PPO, DPO, GRPO).

    - ``steps``, ``lr``, ``warmup_steps``, ``min_lr`` (None: constant after warmup),
      ``weight_decay``, ``grad_clip``: the optimisation (AdamW on :func:`minillm.train.param_groups`,
      schedule :func:`minillm.train.lr_at`).
    - ``batch_size``: prompts (PPO, GRPO) or pairs (DPO, reward model) per step.
    - Sampling: ``max_new_tokens``, ``temperature``, ``stop`` (strings), ``stop_ids``.
    - PPO: ``kl_coef`` (the per-token KL penalty beta), ``clip_eps``, ``epochs`` per batch,
      ``gamma``, ``lam`` (GAE), ``vf_coef`` (value loss weight). GRPO: ``group_size``,
      ``kl_coef`` (its beta), ``clip_eps``, ``epochs``. DPO: ``dpo_beta``.
    - ``out_dir``, ``checkpoint_every`` (0: only at the end): atomic checkpoints; a trainer
      built with ``resume=True`` continues exactly where one left off. ``seed``, ``progress``.
    """

    steps: int = 100
    lr: float = 1e-4
    warmup_steps: int = 0
    min_lr: float | None = None
    weight_decay: float = 0.0
    grad_clip: float | None = 1.0
    batch_size: int = 16
    max_new_tokens: int = 24
    temperature: float = 1.0
    stop: list[str] | None = None
    stop_ids: list[int] | None = None
    kl_coef: float = 0.05
    clip_eps: float = 0.2
    epochs: int = 2
    gamma: float = 1.0
    lam: float = 0.95
    vf_coef: float = 0.5
    group_size: int = 4
    dpo_beta: float = 0.1
    out_dir: str | None = None
    checkpoint_every: int = 0
    seed: int = 0
    progress: bool = False

    def __post_init__(self):
        for name in ("steps", "batch_size", "epochs", "max_new_tokens"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int):
                raise InputTypeError(f"RLConfig.{name} must be a positive int, got {v!r}")
            if v < 1:
                raise ValueError(f"RLConfig.{name} must be a positive int, got {v!r}")
        if isinstance(self.group_size, bool) or not isinstance(self.group_size, int):
            raise InputTypeError(f"RLConfig.group_size must be an int >= 2, got {self.group_size!r}")
        if self.group_size < 2:
            raise ValueError(f"RLConfig.group_size must be an int >= 2, got {self.group_size!r}")
        for name in ("lr", "dpo_beta"):
            v = getattr(self, name)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and not v > 0:
                raise ValueError(f"RLConfig.{name} must be > 0, got {v!r}")
        if isinstance(self.kl_coef, (int, float)) and not isinstance(self.kl_coef, bool) and not self.kl_coef >= 0:
            raise ValueError(f"RLConfig.kl_coef must be >= 0 (0 removes the KL penalty), got {self.kl_coef!r}")
        try:
            self._check_fields()
        except ValueError as exc:  # InputTypeError too: keep the type, name the class
            raise type(exc)(f"RLConfig.{exc}") from None
        if self.stop is not None:
            self.stop = [self.stop] if isinstance(self.stop, str) else list(self.stop)
        if self.stop_ids is not None:
            self.stop_ids = [self.stop_ids] if isinstance(self.stop_ids, int) else list(self.stop_ids)

    def _check_fields(self) -> None:
        for name in ("lr", "dpo_beta"):
            check_float(name, getattr(self, name), 0, exclusive_minimum=True)
        check_float("kl_coef", self.kl_coef, 0)
        check_float("clip_eps", self.clip_eps, 0, 1, exclusive_minimum=True, exclusive_maximum=True)
        check_float("gamma", self.gamma, 0, 1)
        check_float("lam", self.lam, 0, 1)
        check_float("vf_coef", self.vf_coef, 0)
        check_float("temperature", self.temperature, 0)
        check_float("weight_decay", self.weight_decay, 0)
        check_float("min_lr", self.min_lr, 0, allow_none=True)
        if self.min_lr is not None and self.min_lr > self.lr:
            raise ValueError(f"RLConfig.min_lr={self.min_lr} is above lr={self.lr}; the schedule decays from lr "
                             "down to min_lr, so min_lr must be <= lr")
        check_float("grad_clip", self.grad_clip, 0, allow_none=True)
        check_int("warmup_steps", self.warmup_steps, 0)
        check_int("checkpoint_every", self.checkpoint_every, 0)
        check_int("seed", self.seed, 0)
        check_bool("progress", self.progress)
        if self.out_dir is not None and not isinstance(self.out_dir, (str, Path)):
            raise InputTypeError(f"out_dir must be a folder path (str or Path) or None, got {self.out_dir!r}")
        if self.stop is not None and not isinstance(self.stop, (str, list, tuple)):
            raise InputTypeError(f"stop must be a string or a list of strings, got {self.stop!r}")
        if self.stop_ids is not None and not isinstance(self.stop_ids, (int, list, tuple)):
            raise InputTypeError(f"stop_ids must be a token id or a list of them, got {self.stop_ids!r}")

    def schedule(self):
        """The :class:`minillm.train.TrainConfig` whose :func:`~minillm.train.lr_at` we follow."""
        from .train import TrainConfig

        return TrainConfig(steps=self.steps, lr=self.lr, warmup_steps=self.warmup_steps,
                           min_lr=self.lr if self.min_lr is None else self.min_lr, progress=False)


# settings that may differ between a run and its resumption without changing the result
_RL_RESUMABLE = {"out_dir", "checkpoint_every", "progress"}


class _Loop:
    """The part every trainer shares: optimizer, schedule, history, checkpoints, the loop."""

    kind = "loop"

    def __init__(self, modules: dict, config: RLConfig | None, resume: bool):
        from .train import param_groups

        self.cfg = RLConfig() if config is None else config
        check_bool("resume", resume)
        if not isinstance(self.cfg, RLConfig):
            raise InputTypeError(f"config must be an RLConfig, got {type(self.cfg).__name__}")
        self.modules = nn.ModuleDict(modules)
        self.step = 0
        self.history: dict[str, list] = {}
        self.seconds = 0.0
        self.generator = torch.Generator().manual_seed(self.cfg.seed)
        self.optimizer = torch.optim.AdamW(param_groups(self.modules, self.cfg.weight_decay),
                                           lr=self.cfg.lr, betas=(0.9, 0.95))
        sched = self.cfg.schedule()
        from .train import lr_at

        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: lr_at(s, sched) / self.cfg.lr)
        if resume:
            self._resume()

    # -- checkpoints (atomic; exact resume: weights, optimizer, schedule, random states) --

    @property
    def checkpoint_path(self) -> Path | None:
        return Path(self.cfg.out_dir) / f"{self.kind}.pt" if self.cfg.out_dir else None

    def state_dict(self) -> dict:
        from .train import _rng_state

        return {"format": "minillm-rlhf-1", "kind": self.kind, "step": self.step,
                "modules": {k: v.detach().cpu() for k, v in self.modules.state_dict().items()},
                "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                "generator": self.generator.get_state(), "rng": _rng_state(),
                "config": asdict(self.cfg), "history": self.history, "seconds": self.seconds}

    def save_checkpoint(self) -> Path | None:
        """Write ``out_dir/KIND.pt`` atomically: a kill mid-write leaves the previous one intact."""
        path = self.checkpoint_path
        if path is None:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as f:
            torch.save(self.state_dict(), f)
        return path

    def _resume(self) -> None:
        from .train import _set_rng_state, load_checkpoint

        if self.checkpoint_path is None:
            raise ValueError("resume=True needs RLConfig.out_dir, the folder of the checkpoint")
        state = load_checkpoint(self.checkpoint_path, fmt="minillm-rlhf-1", what="the RLHF trainers",
                                keys=("kind", "step", "config", "modules", "optimizer", "scheduler",
                                      "generator", "rng", "history", "seconds"))
        if state.get("kind") != self.kind:
            raise ValueError(f"{self.checkpoint_path} is a {state.get('kind')!r} checkpoint, not {self.kind!r}")
        mine = asdict(self.cfg)
        changed = [f"{k}: {state['config'].get(k)!r} then, {v!r} now" for k, v in mine.items()
                   if k not in _RL_RESUMABLE and state["config"].get(k) != v]
        if changed:
            raise ValueError(f"cannot resume {self.checkpoint_path} with other settings ({'; '.join(changed)}); "
                             "use the checkpoint's settings or a new out_dir")
        self.modules.load_state_dict(state["modules"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.generator.set_state(state["generator"])
        _set_rng_state(state["rng"])
        self.step, self.history, self.seconds = state["step"], state["history"], state["seconds"]

    # -- the loop --

    def _update(self, loss: torch.Tensor) -> float:
        """One optimizer step on ``loss`` (gradient clipping; a NaN stops the run untouched)."""
        if not torch.isfinite(loss):
            raise FloatingPointError(f"{self.kind}: the loss became {loss.item()} at step {self.step}; "
                                     "the weights were not updated (try a lower lr)")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        norm = torch.nn.utils.clip_grad_norm_(params, self.cfg.grad_clip or float("inf"))
        self.optimizer.step()
        return float(norm)

    def _rng(self) -> random.Random:
        """This step's random choices (prompts, pairs): a function of (seed, step) only."""
        return random.Random(self.cfg.seed * 1_000_003 + self.step)

    def train_step(self) -> dict:  # pragma: no cover - each trainer defines it
        raise NotImplementedError

    def fit(self, steps: int | None = None) -> dict[str, list]:
        """Run until ``cfg.steps`` (or ``steps`` more, if given); returns the history of lists."""
        import time

        end = self.cfg.steps if steps is None else min(self.cfg.steps, self.step + steps)
        bar = None
        if self.cfg.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=self.cfg.steps, initial=self.step, desc=self.kind, unit="step")
        try:
            while self.step < end:
                t0 = time.perf_counter()
                info = self.train_step()
                self.scheduler.step()
                self.step += 1
                self.seconds += time.perf_counter() - t0
                info = {"step": self.step, "seconds": self.seconds, **info}
                for k, v in info.items():
                    self.history.setdefault(k, []).append(v)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix({k: f"{v:.3f}" for k, v in info.items()
                                     if k in ("reward", "loss", "kl")}, refresh=False)
                if self.cfg.checkpoint_every and self.step % self.cfg.checkpoint_every == 0:
                    self.save_checkpoint()
            if self.cfg.out_dir is not None:
                self.save_checkpoint()
        finally:
            if bar is not None:
                bar.close()
        return self.history


def _check_pairs(pairs) -> list[PreferencePair]:
    pairs = list(pairs)
    if not pairs:
        raise ValueError("no preference pairs given; label some answers first (an empty file teaches nothing)")
    for i, p in enumerate(pairs):
        if not isinstance(p, PreferencePair):
            raise InputTypeError(f"pairs[{i}] must be a PreferencePair, got {type(p).__name__}")
    return pairs


class RewardModel(nn.Module):
    """A reward model on text: a copy of a GPT's backbone plus a scalar head (chapter 7.2).

    ``RewardModel(gpt, tokenizer, end="<|end|>")`` scores ``prompt + answer + end`` at its last
    token (a :class:`RewardHead` over a :class:`Backbone`). It remembers its tokenizer's
    :func:`tokenizer_fingerprint` and refuses another tokenizer. Calling it as
    ``rm(prompts, answers)`` returns rewards (B,) without gradient: a ``reward_fn`` for PPO and
    GRPO; :meth:`rewards` is the same with gradient.
    """

    def __init__(self, gpt, tokenizer, end: str = ""):
        super().__init__()
        import copy

        _check_policy(gpt, "gpt")
        if not isinstance(end, str):
            raise InputTypeError(f"end must be a str (appended to each answer), got {end!r}")
        tokenizer_fingerprint(tokenizer)  # checks that it is a tokenizer
        self.reward = RewardHead(Backbone(copy.deepcopy(gpt)), gpt.config.n_embd)
        self.tokenizer = tokenizer
        self.end = end
        self.fingerprint = tokenizer_fingerprint(tokenizer)

    def check_tokenizer(self, tokenizer) -> None:
        """Raise a ValueError if ``tokenizer`` is not the one this reward model was trained with."""
        if tokenizer_fingerprint(tokenizer) != self.fingerprint:
            raise ValueError("this reward model was made for another tokenizer (its vocabulary differs): "
                             "its rewards would be meaningless; train a reward model on the policy's tokenizer")

    def encode(self, prompts: Sequence[str], answers: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Texts -> right-padded ids (B, T) and mask (B, T), cut to the model's context."""
        for name, v in (("prompts", prompts), ("answers", answers)):
            if isinstance(v, (str, bytes)) or not isinstance(v, Sequence):
                raise InputTypeError(f"{name} must be a list of strings, got {type(v).__name__} {v!r:.40}; wrap "
                                     "a single one in a list")
            bad = [t for t in v if not isinstance(t, str)]
            if bad:
                raise InputTypeError(f"{name} must hold strings, got {bad[0]!r:.40} of type {type(bad[0]).__name__}")
        if len(prompts) != len(answers):
            raise ValueError(f"{len(prompts)} prompts but {len(answers)} answers")
        limit = self.reward.backbone.gpt.config.block_size
        rows = [self.tokenizer.encode(p + a + self.end)[-limit:] for p, a in zip(prompts, answers)]
        ids, mask = pad_right(rows)
        dev = next(self.parameters()).device
        return ids.to(dev), mask.to(dev)

    def rewards(self, prompts: Sequence[str], answers: Sequence[str]) -> torch.Tensor:
        """Rewards (B,) with gradient."""
        ids, mask = self.encode(prompts, answers)
        return self.reward(ids, mask)

    def forward(self, prompts, answers) -> torch.Tensor:
        was = self.training
        self.eval()
        try:
            with torch.no_grad():
                return self.rewards(list(prompts), list(answers))
        finally:
            self.train(was)

    def accuracy(self, pairs: Sequence[PreferencePair]) -> float:
        """Held-out pair accuracy: how often the chosen answer gets the higher reward."""
        pairs = _check_pairs(pairs)
        prompts = [p.prompt for p in pairs]
        rc = self(prompts, [p.chosen for p in pairs])
        rr = self(prompts, [p.rejected for p in pairs])
        return pair_accuracy(rc, rr)


class RewardModelTrainer(_Loop):
    """Fit a :class:`RewardModel` on preference pairs with the Bradley-Terry loss (chapter 7.2).

    Each step draws ``batch_size`` pairs; ``history`` records ``loss`` and batch ``accuracy``.
    """

    kind = "reward_model"

    def __init__(self, reward_model: RewardModel, pairs, config: RLConfig | None = None, *,
                 resume: bool = False):
        if not isinstance(reward_model, RewardModel):
            raise InputTypeError(f"reward_model must be a RewardModel, got {type(reward_model).__name__}")
        self.rm = reward_model
        self.pairs = _check_pairs(pairs)
        super().__init__({"reward_model": reward_model}, config, resume)

    def train_step(self) -> dict:
        self.rm.train()
        batch = self._rng().choices(self.pairs, k=self.cfg.batch_size)
        prompts = [p.prompt for p in batch]
        r = self.rm.rewards(prompts + prompts, [p.chosen for p in batch] + [p.rejected for p in batch])
        rc, rr = r[: len(batch)], r[len(batch):]
        loss = bradley_terry_loss(rc, rr)
        self._update(loss)
        return {"loss": loss.item(), "accuracy": pair_accuracy(rc.detach(), rr.detach())}


class _PolicyLoop(_Loop):
    """A loop that trains a policy against a frozen copy of it (the reference)."""

    def __init__(self, policy, tokenizer, extra: dict, config, resume):
        import copy

        _check_policy(policy)
        self.policy, self.tokenizer = policy, tokenizer
        # the reference is the policy as given (the SFT model): on resume, build the trainer
        # from the same SFT model; the checkpoint then restores the trained weights
        self.ref = copy.deepcopy(policy).eval().requires_grad_(False)
        super().__init__({"policy": policy, **extra}, config, resume)

    def _ids(self, texts: Sequence[str]) -> list[list[int]]:
        return [self.tokenizer.encode(t) for t in texts]

    def sample(self, prompts: Sequence[str], n: int = 1):
        """``n`` answers to each prompt from the policy (minillm.generate): (prompt ids, answer
        ids, answer texts), each a list of ``len(prompts) * n``, a prompt's answers consecutive."""
        from .generate import generate

        rows = [p for p in prompts for _ in range(n)]
        g = generate(self.policy, rows, self.tokenizer, max_new_tokens=self.cfg.max_new_tokens,
                     temperature=self.cfg.temperature, stop=self.cfg.stop, stop_ids=self.cfg.stop_ids,
                     generator=self.generator)
        return g.prompt_ids, g.ids, g.text


def _check_policy(policy, name: str = "policy") -> None:
    if not isinstance(policy, nn.Module) or not hasattr(policy, "config") or not hasattr(policy, "blocks"):
        raise InputTypeError(f"{name} must be a minillm GPT, got {type(policy).__name__}")


def _as_rewards(reward_fn, prompts, answers) -> torch.Tensor:
    r = reward_fn(list(prompts), list(answers))
    r = torch.as_tensor(r, dtype=torch.float32).detach().cpu().reshape(-1)
    if r.numel() != len(answers):
        raise ValueError(f"reward_fn returned {r.numel()} rewards for {len(answers)} answers; return one per answer")
    return r


def _check_prompts_and_reward(prompts, reward_fn, tokenizer) -> list[str]:
    if isinstance(prompts, (str, bytes)):
        raise InputTypeError(f"prompts must be a non-empty list of non-empty strings, got the single str "
                             f"{prompts!r:.40}; wrap it in a list")
    if not hasattr(tokenizer, "encode") or isinstance(tokenizer, (str, bytes)):
        raise InputTypeError(f"tokenizer must be a minillm tokenizer, got {type(tokenizer).__name__} {tokenizer!r:.40}")
    prompts = list(prompts)
    if not prompts or not all(isinstance(p, str) and p for p in prompts):
        raise ValueError("prompts must be a non-empty list of non-empty strings")
    if not callable(reward_fn):
        raise InputTypeError(f"reward_fn must be callable (prompts, answers) -> rewards, got {reward_fn!r}")
    if isinstance(reward_fn, RewardModel):
        reward_fn.check_tokenizer(tokenizer)
    return prompts


class PPOTrainer(_PolicyLoop):
    """PPO with a per-token KL penalty to the reference policy (Ouyang et al. 2022; chapter 7.3).

    Each step: sample one answer per prompt, score it with ``reward_fn(prompts, answers)``
    (a :class:`RewardModel` or any function), and turn the scores into per-token rewards
    ``r_t = -kl_coef * (log pi(a_t) - log pi_ref(a_t))``, plus the score on the last token.
    A value head on the policy's hidden states estimates the return; :func:`gae` gives the
    advantages; ``epochs`` passes minimise :func:`ppo_clip_loss` plus ``vf_coef`` times the
    clipped value loss. ``history``: reward, kl (summed over an answer), length, losses.
    """

    kind = "ppo"

    def __init__(self, policy, tokenizer, prompts, reward_fn, config: RLConfig | None = None, *,
                 resume: bool = False):
        self.prompts = _check_prompts_and_reward(prompts, reward_fn, tokenizer)
        self.reward_fn = reward_fn
        _check_policy(policy)
        value_head = nn.Linear(policy.config.n_embd, 1)
        nn.init.zeros_(value_head.weight)
        nn.init.zeros_(value_head.bias)
        super().__init__(policy, tokenizer, {"value_head": value_head}, config, resume)
        self.value_head = value_head

    def _forward(self, model, p_ids, a_ids, values: bool):
        if values:
            logp, mask, h = answer_logprobs(model, p_ids, a_ids, return_hidden=True)
            return logp, mask, self.value_head(h).squeeze(-1) * mask
        return answer_logprobs(model, p_ids, a_ids)

    def train_step(self) -> dict:
        cfg = self.cfg
        self.policy.eval()  # no dropout: the sampling and the trained policy must be the same
        prompts = self._rng().choices(self.prompts, k=cfg.batch_size)
        p_ids, a_ids, texts = self.sample(prompts)
        scores = _as_rewards(self.reward_fn, prompts, texts)
        with torch.no_grad():
            logp_old, mask, values_old = self._forward(self.policy, p_ids, a_ids, values=True)
            ref_logp, _ = self._forward(self.ref, p_ids, a_ids, values=False)
        kl = kl_penalty(logp_old, ref_logp, "k1") * mask  # (B, L) per-token KL estimate
        rewards = -cfg.kl_coef * kl
        last = mask.sum(1).long() - 1  # each answer's last token gets the labeller-side score
        rewards[torch.arange(len(last)), last] += scores.to(rewards.device)
        adv, returns = gae(rewards, values_old, mask, gamma=cfg.gamma, lam=cfg.lam)
        mean = _masked_mean(adv, mask)
        std = _masked_mean((adv - mean) ** 2, mask).sqrt()
        adv = (adv - mean) / (std + 1e-8) * mask  # whitened advantages
        for _ in range(cfg.epochs):
            logp, _, values = self._forward(self.policy, p_ids, a_ids, values=True)
            policy_loss = ppo_clip_loss(logp, logp_old, adv, cfg.clip_eps, mask)
            v_clip = values_old + (values - values_old).clamp(-cfg.clip_eps, cfg.clip_eps)
            value_loss = 0.5 * _masked_mean(torch.maximum((values - returns) ** 2, (v_clip - returns) ** 2), mask)
            self._update(policy_loss + cfg.vf_coef * value_loss)
        return {"reward": scores.mean().item(), "kl": kl.sum(1).mean().item(),
                "length": mask.sum(1).mean().item(), "policy_loss": policy_loss.item(),
                "value_loss": value_loss.item()}


class GRPOTrainer(_PolicyLoop):
    """GRPO: ``group_size`` answers per prompt, advantages relative to the group, no value model
    (Shao et al. 2024; chapter 7.5).

    ``reward_fn(prompts, answers)``: a :class:`RewardModel`, or a verifiable reward such as
    :class:`ExactAnswerReward` (RLVR). Each step samples ``batch_size * group_size`` answers,
    standardises rewards within each prompt's group (:func:`group_relative_advantages`) and
    runs ``epochs`` passes of :func:`grpo_loss` (clipped ratio, k3 KL to the reference with
    weight ``kl_coef``). ``history``: reward, kl, length, loss.
    """

    kind = "grpo"

    def __init__(self, policy, tokenizer, prompts, reward_fn, config: RLConfig | None = None, *,
                 resume: bool = False):
        self.prompts = _check_prompts_and_reward(prompts, reward_fn, tokenizer)
        self.reward_fn = reward_fn
        super().__init__(policy, tokenizer, {}, config, resume)

    def train_step(self) -> dict:
        cfg = self.cfg
        self.policy.eval()
        prompts = self._rng().choices(self.prompts, k=cfg.batch_size)
        p_ids, a_ids, texts = self.sample(prompts, cfg.group_size)
        rows = [p for p in prompts for _ in range(cfg.group_size)]
        scores = _as_rewards(self.reward_fn, rows, texts)
        adv = group_relative_advantages(scores, cfg.group_size)
        with torch.no_grad():
            logp_old, mask = answer_logprobs(self.policy, p_ids, a_ids)
            ref_logp, _ = answer_logprobs(self.ref, p_ids, a_ids)
        for _ in range(cfg.epochs):
            logp, _ = answer_logprobs(self.policy, p_ids, a_ids)
            loss = grpo_loss(logp, logp_old, ref_logp, adv.to(logp.device), mask, cfg.clip_eps, cfg.kl_coef)
            self._update(loss)
        kl = (kl_penalty(logp_old, ref_logp, "k1") * mask).sum(1)
        return {"reward": scores.mean().item(), "kl": kl.mean().item(),
                "length": mask.sum(1).mean().item(), "loss": loss.item()}


class DPOTrainer(_PolicyLoop):
    """DPO from preference pairs: no reward model, no sampling (Rafailov et al. 2023; chapter 7.4).

    ``pairs``: :class:`PreferencePair` s whose prompts and answers are text; an answer is
    scored as ``answer + end`` (``end`` is the token the policy stops with, e.g. ``"<|end|>"``).
    The reference log-probabilities are computed once. Each step minimises :func:`dpo_loss`
    (weight ``dpo_beta``) on ``batch_size`` pairs. ``history``: loss, margin (implicit reward
    of chosen minus rejected), accuracy (fraction with a positive margin).
    """

    kind = "dpo"

    def __init__(self, policy, tokenizer, pairs, config: RLConfig | None = None, *, end: str = "",
                 resume: bool = False):
        self.pairs = _check_pairs(pairs)
        self.end = end
        super().__init__(policy, tokenizer, {}, config, resume)
        self._p = self._ids([p.prompt for p in self.pairs])
        self._c = self._ids([p.chosen + end for p in self.pairs])
        self._r = self._ids([p.rejected + end for p in self.pairs])
        with torch.no_grad():
            self._ref_c, self._ref_r = self._logps(self.ref, range(len(self.pairs)))

    def _logps(self, model, idx) -> tuple[torch.Tensor, torch.Tensor]:
        idx = list(idx)
        p = [self._p[i] for i in idx]
        logp, _ = answer_logprobs(model, p + p, [self._c[i] for i in idx] + [self._r[i] for i in idx])
        total = logp.sum(1)
        return total[: len(idx)], total[len(idx):]

    def train_step(self) -> dict:
        self.policy.eval()
        idx = self._rng().choices(range(len(self.pairs)), k=self.cfg.batch_size)
        pc, pr = self._logps(self.policy, idx)
        loss, rc, rr = dpo_loss(pc, pr, self._ref_c[idx], self._ref_r[idx], self.cfg.dpo_beta)
        self._update(loss)
        return {"loss": loss.item(), "margin": (rc - rr).mean().item(),
                "accuracy": (rc > rr).float().mean().item()}


# --- 6. verifiable rewards (RLVR) ----------------------------------------------------------------


class ExactAnswerReward:
    """A verifiable reward: 1.0 when an answer contains one of its prompt's accepted answers, else 0.

    ``answers``: a dict prompt -> accepted strings (e.g. from :meth:`minillm.world.World.qa`).
    ``wrong`` (optional): a dict prompt -> strings that make an answer wrong even if it also
    holds an accepted one (the other colours for a colour question), so that listing every
    candidate does not pay. Matching is on whole words, case-insensitive. No model, nothing to
    hack but the check itself (chapter 7.6).
    """

    def __init__(self, answers: dict, wrong: dict | None = None):
        if not isinstance(answers, dict) or not answers:
            raise ValueError("answers must be a non-empty dict prompt -> accepted answers")
        for p, a in answers.items():
            if not isinstance(a, str) and not (isinstance(a, (list, tuple)) and all(isinstance(x, str) for x in a)):
                raise InputTypeError(f"answers[{p!r:.40}] must be a str or a list of str (the accepted answers), "
                                     f"got {a!r:.40}")
        self.answers = {p: tuple([a] if isinstance(a, str) else a) for p, a in answers.items()}
        if wrong is not None and not isinstance(wrong, dict):
            raise InputTypeError(f"wrong must be a dict prompt -> strings that make an answer wrong (or None), "
                                 f"got {wrong!r:.40}")
        for p, w in (wrong or {}).items():
            if not isinstance(w, str) and not (isinstance(w, (list, tuple)) and all(isinstance(x, str) for x in w)):
                raise InputTypeError(f"wrong[{p!r:.40}] must be a str or a list of str, got {w!r:.40}")
        self.wrong = {p: tuple([w] if isinstance(w, str) else w) for p, w in (wrong or {}).items()}

    def correct(self, prompt: str, answer: str) -> bool:
        import re

        if prompt not in self.answers:
            raise ValueError(f"no accepted answer known for prompt {prompt!r:.80}")
        text = answer.lower()

        def has(word):
            return re.search(rf"\b{re.escape(word.lower())}\b", text) is not None

        return any(has(a) for a in self.answers[prompt]) and not any(has(w) for w in self.wrong.get(prompt, ()))

    def __call__(self, prompts, answers) -> list[float]:
        return [float(self.correct(p, a)) for p, a in zip(prompts, answers)]


# --- 7. the chapter's task: helpful answers to TinyWorld questions --------------------------------

CHAT_TEMPLATE = "<|user|> {question}<|end|><|assistant|>"  # the space: finetune.CHAT_SPACE
PLAIN_TEMPLATE = "Question: {question}\nAnswer:"
TASK_RELATIONS = ("job", "color", "food", "pet", "birth_city")


@dataclass
class QATask:
    """Chapter 7's task: questions about TinyWorld people, and a labeller's hidden taste in answers.

    ``prompts[i]`` is ``template`` filled with ``questions[i].question`` (a
    :class:`minillm.world.QA`). The taste, :meth:`score`, is one a learner can see and judge:

    - **on topic** (+1): the answer talks about what was asked (a job for a job question, a
      colour for a colour question, a pet, a food, "born in" a place);
    - **about the person** (+1): it names the person asked about (their first name);
    - **correct** (+1): it contains the true fact;
    - **one clean sentence** (+1): it ends with a full stop and holds no second sentence;
    - **short**: -0.2 for each word beyond 8; an empty answer scores -1.

    :meth:`labeller` wraps it in a noisy :class:`Labeller`; :meth:`true_reward` measures a
    policy's answers; :meth:`verifiable` is the correctness part alone, for RLVR.
    """

    prompts: list[str]
    questions: list
    template: str
    first_names: list[str]

    def __post_init__(self):
        self._index = {p: i for i, p in enumerate(self.prompts)}

    def _find(self, prompt: str) -> int:
        if prompt not in self._index:
            raise ValueError(f"prompt {prompt!r:.80} is not one of this task's prompts")
        return self._index[prompt]

    def parts(self, prompt: str, answer: str) -> dict[str, float]:
        """The score's parts for one answer: on_topic, about_person, correct, one_sentence,
        length_penalty."""
        import re

        from .world import COLORS, FOODS, JOBS, PETS

        i = self._find(prompt)
        qa, first = self.questions[i], self.first_names[i]
        words = re.findall(r"[A-Za-z0-9']+", answer)
        lower = {w.lower() for w in words}
        topic = {"job": set(JOBS), "color": set(COLORS), "food": set(FOODS),
                 "pet": set(PETS) | {"pets", "pet"}}.get(qa.relation)
        if topic is not None:
            on_topic = bool(lower & topic)
        else:  # birth_city: "born in" a capitalised place name, not a year
            on_topic = re.search(r"\bborn in [A-Z][a-z]+", answer) is not None
        correct = any(re.search(rf"\b{re.escape(a.lower())}\b", answer.lower()) for a in qa.answers)
        text = answer.strip()
        one_sentence = text.endswith(".") and re.search(r"[.!?]\s", text) is None
        return {"on_topic": float(on_topic), "about_person": float(first in words),
                "correct": float(correct), "one_sentence": float(one_sentence),
                "length_penalty": -0.2 * max(0, len(words) - 8)}

    def score(self, prompt: str, answer: str) -> float:
        """The labeller's true score of ``answer`` to ``prompt`` (see the class docstring)."""
        if not answer.strip():
            return -1.0
        return sum(self.parts(prompt, answer).values())

    def true_reward(self, prompts, answers) -> list[float]:
        """:meth:`score` for each (prompt, answer): a ``reward_fn``, and the chapter's ground truth."""
        return [self.score(p, a) for p, a in zip(prompts, answers)]

    def labeller(self, temperature: float = 0.5) -> Labeller:
        """A simulated labeller with this taste and Bradley-Terry noise ``temperature``."""
        return Labeller(self.score, temperature, with_prompt=True)

    def verifiable(self) -> ExactAnswerReward:
        """The verifiable reward: 1 when the answer contains the true fact and no other candidate
        of its kind (another colour, food, pet or job), else 0 (RLVR)."""
        from .world import COLORS, FOODS, JOBS, PETS

        kinds = {"color": COLORS, "food": FOODS, "pet": PETS, "job": JOBS}
        wrong = {p: [w for w in kinds.get(q.relation, ()) if w not in q.answers]
                 for p, q in zip(self.prompts, self.questions)}
        return ExactAnswerReward({p: q.answers for p, q in zip(self.prompts, self.questions)}, wrong)

    def split(self, n_train: int) -> tuple[QATask, QATask]:
        """The first ``n_train`` questions and the rest, as two tasks (train and held-out)."""
        if isinstance(n_train, bool) or not isinstance(n_train, int):
            raise InputTypeError(f"n_train must be an int in 1..{len(self.prompts) - 1}, got {n_train!r}")
        if not 0 < n_train < len(self.prompts):
            raise ValueError(f"n_train must lie in 1..{len(self.prompts) - 1}, got {n_train!r}")
        a = slice(0, n_train)
        b = slice(n_train, None)
        return (QATask(self.prompts[a], self.questions[a], self.template, self.first_names[a]),
                QATask(self.prompts[b], self.questions[b], self.template, self.first_names[b]))


def qa_task(n: int = 64, seed: int = 0, template: str = CHAT_TEMPLATE,
            relations: Sequence[str] = TASK_RELATIONS, world_seed: int = 0, people=None) -> QATask:
    """``n`` distinct questions about TinyWorld people, as chapter 7's task.

    ``people``: the :class:`minillm.world.Person` s to ask about (default: all of the world's
    pretraining people, ``world.train_people``); chapter 7 asks about the chat model's cast that
    SFT never quizzed, ``minillm.zoo.course_people("tinyworld-chat")["no_qa"]``. ``template``
    turns a question into the policy's prompt: :data:`CHAT_TEMPLATE` for the chat model,
    :data:`PLAIN_TEMPLATE` for a base model.
    """
    from .data import _world
    from .world import Person

    if not isinstance(template, str):
        raise InputTypeError(f"template must be a str with '{{question}}', got {template!r}")
    if "{question}" not in template:
        raise ValueError(f"template must contain '{{question}}', got {template!r}")
    if isinstance(relations, (str, bytes)) or not hasattr(relations, "__iter__"):
        raise InputTypeError(f"relations must be a list of relations such as {list(TASK_RELATIONS)}, got "
                             f"{relations!r:.40}; wrap a single one in a list")
    if isinstance(n, bool) or not isinstance(n, int):
        raise InputTypeError(f"n must be an int >= 2, got {n!r}")
    if n < 2:
        raise ValueError(f"n must be an int >= 2, got {n!r}")
    check_int("seed", seed, 0)
    check_int("world_seed", world_seed, 0)
    world = _world(world_seed)
    if people is None:
        people = world.train_people
    if isinstance(people, (str, Person)) or not isinstance(people, Sequence) or not people:
        raise InputTypeError(f"people must be a non-empty list of Person, got {people!r:.60}")
    bad = [p for p in people if not isinstance(p, Person)]
    if bad:
        raise InputTypeError(f"people must hold Person objects (e.g. world.train_people), got {bad[0]!r:.60}")
    rng = random.Random(seed)
    prompts, questions, firsts, misses = [], [], [], 0
    while len(prompts) < n:
        person = rng.choice(people)
        qa = world.qa(person, rng.choice(list(relations)), rng)
        prompt = template.format(question=qa.question)
        if prompt in prompts:
            misses += 1
            if misses > 1000:
                raise ValueError(f"cannot find n={n} distinct questions about {len(people)} people and "
                                 f"{len(relations)} relations (found {len(prompts)}); ask for fewer")
            continue
        misses = 0
        prompts.append(prompt)
        questions.append(qa)
        firsts.append(person.first)
    return QATask(prompts, questions, template, firsts)


def course_task(n_train: int = 128, n_held: int = 32, template: str = CHAT_TEMPLATE, *,
                model: str = "tinyworld-chat", relations: Sequence[str] = TASK_RELATIONS,
                seed: int = 0) -> tuple[QATask, QATask]:
    """Chapter 7's training and held-out tasks for the course model ``model``.

    The questions ask about the part of the model's cast that SFT never asked about
    (``minillm.zoo.course_people(model)["no_qa"]``): the chat model knows these people from
    pretraining and answers most of their questions, but not all, and not always cleanly, so the
    labeller's taste leaves room to improve. The held-out questions (``n_held``) ask about other
    people (30% of that part of the cast) than the ``n_train`` training questions. A model with no
    such split (chapter 4's) gets questions about all the world's pretraining people.
    """
    from .zoo import course_people

    people = course_people(model)
    cast = people["no_qa"] if len(people["no_qa"]) >= 10 else people["world"].train_people
    cut = max(1, len(cast) * 3 // 10)
    train = qa_task(n_train, seed, template, relations, people=cast[cut:])
    held = qa_task(n_held, seed + 1, template, relations, people=cast[:cut])
    return train, held


def sample_pairs(policy, tokenizer, prompts: Sequence[str], labeller: Labeller | None = None, *,
                 max_new_tokens: int = 24, temperature: float = 1.0, stop=None, stop_ids=None,
                 seed: int = 0, skip_ties: bool = True):
    """Two answers per prompt from ``policy``; pairs with identical answers are dropped.

    Returns ``(prompt, a, b)`` triples, or, with a ``labeller``, the :class:`PreferencePair` s
    it makes (chapter 7.1: this is the data the reward model and DPO learn from). With
    ``skip_ties`` the labeller skips pairs it finds exactly as good as each other (a person
    would press "skip"): a coin-flip label only adds noise.
    """
    from .generate import generate

    rows = [p for p in prompts for _ in range(2)]
    g = generate(policy, rows, tokenizer, max_new_tokens=max_new_tokens, temperature=temperature,
                 stop=stop, stop_ids=stop_ids, seed=seed)
    rng = random.Random(seed)
    out = []
    for i, p in enumerate(prompts):
        a, b = g.text[2 * i], g.text[2 * i + 1]
        if a == b or (labeller is not None and skip_ties and labeller.score(a, p) == labeller.score(b, p)):
            continue
        out.append((p, a, b) if labeller is None else labeller.label(p, a, b, rng))
    return out


@torch.no_grad()
def evaluate_policy(policy, reference, tokenizer, prompts: Sequence[str], reward_fn, *, samples: int = 1,
                    max_new_tokens: int = 24, temperature: float = 1.0, stop=None, stop_ids=None,
                    seed: int = 1234) -> dict:
    """Sample ``samples`` answers per prompt and measure them (chapter 7's yardstick).

    Returns a dict: ``reward`` (mean of ``reward_fn(prompts, answers)``, e.g. the labeller's
    true score), ``kl`` (mean over answers of ``sum_t log pi(a_t) - log pi_ref(a_t)``: a sampled
    estimate of KL(policy || reference) per answer), ``length`` (mean answer tokens) and
    ``answers`` (the texts, prompt-major).
    """
    from .generate import generate

    rows = [p for p in prompts for _ in range(samples)]
    g = generate(policy, rows, tokenizer, max_new_tokens=max_new_tokens, temperature=temperature,
                 stop=stop, stop_ids=stop_ids, seed=seed)
    r = _as_rewards(reward_fn, rows, g.text)
    answers = [a if a else [0] for a in g.ids]  # an empty answer (cut at once) has nothing to score
    logp, mask = answer_logprobs(policy, g.prompt_ids, answers)
    ref_logp, _ = answer_logprobs(reference, g.prompt_ids, answers)
    kl = ((logp - ref_logp) * mask).sum(1)
    return {"reward": r.mean().item(), "kl": kl.mean().item(), "length": mask.sum(1).mean().item(),
            "answers": list(g.text)}


def policy_format(tokenizer, chat: bool) -> dict:
    """How chapter 7 prompts a policy and where its answers stop.

    ``chat=True`` (the chat model): :data:`CHAT_TEMPLATE`, answers end with the ``<|end|>``
    token. ``chat=False`` (the base model, whose pretraining holds ``Question:``/``Answer:``
    documents): :data:`PLAIN_TEMPLATE`, answers end at a newline. Returns a dict with
    ``template``, ``stop``, ``stop_ids`` (for :class:`RLConfig` and sampling) and ``end`` (the
    text appended to an answer when it is scored as a whole: reward model, DPO).
    """
    check_bool("chat", chat)
    if chat:
        end_id = tokenizer.token_to_id("<|end|>") if hasattr(tokenizer, "token_to_id") else None
        if end_id is None:
            raise ValueError("chat=True needs a tokenizer with the <|end|> special token")
        return {"template": CHAT_TEMPLATE, "stop": None, "stop_ids": [end_id], "end": "<|end|>"}
    return {"template": PLAIN_TEMPLATE, "stop": ["\n"], "stop_ids": None, "end": "\n"}


# --- 7. the course's aligned model ------------------------------------------------------------


def held_out_comparison(models: dict, reference, tokenizer, task: dict, *, model: str = "tinyworld-chat",
                        samples: int = 4, seed: int = 1234) -> dict:
    """The labeller's true reward, KL from ``reference`` and answer length of each of ``models``
    (``{name: policy}``) on :func:`course_task`'s held-out questions (chapters 7 and 9).

    ``task``: the ``"task"`` part of the aligned model's recipe (``n_train``, ``n_held``); the
    questions are those of ``course_task(..., model=model)``; ``samples`` answers per question in the
    chat template. Returns ``{name: evaluate_policy(...) result}``. The aligned model's builder,
    ``benchmarks/course_models.py`` and its bar test all compare the chat and aligned models with it.
    """
    if not isinstance(models, dict) or not models:
        raise ValueError(f"models must be a non-empty dict {{name: policy}}, got {type(models).__name__}")
    missing = [k for k in ("n_train", "n_held") if not isinstance(task, dict) or k not in task]
    if missing:
        raise ValueError(f"task must be the aligned recipe's 'task' dict with n_train and n_held; "
                         f"missing {missing}")
    fmt = policy_format(tokenizer, chat=True)
    _, held = course_task(task["n_train"], task["n_held"], fmt["template"], model=model)
    return {name: evaluate_policy(m, reference, tokenizer, held.prompts, held.true_reward, samples=samples,
                                  seed=seed, stop=fmt["stop"], stop_ids=fmt["stop_ids"])
            for name, m in models.items()}


def build_aligned(e, folder, base_folder, progress: bool) -> dict:
    """Builder of ``"tinyworld-aligned"`` (chapters 7 and 9): the chat model after DPO.

    Follows chapter 7's recipe at the scale the recipe gives: ``rounds`` rounds of answer pairs
    sampled from the chat model on :func:`course_task`'s training questions, labelled by the
    simulated :class:`Labeller` (noise ``labeller_temperature``), then ``steps`` DPO steps. Writes
    the policy into ``folder`` and returns its figures: the labeller's true reward and the KL from
    the chat model, before and after, on the held-out questions (``recipe["eval"]["samples"]``
    answers each). Recipe keys: ``task`` (``n_train``, ``n_held``, ``rounds``,
    ``labeller_temperature``) and ``dpo`` (``steps``, ``lr``, ``batch_size``, ``beta``).
    """
    import copy

    from .utils import seed_everything
    from .zoo import load_model_dir

    seed_everything(0)
    sft, tok = load_model_dir(base_folder)
    sft.eval()
    fmt = policy_format(tok, chat=True)
    sampling = dict(stop=fmt["stop"], stop_ids=fmt["stop_ids"])
    t, d = e.recipe["task"], e.recipe["dpo"]
    train, _ = course_task(t["n_train"], t["n_held"], fmt["template"], model=e.base)
    labeller = train.labeller(temperature=t["labeller_temperature"])
    pairs = []
    for k in range(t["rounds"]):
        pairs += sample_pairs(sft, tok, train.prompts, labeller, seed=k, **sampling)
    policy = copy.deepcopy(sft)
    trainer = DPOTrainer(policy, tok, pairs, RLConfig(steps=d["steps"], lr=d["lr"], batch_size=d["batch_size"],
                                                      dpo_beta=d["beta"], progress=progress, **sampling),
                         end=fmt["end"])
    trainer.fit()
    policy.eval()
    samples = e.recipe.get("eval", {}).get("samples", 4)
    figures = {"chat": True, "pairs": len(pairs), "agreement": round(agreement_rate(pairs, labeller), 4),
               "dpo_final_accuracy": trainer.history["accuracy"][-1]}
    compared = held_out_comparison({"chat": sft, "aligned": policy}, sft, tok, t, model=e.base,
                                   samples=samples)
    for name, r in compared.items():
        figures[f"held_out_{name}"] = {"reward": round(r["reward"], 4), "kl": round(r["kl"], 4),
                                       "length": round(r["length"], 2)}
    policy.save(folder)
    tok.save(folder / "tokenizer.json")
    return figures
