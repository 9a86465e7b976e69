"""The search on a real PostgreSQL server (tests/postgres.py starts one): workers in several working folders on one
study, a worker killed mid-trial, the server restarted mid-search, the runs gathered on the study's side, and one
line for each way the storage can be wrong."""

import os
import signal
import subprocess
import sys
import time

import optuna
import pytest
from test_search import each_name_runs_once

import utils

GRACE = 4  # seconds without a heartbeat before a running trial counts as killed (the heartbeat is 1 s here)
# stage -> its command line's points; each is a dry run of a couple of seconds
STAGES = {
    "probe": ["probe", "--candidates", "m7", "sep5x16", "m7-wide3"],
    "full": ["full", "--candidates", "m7", "sep5x16", "m7-wide3"],
    "grid": ["grid", "--candidates", "m7+wd1e-4", "m7", "m7+aug0.5"],
}


def start(*args, out, storage, env=None):
    """A search process in a session of its own, as on another machine: its runs go to ``out``."""
    command = [sys.executable, "-c", HEARTBEAT_1S, *args, "--dry-run", "--out", str(out), "--storage", storage]
    command += ["--grace", str(GRACE)]
    return subprocess.Popen(
        command,
        cwd=utils.REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, **(env or {})},
    )


# The search's command line with a heartbeat every second, so that a test waits seconds for a stale trial.
HEARTBEAT_1S = (
    "import sys; from tools import search, search_study; search_study.HEARTBEAT_SECONDS = 1; "
    "sys.exit(search.main(sys.argv[1:]))"
)


def finish(proc, timeout=300):
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def trials(storage, stage):
    """The stage's trials; none before a search has made its study."""
    if stage not in optuna.get_all_study_names(storage):
        return []
    return optuna.load_study(study_name=stage, storage=storage).get_trials(deepcopy=False)


def wait_for(condition, timeout=120):
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, "timed out"
        time.sleep(0.2)


def runs_in(folder):
    return sorted(p.name for p in folder.glob("*.json"))


@pytest.mark.parametrize("stage", list(STAGES))
def test_workers_in_two_folders_a_killed_one_rerun_and_every_run_gathered(stage, study_url, tmp_path, mnist):
    points = STAGES[stage][2:]
    alone = tmp_path / "alone"  # the same stage by one worker on SQLite: what gather must give
    code, _, err = finish(start(*STAGES[stage], out=alone, storage=f"sqlite:///{tmp_path}/alone.db"))
    assert code == 0, err[-2000:]
    a, b, gathered = tmp_path / "a", tmp_path / "b", tmp_path / "gathered"
    killed = start(*STAGES[stage], out=a, storage=study_url)
    beside = start(*STAGES[stage], out=b, storage=study_url)
    wait_for(lambda: any(t.user_attrs.get("worker", "").endswith(f":{killed.pid}") for t in trials(study_url, stage)))
    os.killpg(killed.pid, signal.SIGKILL)  # a machine lost mid-trial: nothing of it tells the study
    killed.wait()
    code, out, err = finish(beside)
    assert code == 0, err[-2000:]
    victim = next(t for t in trials(study_url, stage) if t.user_attrs.get("worker", "").endswith(f":{killed.pid}"))
    assert victim.state == optuna.trial.TrialState.RUNNING  # not failed before its heartbeat is stale
    time.sleep(GRACE + 1)
    code, out, err = finish(start(*STAGES[stage], out=b, storage=study_url))  # the rerun: fails it, runs it again
    assert code == 0, err[-2000:]
    assert f"trial {victim.number} ({victim.user_attrs['point']}): no heartbeat" in out
    done = trials(study_url, stage)
    assert done[victim.number].state == optuna.trial.TrialState.FAIL
    complete = [t.user_attrs["point"] for t in done if t.state == optuna.trial.TrialState.COMPLETE]
    assert sorted(complete) == sorted(points)  # every point once, none twice
    assert [t.state for t in done].count(optuna.trial.TrialState.FAIL) == 1
    code, out, err = finish(subprocess.Popen(
        [sys.executable, "-m", "tools.search", "gather", "--out", str(gathered), "--storage", study_url],
        cwd=utils.REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ))  # fmt: skip
    assert code == 0, err
    assert runs_in(gathered) == runs_in(alone) and len(runs_in(gathered)) == len(points)
    for name in runs_in(gathered):  # whole files: a run and its weights load
        utils.load_run(gathered / name)


def test_a_server_restarted_mid_search_loses_nothing_finished(postgres, study_url, tmp_path, mnist):
    worker = start(*STAGES["grid"], out=tmp_path / "a", storage=study_url)
    wait_for(lambda: any(t.state == optuna.trial.TrialState.COMPLETE for t in trials(study_url, "grid")))
    postgres.stop("fast")
    time.sleep(1)
    postgres.start()
    code, _, err = finish(worker)
    # it went on (its pooled connections are checked before use), or stopped with one line
    errors = [line for line in err.splitlines() if "error" in line.lower()]
    assert code == 0 or (len(errors) == 1 and "lost the storage" in errors[0]), err[-2000:]
    assert "Traceback" not in err, err[-2000:]
    time.sleep(GRACE + 1)
    code, _out, err = finish(start(*STAGES["grid"], out=tmp_path / "a", storage=study_url))
    assert code == 0, err[-2000:]
    complete = [t.user_attrs["point"] for t in trials(study_url, "grid") if t.state == optuna.trial.TrialState.COMPLETE]
    assert sorted(complete) == sorted(STAGES["grid"][2:])


def test_the_password_may_come_from_the_environment_and_is_never_printed(postgres, study_url, tmp_path, mnist):
    without = study_url.replace(f":{postgres.password}@", "@")
    code, out, err = finish(start("probe", "--candidates", "m7", out=tmp_path, storage=without,
                                  env={"PGPASSWORD": postgres.password}))  # fmt: skip
    assert code == 0, err[-2000:]
    assert postgres.password not in out + err


def search_line(*args):
    proc = subprocess.run(
        [sys.executable, "-m", "tools.search", *args], cwd=utils.REPO, capture_output=True, text=True, timeout=120
    )
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.parametrize(
    "storage, command, message",
    [
        ("postgresql+psycopg://search:{password}@127.0.0.1:1/search", "status", "cannot connect"),
        ("postgresql+psycopg://search:wrong-{password}@127.0.0.1:{port}/search", "status", "password authentication"),
        ("{url}", "status", "holds no study of this search"),
        ("{url}", "gather", "holds no study of this search"),
        ("{url}", "full", "holds no study 'probe' of this search"),
        ("mongodb://search:{password}@127.0.0.1/search", "status", "not a database URL"),
        ("not a url", "status", "not a database URL"),
    ],
)
def test_a_storage_that_cannot_serve_gives_one_line_and_never_the_password(postgres, study_url, storage, command,
                                                                           message):  # fmt: skip
    url = storage.format(password=postgres.password, port=postgres.port, url=study_url)
    code, out, err = search_line(command, "--storage", url)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and postgres.password not in out + err


def test_searches_started_at_once_run_each_name_once_on_the_server(study_url):
    """PostgreSQL: an advisory lock of the server keeps the searches apart."""
    each_name_runs_once(study_url)
