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
