#!/usr/bin/env python3
"""
Set up a virtual environment in .venv, then run the demo or the checks.

    python3 tasks.py demo    serve examples/app.py on ws://localhost:8000
    python3 tasks.py docs    build the documentation into docs/_build/html
    python3 tasks.py test    lint, type-check and test, with branch coverage
    python3 tasks.py bench   compare wsroute with its peers (--help: options)

Only Python 3.11 or later is needed: everything else is installed from PyPI
into .venv, which is reused as long as pyproject.toml doesn't change. The
bench task also installs the peers it compares, in the bench group.

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


def setup(*groups: str) -> None:
    """
    Create .venv and install wsroute with the dependency groups named.

    The stamp file holds a digest of pyproject.toml and the groups installed,
    one per line: installing again is needed when pyproject.toml changed or
    when a group is missing.

    """
    import tomllib  # Python >= 3.11, checked in main()

    pyproject = (ROOT / "pyproject.toml").read_bytes()
    digest = hashlib.sha256(pyproject).hexdigest()
    stamp = STAMP.read_text().split() if STAMP.exists() else []
    if stamp[:1] == [digest] and set(groups) <= set(stamp[1:]):
        return
    if not PYTHON.exists():
        print(f"Creating {VENV}", flush=True)
        venv.create(VENV, with_pip=True)
    if stamp[:1] == [digest]:  # keep the groups installed already
        groups = tuple(dict.fromkeys([*stamp[1:], *groups]))
    table = tomllib.loads(pyproject.decode())["dependency-groups"]
    requirements = [package for group in groups for package in table[group]]
    print(f"Installing wsroute with groups {', '.join(groups)}", flush=True)
    pip = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check"]
    run(*pip, "--quiet", "--editable", str(ROOT), *requirements)
    STAMP.write_text("\n".join([digest, *groups]) + "\n")


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
    setup("dev")
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
    setup("dev")
    build_docs()
    print(f"Open {(HTML / 'index.html').as_uri()} in a browser", flush=True)


def test() -> None:
    """Run every check that CI runs."""
    setup("dev")
    tool = str(VENV / "bin" / "{}").format
    run(tool("ruff"), "check", ".")
    run(tool("ruff"), "format", "--check", ".")
    run(tool("mypy"))
    build_docs()
    install_test_packages()
    run(tool("pytest"), "--cov", "--cov-report=term-missing")


def bench(options: list[str]) -> None:
    """Compare wsroute with its peers: run benchmarks/run.py with options."""
    setup("dev", "bench")
    script = ROOT / "benchmarks" / "run.py"
    os.execv(PYTHON, [str(PYTHON), str(script), *options])


def main() -> None:
    """Dispatch to the task named on the command line."""
    if sys.version_info < (3, 11):  # noqa: UP036 (this file may run on any Python)
        version = sys.version.split()[0]
        sys.exit(f"wsroute needs Python 3.11 or later; this is {version}")
    tasks = {"demo": demo, "docs": docs, "test": test}
    if sys.argv[1:2] == ["bench"]:
        bench(sys.argv[2:])
    elif len(sys.argv) != 2 or sys.argv[1] not in tasks:
        sys.exit(f"usage: python3 tasks.py {{{','.join(tasks)},bench [options]}}")
    else:
        tasks[sys.argv[1]]()


if __name__ == "__main__":
    main()
