"""Drawn diagrams of each chapter's central mechanism (a leaf module, like :mod:`minillm.viz`).

Every function returns a matplotlib figure made only of boxes, arrows and text, so the diagrams
live in the code (no image files to keep in sync) and render offline.

- :func:`attention` (chapter 2): queries, keys and values, the scores and the causal mask.
- :func:`heads` (chapter 2): multi-head attention splits the channels between the heads.
- :func:`block` (chapter 3): a pre-norm Transformer block on the residual stream.
- :func:`training_loop` (chapter 4): one optimizer step, from a batch to new weights.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

BLUE, ORANGE, GREEN, GREY, RED = "#dbe9f6", "#fde3c8", "#d9f0d3", "#eeeeee", "#f8d0d0"


def _box(ax, x, y, w, h, text, color=BLUE, fontsize=9, edge="#333333", **kw):
    """A rounded box centred at ``(x, y)`` with ``text`` in it."""
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.05",
                                facecolor=color, edgecolor=edge, linewidth=1.2))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, **kw)


def _arrow(ax, start, end, text=None, color="#333333", style="-|>", offset=(0, 0.06), **kw):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=11, color=color,
                                 linewidth=1.2, shrinkA=0, shrinkB=0, **kw))
    if text:
        ax.text((start[0] + end[0]) / 2 + offset[0], (start[1] + end[1]) / 2 + offset[1], text,
                ha="center", va="bottom", fontsize=8, color=color)


def _canvas(title, figsize=(7, 3.8), xlim=(0, 10), ylim=(0, 6)):
    fig, ax = plt.subplots(figsize=figsize)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.axis("off")
    ax.set_title(title)
    return fig, ax


# --- chapter 2: attention
def attention(words=("Mia", "had", "a", "red", "kite")):
    """Chapter 2: each token's query is scored against every key; the causal mask hides the future.

    Left: the projections ``q = x Wq``, ``k = x Wk``, ``v = x Wv``. Right: the ``T x T`` score
    grid (rows: queries, columns: keys) with the masked future crossed out; each row's softmax
    weights then average the values.
    """
    t = len(words)
    fig, ax = _canvas("Queries, keys, values and the causal mask", figsize=(7.5, 4), xlim=(0, 12), ylim=(0, 6.4))
    # left: one token vector x_i and its three projections
    _box(ax, 0.95, 3.2, 1.5, 0.8, "token $x_i$\n(C numbers)", GREY, fontsize=8)
    for y, name, what, color in [(5.0, "query $q_i = x_i W_q$", "what I look for", ORANGE),
                                 (3.2, "key $k_i = x_i W_k$", "what I offer", GREEN),
                                 (1.4, "value $v_i = x_i W_v$", "what I hand over", BLUE)]:
        _arrow(ax, (1.75, 3.2), (2.55, y))
        _box(ax, 3.7, y, 2.2, 0.75, f"{name}\n{what}", color, fontsize=8)
    ax.text(3.7, 0.35, "score$_{ij}$ = $q_i \\cdot k_j / \\sqrt{D}$\nout$_i$ = $\\sum_j$ softmax$_j$(score$_{ij}$) $v_j$",
            ha="center", va="center", fontsize=8.5)
    # right: the score grid with the causal mask
    x0, y0, cell = 6.6, 0.6, 0.9
    for i in range(t):                      # query row i (top row = first token)
        for j in range(t):                  # key column j
            future = j > i
            ax.add_patch(Rectangle((x0 + j * cell, y0 + (t - 1 - i) * cell), cell, cell,
                                   facecolor=RED if future else ORANGE if j == i else GREEN,
                                   edgecolor="white", linewidth=1.5))
            ax.text(x0 + (j + 0.5) * cell, y0 + (t - 0.5 - i) * cell,
                    "-inf" if future else f"$q_{i}k_{j}$", ha="center", va="center", fontsize=7)
        ax.text(x0 - 0.1, y0 + (t - 0.5 - i) * cell, words[i], ha="right", va="center", fontsize=8)
        ax.text(x0 + (i + 0.5) * cell, y0 + t * cell + 0.1, words[i], ha="center", va="bottom", fontsize=8, rotation=30)
    ax.text(x0 - 0.9, y0 + t * cell / 2, "queries (rows)", rotation=90, ha="center", va="center", fontsize=8)
    ax.text(x0 + t * cell / 2, y0 + t * cell + 0.65, "keys (columns)", ha="center", fontsize=8)
    ax.text(x0 + t * cell / 2, y0 - 0.35, "red: the future, masked with -inf (weight 0 after softmax)",
            ha="center", va="center", fontsize=7.5, color="#a33")
    return fig


def heads(n_channels=12, n_heads=3):
    """Chapter 2: multi-head attention splits the ``C`` channels into ``H`` slices of ``D = C/H``.

    Each head runs its own attention on its slice; the outputs are put side by side again and a
    last linear layer (``proj``) mixes them.
    """
    d = n_channels // n_heads
    colors = [ORANGE, GREEN, BLUE, RED, GREY]
    fig, ax = _canvas(f"Multi-head attention: C = {n_channels} channels split into H = {n_heads} heads of D = {d}",
                      figsize=(7.5, 3.8), xlim=(0, 12), ylim=(0, 6))
    w = 0.35
    x_start = 6 - n_channels * w / 2
    for c in range(n_channels):            # the token vector, channels coloured by head
        h = c // d
        ax.add_patch(Rectangle((x_start + c * w, 5.0), w, 0.5, facecolor=colors[h % 5], edgecolor="#555"))
        ax.add_patch(Rectangle((x_start + c * w, 0.5), w, 0.5, facecolor=colors[h % 5], edgecolor="#555"))
    ax.text(x_start - 0.2, 5.25, "q, k, v of one token\n(B, T, C)", ha="right", va="center", fontsize=8)
    ax.text(x_start - 0.2, 0.75, "concatenated outputs\n(B, T, C), then proj", ha="right", va="center", fontsize=8)
    gap = 12 / n_heads
    for h in range(n_heads):
        cx = gap * (h + 0.5)
        top = (x_start + (h * d + d / 2) * w, 5.0)
        _arrow(ax, top, (cx, 3.75))
        _box(ax, cx, 3.0, 3.4, 1.3, f"head {h}: channels {h * d}..{h * d + d - 1}\nattention on (B, T, D={d})\nits own T x T weights",
             colors[h % 5], fontsize=7.5)
        _arrow(ax, (cx, 2.35), (x_start + (h * d + d / 2) * w, 1.05))
    ax.text(6, 4.35, "view (B, T, H, D) + transpose: a reshape, no copy", ha="center", fontsize=8, style="italic")
    return fig


# --- chapter 3: the transformer
def block(n_layer=2):
    """Chapter 3: the residual stream runs from the embeddings to the head; each pre-norm block
    reads a normalised copy of it and *adds* attention's and the MLP's results back.
    """
    fig, ax = _canvas("A pre-norm block on the residual stream", figsize=(7, 4.6), xlim=(0, 10), ylim=(-0.6, 8))
    x = 3.0
    _box(ax, x, 0.5, 3.2, 0.6, "token + position embeddings", GREY)
    _box(ax, x, 7.5, 3.2, 0.6, "final norm, head -> logits", GREY)
    ax.add_patch(FancyArrowPatch((x, 0.8), (x, 7.2), arrowstyle="-|>", mutation_scale=14, color="#2b6ca3", linewidth=3))
    ax.text(x - 0.25, 4.0, "residual stream x  (B, T, C)", rotation=90, ha="right", va="center", fontsize=9, color="#2b6ca3")
    for y0, name, color, what in [(2.4, "attention", ORANGE, "tokens exchange\ninformation"),
                                  (5.2, "MLP", GREEN, "each token on\nits own")]:
        _box(ax, x + 0, y0 + 0.75, 0.45, 0.45, "+", "white", fontsize=12)
        _arrow(ax, (x, y0 - 0.6), (x + 1.3, y0 - 0.6), style="-")
        _box(ax, x + 2.1, y0 - 0.6, 1.5, 0.55, "norm (LN)", BLUE, fontsize=8)
        _arrow(ax, (x + 2.1, y0 - 0.32), (x + 2.1, y0 - 0.05))
        _box(ax, x + 2.1, y0 + 0.25, 1.5, 0.6, name, color)
        _arrow(ax, (x + 2.1, y0 + 0.55), (x + 2.1, y0 + 0.75), style="-")
        _arrow(ax, (x + 2.1, y0 + 0.75), (x + 0.25, y0 + 0.75))
        ax.text(x + 3.0, y0 + 0.25, what, ha="left", va="center", fontsize=8)
    ax.text(x + 2.0, 7.5, "x = x + attn(LN1(x))\nx = x + mlp(LN2(x))", ha="left", va="center", fontsize=9,
            family="monospace")
    ax.text(x + 4.3, 1.3, f"one block (repeated\nn_layer = {n_layer} times)", ha="center", fontsize=8, style="italic")
    ax.add_patch(Rectangle((x - 0.6, 1.3), 4.6, 4.85, facecolor="none", edgecolor="#999", linestyle="--"))
    ax.text(0.05, -0.35, "post-norm (original Transformer): x = LN(x + f(x)), the stream itself is normalised",
            fontsize=7.5, color="#555")
    return fig


# --- chapter 4: pretraining
def training_loop():
    """Chapter 4: one optimizer step, the loop that pretraining repeats thousands of times."""
    import math

    fig, ax = _canvas("The training loop: one step", figsize=(7, 4.2), xlim=(-5.2, 5.2), ylim=(-3.0, 3.0))
    steps = [("batch: B windows x\nand targets y = x shifted", GREY),
             ("forward: logits (B, T, V)\nloss = mean -log p(y)", ORANGE),
             ("backward: loss.backward()\ngradients in p.grad", RED),
             ("clip: scale gradients\nif their norm > 1", BLUE),
             ("AdamW step with lr(step)\n(warmup, cosine decay)", GREEN),
             ("zero the gradients,\nstep += 1", GREY)]
    n = len(steps)
    pts = [(3.4 * math.cos(math.pi / 2 - 2 * math.pi * i / n), 2.0 * math.sin(math.pi / 2 - 2 * math.pi * i / n))
           for i in range(n)]
    for (text, color), (x, y) in zip(steps, pts):
        _box(ax, x, y, 3.2, 0.85, text, color, fontsize=7.5)
    for i in range(n):
        (x1, y1), (x2, y2) = pts[i], pts[(i + 1) % n]
        dx, dy = x2 - x1, y2 - y1
        norm = math.hypot(dx, dy)
        sx, sy = x1 + dx / norm * 1.0, y1 + dy / norm * 0.7
        ex, ey = x2 - dx / norm * 1.0, y2 - dy / norm * 0.7
        _arrow(ax, (sx, sy), (ex, ey), connectionstyle="arc3,rad=-0.15")
    ax.text(0, 0.15, "the weights move a little\ndownhill on the loss", ha="center", va="center", fontsize=9, style="italic")
    ax.text(0, -0.55, "every eval_every steps: loss on\nheld-out (validation) text", ha="center", va="center",
            fontsize=8, color="#555")
    return fig
