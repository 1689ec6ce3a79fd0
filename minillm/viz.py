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
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return fig, ax


# --- chapter 0: what is a language model?
def course_map(book):
    """The life of an LLM as a left-to-right flow of stages, each box naming its chapters.

    ``book`` is a :class:`minillm.book.Book`; chapters that exist are drawn solid, planned ones
    dashed. Used by chapter 0 and by the book's start page.
    """
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    stages = [s for s in book.stages if any(c.stage == s["id"] for c in book.chapters)]
    main = [s for s in stages if s["id"] != "appendix"]
    fig, ax = plt.subplots(figsize=(11, 3.6))
    ax.set_xlim(0, len(main))
    ax.set_ylim(0, 1)
    ax.axis("off")
    ax.set_title("The life of an LLM, and where the course covers each stage")
    for i, s in enumerate(main):
        chapters = [c for c in book.chapters if c.stage == s["id"]]
        ready = any(c.ready for c in chapters)
        box = FancyBboxPatch(
            (i + 0.06, 0.12), 0.88, 0.76, boxstyle="round,pad=0.02",
            facecolor="#dbe9f6" if ready else "#f2f2f2",
            edgecolor="#2b6ca3" if ready else "#999999",
            linestyle="-" if ready else "--", linewidth=1.5,
        )
        ax.add_patch(box)
        ax.text(i + 0.5, 0.78, s["title"], ha="center", va="center", fontsize=10, fontweight="bold")
        lines = [f"{'Ch.' if isinstance(c.number, int) else 'App.'} {c.number}" + ("" if c.ready else " (planned)") for c in chapters]
        ax.text(i + 0.5, 0.45, "\n".join(lines), ha="center", va="center", fontsize=8,
                color="black" if ready else "#777777")
        if i + 1 < len(main):
            ax.add_patch(FancyArrowPatch((i + 0.94, 0.5), (i + 1.06, 0.5), arrowstyle="->", mutation_scale=12))
    return fig
