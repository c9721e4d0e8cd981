"""The hyperparameter search of lesson 7.3, as a worker that scales out.

Lesson ``07_tuning/03_hyperparameter_search`` runs this study in memory: an MLP
on the digits, three hyperparameters, a seeded sampler, a pruner and a fixed
number of trials. The same study runs here as a command-line worker against
any Optuna storage URL, so that several processes share one study::

    python -m utils.search --storage sqlite:///tuning.db --sampler tpe --n-trials 16 --worker 0
    python -m utils.search --storage sqlite:///tuning.db --sampler tpe --n-trials 16 --worker 1

An SQLite file serves workers on one machine; for workers on several machines,
point every one at the same PostgreSQL URL
(``postgresql+psycopg2://USER:PASSWORD@HOST:5432/DATABASE``). Each worker runs
exactly ``--n-trials`` trials, so the study ends with the sum. ``--worker`` gives
each worker its own index: the random and TPE samplers add it to the seed (two
workers with one seed would propose the same points), while the grid and the
Sobol sampler (``--sampler sobol``) share one seed (they split one sequence between workers).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Callable, Sequence

import optuna
import torch
from sqlalchemy.exc import SQLAlchemyError
from torch import nn

from utils._validate import choice, positive_int
from utils.data import TensorLoader, load_digits, split, standardize
from utils.models import make_mlp
from utils.repro import setup
from utils.train import evaluate, train

#: The search space of lesson 7.3: name -> (low, high), each sampled on a log
#: scale (``width`` as an integer). Learning rates stop at 0.3: above about 0.5
#: (with momentum 0.9) training is chaotic, and its result would depend on the
#: rounding of the CPU it runs on.
SEARCH_SPACE = {"lr": (1e-3, 0.3), "width": (8, 128), "weight_decay": (1e-6, 1e-2)}

#: The grid of lesson 7.3: 4 x 4 x 2 = 32 points, evenly spaced on a log scale.
GRID = {
    "lr": [0.001, 0.0067, 0.045, 0.3],
    "width": [8, 20, 51, 128],
    "weight_decay": [1e-6, 1e-2],
}

#: Sampler names accepted by :func:`make_sampler`.
SAMPLERS = ("grid", "random", "sobol", "tpe")

#: Pruner names accepted by :func:`make_pruner`.
PRUNERS = ("none", "median", "halving")

#: Study direction: the objective is a validation accuracy.
DIRECTION = "maximize"


def suggest_config(trial: optuna.Trial) -> dict[str, float]:
    """Ask ``trial`` for one point of :data:`SEARCH_SPACE` (log scale for every parameter)."""
    lr_low, lr_high = SEARCH_SPACE["lr"]
    width_low, width_high = SEARCH_SPACE["width"]
    wd_low, wd_high = SEARCH_SPACE["weight_decay"]
    return {
        "lr": trial.suggest_float("lr", lr_low, lr_high, log=True),
        "width": trial.suggest_int("width", width_low, width_high, log=True),
        "weight_decay": trial.suggest_float("weight_decay", wd_low, wd_high, log=True),
    }


class DigitsObjective:
    """Validation accuracy of a one-hidden-layer ReLU MLP on the digits (lesson 7.3).

    The 1,797 digits are split once (seed 0) into 60% training, 20% validation
    and 20% test rows, standardized with training statistics. A trial trains
    ``64 -> width -> 10`` with SGD (momentum 0.9, batches of 64) for
    ``num_epochs`` epochs, reports the validation accuracy after every epoch
    (so a pruner can stop it) and returns the last one. Weights and batch
    order come from ``seed``, the same for every trial, so the objective is a
    deterministic function of the configuration.
    """

    def __init__(self, num_epochs: int = 6, seed: int = 0, batch_size: int = 64, momentum: float = 0.9):
        positive_int("num_epochs", num_epochs)
        positive_int("batch_size", batch_size)
        self.num_epochs, self.seed = num_epochs, seed
        self.batch_size, self.momentum = batch_size, momentum
        X, y = load_digits()
        (X_train, y_train), (X_val, y_val), (X_test, y_test) = split(
            X, y, val_fraction=0.2, test_fraction=0.2, seed=0
        )
        X_train, X_val, X_test = standardize(X_train, X_val, X_test)
        self.train_data = (X_train, y_train)
        self.val_data = (X_val, y_val)
        self.test_data = (X_test, y_test)

    def fit(
        self, config: dict[str, float], seed: int | None = None, trial: optuna.Trial | None = None
    ) -> tuple[nn.Module, list[float]]:
        """Train one configuration; return the model and its validation accuracy per epoch.

        With ``trial``, each epoch's accuracy is reported to it and
        ``optuna.TrialPruned`` is raised when its pruner says stop. A run whose
        loss stops being finite ends there, scored by what the model then predicts.
        """
        seed = self.seed if seed is None else seed
        torch.manual_seed(seed)
        model = make_mlp([64, int(config["width"]), 10])
        optimizer = torch.optim.SGD(
            model.parameters(),
            lr=config["lr"],
            momentum=self.momentum,
            weight_decay=config["weight_decay"],
        )
        loader = TensorLoader(*self.train_data, batch_size=self.batch_size, seed=seed)
        curve: list[float] = []
        for epoch in range(1, self.num_epochs + 1):
            try:  # one epoch at a time, so that a pruner can stop the run in between
                history = train(model, loader, optimizer=optimizer, val_data=self.val_data,
                                num_epochs=1, on_nonfinite="raise")  # fmt: skip
                curve.append(history.val_acc[-1])
            except FloatingPointError:  # diverged: score what the model predicts now
                curve.append(evaluate(model, self.val_data)[1])
                break
            if trial is not None:
                trial.report(curve[-1], epoch)
                if trial.should_prune():
                    trial.set_user_attr("epochs", epoch)
                    raise optuna.TrialPruned()
        if trial is not None:
            trial.set_user_attr("epochs", len(curve))
        return model, curve

    def __call__(self, trial: optuna.Trial) -> float:
        """Optuna's objective: suggest a configuration, train it, return the last validation accuracy."""
        _, curve = self.fit(suggest_config(trial), trial=trial)
        return curve[-1]


def make_sampler(name: str, seed: int = 0, worker: int = 0) -> optuna.samplers.BaseSampler:
    """A seeded sampler by name (see :data:`SAMPLERS`), for worker number ``worker``.

    ``"random"`` and ``"tpe"`` use ``seed + worker``, so that parallel workers
    propose different points; ``"grid"`` (:data:`GRID`) and ``"sobol"`` (a
    scrambled Sobol sequence) use ``seed`` in every worker, because Optuna
    splits their one sequence between the workers of a study.
    """
    choice("sampler", name, SAMPLERS)
    positive_int("worker", worker, minimum=0)
    if name == "grid":
        return optuna.samplers.GridSampler(GRID, seed=seed)
    if name == "sobol":
        with warnings.catch_warnings():  # "QMCSampler is experimental": chosen knowingly here
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.QMCSampler(qmc_type="sobol", scramble=True, seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed + worker)
    return optuna.samplers.TPESampler(seed=seed + worker)


def make_pruner(name: str) -> optuna.pruners.BasePruner:
    """A pruner by name (see :data:`PRUNERS`).

    ``"median"`` stops a trial whose accuracy at an epoch is below the median
    of earlier trials at that epoch (after 5 unpruned trials); ``"halving"`` is
    asynchronous successive halving: rungs at epochs 1, 3, 9, ..., where a
    trial continues only if it is in the top third of the trials that reached
    the rung.
    """
    choice("pruner", name, PRUNERS)
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5)
    if name == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    return optuna.pruners.NopPruner()


def _storage(url: str) -> optuna.storages.RDBStorage:
    """An RDB storage for ``url``; SQLite waits up to a minute for a lock held by another worker."""
    engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)


def open_study(
    storage: str | None,
    study_name: str = "digits",
    sampler: str = "tpe",
    pruner: str = "none",
    seed: int = 0,
    worker: int = 0,
    attempts: int = 5,
) -> optuna.Study:
    """Create the study, or load it when another worker already has, in ``storage``.

    ``storage=None`` keeps it in memory. Workers that start at the same moment
    may race to create the tables or the study; the loser retries (up to
    ``attempts`` times) and then loads what the winner created.
    """
    positive_int("attempts", attempts)
    options = {"sampler": make_sampler(sampler, seed, worker), "pruner": make_pruner(pruner)}
    for attempt in range(1, attempts + 1):
        try:
            return optuna.create_study(
                storage=None if storage is None else _storage(storage),
                study_name=study_name,
                direction=DIRECTION,
                load_if_exists=True,
                **options,
            )
        except (SQLAlchemyError, optuna.exceptions.StorageInternalError) as error:  # a concurrent CREATE
            if attempt == attempts:
                raise RuntimeError(f"could not open study {study_name!r} in {storage}: {error}") from error
            print(f"opening study {study_name!r} failed ({type(error).__name__}); retrying", file=sys.stderr)
            time.sleep(0.2 * attempt)
    raise AssertionError("unreachable")


def run_worker(
    storage: str | None,
    study_name: str = "digits",
    sampler: str = "tpe",
    pruner: str = "none",
    n_trials: int = 16,
    seed: int = 0,
    worker: int = 0,
    num_epochs: int = 6,
    on_trial: Callable[[optuna.Study, optuna.trial.FrozenTrial], None] | None = None,
) -> optuna.Study:
    """Run exactly ``n_trials`` trials of the lesson's study in ``storage`` and return the study.

    ``on_trial(study, trial)`` is called after each trial this worker finishes.
    Every trial records the worker's index as the user attribute ``"worker"``.
    """
    positive_int("n_trials", n_trials)
    study = open_study(storage, study_name, sampler, pruner, seed, worker)
    objective = DigitsObjective(num_epochs=num_epochs)

    def tagged(trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", worker)
        return objective(trial)

    callbacks = [] if on_trial is None else [on_trial]
    study.optimize(tagged, n_trials=n_trials, callbacks=callbacks)
    return study


def _trial_record(trial: optuna.trial.FrozenTrial) -> dict:
    """One finished trial as a JSON-ready dict."""
    return {
        "number": trial.number,
        "state": trial.state.name,
        "value": trial.value,
        "params": trial.params,
        "epochs": trial.user_attrs.get("epochs"),
        "worker": trial.user_attrs.get("worker"),
    }


def _print_trial(as_json: bool) -> Callable[[optuna.Study, optuna.trial.FrozenTrial], None]:
    def callback(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        record = _trial_record(trial)
        if as_json:
            print(json.dumps(record), flush=True)
            return
        params = "  ".join(f"{k}={v:.3g}" for k, v in trial.params.items())
        value = "" if trial.value is None else f"  accuracy {trial.value:.4f}"
        print(f"trial {trial.number:4d}  {trial.state.name.lower():<8}{value}  {params}", flush=True)

    return callback


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The worker's command-line options (``python -m utils.search --help``)."""
    parser = argparse.ArgumentParser(
        prog="python -m utils.search",
        description="Run the hyperparameter search of lesson 7.3 as one worker of a shared Optuna study.",
    )
    parser.add_argument("--storage", default="sqlite:///tuning.db",
                        help="Optuna storage URL: sqlite:///FILE (one machine) or "
                        "postgresql+psycopg2://USER:PASSWORD@HOST:PORT/DB (many machines)")  # fmt: skip
    parser.add_argument("--study", default="digits", help="study name, the same for every worker")
    parser.add_argument("--sampler", default="tpe", choices=SAMPLERS)
    parser.add_argument("--pruner", default="none", choices=PRUNERS)
    parser.add_argument("--n-trials", type=int, default=16, help="trials this worker runs")
    parser.add_argument("--seed", type=int, default=0, help="sampler seed, the same for every worker")
    parser.add_argument("--worker", type=int, default=0, help="this worker's index: 0, 1, 2, ...")
    parser.add_argument("--epochs", type=int, default=6, help="training epochs per trial")
    parser.add_argument("--json", action="store_true", help="print each trial as one JSON line")
    args = parser.parse_args(argv)
    for name in ("n_trials", "epochs"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.seed < 0 or args.worker < 0:
        parser.error("--seed and --worker must be non-negative")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m utils.search``: one worker; prints each trial and the best."""
    args = parse_args(argv)
    setup(seed=0, dtype="float64")  # float64: every worker computes the same numbers on any CPU
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = run_worker(args.storage, args.study, args.sampler, args.pruner, args.n_trials,
                       args.seed, args.worker, args.epochs, on_trial=_print_trial(args.json))  # fmt: skip
    complete = study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.COMPLETE])
    if not args.json and complete:
        best = study.best_trial
        params = "  ".join(f"{k}={v:.3g}" for k, v in best.params.items())
        print(f"study {args.study!r}: {len(study.trials)} trials; best #{best.number} "
              f"accuracy {best.value:.4f}  {params}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
