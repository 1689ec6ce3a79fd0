"""LoRA from scratch: low-rank adapters on a frozen model (chapter 6).

LoRA (Hu et al., 2021, "LoRA: Low-Rank Adaptation of Large Language Models",
https://arxiv.org/abs/2106.09685) fine-tunes a linear layer ``y = x W^T + b`` without touching
``W``: it learns a low-rank update ``delta W = (alpha / r) * B @ A`` with ``A`` of shape
``(r, in)`` and ``B`` of shape ``(out, r)``. ``A`` starts random and ``B`` at zero, so at step 0
the adapted model *is* the base model; only ``r * (in + out)`` numbers per layer train.

- :class:`LoRALinear` wraps an ``nn.Linear``: ``forward(x) = base(x) + (alpha/r) * dropout(x) @ A^T @ B^T``.
  :meth:`LoRALinear.merge` folds the update into ``W`` (no extra cost at inference) and
  :meth:`LoRALinear.unmerge` takes it out again, exactly up to float rounding.
- :func:`apply_lora` wraps the chosen linear layers of a model (by name suffix, as Hugging Face
  ``peft``'s ``target_modules``) and freezes everything else; :func:`merge_lora` /
  :func:`unmerge_lora` act on all of them; :func:`trainable_parameters` counts what trains.
- :func:`save_adapter` writes only ``A`` and ``B`` (a safetensors file, kilobytes) with the rank,
  alpha, targets and a fingerprint of the base model; :func:`load_adapter` puts them onto a
  base and refuses a file made for another base.

The initialisation follows ``peft`` (``A`` Kaiming-uniform with ``a = sqrt(5)``, ``B`` zero), and a
test checks forward passes and merged weights against ``peft``'s ``LoraConfig``/``get_peft_model``.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import torch
from torch import nn

from .utils import InputTypeError, atomic_write, check_bool, check_float

ADAPTER_FORMAT = "minillm-lora-1"


class LoRALinear(nn.Module):
    """A frozen ``nn.Linear`` plus a trainable low-rank update (see the module docstring).

    ``base``: the layer to adapt (its weights are frozen); ``r``: the rank, ``1 <= r <=
    min(in_features, out_features)``; ``alpha``: the update is scaled by ``alpha / r``;
    ``dropout``: dropout on the update's input. Input ``(..., in)``, output ``(..., out)``.
    """

    def __init__(self, base: nn.Linear, r: int, alpha: float = 1.0, dropout: float = 0.0):
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise InputTypeError(f"LoRALinear adapts an nn.Linear, got {type(base).__name__}")
        _check_rank(r, base)
        alpha, dropout = _check_alpha_dropout(alpha, dropout)
        self.base = base
        self.r, self.alpha = r, float(alpha)
        self.scaling = self.alpha / r
        for p in base.parameters():
            p.requires_grad_(False)
        w = base.weight
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features, dtype=w.dtype, device=w.device))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r, dtype=w.dtype, device=w.device))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))  # as peft (and nn.Linear) do
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.merged = False

    @property
    def in_features(self) -> int:
        return self.base.in_features

    @property
    def out_features(self) -> int:
        return self.base.out_features

    @property
    def weight(self) -> torch.Tensor:
        """The weight this layer applies, ``(out, in)``: the base weight plus the update
        ``(alpha / r) B A`` (or just the base weight once merged, the update being in it).

        Code that reads a layer's ``weight`` instead of calling it, such as the inference fast
        path of :meth:`minillm.model.GPT.forward_cached` (chapter 5), then computes what the
        adapted layer computes; the frozen base weight itself is ``self.base.weight``.
        """
        if self.merged:
            return self.base.weight
        return self.base.weight + self.delta_weight()

    @property
    def bias(self):
        return self.base.bias

    def delta_weight(self) -> torch.Tensor:
        """The update ``(alpha / r) * B @ A``, shaped like the base weight ``(out, in)``."""
        return (self.lora_B @ self.lora_A) * self.scaling

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.base(x)
        if self.merged:
            return y
        return y + (self.dropout(x) @ self.lora_A.t() @ self.lora_B.t()) * self.scaling

    @torch.no_grad()
    def merge(self) -> None:
        """Add the update into the base weight; the forward then skips the adapter."""
        if self.merged:
            raise RuntimeError("this LoRA layer is already merged; unmerge() it first")
        self.base.weight += self.delta_weight()
        self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        """Subtract the update from the base weight again (the inverse of :meth:`merge`)."""
        if not self.merged:
            raise RuntimeError("this LoRA layer is not merged; nothing to unmerge")
        self.base.weight -= self.delta_weight()
        self.merged = False

    def extra_repr(self) -> str:
        return f"{self.in_features}->{self.out_features}, r={self.r}, alpha={self.alpha:g}, merged={self.merged}"


def _check_rank(r, base: nn.Linear, name: str = "") -> int:
    limit = min(base.in_features, base.out_features)
    msg = (f"rank r must be an int from 1 to min(in_features, out_features) = {limit} for this "
           f"{base.in_features}->{base.out_features} layer{name}, got {r!r}")
    if isinstance(r, bool) or not isinstance(r, int):
        raise InputTypeError(msg + f" of type {type(r).__name__}")
    if not 1 <= r <= limit:
        raise ValueError(msg)
    return r


def _check_alpha_dropout(alpha, dropout) -> tuple[float, float]:
    if isinstance(alpha, (int, float)) and not isinstance(alpha, bool) and not alpha > 0:
        raise ValueError(f"alpha must be positive, got {alpha!r}")  # (the wording tests and users know)
    alpha = check_float("alpha", alpha, 0, exclusive_minimum=True)
    dropout = check_float("dropout", dropout, 0, 1, exclusive_maximum=True)
    return alpha, dropout


def _check_module(model, name: str = "model") -> None:
    if not isinstance(model, nn.Module):
        raise InputTypeError(f"{name} must be a torch nn.Module (a minillm GPT), got {type(model).__name__} "
                             f"{model!r:.40}")


def _check_path(path, name: str = "path") -> Path:
    if not isinstance(path, (str, Path)) or isinstance(path, str) and not path:
        raise InputTypeError(f"{name} must be a file path (str or Path), got {path!r}")
    return Path(path)


def _linear_names(model: nn.Module) -> list[str]:
    return [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]


def _matches(name: str, target: str) -> bool:
    return name == target or name.endswith("." + target)


def apply_lora(model: nn.Module, r: int = 8, alpha: float = 16.0,
               target_modules=("attn.qkv", "attn.proj"), dropout: float = 0.0) -> nn.Module:
    """Wrap the linear layers named by ``target_modules`` in :class:`LoRALinear`, freeze the rest.

    A module matches a target if its name is the target or ends with ``"." + target`` (so
    ``"qkv"`` matches ``blocks.0.attn.qkv``), as in ``peft``. Every target must match at least
    one ``nn.Linear``. Modifies ``model`` in place and returns it; only the adapters train.
    """
    _check_module(model)
    if isinstance(target_modules, str):
        target_modules = (target_modules,)
    if not isinstance(target_modules, (list, tuple, set, frozenset)):
        raise InputTypeError(f"target_modules must be a layer name or a list of them (e.g. ['attn.qkv']), "
                             f"got {target_modules!r}")
    target_modules = tuple(target_modules)
    if not target_modules:
        raise ValueError("target_modules is empty; name at least one linear layer, e.g. 'attn.qkv'")
    wrong = [t for t in target_modules if not isinstance(t, str) or not t]
    if wrong:
        raise InputTypeError(f"target_modules must hold layer names (non-empty str), got {wrong[0]!r} in "
                             f"{list(target_modules)!r}")
    alpha, dropout = _check_alpha_dropout(alpha, dropout)
    linears = _linear_names(model)
    if any(isinstance(m, LoRALinear) for m in model.modules()):
        raise ValueError("this model already has LoRA layers; apply LoRA once")
    for t in target_modules:
        if not any(_matches(n, t) for n in linears):
            raise ValueError(f"target module {t!r} matches no nn.Linear of the model; its linear "
                             f"layers are: {', '.join(linears[:8])}{' ...' if len(linears) > 8 else ''}")
    chosen = [n for n in linears if any(_matches(n, t) for t in target_modules)]
    for name in chosen:  # every rank check before anything is frozen or wrapped
        _check_rank(r, model.get_submodule(name), f" ({name})")
    for p in model.parameters():
        p.requires_grad_(False)
    for name in chosen:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, LoRALinear(getattr(parent, child), r, alpha, dropout))
    model.lora_config = {"r": r, "alpha": float(alpha), "target_modules": list(target_modules),
                         "layers": chosen}
    return model


def lora_layers(model: nn.Module) -> dict[str, LoRALinear]:
    """The model's :class:`LoRALinear` layers by name."""
    _check_module(model)
    return {n: m for n, m in model.named_modules() if isinstance(m, LoRALinear)}


def _require_lora(model) -> dict[str, LoRALinear]:
    layers = lora_layers(model)
    if not layers:
        raise ValueError("the model has no LoRA layers; call apply_lora(model, ...) first")
    return layers


def merge_lora(model: nn.Module) -> nn.Module:
    """Merge every adapter into its base weight (see :meth:`LoRALinear.merge`)."""
    for m in _require_lora(model).values():
        m.merge()
    return model


def unmerge_lora(model: nn.Module) -> nn.Module:
    """Undo :func:`merge_lora`."""
    for m in _require_lora(model).values():
        m.unmerge()
    return model


def trainable_parameters(model: nn.Module) -> tuple[int, int]:
    """``(trainable, total)`` parameter counts (LoRA's ``A`` and ``B`` included in the total)."""
    _check_module(model)
    seen, trainable, total = set(), 0, 0
    for p in model.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        total += p.numel()
        trainable += p.numel() if p.requires_grad else 0
    return trainable, total


def base_fingerprint(model: nn.Module) -> str:
    """A short hash of the base model's frozen weights (LoRA matrices left out, merged or not).

    Two models with the same architecture but different weights have different fingerprints,
    so an adapter is never loaded onto the wrong base.
    """
    h = hashlib.sha256()
    if any(m.merged for m in lora_layers(model).values()):
        raise ValueError("unmerge the LoRA layers before fingerprinting the base")
    for name, t in sorted(model.state_dict().items()):
        if "lora_A" in name or "lora_B" in name:
            continue
        name = name.replace(".base.", ".")
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().float().cpu().contiguous().numpy().tobytes()[:4096])
        h.update(repr(float(t.detach().double().sum())).encode())
    return h.hexdigest()[:16]


def save_adapter(model: nn.Module, path) -> Path:
    """Write only the adapters (``lora_A``/``lora_B`` of every LoRA layer) to a safetensors file.

    The file's metadata holds the rank, alpha, targets and :func:`base_fingerprint`, so
    :func:`load_adapter` can check it. The write is atomic.
    """
    from safetensors.torch import save as st_save

    path = _check_path(path)
    layers = _require_lora(model)
    if any(m.merged for m in layers.values()):
        raise ValueError("unmerge the LoRA layers (unmerge_lora) before saving the adapter")
    tensors = {}
    for name, m in layers.items():
        tensors[f"{name}.lora_A"] = m.lora_A.detach().cpu().contiguous()
        tensors[f"{name}.lora_B"] = m.lora_B.detach().cpu().contiguous()
    cfg = getattr(model, "lora_config", {})
    meta = {"format": ADAPTER_FORMAT, "base": base_fingerprint(model),
            "config": json.dumps({"r": cfg.get("r"), "alpha": cfg.get("alpha"),
                                  "target_modules": cfg.get("target_modules")})}
    if path.suffix != ".safetensors":
        raise ValueError(f"path {str(path)!r} should end in .safetensors")
    with atomic_write(path) as f:
        f.write(st_save(tensors, metadata=meta))
    return path


def load_adapter(model: nn.Module, path, *, check_base: bool = True) -> nn.Module:
    """Put an adapter written by :func:`save_adapter` onto ``model`` (a base without LoRA).

    Wraps the same layers with the file's rank and alpha, loads ``A`` and ``B``, and returns the
    model. Raises ``ValueError`` if the file was made for another base model (its fingerprint
    differs; ``check_base=False`` skips that check) or does not fit the model's layers.
    """
    from safetensors import safe_open

    _check_module(model)
    path = _check_path(path)
    check_bool("check_base", check_base)
    if not path.is_file():
        raise FileNotFoundError(f"adapter file {path} not found; write one with save_adapter")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:
        raise ValueError(f"{path} is not a readable safetensors adapter ({exc})") from exc
    if meta.get("format") != ADAPTER_FORMAT:
        raise ValueError(f"{path} is not a minillm LoRA adapter (format {meta.get('format')!r}); write "
                         "one with save_adapter(model, path)")
    cfg = _adapter_config(path, meta, tensors)
    if lora_layers(model):
        raise ValueError("the model already has LoRA layers; load the adapter onto a plain base")
    if check_base and meta.get("base") != base_fingerprint(model):
        raise ValueError(f"the adapter {path} was trained on another base model (fingerprint "
                         f"{meta['base']}, this model's is {base_fingerprint(model)}); load it onto "
                         "the model it was made for, or pass check_base=False if you know better")
    layer_names = sorted({k.rsplit(".", 1)[0] for k in tensors})
    modules = dict(model.named_modules())
    for name in layer_names:
        layer = modules.get(name)
        if not isinstance(layer, nn.Linear):
            raise ValueError(f"the adapter adapts {name!r}, which is not a linear layer of this model")
        a, b = tensors[f"{name}.lora_A"], tensors[f"{name}.lora_B"]
        need_a, need_b = (cfg["r"], layer.in_features), (layer.out_features, cfg["r"])
        if tuple(a.shape) != need_a or tuple(b.shape) != need_b:  # checked before the model changes
            raise ValueError(f"adapter tensors for {name} have shapes {tuple(a.shape)}, {tuple(b.shape)}; "
                             f"the layer needs {need_a}, {need_b}: {path} was made for a model of "
                             "another architecture")
    apply_lora(model, cfg["r"], cfg["alpha"], target_modules=layer_names)
    layers = lora_layers(model)
    with torch.no_grad():
        for name in layer_names:
            a, b = tensors[f"{name}.lora_A"], tensors[f"{name}.lora_B"]
            m = layers[name]
            if a.shape != m.lora_A.shape or b.shape != m.lora_B.shape:
                raise ValueError(f"adapter tensors for {name} have shapes {tuple(a.shape)}, "
                                 f"{tuple(b.shape)}; the layer needs {tuple(m.lora_A.shape)}, "
                                 f"{tuple(m.lora_B.shape)}")
            m.lora_A.copy_(a)
            m.lora_B.copy_(b)
    model.lora_config["target_modules"] = cfg.get("target_modules") or layer_names
    return model


def _adapter_config(path: Path, meta: dict, tensors: dict) -> dict:
    """The adapter file's config (rank, alpha), each field checked; errors name the file and field."""
    try:
        cfg = json.loads(meta.get("config", ""))
    except json.JSONDecodeError:
        raise ValueError(f"{path}: the metadata field 'config' is not valid JSON; the file is damaged, "
                         "save the adapter again") from None
    if not isinstance(cfg, dict):
        raise ValueError(f"{path}: the metadata field 'config' must be a JSON object, got {cfg!r:.60}")
    r, alpha = cfg.get("r"), cfg.get("alpha")
    if isinstance(r, bool) or not isinstance(r, int) or r < 1:
        raise ValueError(f"{path}: config.r must be a positive int (the rank), got {r!r}")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not alpha > 0:
        raise ValueError(f"{path}: config.alpha must be a positive number, got {alpha!r}")
    if not tensors:
        raise ValueError(f"{path} holds no tensors; the adapter is empty, save it again")
    for k in tensors:
        layer, _, leaf = k.rpartition(".")
        other = "lora_B" if leaf == "lora_A" else "lora_A"
        if leaf not in ("lora_A", "lora_B") or f"{layer}.{other}" not in tensors:
            raise ValueError(f"{path}: tensor {k!r} is not one of a lora_A/lora_B pair; the file is not "
                             "an adapter written by save_adapter")
    return cfg
