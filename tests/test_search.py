"""Tests for utils.search: the lesson 7.3 study, in memory and as workers sharing a storage.

Two tests start two real worker processes at the same moment against one study,
first in an SQLite file, then in a PostgreSQL server that the test starts
itself (Debian's ``postgresql`` package, on 127.0.0.1 only, in a temporary data
directory). They check that every trial is recorded exactly once and that the
study's best trial agrees with the recorded trials. When PostgreSQL cannot be
started the test is skipped with the reason; set ``TNN_REQUIRE_POSTGRES=1`` to
make that a failure instead (CI installs the package).
"""

from __future__ import annotations

import glob
import io
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import matplotlib as mpl
import optuna
import pytest
import torch
from optuna.trial import TrialState

from utils.data import TensorLoader
from utils.models import make_mlp
from utils.repro import setup
from utils.search import (
    DIRECTION,
    GRID,
    PRUNERS,
    SAMPLERS,
    SEARCH_SPACE,
    DigitsObjective,
    main,
    make_pruner,
    make_sampler,
    open_study,
    parse_args,
    run_worker,
    suggest_config,
)
from utils.train import evaluate

ROOT = Path(__file__).resolve().parents[1]
optuna.logging.set_verbosity(optuna.logging.WARNING)

# Each worker process imports everything, says "ready", and waits for one line on stdin, so
# that the test can release all workers at the same moment: they really run concurrently.
LAUNCH = (
    "import sys\n"
    "from utils.search import main\n"
    "print('ready', flush=True)\n"
    "sys.stdin.readline()\n"
    "sys.exit(main(sys.argv[1:]))\n"
)
WORKER_ARGS = ["--study", "shared", "--n-trials", "8", "--epochs", "2", "--json"]


@pytest.fixture(autouse=True)
def _float64():
    setup(seed=0, dtype="float64")  # the workers' precision (conftest restores the default)


def _trial_record(trial: optuna.trial.FrozenTrial) -> dict:
    return {"number": trial.number, "state": trial.state.name, "value": trial.value, "params": trial.params}


# --------------------------------------------------------------------------- the study in memory
def test_samplers_and_pruners_by_name():
    assert isinstance(make_sampler("grid"), optuna.samplers.GridSampler)
    assert isinstance(make_sampler("random"), optuna.samplers.RandomSampler)
    assert isinstance(make_sampler("sobol"), optuna.samplers.QMCSampler)
    assert isinstance(make_sampler("tpe"), optuna.samplers.TPESampler)
    assert isinstance(make_pruner("none"), optuna.pruners.NopPruner)
    assert isinstance(make_pruner("median"), optuna.pruners.MedianPruner)
    assert isinstance(make_pruner("halving"), optuna.pruners.SuccessiveHalvingPruner)
    assert set(SAMPLERS) == {"grid", "random", "sobol", "tpe"} and set(PRUNERS) == {
        "none",
        "median",
        "halving",
    }


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: make_sampler("qmc"), "sampler='qmc' is not valid; choose one of: grid, random, sobol"),
        (lambda: make_pruner("hyperband"), "pruner='hyperband' is not valid; choose one of: halving"),
        (lambda: make_sampler("tpe", worker=-1), "worker must be an integer >= 0"),
        (lambda: DigitsObjective(num_epochs=0), "num_epochs must be an integer >= 1"),
        (lambda: run_worker(None, n_trials=0), "n_trials must be an integer >= 1"),
        (lambda: open_study(None, attempts=0), "attempts must be an integer >= 1"),
    ],
)
def test_bad_arguments_name_the_argument_and_the_choices(call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        call()


def test_a_storage_that_cannot_be_opened_is_retried_then_named(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'missing-folder' / 'study.db'}"
    with pytest.raises(RuntimeError, match="could not open study 'digits' in sqlite:///"):
        open_study(url, attempts=2)
    assert capsys.readouterr().err.count("retrying") == 1


def test_grid_lies_inside_the_search_space():
    for name, values in GRID.items():
        low, high = SEARCH_SPACE[name]
        assert all(low <= v <= high for v in values), name
    trial = optuna.trial.FixedTrial({"lr": 0.1, "width": 32, "weight_decay": 1e-4})
    assert suggest_config(trial) == {"lr": 0.1, "width": 32, "weight_decay": 1e-4}


def _reference_run(objective: DigitsObjective, config: dict, seed: int) -> list[float]:
    """The objective's training loop written with plain PyTorch: the same batches and SGD steps."""
    torch.manual_seed(seed)
    X, y = objective.train_data
    model = make_mlp([64, config["width"], 10])  # the same initial weights
    optimizer = torch.optim.SGD(
        model.parameters(), lr=config["lr"], momentum=0.9, weight_decay=config["weight_decay"]
    )
    order_gen = torch.Generator().manual_seed(seed)  # TensorLoader's shuffling
    accuracies = []
    for _ in range(objective.num_epochs):
        order = torch.randperm(len(X), generator=order_gen)
        for start in range(0, len(X), 64):
            idx = order[start : start + 64]
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(X[idx]), y[idx]).backward()
            optimizer.step()
        with torch.no_grad():
            X_val, y_val = objective.val_data
            accuracies.append((model(X_val).argmax(dim=1) == y_val).double().mean().item())
    return accuracies


def test_objective_matches_a_plain_pytorch_loop():
    objective = DigitsObjective(num_epochs=3)
    assert [len(part[0]) for part in (objective.train_data, objective.val_data, objective.test_data)] == [
        1079, 359, 359,
    ]  # fmt: skip
    mean = objective.train_data[0].mean(dim=0)
    assert mean.abs().max() < 1e-12  # standardized with training statistics
    config = {"lr": 0.05, "width": 24, "weight_decay": 1e-3}
    model, curve = objective.fit(config, seed=3)
    assert curve == pytest.approx(_reference_run(objective, config, seed=3), abs=1e-12)
    assert evaluate(model, objective.val_data)[1] == pytest.approx(curve[-1], abs=1e-12)
    assert curve[-1] > 0.9  # a reasonable configuration learns the digits in 3 epochs
    assert isinstance(TensorLoader(*objective.train_data, batch_size=64), TensorLoader)


def test_a_diverging_run_ends_early_and_is_scored():
    objective = DigitsObjective(num_epochs=4)
    _, curve = objective.fit({"lr": 1e6, "width": 16, "weight_decay": 0.0})
    assert len(curve) < 4 and curve[-1] < 0.3


def test_the_median_pruner_stops_a_bad_trial_after_one_epoch():
    objective = DigitsObjective(num_epochs=3)
    study = optuna.create_study(direction=DIRECTION, pruner=make_pruner("median"))
    for _ in range(5):
        study.enqueue_trial({"lr": 0.1, "width": 32, "weight_decay": 1e-4})
    study.enqueue_trial({"lr": 1e-3, "width": 8, "weight_decay": 1e-4})  # learns far too slowly
    study.optimize(objective, n_trials=6)
    states = [t.state for t in study.trials]
    assert states == [TrialState.COMPLETE] * 5 + [TrialState.PRUNED]
    assert study.trials[-1].user_attrs["epochs"] == 1
    assert [t.user_attrs["epochs"] for t in study.trials[:5]] == [3] * 5


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_a_seeded_study_is_reproducible(sampler):
    runs = [run_worker(None, sampler=sampler, n_trials=4, seed=7, num_epochs=1) for _ in range(2)]
    first, second = ([_trial_record(t) for t in study.trials] for study in runs)
    assert first == second


def test_random_and_tpe_workers_get_their_own_seed_grid_and_sobol_share_one():
    def points(name: str, worker: int) -> list[dict]:
        study = optuna.create_study(direction=DIRECTION, sampler=make_sampler(name, seed=0, worker=worker))
        study.optimize(lambda t: suggest_config(t)["lr"], n_trials=3)
        return [t.params for t in study.trials]

    assert points("random", 0) != points("random", 1)
    assert points("tpe", 0) != points("tpe", 1)
    assert points("sobol", 0) == points("sobol", 1)
    assert points("grid", 0) == points("grid", 1)


def test_a_study_in_sqlite_equals_the_study_in_memory(tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    on_disk = run_worker(storage, sampler="tpe", pruner="median", n_trials=6, seed=1, num_epochs=2)
    in_memory = run_worker(None, sampler="tpe", pruner="median", n_trials=6, seed=1, num_epochs=2)
    reloaded = optuna.load_study(study_name="digits", storage=storage)
    assert [_trial_record(t) for t in reloaded.trials] == [_trial_record(t) for t in in_memory.trials]
    assert [_trial_record(t) for t in on_disk.trials] == [_trial_record(t) for t in in_memory.trials]


def test_optuna_plots_render_as_png_and_seeded_importances_are_deterministic():
    study = run_worker(None, sampler="random", n_trials=10, seed=0, num_epochs=1)
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
    first = optuna.importance.get_param_importances(study, evaluator=evaluator)
    again = optuna.importance.get_param_importances(
        study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0)
    )
    assert first == again and set(first) == set(SEARCH_SPACE)
    assert sum(first.values()) == pytest.approx(1.0)
    plots = optuna.visualization.matplotlib
    with mpl.rc_context(), warnings.catch_warnings():  # they switch to ggplot style; "experimental"
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        for axes in (
            plots.plot_optimization_history(study),
            plots.plot_param_importances(study, evaluator=evaluator),
            plots.plot_slice(study),
        ):
            figure = (axes[0] if hasattr(axes, "__len__") else axes).figure
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png")
            assert buffer.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- the command line
def test_command_line_worker_prints_each_trial_and_the_best(tmp_path):
    storage = f"sqlite:///{tmp_path / 'cli.db'}"
    result = subprocess.run(
        [sys.executable, "-m", "utils.search", "--storage", storage, "--n-trials", "2", "--epochs", "1"],
        capture_output=True, text=True, cwd=ROOT, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert [line.split()[:3] for line in lines[:2]] == [["trial", str(n), "complete"] for n in (0, 1)]
    assert lines[2].startswith("study 'digits': 2 trials; best #")
    study = optuna.load_study(study_name="digits", storage=storage)
    assert f"accuracy {study.best_value:.4f}" in lines[2]


def test_command_line_rejects_bad_options(capsys):
    with pytest.raises(SystemExit) as error:
        parse_args(["--sampler", "bogus"])
    assert error.value.code == 2 and "invalid choice: 'bogus'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["--n-trials", "0"])
    assert "--n-trials must be at least 1" in capsys.readouterr().err
    assert parse_args([]).storage == "sqlite:///tuning.db"


def test_main_in_process_writes_json_lines(tmp_path, capsys):
    storage = f"sqlite:///{tmp_path / 'main.db'}"
    assert main(["--storage", storage, "--n-trials", "2", "--epochs", "1", "--json", "--worker", "3"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["number"] for r in records] == [0, 1] and {r["worker"] for r in records} == {3}


# --------------------------------------------------------------------------- two workers, one study
def _run_workers(storage: str, extra: list[str], num_workers: int = 2) -> list[list[dict]]:
    """Start the workers, release them together, and return each one's JSON trial lines."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TNN_NUM_THREADS": "1"}
    pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    commands = [
        [sys.executable, "-c", LAUNCH, "--storage", storage, "--worker", str(k), *WORKER_ARGS, *extra]
        for k in range(num_workers)
    ]
    workers = [subprocess.Popen(c, text=True, cwd=ROOT, env=env, **pipes) for c in commands]
    try:
        for worker in workers:
            assert worker.stdout.readline().strip() == "ready", worker.stderr.read()
        for worker in workers:  # the start signal, to all workers before waiting for any
            worker.stdin.write("go\n")
            worker.stdin.flush()
        outputs = [worker.communicate(timeout=300) for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    for worker, (_, err) in zip(workers, outputs):
        assert worker.returncode == 0, err
        sys.stderr.write(err)  # shown by pytest on failure (a retried study creation, for example)
    return [[json.loads(line) for line in out.splitlines()] for out, _ in outputs]


def _check_shared_study(storage: str, reports: list[list[dict]], n_trials: int = 8) -> optuna.Study:
    """Every trial recorded exactly once, as its worker reported it; the best trial is consistent."""
    study = optuna.load_study(study_name="shared", storage=storage)
    trials = study.get_trials(deepcopy=False)
    total = n_trials * len(reports)
    # exactly once: the study holds one trial per trial run, numbered 0..total-1, with distinct ids
    assert [len(r) for r in reports] == [n_trials] * len(reports)
    assert sorted(t.number for t in trials) == list(range(total))
    assert len({t._trial_id for t in trials}) == total
    reported = {r["number"]: (k, r) for k, records in enumerate(reports) for r in records}
    assert len(reported) == total, "two workers reported the same trial number"
    for trial in trials:
        worker, record = reported[trial.number]
        assert trial.user_attrs["worker"] == worker == record["worker"]
        stored = (trial.state.name, trial.value, trial.params)
        assert stored == (record["state"], record["value"], record["params"])
        assert trial.state in (TrialState.COMPLETE, TrialState.PRUNED)
    # the two workers ran at the same time: their [first start, last end] intervals overlap
    spans = [
        (min(t.datetime_start for t in trials if t.user_attrs["worker"] == k),
         max(t.datetime_complete for t in trials if t.user_attrs["worker"] == k))
        for k in range(len(reports))
    ]  # fmt: skip
    assert spans[0][0] < spans[1][1] and spans[1][0] < spans[0][1], f"the workers did not overlap: {spans}"
    # the best trial is the best of the recorded complete trials, and re-running it reproduces it
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    best = max(complete, key=lambda t: (t.value, -t.number))
    assert study.best_trial.number == best.number and study.best_value == best.value
    assert study.best_params == best.params == reported[best.number][1]["params"]
    _, curve = DigitsObjective(num_epochs=2).fit(study.best_params)
    assert curve[-1] == study.best_value
    return study


def test_two_workers_share_an_sqlite_study(tmp_path):
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    reports = _run_workers(storage, ["--sampler", "random"])
    study = _check_shared_study(storage, reports)
    params = [tuple(sorted(t.params.items())) for t in study.trials]
    assert len(set(params)) == len(params), "workers with their own seeds propose different points"


def _postgres_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))  # Debian keeps them off PATH
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _unavailable(reason: str) -> None:
    message = f"PostgreSQL could not be started: {reason}. Install it with: bash tools/system_deps.sh test"
    if os.environ.get("TNN_REQUIRE_POSTGRES") == "1":
        pytest.fail(message)
    pytest.skip(message)


def test_without_postgresql_the_test_skips_and_says_why(monkeypatch):
    monkeypatch.delenv("TNN_REQUIRE_POSTGRES", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"started: no initdb\. Install it with: bash tools"):
        _unavailable("no initdb")
    monkeypatch.setenv("TNN_REQUIRE_POSTGRES", "1")  # CI installs PostgreSQL: there a skip is a failure
    with pytest.raises(pytest.fail.Exception, match="could not be started: no initdb"):
        _unavailable("no initdb")


@pytest.fixture
def postgres_url():
    """A throwaway PostgreSQL server on 127.0.0.1, in a temporary data directory; yields its URL."""
    initdb, pg_ctl = _postgres_binary("initdb"), _postgres_binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        _unavailable("initdb and pg_ctl were not found (Debian package postgresql)")
    root = Path(tempfile.mkdtemp(prefix="tnn-postgres-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root: run it as the package's user
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(root)
            _unavailable("the tests run as root and there is no 'postgres' user to run the server")
        os.chown(root, account.pw_uid, account.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", _free_port()
    server = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off"
    commands = [
        [*as_user, initdb, "-D", str(data), "-U", "tnn", "-A", "trust", "-E", "UTF8", "--no-sync"],
        [*as_user, pg_ctl, "-D", str(data), "-l", str(root / "server.log"), "-o", server, "-w", "start"],
    ]
    started = False
    try:
        for command in commands:
            result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
            if result.returncode != 0:
                log = root / "server.log"
                tail = log.read_text()[-500:] if log.exists() else ""
                _unavailable(f"`{Path(command[len(as_user)]).name}` failed: {result.stderr.strip()} {tail}")
            started = command is commands[-1]
        import psycopg2

        connection = psycopg2.connect(host="127.0.0.1", port=port, user="tnn", dbname="postgres")
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("CREATE DATABASE optuna")
        connection.close()
        yield f"postgresql+psycopg2://tnn@127.0.0.1:{port}/optuna"
    finally:
        if started:
            subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"],
                           capture_output=True, timeout=120, check=False)  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


def test_two_workers_share_a_postgresql_study(postgres_url):
    start = time.perf_counter()
    reports = _run_workers(postgres_url, ["--sampler", "tpe", "--pruner", "median"])
    study = _check_shared_study(postgres_url, reports)
    assert any(t.state == TrialState.COMPLETE for t in study.trials)
    assert time.perf_counter() - start < 120, "two workers of 8 tiny trials should take seconds"
