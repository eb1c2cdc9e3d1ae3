"""The CPU threads a run computes with: fewer where other programs keep the cores busy."""

import os

import pytest
import torch

import lstmtext.devices
from lstmtext.devices import THREADS_ENV, cpu_threads
from lstmtext.errors import UserError
from tests.conftest import TINY  # here: imported in a test, it would set LSTMTEXT_THREADS again


@pytest.fixture
def threads(monkeypatch):
    """torch's thread count as the test found it, restored after; no thread settings in the environment."""
    before = torch.get_num_threads()
    monkeypatch.delenv(THREADS_ENV, raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    torch.set_num_threads(4)
    monkeypatch.setattr(lstmtext.devices, "_CORES", None)  # the default count is read again: 4
    yield
    torch.set_num_threads(before)


def test_a_busy_machine_leaves_the_run_the_free_cores(threads, monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    monkeypatch.setattr(lstmtext.devices, "busy_cores", lambda: 2.6)
    count, note = cpu_threads()
    assert count == 1 and torch.get_num_threads() == 1  # four cores, nearly three kept busy
    monkeypatch.setattr(lstmtext.devices, "busy_cores", lambda: 0.0)
    assert cpu_threads() == (4, None)  # idle again: all of them, not the 1 set before
    assert note.startswith("1 of 4 threads: other programs keep the machine busy (load 2.6)")
    assert f"{THREADS_ENV}=4" in note


def test_an_idle_machine_and_the_users_count_are_left_alone(threads, monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    monkeypatch.setattr(lstmtext.devices, "busy_cores", lambda: 0.3)
    assert cpu_threads() == (4, None) and torch.get_num_threads() == 4
    monkeypatch.setattr(os, "cpu_count", lambda: 64)  # a container of four cores on a busy host of 64
    monkeypatch.setattr(lstmtext.devices, "busy_cores", lambda: 40.0)
    assert cpu_threads() == (4, None)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    monkeypatch.setattr(lstmtext.devices, "busy_cores", lambda: 9.0)
    assert cpu_threads(saved=3, resumed=True) == (3, None)  # a resumed run keeps its own count, exact to the bit
    assert cpu_threads(saved=None, resumed=True) == (4, None)  # one saved before counts were: the default
    torch.set_num_threads(4)
    monkeypatch.setenv(THREADS_ENV, "2")
    assert cpu_threads(saved=3, resumed=True) == (2, None) and torch.get_num_threads() == 2
    monkeypatch.setenv(THREADS_ENV, "many")
    with pytest.raises(UserError, match="is not a number of threads"):
        cpu_threads()
    monkeypatch.delenv(THREADS_ENV)
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    torch.set_num_threads(4)
    assert cpu_threads() == (4, None)


def test_inference_commands_say_they_take_fewer_threads(cli, corpus, threads, monkeypatch):
    assert cli("train", corpus, *TINY, "--max-steps", "2", "--out", "run").code == 0  # (LSTMTEXT_THREADS unset)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    monkeypatch.setattr(lstmtext.devices, "busy_cores", lambda: 3.5)
    torch.set_num_threads(4)
    result = cli("generate", "run", "--length", "3")
    assert result.code == 0 and "note: 1 of 4 threads: other programs keep the machine busy (load 3.5)" in result.err


def test_a_program_that_has_just_ended_does_not_count_as_busy(monkeypatch):
    """The minute's load average still counts the run before this one; the tasks running now do not."""
    import builtins
    import io

    monkeypatch.setattr(os, "getloadavg", lambda: (1.9, 1.0, 0.5))
    real_open = builtins.open
    running = {"now": "1"}

    def fake_open(path, *args, **kwargs):
        if str(path) == "/proc/loadavg":
            return io.StringIO(f"1.90 1.00 0.50 {running['now']}/300 4242\n")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_open)
    assert lstmtext.devices.busy_cores() == 0.0  # only this process runs
    running["now"] = "3"
    assert lstmtext.devices.busy_cores() == 1.9  # two others run: the minute's average, no more
