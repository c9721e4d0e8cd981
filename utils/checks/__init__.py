"""Exercise checkers: call one on your answer; it prints what is right or wrong and why.

Each checker returns ``True`` when the answer is right, so a solution cell can
``assert`` it and CI runs the check too. The two generic checks live here;
each chapter's checkers are in a module of their own, imported by its lessons:

- :mod:`utils.checks.core` -- the shared report line, :func:`check_true`, :func:`check_close`.
- :mod:`utils.checks.weights` -- Chapter 1, weights and biases.
- :mod:`utils.checks.initialization` -- Chapter 2, initialization.
- :mod:`utils.checks.activations` -- Chapter 3, activation functions.
- :mod:`utils.checks.losses` -- Chapter 4, loss functions.
- :mod:`utils.checks.optimizers` -- Chapter 5, optimizers and learning-rate schedules.
- :mod:`utils.checks.regularization` -- Chapter 6, regularization and normalization.
- :mod:`utils.checks.tuning` -- Chapter 7, tuning in practice.

For example ``from utils.checks.initialization import check_xavier_uniform``.
"""

from utils.checks.core import check_close, check_true

__all__ = ["check_close", "check_true"]
