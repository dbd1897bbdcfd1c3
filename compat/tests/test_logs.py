"""Capped logs (_logs.py) and both executors writing through them: a process that writes far
more than the cap, quickly, leaves logs of bounded size on disk, with the head and the tail
kept and the cut said, stdout and stderr apart, and the host process's memory stays small.

Real processes: the local executor with and without bubblewrap, the Docker executor with the
busybox image (dockerimages.py). Fails, never skips, without bwrap or Docker."""

from __future__ import annotations

import os
import resource
import signal
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from codalab_worker_compat import DockerExecutor, ProcessSpec, ResourceLimits
from codalab_worker_compat._local import LocalExecutor, bwrap_probe
from codalab_worker_compat._logs import CappedLog, LogCap, cut_line, read_head, read_tail
from dockerimages import busybox_image, containers
from processes import processes_with

CAP = LogCap(head_bytes=64 << 10, tail_bytes=64 << 10)
#: what the hostile process writes to stderr: 1.5 GB (the size that made the CLI fail)
FLOOD = 1536 << 20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- the writer -------------------------------------------------------------------------------

@pytest.mark.parametrize("sizes", [[10], [70_000, 70_000], [1] * 200_000, [300_000], [64 << 10, 64 << 10, 1]],
                         ids=["small", "two-chunks", "byte-by-byte", "one-big-write", "exact-cap-plus-one"])
def test_capped_log_keeps_head_and_tail_and_says_the_cut(tmp_path: Path, sizes: list[int]) -> None:
    data = bytes(i % 251 for i in range(sum(sizes)))
    path = tmp_path / "log.txt"
    with CappedLog(path, CAP) as log:
        at = 0
        for size in sizes:
            log.write(data[at:at + size])
            at += size
    kept, total = path.read_bytes(), len(data)
    if total <= CAP.head_bytes + CAP.tail_bytes:
        assert kept == data and log.cut == 0
        return
    cut = total - CAP.head_bytes - CAP.tail_bytes
    assert log.cut == cut and log.written == total
    assert kept == data[:CAP.head_bytes] + cut_line(cut, CAP) + data[-CAP.tail_bytes:]
    assert f"[... {cut} bytes cut here: this log keeps".encode() in kept


def test_a_zero_cap_is_refused() -> None:
    with pytest.raises(ValueError, match="not both 0"):
        LogCap(0, 0)


@pytest.mark.parametrize("size", [100, 200_000], ids=["head-only", "head-and-tail"])
def test_a_full_disk_stops_the_log_without_raising(size: int) -> None:
    log = CappedLog(Path("/dev/full"), CAP)  # every write to /dev/full fails with ENOSPC
    log.write(b"x" * size)
    log.write(b"y" * size)
    log.close()
    assert log.error is not None and log.error.errno == 28
    assert log.written == 2 * size


def test_capped_log_in_memory_keeps_head_and_tail() -> None:
    log = CappedLog(None, LogCap(10, 5))
    for chunk in (b"0123456", b"789abcdef", b"ghijklmnop", b"END"):
        log.write(chunk)
    assert log.written == 29 and log.cut == 14
    assert log.text() == "0123456789" + cut_line(14, LogCap(10, 5)).decode() + "opEND"
    assert log.tail_text(3) == "END"
    small = CappedLog(None, LogCap(100, 100))
    small.write("héllo\n".encode())
    assert small.text() == "héllo\n" and small.cut == 0 and small.tail_text() == "héllo\n"


def test_reads_never_follow_a_link_nor_block_and_stop_at_their_size(tmp_path: Path) -> None:
    target = tmp_path / "secret"
    target.write_text("the labels")
    (tmp_path / "link").symlink_to(target)
    assert read_tail(tmp_path / "link") == "" and read_tail(None) == "" and read_tail(tmp_path / "none") == ""
    os.mkfifo(tmp_path / "fifo")
    assert read_tail(tmp_path / "fifo") == ""  # never blocks on a FIFO a participant left
    (tmp_path / "small").write_bytes(b"abc")
    assert read_head(tmp_path / "small", 3) == (b"abc", False)
    assert read_head(tmp_path / "small", 2) == (b"ab", True)
    with pytest.raises(OSError):
        read_head(tmp_path / "link", 3)


def test_read_tail_reads_the_end_only(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(b"x" * 1_000_000 + b"the end")
    assert read_tail(path, 100).endswith("the end") and len(read_tail(path, 100)) == 100
    assert read_tail(tmp_path / "missing") == ""


# --- the executors ----------------------------------------------------------------------------

FLOOD_CODE = f"""
import os, sys
chunk = b"E" * (1 << 20)
os.write(2, b"FIRST-ERR-LINE\\n")
os.write(1, b"FIRST-OUT-LINE\\n")
left = {FLOOD}
while left > 0:
    left -= os.write(2, chunk[:left])
    if left % (64 << 20) == 0:
        os.write(1, b"o" * 100)
os.write(2, b"\\nLAST-ERR-LINE\\n")
os.write(1, b"\\nLAST-OUT-LINE\\n")
"""


def check_flood(spec: ProcessSpec, rss_before: float) -> None:
    err, out = spec.stderr.read_bytes(), spec.stdout.read_bytes()
    limit = CAP.head_bytes + CAP.tail_bytes + 400
    assert len(err) < limit and len(out) <= limit, (len(err), len(out))
    assert err.startswith(b"FIRST-ERR-LINE\n") and err.endswith(b"\nLAST-ERR-LINE\n")
    assert b"bytes cut here: this log keeps" in err and b"FIRST-OUT-LINE" not in err
    assert out.startswith(b"FIRST-OUT-LINE\n") and out.endswith(b"\nLAST-OUT-LINE\n") and b"EEEE" not in out
    assert peak_rss_mb() - rss_before < 64, f"the host process grew by {peak_rss_mb() - rss_before:.0f} MB"


def flood_spec(tmp_path: Path, argv: tuple[str, ...], cwd: str, mounts: dict[str, Path] | None = None) -> ProcessSpec:
    return ProcessSpec("flood", argv, cwd, tmp_path / "logs" / "stdout.txt", tmp_path / "logs" / "stderr.txt",
                       mounts or {}, {}, ResourceLimits(time_limit_s=120))


@pytest.mark.parametrize("isolation", ["none", "bwrap"])
def test_local_executor_caps_a_huge_stderr_on_disk(tmp_path: Path, isolation: str) -> None:
    if isolation == "bwrap" and not bwrap_probe()[0]:
        pytest.fail(f"this test needs bubblewrap: {bwrap_probe()[1]}")
    (tmp_path / "program").mkdir()
    (tmp_path / "program" / "flood.py").write_text(FLOOD_CODE)
    mounts = {"/app/program": tmp_path / "program"} if isolation == "bwrap" else None
    cwd = "/app/program" if mounts else str(tmp_path / "program")
    spec = flood_spec(tmp_path, (sys.executable, "flood.py"), cwd, mounts)
    rss = peak_rss_mb()
    result = LocalExecutor(isolation, log_cap=CAP).start(spec).wait()  # type: ignore[arg-type]
    assert result is not None and result.reason == "exited" and result.exit_code == 0, result
    check_flood(spec, rss)


def test_a_descendant_holding_the_pipes_does_not_hang_the_executor(tmp_path: Path) -> None:
    """Without bwrap and without a memory cgroup (which would end it: test_peak_memory.py), a
    process in its own session escapes the group kill and keeps the log pipes open: the executor
    stops copying 2 s after the process ended."""
    mark = f"codalab-test-marker-{uuid.uuid4().hex}"
    code = ("import subprocess, sys; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)', "
            f"'{mark}'], start_new_session=True)")
    spec = flood_spec(tmp_path, (sys.executable, "-c", code), str(tmp_path))
    try:
        result = LocalExecutor("none", measure_memory=False).start(spec).wait()
        assert result is not None and result.exit_code == 0 and result.elapsed_s < 10
        assert processes_with(mark), "the test's descendant should still be running"
    finally:
        for pid in processes_with(mark):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def docker_executor() -> Iterator[DockerExecutor]:
    label = f"test-{uuid.uuid4().hex}"
    with DockerExecutor(busybox_image(), run_label=label, log_cap=CAP) as made:
        yield made
    assert containers(f"aibench.run={label}") == [], "a container was left behind"


def test_docker_executor_caps_a_huge_stderr_on_disk(tmp_path: Path, docker_executor: DockerExecutor) -> None:
    """512 MiB only: the engine's attach stream carries ~50 MB/s on a loaded 2-core machine."""
    (tmp_path / "program").mkdir()
    script = ("echo FIRST-ERR-LINE >&2; echo FIRST-OUT-LINE; "
              f"head -c {FLOOD // 3} /dev/zero >&2; echo LAST-ERR-LINE >&2; echo LAST-OUT-LINE")
    spec = flood_spec(tmp_path, ("sh", "-c", script), "/app/program",
                      {"/app/program": tmp_path / "program", "/app/output": tmp_path / "out"})
    (tmp_path / "out").mkdir()
    rss = peak_rss_mb()
    result = docker_executor.start(spec).wait()
    assert result is not None and result.reason == "exited" and result.exit_code == 0, result
    err = spec.stderr.read_bytes()
    assert err.startswith(b"FIRST-ERR-LINE\n") and err.endswith(b"\0LAST-ERR-LINE\n")
    assert len(err) < CAP.head_bytes + CAP.tail_bytes + 400 and b"bytes cut here: this log keeps" in err
    assert spec.stdout.read_bytes() == b"FIRST-OUT-LINE\nLAST-OUT-LINE\n"
    assert peak_rss_mb() - rss < 64
