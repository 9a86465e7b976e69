"""The README's "Make it your submission", walked as written in a fresh clone of a fork: the installs, the fork
command, the notebooks executed in place (as a smoke run), then the CI workflow's tests job. A student's runs must
leave the reference runs in results/ untouched and every check green."""

import re
import shlex
import subprocess
import sys

import pytest
import yaml

import utils

README = (utils.REPO / "README.md").read_text()


def submission_commands() -> list[str]:
    """The commands of the numbered steps, in the README's order."""
    section = README.split("## Make it your submission", 1)[1].split("\n## ", 1)[0]
    steps = "\n".join(line for line in section.splitlines() if re.match(r"(\d+\.| {3})", line))
    return [c for c in re.findall(r"`([^`]+)`", steps) if c.startswith(("pip ", "python "))]


def as_run_here(command: str) -> list[str]:
    """A README command run by this interpreter: `pip ...` as `<python> -m pip ...`, `python ...` as `<python> ...`."""
    words = shlex.split(command)
    return [sys.executable, "-m", *words] if words[0] == "pip" else [sys.executable, *words[1:]]


def ci_tests_command() -> list[str]:
    job = yaml.safe_load((utils.REPO / ".github" / "workflows" / "ci.yml").read_text())["jobs"]["tests"]
    return as_run_here(next(s["run"] for s in job["steps"] if s.get("name") == "Tests"))


def test_the_submission_steps_are_the_fork_the_installs_and_the_notebooks():
    assert submission_commands() == [
        "pip install -r requirements-dev.txt",
        "python -m tools.fork",
        "python -m tools.run_notebooks --out .",
    ]


@pytest.mark.slow
def test_a_student_walks_make_it_your_submission_and_ci_stays_green(tmp_path):
    clone = tmp_path / "my-mnist"
    subprocess.run(["git", "clone", "-q", "--no-local", str(utils.REPO), str(clone)], check=True)
    fork = "a-student/mnist-s7"  # not test_fork's slug: the fork's own tests run that one
    subprocess.run(["git", "remote", "set-url", "origin", f"https://github.com/{fork}.git"], cwd=clone, check=True)
    (clone / "data").symlink_to(utils.DEFAULT_DATA_DIR)  # MNIST as it was fetched here, checked again by its md5

    def run(args, timeout):
        proc = subprocess.run(args, cwd=clone, capture_output=True, text=True, timeout=timeout)
        assert proc.returncode == 0, (args, proc.stdout[-3000:], proc.stderr[-3000:])
        return proc

    for command in submission_commands():
        smoke = ["--smoke"] if "run_notebooks" in command else []  # the notebooks in seconds, not an hour
        run(as_run_here(command) + smoke, timeout=1800)
    assert fork in (clone / "README.md").read_text()
    assert list((clone / "runs").glob("*-seed1.json")), "the notebooks' runs go to runs/"
    assert subprocess.run(["git", "status", "--porcelain", "--", "results/"], cwd=clone, capture_output=True,
                          text=True).stdout == ""  # fmt: skip
    # commit, as the student does before pushing: the workflow's tests job runs on the committed tree
    run(["git", "-c", "user.name=A Student", "-c", "user.email=a@example.org", "commit", "-qam", "My runs"], 60)
    run(ci_tests_command(), timeout=3000)
