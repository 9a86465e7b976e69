"""Point every link of the repository at your fork: Colab badges, checker badges, the digit page's address, the
notebooks' set-up cell.

    python -m tools.fork              # the slug from `git remote get-url origin`
    python -m tools.fork owner/name   # or named

The slug lives in one place, pyproject.toml's [tool.tiny-mnist] repository; this command writes it
there and replaces the old one in README.md and in both notebooks (their sources only: no output
depends on a link, so the executed notebooks stay executed).
"""

from __future__ import annotations

import re
import subprocess
import sys

from utils.paths import REPO, repository_slug

SLUG = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
REMOTE = re.compile(r"github\.com[:/]+(?P<slug>[^/\s]+/[^/\s]+?)(?:\.git)?/?$")
FILES = ("README.md", "S6.ipynb", "S7.ipynb")


def origin_slug() -> str:
    proc = subprocess.run(["git", "remote", "get-url", "origin"], cwd=REPO, capture_output=True, text=True)
    url = proc.stdout.strip()
    if proc.returncode != 0 or not url:
        raise ValueError("this clone has no remote 'origin': name the slug, e.g. python -m tools.fork owner/name")
    match = REMOTE.search(url)
    if not match:
        raise ValueError(
            f"origin {url!r} is not a GitHub repository: name the slug, e.g. python -m tools.fork owner/name"
        )
    return match.group("slug")


def pages_url(slug: str) -> str:
    """Where GitHub Pages serves a repository's site (the digit page): https://<owner>.github.io/<name>/."""
    owner, name = slug.split("/")
    return f"https://{owner.lower()}.github.io/{name}/"


def set_slug(new: str) -> list[str]:
    """Write ``new`` into pyproject.toml and replace the old slug in every file that links it."""
    if not SLUG.match(new):
        raise ValueError(f"{new!r} is not a GitHub owner/name")
    old = repository_slug()
    changed = []
    pyproject = REPO / "pyproject.toml"
    text = pyproject.read_text()
    pyproject.write_text(text.replace(f'repository = "{old}"', f'repository = "{new}"', 1))
    if new == old:
        return changed
    changed.append(pyproject.name)
    for name in FILES:
        path = REPO / name
        text = path.read_text()
        # only whole slugs inside URLs: github.com/<old>, raw.githubusercontent.com/<old>, ...com/github/<old>
        updated = re.sub(rf"(?:(?<=\.com/)|(?<=\.com/github/)){re.escape(old)}(?=[/.])", new, text)
        updated = updated.replace(pages_url(old), pages_url(new))
        if updated != text:
            path.write_text(updated)
            changed.append(name)
    return changed


def main(argv: list[str]) -> int:
    try:
        if len(argv) > 1:
            raise ValueError("usage: python -m tools.fork [owner/name]")
        new = argv[0] if argv else origin_slug()
        changed = set_slug(new)
    except ValueError as err:
        print(f"tools.fork: error: {err}", file=sys.stderr)
        return 2
    print(f"links point at {new}" + (f": rewrote {', '.join(changed)}" if changed else " already"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
