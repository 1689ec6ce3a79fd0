"""Plots for the chapters (a leaf module: matplotlib is imported here, never by the core).

Figures follow the course style: ``figsize=(6, 3.5)``, labelled axes, a title.
Each chapter's helpers sit under a comment naming the chapter.
"""

from __future__ import annotations

import matplotlib.pyplot as plt

FIGSIZE = (6, 3.5)


def figure(title: str, xlabel: str, ylabel: str, figsize=FIGSIZE):
    """A new figure and axes with the course's size, title and axis labels."""
    fig, ax = plt.subplots(figsize=figsize)
    _label(ax, title, xlabel, ylabel)
    return fig, ax


def _label(ax, title: str, xlabel: str, ylabel: str) -> None:
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)


# --- chapter 0: what is a language model?
def course_map(book):
    """The life of an LLM as a left-to-right flow of stages, each box naming its chapters.

    ``book`` is a :class:`minillm.course.book.Book`; stages with a written chapter are drawn solid and
    blue, planned ones dashed and grey. Used by chapter 0 and by the book's start page.
    """
    import textwrap

    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    main = [s for s in book.stages if s["id"] != "appendix" and any(c.stage == s["id"] for c in book.chapters)]
    fig, ax = plt.subplots(figsize=(12, 3.8))
    ax.set_xlim(0, len(main))
    ax.set_ylim(0, 1)
    ax.axis("off")
    ax.set_title("The life of an LLM: the stages, and the chapters that cover them (dashed: planned)")
    for i, s in enumerate(main):
        chapters = [c for c in book.chapters if c.stage == s["id"]]
        ready = any(c.ready for c in chapters)
        ax.add_patch(FancyBboxPatch(
            (i + 0.07, 0.06), 0.86, 0.84, boxstyle="round,pad=0.02",
            facecolor="#dbe9f6" if ready else "#f4f4f4", edgecolor="#2b6ca3" if ready else "#9a9a9a",
            linestyle="-" if ready else "--", linewidth=1.5,
        ))
        ax.text(i + 0.5, 0.82, textwrap.fill(s["title"], 12), ha="center", va="center", fontsize=10, fontweight="bold")
        y = 0.66
        for c in chapters:
            label = textwrap.fill(f"{c.number}. {c.title.split(':')[0]}", 14)
            ax.text(i + 0.5, y, label, ha="center", va="top", fontsize=8, color="black" if c.ready else "#777777")
            y -= 0.1 * (label.count("\n") + 1) + 0.06
        if i + 1 < len(main):
            ax.add_patch(FancyArrowPatch((i + 0.93, 0.48), (i + 1.07, 0.48), arrowstyle="->", mutation_scale=12))
    return fig


# --- chapter 4: pretraining
class LiveLossPlot:
    """A :class:`minillm.train.Trainer` callback that redraws the loss curves as training runs.

    The training loss of every step (light, with a running mean) and the train and validation
    losses of each evaluation, against the step. In a notebook the figure updates in place; the
    last drawing stays in the saved notebook. Outside IPython it only collects the numbers;
    ``plot()`` draws them at any time. ``trainer = Trainer(..., callbacks=[LiveLossPlot()])``.
    """

    def __init__(self, title: str = "Training loss", redraw_every: int = 25, log_y: bool = False):
        self.title, self.redraw_every, self.log_y = title, redraw_every, log_y
        self.steps: list[int] = []
        self.losses: list[float] = []
        self.evals: list[dict] = []
        self._handle = None

    def on_step(self, trainer, info) -> None:
        self.steps.append(info["step"])
        self.losses.append(info["loss"])
        if self.redraw_every and info["step"] % self.redraw_every == 0:
            self._show()

    def on_eval(self, trainer, info) -> None:
        self.evals.append(info)
        self._show()

    def on_end(self, trainer) -> None:
        self._show()

    def plot(self, ax=None):
        """Draw the curves on ``ax`` (or a new figure); returns the figure."""
        labels = (self.title, "step", "loss (nats per token)")
        if ax is None:
            fig, ax = figure(*labels)
        else:
            fig = ax.figure
            ax.clear()
            _label(ax, *labels)
        if self.losses:
            ax.plot(self.steps, self.losses, color="C0", alpha=0.25, lw=0.8)
            k = max(1, len(self.losses) // 50)
            windows = (self.losses[max(0, i - k + 1): i + 1] for i in range(len(self.losses)))
            smooth = [sum(w) / len(w) for w in windows]  # running mean of the last k steps
            ax.plot(self.steps, smooth, color="C0", label="train (each step, smoothed)")
        for key, color, name in (("train_loss", "C1", "train (evaluation)"), ("val_loss", "C2", "validation")):
            pts = [(e["step"], e[key]) for e in self.evals if key in e]
            if pts:
                ax.plot(*zip(*pts), "o-", color=color, ms=3, label=name)
        if self.log_y:
            ax.set_yscale("log")
        if self.losses or self.evals:
            ax.legend(loc="upper right")
        fig.tight_layout()
        return fig

    def _show(self) -> None:
        try:
            from IPython import get_ipython
            from IPython.display import display
        except ImportError:
            return
        if get_ipython() is None:
            return
        fig = self.plot()
        if self._handle is None:
            self._handle = display(fig, display_id=True)
        else:
            self._handle.update(fig)
        plt.close(fig)


# --- chapter 2: attention
def _token_label(token) -> str:
    """A token as a short visible label: spaces as "␣", newlines as "↵"."""
    s = token if isinstance(token, str) else str(token)
    return s.replace(" ", "␣").replace("\n", "↵").replace("\t", "⇥")


def plot_attention(weights, tokens, ax=None, title: str = "Attention weights"):
    """Heatmap of one head's attention weights ``(T, T)``: row = the token looking (query),
    column = the token looked at (key). ``tokens`` labels both axes. Returns the figure."""
    import numpy as np

    w = np.asarray(weights.detach().cpu() if hasattr(weights, "detach") else weights, dtype=float)
    if w.ndim != 2 or w.shape[0] != w.shape[1] or w.shape[0] != len(tokens):
        raise ValueError(f"weights must be (T, T) with T = len(tokens) = {len(tokens)}, got {w.shape}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 5))
    else:
        fig = ax.figure
    im = ax.imshow(w, cmap="Blues", vmin=0.0, vmax=1.0)
    labels = [_token_label(t) for t in tokens]
    size = 9 if len(labels) <= 24 else 7 if len(labels) <= 48 else 5
    ax.set_xticks(range(len(labels)), labels, fontsize=size, rotation=90)
    ax.set_yticks(range(len(labels)), labels, fontsize=size)
    ax.set_xlabel("key: the token looked at")
    ax.set_ylabel("query: the token looking")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, shrink=0.8, label="attention weight")
    return fig


def plot_attention_grid(maps, tokens, title: str = "Attention patterns, every layer and head"):
    """All heads at once: ``maps`` is ``(L, H, T, T)``; one small heatmap per (layer, head)."""
    import numpy as np

    m = np.asarray(maps.detach().cpu() if hasattr(maps, "detach") else maps, dtype=float)
    n_layer, n_head = m.shape[:2]
    fig, axes = plt.subplots(n_layer, n_head, figsize=(1.6 * n_head + 0.6, 1.6 * n_layer + 0.6), squeeze=False)
    for i in range(n_layer):
        for j in range(n_head):
            ax = axes[i][j]
            ax.imshow(m[i, j], cmap="Blues", vmin=0.0, vmax=1.0)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == n_layer - 1:
                ax.set_xlabel(f"head {j}", fontsize=8)
            if j == 0:
                ax.set_ylabel(f"layer {i}", fontsize=8)
    fig.suptitle(f"{title} ({len(tokens)} tokens; rows look at columns)", fontsize=9)
    fig.tight_layout()
    return fig


# --- chapter 5: inference and sampling


def plot_token_distribution(probs, labels, kept=None, ax=None, title: str = "Next-token distribution"):
    """Bars of next-token probabilities ``probs`` ``(n,)`` labelled by ``labels`` (token strings).

    ``kept``: optional ``(n,)`` bools; tokens a sampling filter removed are drawn grey. Returns the
    axes.
    """
    import numpy as np

    if ax is None:
        _, ax = figure(title, "token", "probability")
    else:
        _label(ax, title, "token", "probability")
    p = np.asarray(probs, dtype=float)
    keep = np.ones(len(p), dtype=bool) if kept is None else np.asarray(kept, dtype=bool)
    ax.bar(range(len(p)), p, color=np.where(keep, "tab:blue", "lightgrey"))
    ax.set_xticks(range(len(p)))
    ax.set_xticklabels([_token_label(t) for t in labels], rotation=60, fontsize=7)
    return ax


def plot_frontier(points: dict, xlabel: str, ylabel: str, title: str, ax=None):
    """One marker per setting: ``points`` maps a label to ``(x, y)``; a line joins each family
    (the label's first word: ``"temperature 0.8"`` belongs to ``"temperature"``)."""
    if ax is None:
        _, ax = figure(title, xlabel, ylabel)
    families: dict[str, list] = {}
    for label, (x, y) in points.items():
        families.setdefault(label.split()[0], []).append((x, y, label))
    for family, pts in families.items():
        xs, ys, names = zip(*pts)
        ax.plot(xs, ys, marker="o", label=family)
        for x, y, name in pts:
            ax.annotate(name.split(" ", 1)[-1], (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.legend(fontsize=8)
    return ax
