"""Muon: orthogonalised momentum for the hidden weight matrices, AdamW for the rest (chapter 4).

Muon ("Muon: An optimizer for hidden layers in neural networks", Keller Jordan, 2024,
https://kellerjordan.github.io/posts/muon/; the modded-nanogpt speedrun,
https://github.com/KellerJordan/modded-nanogpt) keeps SGD's momentum ``M`` for each weight
matrix, but steps along the *orthogonalised* momentum: with the SVD ``M = U S V^T`` the update
is ``U V^T``, every singular value set to one. A plain momentum step is dominated by a few large
directions; the orthogonal one moves every direction of the matrix by the same amount, so
rare directions learn as fast as common ones.

Computing an SVD each step is slow, so :func:`newton_schulz` approximates ``U V^T`` with five
matrix-multiply iterations of an odd polynomial ``p(X) = a X + b X X^T X + c (X X^T)^2 X``,
which pushes every singular value of ``X`` (scaled so they are all at most 1) into a band
around 1 (about ``[0.7, 1.2]``) without changing the singular vectors. That band, not exactly 1, is what the
tuned coefficients give (they trade accuracy for a steep start); Jordan reports that it does
not hurt training.

Muon is meant for the 2-D weights *inside* the network. Embeddings (lookups, not maps), the
output head, norm gains and biases keep AdamW: :func:`muon_param_groups` splits a model that way,
and :class:`Muon` runs both kinds of group in one optimizer (``use_muon`` per group), so the
trainer, its learning-rate scheduler and its checkpoints see a single ``torch.optim.Optimizer``.
"""

from __future__ import annotations

import torch
from torch import nn

from .utils import InputTypeError, check_bool, check_float, check_int

NS_COEFFS = (3.4445, -4.7750, 2.0315)  # Jordan's quintic: steep at 0, settles in [0.5, 1.5]


@torch.no_grad()
def newton_schulz(g: torch.Tensor, steps: int = 5, eps: float = 1e-7) -> torch.Tensor:
    """Approximately orthogonalise ``g`` ``(..., m, n)``: ``U S' V^T`` with ``S'`` near 1.

    ``g = U S V^T`` -> the same ``U``, ``V`` with ``S`` mapped through the polynomial 5 times.
    After scaling by ``|g|_F``, every singular value of at least ``0.002 |g|_F`` lands in
    ``[0.68, 1.21]`` (inside Jordan's ``[0.5, 1.5]``; iterate the scalar map to check); smaller
    ones grow by at most ``a**5 ~ 480`` and may stay below. Works in ``g``'s dtype (float32 on
    a CPU; bfloat16 is fine on a GPU).
    """
    if not isinstance(g, torch.Tensor) or not g.is_floating_point():
        got = f"dtype {g.dtype}" if isinstance(g, torch.Tensor) else type(g).__name__
        raise InputTypeError(f"g must be a floating-point tensor (..., m, n), got {got}")
    if g.dim() < 2:
        raise ValueError(f"newton_schulz needs a matrix (..., m, n), got shape {tuple(g.shape)}")
    steps = check_int("steps", steps, 0)
    eps = check_float("eps", eps, 0)
    a, b, c = NS_COEFFS
    x = g / (g.norm(dim=(-2, -1), keepdim=True) + eps)  # all singular values now <= 1
    wide = x.size(-2) <= x.size(-1)
    if not wide:
        x = x.mT  # iterate on the smaller Gram matrix x x^T
    for _ in range(steps):
        gram = x @ x.mT
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x if wide else x.mT


def _check_hyper(h: dict, where: str) -> dict:
    """Check Muon's hyper-parameters (defaults or one group); messages start with ``where``."""
    h = dict(h)
    lr = h["lr"]
    if isinstance(lr, (int, float)) and not isinstance(lr, bool) and not lr > 0:
        raise ValueError(f"{where}lr must be positive, got {lr!r}")
    try:
        h["lr"] = check_float("lr", lr, 0, exclusive_minimum=True)
        m = h["momentum"]
        if isinstance(m, (int, float)) and not isinstance(m, bool) and not 0.0 <= m < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {m!r}")
        h["momentum"] = check_float("momentum", m, 0, 1, exclusive_maximum=True)
        h["nesterov"] = check_bool("nesterov", h["nesterov"])
        h["ns_steps"] = check_int("ns_steps", h["ns_steps"], 1)
        betas = h["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise InputTypeError(f"betas must be a pair (beta1, beta2) such as (0.9, 0.95), got {betas!r}")
        h["betas"] = tuple(check_float(f"betas[{k}]", b, 0, 1, exclusive_maximum=True) for k, b in enumerate(betas))
        h["eps"] = check_float("eps", h["eps"], 0)
        h["weight_decay"] = check_float("weight_decay", h["weight_decay"], 0)
        h["use_muon"] = check_bool("use_muon", h["use_muon"])
    except ValueError as exc:  # InputTypeError is a ValueError too: keep its type, add where
        raise type(exc)(f"{where}{exc}") from None
    return h


class Muon(torch.optim.Optimizer):
    """Muon for groups with ``use_muon=True`` (2-D weights), AdamW for the other groups.

    Muon group (``lr``, ``momentum``, ``nesterov``, ``ns_steps``, ``weight_decay``):
    ``buf = momentum * buf + grad``; the step direction is ``grad + momentum * buf`` (Nesterov)
    or ``buf``, orthogonalised by :func:`newton_schulz` and scaled by
    ``sqrt(max(1, rows / cols))`` so tall matrices move as much per entry as wide ones.
    AdamW group (``lr``, ``betas``, ``eps``, ``weight_decay``): the usual decoupled AdamW
    (Loshchilov and Hutter, 2019), the same numbers as ``torch.optim.AdamW``.
    Weight decay in both is decoupled: ``p -= lr * weight_decay * p``.
    """

    def __init__(self, params, lr: float = 0.02, momentum: float = 0.95, nesterov: bool = True,
                 ns_steps: int = 5, betas=(0.9, 0.95), eps: float = 1e-8, weight_decay: float = 0.0):
        defaults = dict(lr=lr, momentum=momentum, nesterov=nesterov, ns_steps=ns_steps,
                        betas=betas, eps=eps, weight_decay=weight_decay, use_muon=True)
        defaults = _check_hyper(defaults, "Muon: ")
        super().__init__(params, defaults)
        for i, group in enumerate(self.param_groups):
            group.update(_check_hyper(group, f"Muon: param_groups[{i}]: "))
            if group["use_muon"]:
                bad = [tuple(p.shape) for p in group["params"] if p.dim() != 2]
                if bad:
                    raise ValueError(f"Muon: use_muon groups take 2-D weight matrices only, got "
                                     f"shapes {bad}; put vectors and scalars in a use_muon=False group")

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            if group["use_muon"]:
                self._muon_step(group)
                continue
            lr, wd = group["lr"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                p.mul_(1 - lr * wd)
                # AdamW
                if not state:
                    state["step"] = torch.tensor(0.0)
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                t = state["step"].item()
                (b1, b2), m, v = group["betas"], state["exp_avg"], state["exp_avg_sq"]
                m.lerp_(p.grad, 1 - b1)
                v.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
                denom = (v / (1 - b2**t)).sqrt_().add_(group["eps"])
                p.addcdiv_(m, denom, value=-lr / (1 - b1**t))
        return loss

    def _muon_step(self, group: dict) -> None:
        """One Muon step for a ``use_muon`` group: momentum, then Newton-Schulz, then the update.

        Matrices of the same shape (the same layer in every block) are stacked and orthogonalised
        in one batched :func:`newton_schulz` call: the same numbers as one call per matrix, in a
        few large multiplies instead of many small ones (modded-nanogpt batches them too).
        """
        lr, wd, mom = group["lr"], group["weight_decay"], group["momentum"]
        same_shape: dict[tuple, list] = {}
        for p in group["params"]:
            if p.grad is None:
                continue
            buf = self.state[p].setdefault("momentum_buffer", torch.zeros_like(p))
            buf.mul_(mom).add_(p.grad)
            g = p.grad.add(buf, alpha=mom) if group["nesterov"] else buf
            same_shape.setdefault((tuple(p.shape), p.dtype, p.device), []).append((p, g))
        for items in same_shape.values():
            updates = newton_schulz(torch.stack([g for _, g in items]), group["ns_steps"])
            for (p, _), update in zip(items, updates):
                p.mul_(1 - lr * wd)
                p.add_(update, alpha=-lr * max(1.0, p.size(0) / p.size(1)) ** 0.5)


def muon_param_groups(model: nn.Module, *, lr: float, muon_lr: float, weight_decay: float,
                      muon_weight_decay: float | None = None) -> list[dict]:
    """Split ``model``'s parameters for :class:`Muon`: hidden matrices vs everything else.

    Muon (``use_muon=True``, ``muon_lr``): every 2-D parameter except embedding tables (and
    anything tied to one) and a parameter named ``head.weight`` (the output layer). AdamW
    (``lr``): an untied head with ``weight_decay`` (as :func:`minillm.train.param_groups` does);
    embeddings, norm gains and biases without decay.
    The AdamW groups come first, so ``param_groups[0]["lr"]`` is the familiar AdamW rate.
    """
    if not isinstance(model, nn.Module):
        raise InputTypeError(f"model must be a torch nn.Module, got {type(model).__name__}")
    lr = check_float("lr", lr, 0, exclusive_minimum=True)
    muon_lr = check_float("muon_lr", muon_lr, 0, exclusive_minimum=True)
    weight_decay = check_float("weight_decay", weight_decay, 0)
    muon_weight_decay = check_float("muon_weight_decay", muon_weight_decay, 0, allow_none=True)
    embeds = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    head, no_decay, hidden, seen = [], [], [], set()
    for name, p in model.named_parameters():
        if not p.requires_grad or id(p) in seen:
            continue
        seen.add(id(p))
        if id(p) in embeds or p.dim() != 2:
            no_decay.append(p)
        elif name.split(".")[-2:] == ["head", "weight"]:
            head.append(p)
        else:
            hidden.append(p)
    wd = weight_decay if muon_weight_decay is None else muon_weight_decay
    return [
        {"params": head, "use_muon": False, "lr": lr, "weight_decay": weight_decay},
        {"params": no_decay, "use_muon": False, "lr": lr, "weight_decay": 0.0},
        {"params": hidden, "use_muon": True, "lr": muon_lr, "weight_decay": wd},
    ]
