"""Tests of wsroute.malloc: glibc's thresholds, in a process of their own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from wsroute import malloc

from .conftest import TIMEOUT, without_coverage

ROOT = Path(__file__).parent.parent

PROBE = """
from tests.run_app import allocation_site
from wsroute import malloc
print(allocation_site(), malloc.tune(), allocation_site())
"""

glibc_only = pytest.mark.skipif(not malloc.is_glibc(), reason="glibc only")


def probe(tunables: str | None) -> str:
    """Run PROBE in a fresh process with ``GLIBC_TUNABLES``; return its output."""
    env = without_coverage()
    env.pop("GLIBC_TUNABLES", None)
    if tunables is not None:
        env["GLIBC_TUNABLES"] = tunables
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=TIMEOUT,
    )
    return done.stdout.strip()


@glibc_only
def test_tune_sets_both_thresholds() -> None:
    """On glibc, tune() sets the thresholds, here in the test's own process."""
    assert malloc.tune()


@glibc_only
def test_tune_moves_read_buffers_to_the_heap() -> None:
    """A block of 256 KiB is mapped by default, and taken from the heap once tuned."""
    assert probe(None) == "mmap True heap"


@glibc_only
def test_tune_leaves_glibc_tunables_alone() -> None:
    """Settings of glibc.malloc in GLIBC_TUNABLES win over tune()."""
    assert probe("glibc.malloc.trim_threshold=1048576") == "mmap False mmap"


@glibc_only
def test_tune_ignores_other_tunables() -> None:
    """GLIBC_TUNABLES without glibc.malloc settings doesn't stop tune()."""
    assert probe("glibc.rtld.optional_static_tls=2048") == "mmap True heap"


@pytest.mark.parametrize("confstr", [None, "musl", ValueError, AttributeError])
def test_tune_needs_glibc(monkeypatch: pytest.MonkeyPatch, confstr: object) -> None:
    """On another C library or system, tune() does nothing and says so."""

    def fake_confstr(name: str) -> object:
        if isinstance(confstr, type):
            raise confstr(name)
        return confstr

    monkeypatch.setattr(os, "confstr", fake_confstr)
    assert not malloc.is_glibc()
    assert not malloc.tune()
