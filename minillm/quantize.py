"""Weight-only quantisation: int8 per channel and 4-bit groups, a quantised Linear, files (chapter 10).

A float32 weight takes 4 bytes; int8 takes 1 and a 4-bit code half a byte. We store small
integers plus a float scale for each row (int8) or each group of ``group_size`` weights (int4),
and turn them back into floats at each forward pass. Activations stay in floating point.

1. :func:`quantize_int8` / :func:`dequantize_int8`: symmetric absmax, one scale per output row.
2. :func:`quantize_int4` / :func:`dequantize_int4`: one scale (and zero point) per group, two
   4-bit codes packed in each byte (:func:`pack_int4`, :func:`unpack_int4`).
3. :class:`QuantLinear` and :func:`quantize_model`: swap a model's ``nn.Linear`` layers.
4. :func:`model_size_bytes`, :func:`save_quantized`, :func:`load_quantized`.

Papers:

- Dettmers, Lewis, Belkada, Zettlemoyer (2022), "LLM.int8(): 8-bit Matrix Multiplication for
  Transformers at Scale" (absmax, per-row scales). https://arxiv.org/abs/2208.07339
- Jacob et al. (2018), "Quantization and Training of Neural Networks for Efficient
  Integer-Arithmetic-Only Inference" (scale and zero point). https://arxiv.org/abs/1712.05877
- Frantar, Ashkboos, Hoefler, Alistarh (2023), "GPTQ: Accurate Post-Training Quantization for
  Generative Pre-trained Transformers" (4-bit weights in groups). https://arxiv.org/abs/2210.17323
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from safetensors.torch import save as safetensors_bytes
from torch import nn

from .utils import InputTypeError, atomic_write, check_bool, check_int, check_output_dir, read_json

WEIGHTS_FILE = "quantized.safetensors"
CONFIG_FILE = "quantization.json"


def _check_weight(w) -> torch.Tensor:
    if not isinstance(w, torch.Tensor) or w.dim() != 2 or not w.is_floating_point():
        got = tuple(w.shape) if isinstance(w, torch.Tensor) else type(w).__name__
        raise ValueError(f"w must be a 2-D float tensor (out_features, in_features), got {got}")
    if not torch.isfinite(w).all():
        raise ValueError("w holds inf or NaN; quantisation needs finite weights")
    return w.detach().float()


def _check_bits(bits) -> int:
    if isinstance(bits, bool) or bits not in (4, 8):
        raise ValueError(f"bits must be 4 or 8, got {bits!r}")
    return bits


# --- 1. int8, one scale per output row -----------------------------------------------------------


def quantize_int8(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric absmax int8: ``q = round(w / s)`` with ``s = max|w_row| / 127`` per row.

    ``w``: (out, in). Returns ``q`` (out, in) int8 in [-127, 127] and ``scale`` (out,) float32.
    Each weight comes back within ``scale / 2`` of where it was. A row of zeros gets scale 1.
    """
    w = _check_weight(w)
    absmax = w.abs().amax(dim=1)
    scale = torch.where(absmax > 0, absmax / 127, torch.ones_like(absmax))
    q = torch.round(w / scale[:, None]).clamp(-127, 127).to(torch.int8)
    return q, scale


def dequantize_int8(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Back to float32: ``q * scale`` row by row. ``q`` (out, in) int8, ``scale`` (out,)."""
    if not isinstance(q, torch.Tensor) or q.dtype != torch.int8 or q.dim() != 2:
        got = f"{q.dtype} {tuple(q.shape)}" if isinstance(q, torch.Tensor) else type(q).__name__
        raise InputTypeError(f"q must be an int8 tensor (out, in) from quantize_int8, got {got}")
    if not isinstance(scale, torch.Tensor) or scale.shape != q.shape[:1]:
        got = tuple(scale.shape) if isinstance(scale, torch.Tensor) else type(scale).__name__
        raise ValueError(f"scale must be a tensor of shape ({q.shape[0]},), one per row of q, got {got}")
    return q.float() * scale[:, None]


# --- 2. 4-bit groups, packed two per byte ------------------------------------------------------


def pack_int4(codes: torch.Tensor) -> torch.Tensor:
    """Pack 4-bit codes (uint8 values 0..15, last dimension even) two per byte.

    Code ``2i`` goes in the low nibble of byte ``i``, code ``2i + 1`` in the high nibble.
    (..., n) -> (..., n // 2) uint8.
    """
    if not isinstance(codes, torch.Tensor) or codes.dtype == torch.bool:
        got = f"dtype {codes.dtype}" if isinstance(codes, torch.Tensor) else type(codes).__name__
        raise InputTypeError(f"codes must be a tensor of 4-bit codes 0..15, got {got}")
    if codes.is_floating_point() and not torch.equal(codes, codes.round()):
        raise ValueError("codes must be whole numbers 0..15 (4-bit codes), got fractional values; round them")
    if codes.dim() == 0 or codes.shape[-1] % 2:
        raise ValueError(f"codes' last dimension must be even to pack two per byte, got {codes.shape[-1]}")
    if codes.numel() and (codes.min() < 0 or codes.max() > 15):
        raise ValueError("codes must lie in [0, 15] (4 bits)")
    c = codes.to(torch.uint8)
    return c[..., 0::2] | (c[..., 1::2] << 4)


def unpack_int4(packed: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`pack_int4`: (..., m) uint8 -> (..., 2m) codes 0..15 (uint8)."""
    if not isinstance(packed, torch.Tensor) or packed.dtype != torch.uint8:
        got = f"dtype {packed.dtype}" if isinstance(packed, torch.Tensor) else type(packed).__name__
        raise InputTypeError(f"packed must be a uint8 tensor from pack_int4, got {got}")
    low, high = packed & 0x0F, packed >> 4
    return torch.stack([low, high], dim=-1).flatten(-2)


def quantize_int4(w: torch.Tensor, group_size: int = 64, symmetric: bool = True):
    """4-bit quantisation in groups of ``group_size`` consecutive weights of a row.

    ``w``: (out, in) with ``in`` divisible by ``group_size``. Returns ``(packed, scale, zero)``:
    ``packed`` (out, in // 2) uint8, ``scale`` and ``zero`` (out, in // group_size), float32
    and uint8. A weight is ``(code - zero) * scale``.

    - symmetric: ``scale = max|w| / 7``, codes ``round(w / scale) + 8``, ``zero = 8``;
    - asymmetric: the range ``[min(w, 0), max(w, 0)]`` is cut in 15 steps, and ``zero`` is the
      code of 0.0; it uses all 16 codes, so it fits a lopsided group better.

    Each weight comes back within ``scale / 2`` of where it was.
    """
    w = _check_weight(w)
    check_bool("symmetric", symmetric)
    if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 2 or group_size % 2:
        raise ValueError(f"group_size must be an even int >= 2, got {group_size!r} (32, 64 or 128 are usual)")
    out_f, in_f = w.shape
    if in_f % group_size:
        raise ValueError(
            f"w's width (in_features={in_f}) is not divisible by group_size={group_size}; "
            "pick a group size that divides it"
        )
    g = w.view(out_f, in_f // group_size, group_size)
    if symmetric:
        absmax = g.abs().amax(-1)
        scale = torch.where(absmax > 0, absmax / 7, torch.ones_like(absmax))
        zero = torch.full_like(scale, 8)
    else:
        lo, hi = g.amin(-1).clamp(max=0), g.amax(-1).clamp(min=0)
        scale = torch.where(hi > lo, (hi - lo) / 15, torch.ones_like(lo))
        zero = torch.round(-lo / scale).clamp(0, 15)
    codes = (torch.round(g / scale[..., None]) + zero[..., None]).clamp(0, 15)
    return pack_int4(codes.view(out_f, in_f)), scale, zero.to(torch.uint8)


def dequantize_int4(packed: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor) -> torch.Tensor:
    """Back to float32 (out, in) from :func:`quantize_int4`'s ``(packed, scale, zero)``."""
    codes = unpack_int4(packed).float()
    if codes.dim() != 2:
        raise ValueError(f"packed must be 2-D (out, in // 2), got {tuple(packed.shape)}")
    out_f, in_f = codes.shape
    for name, t in (("scale", scale), ("zero", zero)):
        if not isinstance(t, torch.Tensor) or t.dim() != 2 or t.shape[0] != out_f or t.shape[1] == 0 \
                or in_f % t.shape[1]:
            got = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise ValueError(f"{name} must have shape ({out_f}, n_groups) with n_groups dividing {in_f}, got {got}")
    if zero.shape != scale.shape:
        raise ValueError(f"zero has shape {tuple(zero.shape)} but scale has {tuple(scale.shape)}; they must match")
    n_groups = scale.shape[1]
    g = codes.view(out_f, n_groups, in_f // n_groups)
    return ((g - zero.float()[..., None]) * scale[..., None]).view(out_f, in_f)


# --- 3. a quantised Linear layer ---------------------------------------------------------------


class QuantLinear(nn.Module):
    """A drop-in ``nn.Linear`` whose weight is stored quantised (int8 rows or packed int4 groups).

    ``forward(x)``: x (..., in_features) -> (..., out_features). It dequantises the weight and
    calls ``F.linear``: the memory saving is real, the arithmetic is still floating point.
    Build one with :meth:`from_linear`.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, bits: int = 8,
                 group_size: int = 64, symmetric: bool = True):
        super().__init__()
        in_features = check_int("in_features", in_features, 1)
        out_features = check_int("out_features", out_features, 1)
        check_bool("bias", bias)
        check_bool("symmetric", symmetric)
        _check_bits(bits)
        if bits == 4:
            _check_group_size(group_size)
        self.in_features, self.out_features = in_features, out_features
        self.bits, self.group_size, self.symmetric = _check_bits(bits), group_size, symmetric
        if bits == 8:
            self.register_buffer("qweight", torch.zeros(out_features, in_features, dtype=torch.int8))
            self.register_buffer("scale", torch.ones(out_features))
        else:
            if in_features % group_size:
                raise ValueError(f"in_features={in_features} is not divisible by group_size={group_size}")
            n_groups = in_features // group_size
            self.register_buffer("qweight", torch.zeros(out_features, in_features // 2, dtype=torch.uint8))
            self.register_buffer("scale", torch.ones(out_features, n_groups))
            self.register_buffer("zero", torch.full((out_features, n_groups), 8, dtype=torch.uint8))
        self.register_buffer("bias", torch.zeros(out_features) if bias else None)

    @classmethod
    def from_linear(cls, linear: nn.Linear, bits: int = 8, group_size: int = 64,
                    symmetric: bool = True) -> QuantLinear:
        """Quantise an ``nn.Linear``'s weight (the bias stays in float32)."""
        if not isinstance(linear, nn.Linear):
            raise InputTypeError(f"linear must be an nn.Linear, got {type(linear).__name__}")
        q = cls(linear.in_features, linear.out_features, linear.bias is not None, bits, group_size, symmetric)
        q.to(linear.weight.device)
        if bits == 8:
            q.qweight, q.scale = quantize_int8(linear.weight)
        else:
            q.qweight, q.scale, q.zero = quantize_int4(linear.weight, group_size, symmetric)
        if linear.bias is not None:
            q.bias = linear.bias.detach().float().clone()
        return q

    def dequantized_weight(self) -> torch.Tensor:
        """The float32 (out_features, in_features) weight this layer computes with."""
        if self.bits == 8:
            return dequantize_int8(self.qweight, self.scale)
        return dequantize_int4(self.qweight, self.scale, self.zero)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.bias.to(x.dtype)
        return F.linear(x, self.dequantized_weight().to(x.dtype), bias)

    def config(self) -> dict:
        return {"in_features": self.in_features, "out_features": self.out_features,
                "bias": self.bias is not None, "bits": self.bits, "group_size": self.group_size,
                "symmetric": self.symmetric}

    def extra_repr(self) -> str:
        g = f", group_size={self.group_size}" if self.bits == 4 else ""
        return f"in_features={self.in_features}, out_features={self.out_features}, bits={self.bits}{g}"


def _check_group_size(group_size) -> int:
    if isinstance(group_size, bool) or not isinstance(group_size, int):
        raise InputTypeError(f"group_size must be an even int >= 2, got {group_size!r} (32, 64 or 128 are usual)")
    if group_size < 2 or group_size % 2:
        raise ValueError(f"group_size must be an even int >= 2, got {group_size!r} (32, 64 or 128 are usual)")
    return group_size


def _check_module(model) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise InputTypeError(f"model must be a torch nn.Module (a minillm GPT), got {type(model).__name__}")
    return model


def _set_module(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, module)


def quantize_model(model: nn.Module, bits: int = 8, group_size: int = 64, symmetric: bool = True,
                   skip_indivisible: bool = False) -> nn.Module:
    """Replace every ``nn.Linear`` in ``model`` (in place) by a :class:`QuantLinear`; return it.

    With ``bits=4`` each layer's ``in_features`` must divide by ``group_size``; a layer that does
    not is an error, or is left in float when ``skip_indivisible=True``.
    """
    _check_module(model)
    _check_bits(bits)
    if bits == 4:
        _check_group_size(group_size)
    check_bool("symmetric", symmetric)
    check_bool("skip_indivisible", skip_indivisible)
    targets = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear) and n]
    if not targets:
        raise ValueError("model has no nn.Linear layer to quantise (already quantised, or not a network "
                         "of linear layers)")
    for name, linear in targets:
        if bits == 4 and linear.in_features % group_size:
            if skip_indivisible:
                continue
            raise ValueError(
                f"layer {name!r} has in_features={linear.in_features}, not divisible by "
                f"group_size={group_size}; choose another group_size or pass skip_indivisible=True"
            )
        _set_module(model, name, QuantLinear.from_linear(linear, bits, group_size, symmetric))
    return model


def model_size_bytes(model: nn.Module) -> int:
    """Bytes taken by a model's parameters and buffers (a tensor shared by two layers counts once)."""
    _check_module(model)
    seen, total = set(), 0
    for t in [*model.parameters(), *model.buffers()]:
        key = (t.data_ptr(), t.numel(), t.dtype)
        if key not in seen:
            seen.add(key)
            total += t.numel() * t.element_size()
    return total


# --- 4. files ----------------------------------------------------------------------------------


def save_quantized(model: nn.Module, directory) -> Path:
    """Write a quantised model: ``quantized.safetensors`` (every tensor) and ``quantization.json``
    (which layers are quantised, and how). Both writes are atomic."""
    _check_module(model)
    directory = check_output_dir(directory, "directory")
    layers = {n: m.config() for n, m in model.named_modules() if isinstance(m, QuantLinear)}
    if not layers:
        raise ValueError("model has no QuantLinear layer; call quantize_model(model, bits) first")
    # a tensor shared by two names (a head tied to the embedding) is written once; the config
    # records the alias, and loading into a model with the same tie restores both names
    tensors, tied, seen = {}, {}, {}
    for k, v in model.state_dict().items():
        key = (v.data_ptr(), v.dtype, tuple(v.shape), v.stride())
        if key in seen:
            tied[k] = seen[key]
            continue
        seen[key] = k
        tensors[k] = v.detach().cpu().contiguous()
    with atomic_write(directory / WEIGHTS_FILE) as f:
        f.write(safetensors_bytes(tensors))
    with atomic_write(directory / CONFIG_FILE, "w") as f:
        json.dump({"format": "minillm-quantized", "version": 1, "layers": layers, "tied": tied}, f, indent=1)
    return directory


def load_quantized(model: nn.Module, directory) -> nn.Module:
    """Load what :func:`save_quantized` wrote into ``model``, a fresh float model of the same
    architecture: the listed layers become :class:`QuantLinear` and every tensor is restored."""
    _check_module(model)
    if not isinstance(directory, (str, Path)):
        raise InputTypeError(f"directory must be a folder path (str or Path), got {directory!r}")
    directory = Path(directory)
    cfg_path, w_path = directory / CONFIG_FILE, directory / WEIGHTS_FILE
    for p in (cfg_path, w_path):
        if not p.exists():
            raise FileNotFoundError(f"no {p.name} in {directory}; was it written by save_quantized?")
    cfg = read_json(cfg_path, dict, "a minillm quantisation config")
    if cfg.get("format") != "minillm-quantized":
        raise ValueError(f"{cfg_path} is not a minillm quantisation config")
    if not isinstance(cfg.get("layers"), dict) or not cfg["layers"]:
        raise ValueError(f"{cfg_path}: the field 'layers' must be a non-empty object {{layer name: settings}}, "
                         f"got {cfg.get('layers')!r:.60}; the file is damaged, save the model again")
    fields = {"in_features": int, "out_features": int, "bias": bool, "bits": int, "group_size": int,
              "symmetric": bool}
    for name, c in cfg["layers"].items():
        if not isinstance(c, dict):
            raise ValueError(f"{cfg_path}: layers.{name} must be an object of settings, got {c!r:.60}")
        for key, kind in fields.items():
            v = c.get(key)
            if not isinstance(v, kind) or kind is int and isinstance(v, bool):
                raise ValueError(f"{cfg_path}: layers.{name}.{key} must be {kind.__name__}, got {v!r}; the file "
                                 "is damaged, save the model again")
        for key in ("in_features", "out_features", "group_size"):
            if c[key] < 1:
                raise ValueError(f"{cfg_path}: layers.{name}.{key} must be a positive int, got {c[key]}; the file "
                                 "is damaged, save the model again")
        if c["bits"] not in (4, 8):
            raise ValueError(f"{cfg_path}: layers.{name}.bits must be 4 or 8, got {c['bits']}; the file is damaged, "
                             "save the model again")
    for name, c in cfg["layers"].items():  # every layer checked before the first is replaced
        try:
            old = model.get_submodule(name)
        except AttributeError as e:
            raise ValueError(f"{cfg_path} names layer {name!r}, which this model does not have") from e
        if not isinstance(old, nn.Linear) or (old.in_features, old.out_features) != (c["in_features"], c["out_features"]):
            raise ValueError(f"layer {name!r} of this model does not match {cfg_path}: {old} vs {c}")
    for name, c in cfg["layers"].items():
        old = model.get_submodule(name)
        q = QuantLinear(c["in_features"], c["out_features"], c["bias"], c["bits"], c["group_size"], c["symmetric"])
        _set_module(model, name, q.to(old.weight.device))
    try:
        tensors = load_file(str(w_path))
    except Exception as exc:  # safetensors raises its own error type for a damaged header
        raise ValueError(f"{w_path} is not a readable safetensors file ({exc}); it is damaged, save the "
                         "model again") from None
    tied = cfg.get("tied", {})
    if not isinstance(tied, dict):
        raise ValueError(f"{cfg_path}: the field 'tied' must be an object {{name: name it shares}}, got {tied!r:.60}")
    state = model.state_dict()
    for alias, source in tied.items():
        if alias not in state or source not in state or state[alias].data_ptr() != state[source].data_ptr():
            raise ValueError(f"{cfg_path}: {alias!r} was saved as the same tensor as {source!r}, but in this model "
                             "they are not tied; load into a model built with the same config")
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    missing = [k for k in missing if k not in tied]
    if missing or unexpected:
        raise ValueError(f"{w_path} does not fit this model: missing {missing[:5]}, unexpected {unexpected[:5]}")
    return model


# --- 5. GGUF, the file format of llama.cpp ------------------------------------------------------

_GGUF_BLOCK = {
    "norm1": "attn_norm", "attn.qkv": "attn_qkv", "attn.proj": "attn_output",
    "norm2": "ffn_norm", "mlp.fc": "ffn_up", "mlp.proj": "ffn_down",
}
_GGUF_TOP = {"tok_emb": "token_embd", "pos_emb": "position_embd", "norm_f": "output_norm", "head": "output"}


def gguf_name(name: str) -> str:
    """minillm tensor name -> llama.cpp's GPT-2 name (``blocks.3.mlp.fc.weight`` -> ``blk.3.ffn_up.weight``)."""
    if not isinstance(name, str):
        raise InputTypeError(f"name must be a tensor name (str), got {name!r}")
    module, _, leaf = name.rpartition(".")
    if module in _GGUF_TOP:
        return f"{_GGUF_TOP[module]}.{leaf}"
    parts = module.split(".")
    if parts[0] == "blocks" and ".".join(parts[2:]) in _GGUF_BLOCK:
        return f"blk.{parts[1]}.{_GGUF_BLOCK['.'.join(parts[2:])]}.{leaf}"
    raise ValueError(f"tensor {name!r} has no GGUF name for a GPT-2 model")


def export_gguf(model, path, dtype: str = "f32") -> Path:
    """Write a float GPT with GPT-2's architecture to a GGUF file (llama.cpp's format), atomically.

    GPT-2's architecture means ``norm="layernorm"``, ``pos="learned"``, ``bias=True``,
    ``gelu="tanh"``. Weights are written in ``dtype`` ``"f32"`` or ``"f16"`` (norms and biases stay
    f32), with the model's hyper-parameters as ``gpt2.*`` metadata. The tokenizer is not
    included. Needs the ``gguf`` package (``pip install gguf``).
    See https://github.com/ggml-org/ggml/blob/master/docs/gguf.md for the format.
    """
    try:
        import gguf
    except ImportError as e:
        raise ImportError("export_gguf needs the gguf package: pip install gguf") from e
    import os
    import tempfile

    c = getattr(model, "config", None)
    if c is None or not hasattr(c, "n_layer"):
        raise InputTypeError(f"model must be a minillm GPT, got {type(model).__name__}")
    wrong = {k: getattr(c, k) for k, v in dict(norm="layernorm", pos="learned", bias=True, gelu="tanh").items()
             if getattr(c, k) != v}
    if wrong:
        raise ValueError(f"export_gguf writes GPT-2's architecture; this model's config differs: {wrong}")
    if dtype not in ("f32", "f16"):
        raise ValueError(f"dtype must be 'f32' or 'f16', got {dtype!r}")
    if any(isinstance(m, QuantLinear) for m in model.modules()):
        raise ValueError("export_gguf writes float weights; export the model before quantize_model")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        writer = gguf.GGUFWriter(tmp, "gpt2")
        writer.add_name("minillm GPT")
        writer.add_context_length(c.block_size)
        writer.add_embedding_length(c.n_embd)
        writer.add_feed_forward_length(c.mlp_ratio * c.n_embd)
        writer.add_block_count(c.n_layer)
        writer.add_head_count(c.n_head)
        writer.add_layer_norm_eps(c.norm_eps)
        writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if dtype == "f16" else gguf.LlamaFileType.ALL_F32)
        for name, t in model.state_dict().items():
            array = t.detach().cpu().float().numpy()
            if dtype == "f16" and array.ndim == 2:
                array = array.astype("float16")
            writer.add_tensor(gguf_name(name), array)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
