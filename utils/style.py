"""The book's figure style and colour palette, shared by every plot.

:func:`utils.setup` applies :data:`STYLE`; the plot helpers in
:mod:`utils.plotting` take their colours from :func:`color_for`, so a
condition (an initializer, an activation, train or validation) has the same
colour in every figure of the book.
"""

from __future__ import annotations

import matplotlib as mpl

#: matplotlib rcParams of every figure in the book (PNG, small, light grid).
STYLE = {
    "figure.figsize": (6.0, 3.6),
    "figure.dpi": 90,
    "savefig.dpi": 90,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "font.size": 10,
    "svg.hashsalt": "tnn",
}

#: Colour-blind-friendly palette (Okabe-Ito) used in order for unnamed conditions.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

#: Fixed colours for conditions that recur across chapters.
CONDITION_COLORS = {
    "zeros": "#7f7f7f",
    "constant": "#7f7f7f",
    "normal": "#E69F00",
    "uniform": "#E69F00",
    "default": "#56B4E9",
    "xavier_uniform": "#009E73",
    "xavier_normal": "#009E73",
    "kaiming_uniform": "#D55E00",
    "kaiming_normal": "#D55E00",
    "lecun_normal": "#CC79A7",
    "lecun_uniform": "#CC79A7",
    "orthogonal": "#0072B2",
    "train": "#0072B2",
    "validation": "#D55E00",
    "test": "#009E73",
    # activations (Chapter 3): distinct within the group
    "identity": "#7f7f7f",
    "relu": "#0072B2",
    "leaky_relu": "#56B4E9",
    "prelu": "#56B4E9",
    "elu": "#009E73",
    "selu": "#CC79A7",
    "gelu": "#E69F00",
    "silu": "#D55E00",
    "mish": "#F0E442",
    "softplus": "#000000",
    "sigmoid": "#882255",
    "tanh": "#44AA99",
    # losses (Chapter 4): distinct within the group (lesson 4.3 plots mse against cross_entropy)
    "mse": "#0072B2",
    "mae": "#E69F00",
    "huber": "#009E73",
    "cross_entropy": "#CC79A7",
    "focal": "#D55E00",
    # optimizers (Chapter 5)
    "sgd": "#7f7f7f",
    "momentum": "#0072B2",
    "nesterov": "#56B4E9",
    "adagrad": "#009E73",
    "rmsprop": "#CC79A7",
    "adam": "#D55E00",
    "adamw": "#E69F00",
}


def color_for(condition: str | int) -> str:
    """The book's colour for a named condition, or the ``i``-th palette colour."""
    if isinstance(condition, int):
        return PALETTE[condition % len(PALETTE)]
    return CONDITION_COLORS.get(condition, PALETTE[sum(map(ord, condition)) % len(PALETTE)])


def apply_figure_style() -> None:
    """Apply the book's matplotlib style and make notebooks emit PNG figures."""
    mpl.rcParams.update(STYLE)
    try:  # inside IPython/Jupyter: PNG only (nbval compares SVG text)
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        if get_ipython() is not None:
            set_matplotlib_formats("png")
    except ImportError:  # plain Python: nothing to configure
        pass
