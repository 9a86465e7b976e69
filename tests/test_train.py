"""The one training loop, its results file and the command line."""

import json
import subprocess
import sys

import pytest
import torch
import torch.nn as nn

import model as model_lib
import train as train_cli
import utils
from utils import course

REPO = utils.REPO
SMALL = dict(epochs=2, train_limit=2048, eval_limit=1000)


@pytest.fixture(scope="module")
def short_run(mnist, tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    cfg = utils.config_for("Model_6", **SMALL)
    return utils.train(cfg, results_dir=out, progress=False, log=lambda s: None), out


def test_loss_drops_and_accuracy_rises(short_run):
    result, _ = short_run
    first, last = result.history[0], result.history[-1]
    assert last.train_loss < first.train_loss
    assert last.eval_acc > 30.0  # far above the 10% of guessing, after 32 steps


def test_same_seed_same_numbers(short_run):
    result, _ = short_run
    again = utils.train(utils.config_for("Model_6", **SMALL), results_dir=None, progress=False, log=lambda s: None)
    strip = lambda h: [(r.train_loss, r.train_acc, r.eval_loss, r.eval_acc, r.lr) for r in h]
    assert strip(again.history) == strip(result.history)
    other = utils.train(
        utils.config_for("Model_6", seed=2, **SMALL), results_dir=None, progress=False, log=lambda s: None
    )
    assert strip(other.history) != strip(result.history)


def test_results_file_holds_everything_the_report_needs(short_run):
    result, out = short_run
    path = out / "Model_6-seed1.json"
    raw = json.loads(path.read_text())
    for key in (
        "model",
        "params",
        "config",
        "history",
        "per_class_accuracy",
        "confusion_matrix",
        "misclassified",
        "wall_time_s",
        "environment",
        "lr_trace",
    ):
        assert key in raw
    for key in ("torch", "device", "git_commit"):
        assert key in raw["environment"]
    assert raw["params"] == model_lib.count_parameters(model_lib.get_model("Model_6"))
    assert raw["config"]["seed"] == 1 and len(raw["history"]) == 2
    assert sum(map(sum, raw["confusion_matrix"])) == 1000
    assert len(raw["misclassified"]) == 1000 - sum(raw["confusion_matrix"][i][i] for i in range(10))
    loaded = utils.load_result(path)
    assert loaded.history == result.history and loaded.accuracies() == result.accuracies()


def fake_result(name: str, model: str, accuracies) -> utils.Result:
    history = [utils.EpochRecord(i + 1, 0.01, 0.1, 99.0, 0.02, a, 1.0) for i, a in enumerate(accuracies)]
    return utils.Result(name, model, 1000, {"seed": 1}, "test", history, [], [], [], [], 1.0)


def test_the_bar_is_each_of_the_last_epochs_within_the_epoch_limit():
    bar = course.S7.min_acc
    at_bar = fake_result("r", "M", (98.0,) * 12 + (bar, bar + 0.1, bar))
    assert utils.meets_bar(at_bar, bar)  # at the bar counts; 15 epochs are allowed by default
    assert not utils.meets_bar(at_bar, bar + 0.01)
    assert not utils.meets_bar(at_bar, bar, last=4)  # 98.0 is the 4th-last
    assert not utils.meets_bar(at_bar, bar, max_epochs=14)
    one_below = fake_result("r", "M", (bar + 0.1, bar - 0.01, bar + 0.1, bar + 0.1))
    assert not utils.meets_bar(one_below, bar) and utils.meets_bar(one_below, bar, last=2)
    too_long = fake_result("r", "M", (bar + 0.1,) * 16)
    assert not utils.meets_bar(too_long, bar) and utils.meets_bar(too_long, bar, max_epochs=16)
    # a seed's floor is the lowest of the bar's last epochs; the statistic over seeds is of the floors
    assert course.S7.floor(one_below) == bar - 0.01 and course.S7.floor(at_bar) == bar
    mean, std, low = utils.floor_stats([at_bar, one_below, fake_result("r", "M", (99.6, 99.5, 99.7))], course.S7)
    assert (round(mean, 4), round(std, 4), low) == (99.43, 0.0608, 99.39)  # floors 99.40, 99.39, 99.50


def test_the_seed_table_gives_each_seeds_floor_and_how_many_hold_each_bar_by_the_one_rule():
    bar = course.S7.min_acc
    runs = [
        fake_result("a", "M", (98.0,) * 12 + (bar, bar + 0.1, bar + 0.2)),  # floor at the bar: holds
        fake_result("b", "M", (98.0,) * 12 + (bar + 0.2, bar - 0.01, bar + 0.3)),  # one epoch under it
        fake_result("c", "M", (bar + 0.2,) * 16),  # above it, but one epoch too many for Session 7
    ]
    for i, r in enumerate(runs):
        r.config["seed"] = i + 1
    assert [utils.holds(r, course.S7) for r in runs] == [True, False, False]
    assert [utils.holds(r, course.S6) for r in runs] == [True, False, True]  # Session 6 allows 20 epochs
    table = utils.seeds_table(runs, course.S7, course.S6)
    assert [line.split(" | ")[3] for line in table.splitlines()[2:5]] == ["99.40", "99.39", "99.60"]  # floors
    s7, s6 = table.splitlines()[-2:]
    assert s7.startswith("At 99.4% in each of the last 3 of at most 15 epochs: 1 of 3 seed(s) hold")
    assert s6.startswith("At 99.4% in each of the last 3 of at most 20 epochs: 2 of 3 seed(s) hold")
    assert "mean 99.46%" in s7 and "lowest 99.39%" in s7  # the floors' statistic, not all last epochs pooled
    with pytest.raises(ValueError, match="at least one bar"):
        utils.seeds_table(runs)


def test_results_files_are_read_back_whole_and_only_from_their_own_folder(tmp_path):
    runs = [fake_result("A-seed1", "A", (99.1, 99.2)), fake_result("B-seed1", "B", (98.0,))]
    paths = [utils.save_result(r, tmp_path) for r in runs]
    assert [p.name for p in paths] == ["A-seed1.json", "B-seed1.json"]
    utils.save_result(fake_result("A-seed1", "A", (50.0,)), tmp_path / "val")  # a subfolder: not these runs
    assert utils.load_results(tmp_path) == runs
    assert utils.load_results(tmp_path, model="B") == runs[1:]
    assert utils.load_results(tmp_path / "val")[0].accuracies() == [50.0]
    assert utils.result_path(tmp_path, "A-seed1") == paths[0]
    assert utils.weights_path(paths[0]) == tmp_path / "A-seed1.safetensors"
    committed = utils.DEFAULT_RESULTS_DIR / "Model_6-seed1.json"  # read and written again, byte for byte
    assert utils.save_result(utils.load_result(committed), tmp_path / "again").read_bytes() == committed.read_bytes()


def test_course_line_format():
    ev = utils.Evaluation(0.01912, 9948, 10000, None)
    assert utils.course_line("Test", ev) == "Test set: Average loss: 0.0191, Accuracy: 9948/10000 (99.48%)"


def test_one_cycle_schedule_peaks_then_anneals(short_run):
    result, _ = short_run
    trace = result.lr_trace
    peak = max(trace)
    assert peak == pytest.approx(result.config["lr"], rel=1e-3)
    assert trace[0] < peak / 5 and trace[-1] < peak / 100


def rates(cfg, steps_per_epoch=10):
    """The rate of every step of ``cfg``'s schedule, as train_epoch steps it."""
    opt, sched = utils.training.make_optimizer(torch.nn.Linear(1, 1), cfg, steps_per_epoch)
    trace = []
    for _ in range(cfg.epochs * steps_per_epoch):
        trace.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return trace


def test_a_held_final_rate_keeps_the_cycles_floor_for_the_last_epochs():
    plain = utils.config_for("Model_6", epochs=5)
    held = utils.config_for("Model_6", epochs=5, hold=2)
    cycle = rates(utils.config_for("Model_6", epochs=3))
    trace = rates(held)
    assert trace[:30] == pytest.approx(cycle)  # the whole cycle over the first 3 epochs ...
    assert trace[30:] == [cycle[-1]] * 20  # ... then its final rate, held
    assert cycle[-1] < max(cycle) / 500
    assert rates(plain)[-20:] != trace[-20:]  # without a hold the rate still anneals there


def test_a_run_shorter_than_its_recipes_hold_keeps_one_epoch_of_cycle():
    assert utils.config_for("Model_9").hold == 2
    assert utils.config_for("Model_9", epochs=2).hold == 1
    assert utils.config_for("Model_9", epochs=1).hold == 0  # the notebooks' smoke runs, --dry-run
    with pytest.raises(ValueError, match="hold must be in"):
        utils.config_for("Model_9", epochs=2, hold=2)  # asked for explicitly: refused


def test_a_run_records_the_code_it_started_with_not_a_commit_made_while_it_trained(mnist, monkeypatch):
    epochs_done = []
    train_epoch = utils.training.train_epoch
    monkeypatch.setattr(utils.training, "train_epoch", lambda *a, **k: epochs_done.append(1) or train_epoch(*a, **k))
    monkeypatch.setattr(utils.training, "environment", lambda *a: {"git_commit": f"after {len(epochs_done)} epochs"})
    cfg = utils.config_for("Model_7", epochs=2, train_limit=512, eval_limit=100)
    result = utils.train(cfg, results_dir=None, progress=False, log=lambda line: None)
    assert result.environment == {"git_commit": "after 0 epochs"}


def test_bad_config_values_are_rejected():
    for bad in (
        dict(epochs=0),
        dict(batch_size=-1),
        dict(lr=0),
        dict(schedule="cosine"),
        dict(eval_split="train"),
        dict(hold=15),
        dict(hold=-1),
        dict(activation="silu"),  # a registered model's activation is its own
        dict(layers="6 12 M 10", activation="tanh"),
    ):
        with pytest.raises(ValueError):
            utils.config_for("Model_6", **bad)
    with pytest.raises(ValueError, match="unknown TrainConfig field"):
        utils.config_for("Model_6", epoch=3)


def run_cli(*args):
    return subprocess.run([sys.executable, "train.py", *args], cwd=REPO, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    "args,message",
    [
        (["--model", "Model_99"], "unknown model 'Model_99'; known models: Model_1"),
        (["--epochs", "0"], "epochs must be positive, got 0"),
        (["--epochs", "-3"], "epochs must be positive, got -3"),
        (["--batch-size", "0"], "batch_size must be positive, got 0"),
        (["--out", "/proc/no/such/dir"], "cannot write results to /proc/no/such/dir"),
        (["--epochs", "two"], "argument --epochs: invalid int value: 'two'"),
        (
            ["--model", "Model_6", "--train-limit", "128", "--epochs", "1"],
            "the one-cycle schedule needs at least 4 steps, got 1",
        ),
        (["--layers", "8 x12 M"], "bad layer token 'x12'"),
        (["--layers", "8 16 16 16 16 16 16 16 16 16 16 16 16 16"], "shrink the 28x28 image to nothing"),
        (["--ema", "0.99"], "unrecognized arguments: --ema 0.99"),  # the search's features are not the course's
        (["--hold", "2", "--schedule", "constant"], "hold must be in [0, epochs) and needs the one-cycle schedule"),
        (["--layers", "6 12 M 10", "--activation", "tanh"], "unknown activation 'tanh'; known: relu"),
    ],
)
def test_cli_bad_input_gives_one_line_error(args, message):
    proc = run_cli(*args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len([line for line in proc.stderr.splitlines() if "error" in line]) == 1


def test_cli_help_documents_every_option():
    proc = run_cli("--help")
    assert proc.returncode == 0
    for option in (
        "--model",
        "--seeds",
        "--epochs",
        "--batch-size",
        "--lr",
        "--eval-split",
        "--dry-run",
        "--out",
        "--data-dir",
        "--list",
        "--rotate",
        "--schedule",
    ):
        assert option in proc.stdout


def test_each_training_option_is_a_config_field_whose_help_is_written_once():
    """train.py's recipe options are TrainConfig's fields made with ``option``: the help text lives beside the field,
    and nowhere else in the code."""
    options = utils.TrainConfig.options()
    assert {"epochs", "lr", "hold", "bn_batches", "layers"} <= set(options)
    assert "model" not in options and "seed" not in options  # train.py's own --model and --seeds
    tracked = subprocess.run(["git", "ls-files", "*.py"], cwd=REPO, capture_output=True, text=True, check=True)
    elsewhere = [(REPO / path).read_text() for path in tracked.stdout.split() if path != "utils/config.py"]
    for name, (kind, help_text) in options.items():
        assert not any(help_text[:30] in text for text in elsewhere), name
        assert getattr(train_cli.parse_args([f"--{name.replace('_', '-')}", str(kind(1))]), name) == kind(1), name


def test_cli_list_names_every_model():
    proc = run_cli("--list")
    assert proc.returncode == 0
    for name in model_lib.list_models():
        assert name in proc.stdout


def test_cli_dry_run_trains_and_writes_nothing(tmp_path):
    proc = run_cli("--model", "Model_7", "--dry-run", "--no-progress", "--out", str(tmp_path / "r"))
    assert proc.returncode == 0, proc.stderr
    assert "Test set: Average loss:" in proc.stdout and "/1000 (" in proc.stdout
    assert not (tmp_path / "r").exists()


def test_cli_writes_the_results_file(tmp_path):
    proc = run_cli(
        "--model",
        "Model_7",
        "--epochs",
        "1",
        "--train-limit",
        "512",
        "--eval-limit",
        "500",
        "--seeds",
        "4",
        "5",
        "--no-progress",
        "--out",
        str(tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "Model_7-seed4.json",
        "Model_7-seed4.safetensors",
        "Model_7-seed5.json",
        "Model_7-seed5.safetensors",
    ]
    # the summary is the README's statistic: each seed's floor (a 1-epoch run's only epoch)
    runs = [utils.load_result(tmp_path / f"Model_7-seed{s}.json") for s in (4, 5)]
    mean, std, low = utils.floor_stats(runs, course.S7)
    assert f"floor (lowest of the last 3 epochs) over 2 seeds: mean {mean:.2f}%, std {std:.3f}, lowest {low:.2f}%" in (
        proc.stdout
    )


def test_weights_are_written_beside_the_results_and_reload_to_the_same_accuracy(short_run, mnist):
    result, out = short_run
    net = utils.load_run(out / "Model_6-seed1.json")
    split = utils.make_split(mnist, torch.device("cpu"), **utils.config_for("Model_6", **SMALL).images)
    assert utils.evaluate(net, split.eval_x, split.eval_y).accuracy == result.accuracies()[-1]


def test_mismatched_or_corrupted_weights_are_named(short_run, tmp_path):
    _, out = short_run
    weights = out / "Model_6-seed1.safetensors"
    with pytest.raises(utils.WeightsError, match=r"does not fit Model_7: shape of features.0.0.weight \(8, 1, 3, 3\)"):
        utils.load_weights(model_lib.get_model("Model_7"), weights)
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(utils.WeightsError, match=r"broken\.safetensors: not a readable safetensors file"):
        utils.load_weights(model_lib.get_model("Model_6"), broken)
    with pytest.raises(utils.WeightsError, match="no trained weights for Model_6 seed 9"):
        utils.load_trained("Model_6", seed=9)


def test_every_mismatch_of_a_weights_file_is_named_and_a_fit_loads_in_eval_mode(tmp_path):
    from safetensors.torch import save_file

    net = model_lib.get_model("Model_6")
    state = {k: v.clone() for k, v in net.state_dict().items()}
    state.pop("features.0.0.weight")
    state["extra.weight"] = state["features.1.0.weight"].clone()
    state["features.1.0.weight"] = state["features.1.0.weight"][:1].clone()
    save_file(state, str(tmp_path / "odd.safetensors"))
    with pytest.raises(utils.WeightsError) as err:
        utils.load_weights(model_lib.get_model("Model_6"), tmp_path / "odd.safetensors")
    assert str(err.value) == (
        f"{tmp_path / 'odd.safetensors'} does not fit Model_6: missing features.0.0.weight; unexpected extra.weight; "
        "shape of features.1.0.weight (1, 8, 3, 3) (the model has (16, 8, 3, 3))"
    )
    for kind, change in (
        ("missing", lambda st: [st.pop("head.bias"), st.pop("head.weight")]),
        ("unexpected", lambda st: st.update(x=st["head.bias"].clone(), y=st["head.bias"].clone())),
    ):
        alone = {k: v.clone() for k, v in net.state_dict().items()}
        change(alone)  # one kind of mismatch alone is refused as well, all of its tensors named
        save_file(alone, str(tmp_path / f"{kind}.safetensors"))
        with pytest.raises(utils.WeightsError, match=f"does not fit Model_6: {kind} (head.bias, head.weight|x, y)$"):
            utils.load_weights(model_lib.get_model("Model_6"), tmp_path / f"{kind}.safetensors")
    with pytest.raises(utils.WeightsError, match=r"absent\.safetensors: no such weights file$"):
        utils.load_weights(net, tmp_path / "absent.safetensors")
    with torch.no_grad():
        net.head.weight.fill_(0.5)
    utils.save_weights(net.train(), tmp_path / "fit.safetensors")
    loaded = utils.load_weights(model_lib.get_model("Model_6").train(), tmp_path / "fit.safetensors")
    assert not loaded.training and torch.equal(loaded.head.weight, net.head.weight)


def test_a_stop_callback_ends_the_run_and_the_file_keeps_the_epochs_that_ran(mnist, tmp_path):
    cfg = utils.config_for("Model_7", epochs=3, train_limit=1024, eval_limit=500)
    result = utils.train(cfg, results_dir=tmp_path, progress=False, log=lambda s: None, stop=lambda r: r.epoch == 1)
    assert len(result.history) == 1
    assert len(utils.load_result(tmp_path / "Model_7-seed1.json").history) == 1


def test_the_defaults_train_the_session_7_model_into_runs_not_the_reference_results():
    import train

    assert train.parse_args([]).out == utils.DEFAULT_RUNS_DIR != utils.DEFAULT_RESULTS_DIR
    assert train.parse_args([]).model == model_lib.S7_FINAL


def test_recomputed_batchnorm_statistics_are_the_plain_mean_of_the_images_with_dropout_off():
    torch.manual_seed(0)
    conv = nn.Conv2d(1, 3, 3, bias=False)
    net = nn.Sequential(nn.Dropout2d(0.5), conv, nn.BatchNorm2d(3))
    x = torch.randn(20, 1, 8, 8) * 2 + 1
    utils.training.recompute_batchnorm(
        net, x, batches=5, batch_size=4
    )  # 5 batches of 4: every image, each counted once
    features = conv(x).detach().transpose(0, 1).reshape(3, -1)  # what BatchNorm sees with dropout off
    bn = net[2]
    assert torch.allclose(bn.running_mean, features.mean(1), atol=1e-5)
    per_batch_var = [conv(x[i : i + 4]).detach().transpose(0, 1).reshape(3, -1).var(1) for i in range(0, 20, 4)]
    assert torch.allclose(bn.running_var, torch.stack(per_batch_var).mean(0), rtol=1e-4)
    assert bn.momentum == 0.1 and not net.training
    utils.training.recompute_batchnorm(net, x, batches=1, batch_size=4)  # the first batch only, not a running mix
    assert torch.allclose(bn.running_mean, conv(x[:4]).detach().transpose(0, 1).reshape(3, -1).mean(1), atol=1e-5)


def test_recomputed_batchnorm_changes_the_evaluation_and_not_the_training(mnist):
    runs = [
        utils.train(
            utils.config_for("Model_7", bn_batches=bn_batches, **SMALL),
            results_dir=None,
            progress=False,
            log=lambda s: None,
        )
        for bn_batches in (0, 4)
    ]
    plain, recomputed = ([(r.train_loss, r.train_acc) for r in run.history] for run in runs)
    assert plain == recomputed
    assert [r.eval_loss for r in runs[0].history] != [r.eval_loss for r in runs[1].history]
    with pytest.raises(ValueError, match="bn_batches must be >= 0"):
        utils.config_for("Model_7", bn_batches=-1)
