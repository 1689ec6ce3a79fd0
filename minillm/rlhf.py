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
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .utils import atomic_write

# --- helpers -----------------------------------------------------------------------------------


def _tensor(x, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        try:
            x = torch.as_tensor(x, dtype=torch.float32)
        except (TypeError, ValueError) as e:
            raise TypeError(f"{name} must be a tensor of numbers, got {type(x).__name__}") from e
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
                raise TypeError(f"PreferencePair.{field} must be a str, got {getattr(self, field)!r}")
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

    def __init__(self, score_fn: Callable[[str], float], temperature: float = 1.0):
        if not callable(score_fn):
            raise TypeError(f"score_fn must be a callable text -> score, got {score_fn!r}")
        if not isinstance(temperature, (int, float)) or not temperature >= 0:
            raise ValueError(f"temperature must be a number >= 0, got {temperature!r}")
        self.score_fn = score_fn
        self.temperature = float(temperature)

    def prob_prefers_first(self, a: str, b: str) -> float:
        """The probability that the labeller prefers ``a`` to ``b``."""
        diff = float(self.score_fn(a)) - float(self.score_fn(b))
        if self.temperature == 0:
            return 0.5 if diff == 0 else float(diff > 0)
        return 1.0 / (1.0 + math.exp(-max(min(diff / self.temperature, 700.0), -700.0)))

    def prefer(self, a: str, b: str, rng) -> int:
        """Return 0 if the labeller prefers ``a`` (the first answer), 1 if it prefers ``b``.

        ``rng`` is anything with a ``random()`` method returning a float in [0, 1)
        (``random.Random(seed)`` or ``numpy.random.default_rng(seed)``).
        """
        if a == b:
            raise ValueError(f"prefer got the same answer twice ({a!r}); pass two different answers")
        if not hasattr(rng, "random"):
            raise TypeError(f"rng must have a random() method (e.g. random.Random(0)), got {rng!r}")
        return 0 if rng.random() < self.prob_prefers_first(a, b) else 1

    def label(self, prompt: str, a: str, b: str, rng) -> PreferencePair:
        """Ask the labeller to compare ``a`` and ``b`` for ``prompt``; return the pair it makes."""
        if self.prefer(a, b, rng) == 0:
            return PreferencePair(prompt, a, b)
        return PreferencePair(prompt, b, a)

    def noise_ceiling(self, pairs: Sequence[tuple[str, str]]) -> float:
        """The expected accuracy of the best possible predictor of this labeller's choices.

        For each ``(a, b)`` the best guess is the answer with the higher true score; it agrees
        with the labeller with probability ``max(p, 1 - p)``. The mean over pairs is the ceiling.
        """
        if len(pairs) == 0:
            raise ValueError("noise_ceiling got no pairs; pass a list of (answer_a, answer_b)")
        probs = [self.prob_prefers_first(a, b) for a, b in pairs]
        return sum(max(p, 1 - p) for p in probs) / len(probs)


def save_preferences(pairs: Sequence[PreferencePair], path) -> Path:
    """Write preference pairs to a JSON file (atomically: a crash never leaves half a file)."""
    pairs = list(pairs)
    for i, p in enumerate(pairs):
        if not isinstance(p, PreferencePair):
            raise TypeError(f"pairs[{i}] must be a PreferencePair, got {type(p).__name__}")
    path = Path(path)
    with atomic_write(path, "w") as f:
        json.dump({"pairs": [asdict(p) for p in pairs]}, f, indent=1, ensure_ascii=False)
    return path


def load_preferences(path) -> list[PreferencePair]:
    """Read the pairs :func:`save_preferences` wrote. An empty file of labels is an error."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no preference file at {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"preference file {path} is not valid JSON: {e}") from e
    if not isinstance(data, dict) or not isinstance(data.get("pairs"), list):
        raise ValueError(f"preference file {path} must hold {{'pairs': [...]}}")
    if not data["pairs"]:
        raise ValueError(f"preference file {path} holds no pairs; label some answers first")
    out = []
    for i, d in enumerate(data["pairs"]):
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
            raise TypeError(f"backbone must be callable (ids -> hidden (B, T, C)), got {backbone!r}")
        if not isinstance(hidden_size, int) or hidden_size < 1:
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
    if len(chosen) != len(rejected):
        raise ValueError(f"chosen has {len(chosen)} pairs but rejected has {len(rejected)}")
    if len(chosen) == 0:
        raise ValueError("chosen is empty; pass at least one preference pair")
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
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
    if not isinstance(beta, (int, float)) or not beta > 0:
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
    if not isinstance(group_size, int) or group_size < 2:
        raise ValueError(f"group_size must be an int >= 2 (answers per prompt), got {group_size!r}")
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
