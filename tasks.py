#!/usr/bin/env python3
"""
Set up a virtual environment in .venv, then run the demo or the checks.

    python3 tasks.py demo    serve examples/app.py on ws://localhost:8000
    python3 tasks.py docs    build the documentation into docs/_build/html
    python3 tasks.py test    lint, type-check and test, with branch coverage

Only Python 3.11 or later is needed: everything else is installed from PyPI
into .venv, which is reused as long as pyproject.toml doesn't change.

"""

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
STAMP = VENV / "wsroute-setup"
HTML = ROOT / "docs" / "_build" / "html"


def setup() -> None:
    """Create .venv and install wsroute with its development tools."""
    import tomllib  # Python >= 3.11, checked in main()

    pyproject = (ROOT / "pyproject.toml").read_bytes()
    digest = hashlib.sha256(pyproject).hexdigest()
    if STAMP.exists() and STAMP.read_text() == digest:
        return
    if not PYTHON.exists():
        print(f"Creating {VENV}", flush=True)
        venv.create(VENV, with_pip=True)
    dev = tomllib.loads(pyproject.decode())["dependency-groups"]["dev"]
    print("Installing wsroute and its development tools", flush=True)
    pip = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check"]
    run(*pip, "--quiet", "--editable", str(ROOT), *dev)
    STAMP.write_text(digest)


# Debian packages that tests need, by the command each one provides.
TEST_PACKAGES = {"chromium": "chromium", "redis-server": "redis-server"}


def install_test_packages() -> None:
    """
    Install the Debian packages that tests need, if missing and we can.

    Only root can, with apt-get. The tests that need a missing package are
    skipped, or fail when the CI environment variable is set.

    """
    missing = [
        package
        for command, package in TEST_PACKAGES.items()
        if shutil.which(command) is None
    ]
    if not missing:
        return
    names = " and ".join(missing)
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        print(
            f"{names} missing, and only root can install them with apt-get: the "
            "tests that need them will be skipped (and fail if CI is set)",
            flush=True,
        )
        return
    print(f"Installing {names} for the tests", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for apt_get in [
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
    ]:
        if subprocess.call(apt_get, env=env, stdout=subprocess.DEVNULL) != 0:
            print(
                f"Installing {names} failed: the tests that need them will be "
                "skipped (and fail if CI is set)",
                flush=True,
            )
            return


def run(*command: str) -> None:
    """Run a command in the project's folder; exit if it fails."""
    print("$", " ".join(command), flush=True)
    status = subprocess.call(command, cwd=ROOT)
    if status != 0:
        sys.exit(status)


def demo() -> None:
    """Serve the demo app until Ctrl-C."""
    setup()
    print(
        "Try it from another terminal: "
        ".venv/bin/python -m websockets ws://localhost:8000/echo",
        flush=True,
    )
    os.execv(PYTHON, [str(PYTHON), str(ROOT / "examples" / "app.py")])


def build_docs() -> None:
    """Build the documentation; fail on any warning."""
    # -E: read every page afresh, so that no warning hides in a cached one.
    options = "-E -W --keep-going -n -q -b html"
    run(str(VENV / "bin" / "sphinx-build"), *options.split(), "docs", str(HTML))


def docs() -> None:
    """Build the documentation; say where to open it."""
    setup()
    build_docs()
    print(f"Open {(HTML / 'index.html').as_uri()} in a browser", flush=True)


def test() -> None:
    """Run every check that CI runs."""
    setup()
    tool = str(VENV / "bin" / "{}").format
    run(tool("ruff"), "check", ".")
    run(tool("ruff"), "format", "--check", ".")
    run(tool("mypy"))
    build_docs()
    install_test_packages()
    run(tool("pytest"), "--cov", "--cov-report=term-missing")


def main() -> None:
    """Dispatch to the task named on the command line."""
    if sys.version_info < (3, 11):  # noqa: UP036 (this file may run on any Python)
        version = sys.version.split()[0]
        sys.exit(f"wsroute needs Python 3.11 or later; this is {version}")
    tasks = {"demo": demo, "docs": docs, "test": test}
    if len(sys.argv) != 2 or sys.argv[1] not in tasks:
        sys.exit(f"usage: python3 tasks.py {{{','.join(tasks)}}}")
    tasks[sys.argv[1]]()


if __name__ == "__main__":
    main()
