"""The CPU threads a run computes with: fewer where other programs keep the cores busy."""

import os

import pytest
import torch

from lstmtext.devices import THREADS_ENV, cpu_threads
from lstmtext.errors import UserError


@pytest.fixture
def threads(monkeypatch):
    """torch's thread count as the test found it, restored after; no thread settings in the environment."""
    before = torch.get_num_threads()
    monkeypatch.delenv(THREADS_ENV, raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    torch.set_num_threads(4)
    yield
    torch.set_num_threads(before)


def test_a_busy_machine_leaves_the_run_the_free_cores(threads, monkeypatch):
    monkeypatch.setattr(os, "getloadavg", lambda: (2.6, 2.0, 1.0))
    count, note = cpu_threads()
    assert count == 1 and torch.get_num_threads() == 1  # four cores, nearly three kept busy
    assert note.startswith("1 of 4 threads: other programs keep the machine busy (load 2.6)")
    assert f"{THREADS_ENV}=4" in note


def test_an_idle_machine_and_the_users_count_are_left_alone(threads, monkeypatch):
    monkeypatch.setattr(os, "getloadavg", lambda: (0.3, 0.2, 0.1))
    assert cpu_threads() == (4, None) and torch.get_num_threads() == 4
    monkeypatch.setattr(os, "getloadavg", lambda: (9.0, 9.0, 9.0))
    assert cpu_threads(saved=3) == (3, None)  # a resumed run keeps its own count, for results exact to the bit
    torch.set_num_threads(4)
    monkeypatch.setenv(THREADS_ENV, "2")
    assert cpu_threads(saved=3) == (2, None) and torch.get_num_threads() == 2
    monkeypatch.setenv(THREADS_ENV, "many")
    with pytest.raises(UserError, match="is not a number of threads"):
        cpu_threads()
    monkeypatch.delenv(THREADS_ENV)
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    torch.set_num_threads(4)
    assert cpu_threads() == (4, None)


def test_inference_commands_say_they_take_fewer_threads(cli, corpus, threads, monkeypatch):
    from tests.conftest import TINY

    assert cli("train", corpus, *TINY, "--max-steps", "2", "--out", "run").code == 0  # (LSTMTEXT_THREADS unset)
    monkeypatch.setattr(os, "getloadavg", lambda: (3.5, 3.0, 3.0))
    torch.set_num_threads(4)
    result = cli("generate", "run", "--length", "3")
    assert result.code == 0 and "note: 1 of 4 threads: other programs keep the machine busy (load 3.5)" in result.err
