"""The notebook checker, on notebooks crafted to break each requirement, and on a good one."""

import contextlib
import dataclasses
import io
import json
import subprocess
import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

import model as model_lib
import utils
from tools import check_notebook
from utils import course

CHECKER = [sys.executable, "-m", "tools.check_notebook"]
MODEL_6_PARAMS = f"{model_lib.count_parameters(model_lib.get_model('Model_6')):,}"
S7 = course.S7
BARS = ["--bar", "S7"]


def stream(text):
    return new_output("stream", name="stdout", text=text)


def log_line(acc_hundredths):
    return f"Test set: Average loss: 0.0200, Accuracy: {acc_hundredths}/10000 ({acc_hundredths / 100:.2f}%)\n"


def model_output(name="Model_6", summary=None, accuracies=(9900, 9942, 9945, 9951)):
    summary = summary if summary is not None else utils.model_summary(model_lib.get_model(name))
    return f"Model: {name}\n{summary}\n" + "".join(log_line(a) for a in accuracies)


def write(tmp_path, *outputs, final="Model_6"):
    cells = [new_code_cell("run()", outputs=[stream(o) for o in outputs])]
    if final:
        cells.append(new_code_cell("final()", outputs=[stream(f"Final model: {final}\n")]))
    path = tmp_path / "nb.ipynb"
    nbformat.write(new_notebook(cells=cells), str(path))
    return path


def run(path, *extra):
    """The checker's exit status and everything it printed."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = check_notebook.main([str(path), *BARS, *extra])
    return code, out.getvalue() + err.getvalue()


def test_command_line_exit_status(tmp_path):
    good = write(tmp_path, model_output())
    proc = subprocess.run([*CHECKER, str(good), *BARS], capture_output=True, text=True, timeout=120, cwd=utils.REPO)
    assert proc.returncode == 0 and proc.stdout.count("PASS") == 7
    bad = write(tmp_path, model_output(accuracies=(9950, 9950, 9939, 9950)))
    proc = subprocess.run([*CHECKER, str(bad), *BARS], capture_output=True, text=True, timeout=120, cwd=utils.REPO)
    assert proc.returncode == 1 and "FAIL accuracy" in proc.stdout


def swap_layer(summary, old, new):
    return summary.replace(f"{old}-", f"{new}-")


def test_a_good_notebook_passes(tmp_path):
    code, out = run(write(tmp_path, model_output()))
    assert code == 0, out
    assert out.count("PASS") == 7 and "FAIL" not in out
    assert out.splitlines() == [
        f"PASS parameters: {MODEL_6_PARAMS} (limit: fewer than 8,000)",
        f"PASS parameters match model.py: notebook printed {MODEL_6_PARAMS}, model.py builds {MODEL_6_PARAMS}",
        "PASS BatchNorm: BatchNorm2d",
        "PASS Dropout: Dropout2d",
        "PASS global average pooling: AdaptiveAvgPool2d -> [-1, 16, 1, 1]",
        "PASS epochs: 4 (limit: 15)",
        "PASS accuracy, each of the last 3 epochs: 99.42%, 99.45%, 99.51% (bar: 99.4%)",
    ]


def test_the_checked_model_is_the_final_one_not_the_others(tmp_path):
    weak = model_output("Model_1", accuracies=(9000,) * 15)
    code, out = run(write(tmp_path, weak, model_output()))
    assert code == 0, out
    # between two other models: its section ends where the next one starts
    code, out = run(write(tmp_path, weak, model_output(), model_output("Model_7", accuracies=(9000,) * 15)))
    assert code == 0 and "PASS parameters: " + MODEL_6_PARAMS in out, out


@pytest.mark.parametrize(
    "make,expected",
    [
        (
            lambda s: s.replace(f"Total params: {MODEL_6_PARAMS}", "Total params: 9,552"),
            "FAIL parameters: 9,552 (limit: fewer than 8,000)",
        ),
        (
            lambda s: s.replace(f"Total params: {MODEL_6_PARAMS}", "Total params: 6,000"),
            f"FAIL parameters match model.py: notebook printed 6,000, model.py builds {MODEL_6_PARAMS}",
        ),
        (lambda s: swap_layer(s, "BatchNorm2d", "GroupNorm"), "FAIL BatchNorm: no BatchNorm layer"),
        (lambda s: swap_layer(s, "Dropout2d", "Identity"), "FAIL Dropout: no Dropout layer"),
        (
            lambda s: swap_layer(s, "AdaptiveAvgPool2d", "MaxPool2d"),
            "FAIL global average pooling: no layer pools to 1x1",
        ),
    ],
)
def test_broken_summaries_are_rejected(tmp_path, make, expected):
    good = utils.model_summary(model_lib.get_model("Model_6"))
    code, out = run(write(tmp_path, model_output(summary=make(good))))
    assert code == 1 and expected in out, out


def test_every_kind_of_normalization_and_dropout_is_named(tmp_path):
    summary = utils.model_summary(model_lib.get_model("Model_6"))
    dropout = next(line for line in summary.splitlines() if "Dropout2d-" in line)
    summary = summary.replace("BatchNorm2d-", "BatchNorm1d-", 1).replace(
        dropout, dropout.replace("2d-", "-") + "\n" + dropout
    )
    code, out = run(write(tmp_path, model_output(summary=summary)))
    assert code == 0 and "PASS BatchNorm: BatchNorm1d, BatchNorm2d\n" in out, out
    assert "PASS Dropout: Dropout, Dropout2d\n" in out, out


def test_avgpool_to_1x1_counts_as_gap(tmp_path):
    summary = swap_layer(utils.model_summary(model_lib.get_model("Model_6")), "AdaptiveAvgPool2d", "AvgPool2d")
    code, out = run(write(tmp_path, model_output(summary=summary)))
    assert code == 0 and "PASS global average pooling: AvgPool2d -> [-1, 16, 1, 1]" in out, out


def test_too_many_epochs(tmp_path):
    code, out = run(write(tmp_path, model_output(accuracies=(9950,) * 16)))
    assert code == 1 and "FAIL epochs: 16 (limit: 15)" in out


def test_the_limits_are_inclusive(tmp_path):
    """15 epochs when 15 are allowed, and an epoch exactly at the bar, pass."""
    code, out = run(write(tmp_path, model_output(accuracies=(9800,) * 12 + (9940, 9950, 9940))))
    assert code == 0, out
    assert "PASS epochs: 15 (limit: 15)" in out and "99.40%, 99.50%, 99.40% (bar: 99.4%)" in out


def test_the_window_is_the_bars_own(tmp_path):
    path = write(tmp_path, model_output(accuracies=(9900, 9950, 9950, 9950)))
    accuracy = check_notebook.check(path, S7)[-1]
    assert accuracy.ok and accuracy.line().startswith(
        "PASS accuracy, each of the last 3 epochs: 99.50%, 99.50%, 99.50%"
    )
    accuracy = check_notebook.check(path, dataclasses.replace(S7, last=4))[-1]
    assert not accuracy.ok and accuracy.line().startswith("FAIL accuracy, each of the last 4 epochs: 99.00%, 99.50%")
    code, out = run(write(tmp_path, model_output(accuracies=(9950, 9950, 9950))))  # exactly the window
    assert code == 0 and "PASS accuracy, each of the last 3 epochs: 99.50%, 99.50%, 99.50% (bar: 99.4%)\n" in out


def test_the_bar_is_the_notebooks_own_or_named_and_documented(tmp_path, capsys):
    good = write(tmp_path, model_output(accuracies=(9950,) * 18))
    assert check_notebook.main([str(good)]) == 1  # nb.ipynb: which bar?
    assert capsys.readouterr().out == "FAIL notebook: which bar? nb.ipynb is not one of S6, S7: pass --bar\n"
    s6 = good.rename(tmp_path / "S6.ipynb")
    assert check_notebook.main([str(s6)]) == 0  # Session 6's bar: 20 epochs allowed, under 20,000 parameters
    assert "(limit: fewer than 20,000)" in capsys.readouterr().out
    assert check_notebook.main([str(s6), "--bar", "S7"]) == 1  # 18 epochs: over Session 7's 15
    assert "FAIL epochs: 18 (limit: 15)" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stop:
        check_notebook.main([str(s6), "--bar", "S8"])
    assert stop.value.code == 2 and "argument --bar: invalid choice: 'S8'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        check_notebook.main(["--help"])
    raw_help = capsys.readouterr().out
    # the description is the module's docstring, its example command kept on a line of its own
    assert "\n    python -m tools.check_notebook S7.ipynb " in raw_help
    help_text = " ".join(raw_help.split())
    for words in (
        "--bar {S6,S7} the course's bar to check (default: the notebook's own, S6.ipynb -> S6, S7.ipynb -> S7)",
        "--model MODEL model to check (default: the notebook's 'Final model:' line)",
        "--badges BADGES write shields.io badge files here",
    ):
        assert words in help_text, words


def test_one_late_epoch_below_the_bar(tmp_path):
    code, out = run(write(tmp_path, model_output(accuracies=(9950, 9950, 9939, 9950))))
    assert code == 1 and "FAIL accuracy, each of the last 3 epochs: 99.50%, 99.39%, 99.50%" in out


def test_fewer_epochs_than_the_window(tmp_path):
    code, out = run(write(tmp_path, model_output(accuracies=(9950, 9950))))
    assert (
        code == 1
        and "FAIL accuracy, each of the last 3 epochs: 99.50%, 99.50% (bar: 99.4%; only 2 epoch(s) logged)" in out
    )


def test_model_no_longer_in_model_py(tmp_path):
    text = model_output().replace("Model: Model_6", "Model: Model_Gone")
    code, out = run(write(tmp_path, text, final="Model_Gone"))
    assert code == 1 and "model.py builds no model named Model_Gone" in out


@pytest.mark.parametrize(
    "build,expected",
    [
        (lambda p: nbformat.write(new_notebook(cells=[new_code_cell("x = 1")]), str(p)), "has no outputs"),
        (
            lambda p: nbformat.write(
                new_notebook(
                    cells=[
                        new_code_cell(
                            "1/0",
                            outputs=[
                                new_output("error", ename="ZeroDivisionError", evalue="division by zero", traceback=[])
                            ],
                        )
                    ]
                ),
                str(p),
            ),
            "raised ZeroDivisionError: division by zero",
        ),
        (lambda p: p.write_text("{not json"), "not a readable notebook (NotJSONError"),
    ],
)
def test_unusable_notebooks(tmp_path, build, expected):
    path = tmp_path / "nb.ipynb"
    build(path)
    code, out = run(path)
    assert code == 1 and expected in out, out


def test_every_kind_of_output_a_real_notebook_has(tmp_path):
    """Markdown before the code, stderr (never read), text results and pictures without text: only what the
    code printed to stdout or returned as text counts."""
    from nbformat.v4 import new_markdown_cell

    good = model_output()
    misleading = model_output(accuracies=(9000, 9000, 9000, 9000))
    cells = [
        new_markdown_cell("# A title, as every notebook has"),
        new_code_cell("warn()", outputs=[new_output("stream", name="stderr", text=misleading)]),
        new_code_cell("plot()", outputs=[new_output("display_data", data={"image/png": "iVBORw0KGgo="})]),
        new_code_cell("run()", outputs=[new_output("execute_result", data={"text/plain": good}, execution_count=1)]),
        new_code_cell("final()", outputs=[new_output("display_data", data={"text/plain": "Final model: Model_6"})]),
    ]
    raw = json.loads(nbformat.writes(new_notebook(cells=[*cells, new_code_cell("never_run()")])))
    del raw["cells"][-1]["outputs"]  # a code cell saved without its outputs key
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(raw))
    code, out = run(path)
    assert code == 0, out
    assert "PASS accuracy, each of the last 3 epochs: 99.42%, 99.45%, 99.51%" in out


def test_missing_lines(tmp_path):
    code, out = run(write(tmp_path, "Model: Model_6\n" + log_line(9950) * 3))
    assert code == 1 and "no torchsummary table" in out
    no_total = "\n".join(line for line in model_output().splitlines() if not line.startswith("Total params"))
    code, out = run(write(tmp_path, no_total))
    assert code == 1 and "no torchsummary table" in out
    summary_only = "Model: Model_6\n" + utils.model_summary(model_lib.get_model("Model_6"))
    code, out = run(write(tmp_path, summary_only))
    assert code == 1 and "no 'Test set: Average loss" in out
    code, out = run(write(tmp_path, model_output(), final=None))
    assert code == 1 and "FAIL notebook: no 'Final model: <name>' line in the outputs; pass --model\n" in out
    code, out = run(write(tmp_path, model_output(), final="Model_7"))
    assert code == 1 and "no 'Model: Model_7' section" in out


def test_model_names_the_model_to_check(tmp_path):
    weak = model_output("Model_1", accuracies=(9000,) * 15)
    path = write(tmp_path, weak, model_output())  # the notebook's final model is Model_6, which passes
    code, out = run(path, "--model", "Model_1")
    assert code == 1 and "FAIL accuracy, each of the last 3 epochs: 90.00%, 90.00%, 90.00%" in out


def test_the_parameter_limit_is_the_bars_strict_or_inclusive(tmp_path):
    path = write(tmp_path, model_output())
    params = model_lib.count_parameters(model_lib.get_model("Model_6"))
    strict = check_notebook.check(path, dataclasses.replace(S7, max_params=params))[0]
    assert strict.line() == f"FAIL parameters: {MODEL_6_PARAMS} (limit: fewer than {MODEL_6_PARAMS})"
    inclusive = check_notebook.check(path, dataclasses.replace(S7, max_params=params, strict=False))[0]
    assert inclusive.line() == f"PASS parameters: {MODEL_6_PARAMS} (limit: at most {MODEL_6_PARAMS})"
    below = check_notebook.check(path, dataclasses.replace(S7, max_params=params - 1, strict=False))[0]
    assert not below.ok


def test_missing_notebook(tmp_path, capsys):
    code = check_notebook.main([str(tmp_path / "absent.ipynb"), *BARS])
    out, err = capsys.readouterr()
    assert code == 1 and out == "" and err == f"FAIL notebook: {tmp_path / 'absent.ipynb'} does not exist\n"


def test_badges_follow_the_outcome(tmp_path):
    path = write(tmp_path, model_output(accuracies=(9950, 9950, 9939, 9950)))
    folder = tmp_path / "not" / "yet" / "there"
    run(path, "--badges", str(folder))
    run(path, "--badges", str(folder))  # again, into the folder the first run made
    badges = {p.name: json.loads(p.read_text()) for p in folder.iterdir()}
    assert set(badges) == {f"nb-{k}.json" for k in ("parameters", "batchnorm", "dropout", "gap", "accuracy")}
    assert badges["nb-accuracy.json"] == {
        "schemaVersion": 1,
        "label": "nb accuracy",
        "message": "fail (99.50%, 99.39%, 99.50%)",
        "color": "red",
    }
    assert badges["nb-parameters.json"] == {
        "schemaVersion": 1,
        "label": "nb parameters",
        "message": f"pass ({MODEL_6_PARAMS})",
        "color": "brightgreen",
    }
    assert badges["nb-gap.json"] == {"schemaVersion": 1, "label": "nb GAP", "message": "pass", "color": "brightgreen"}
    for key in ("batchnorm", "dropout"):
        assert badges[f"nb-{key}.json"]["message"] == "pass" and badges[f"nb-{key}.json"]["color"] == "brightgreen"
