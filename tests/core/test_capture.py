"""Bounded logs and reads (issue 9 items 8 and 11): what a log keeps, what a read reads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from aibench_plugins.core.capture import CappedLog, capture_fds, read_head, read_tail


def test_capped_log_keeps_head_and_tail_and_says_the_cut(tmp_path: Path) -> None:
    log = CappedLog(tmp_path / "log", head_bytes=10, tail_bytes=5)
    for chunk in (b"0123456", b"789abcdef", b"ghijklmnop", b"END"):
        log.write(chunk)
    log.close()
    log.close()
    data = (tmp_path / "log").read_bytes()
    assert data.startswith(b"0123456789") and data.endswith(b"opEND")
    assert log.total == 29 and log.cut == 14
    assert b"[aibench: 14 bytes cut here; this log keeps the first 10 and the last 5 bytes of 29]" in data
    assert log.tail_text(3) == "END"


def test_capped_log_in_memory_without_a_cut() -> None:
    log = CappedLog(head_bytes=100, tail_bytes=100)
    log.write("héllo\n".encode())
    assert log.text() == "héllo\n" and log.cut == 0 and log.tail_text() == "héllo\n"


def test_capture_fds_takes_print_and_subprocess_output(tmp_path: Path) -> None:
    log = CappedLog(head_bytes=1 << 20, tail_bytes=1 << 20)
    with capture_fds(log):
        print("from print")
        print("to stderr", file=sys.stderr)
        subprocess.run([sys.executable, "-c", "import os; os.write(1, b'from a child\\n')"], check=True)
    assert log.text().splitlines() == ["from print", "to stderr", "from a child"]


def test_reads_never_follow_a_link_and_stop_at_their_size(tmp_path: Path) -> None:
    target = tmp_path / "secret"
    target.write_text("the labels")
    (tmp_path / "link").symlink_to(target)
    assert read_tail(tmp_path / "link") == "" and read_tail(None) == "" and read_tail(tmp_path / "none") == ""
    os.mkfifo(tmp_path / "fifo")
    assert read_tail(tmp_path / "fifo") == ""  # never blocks on a FIFO a participant left
    (tmp_path / "small").write_bytes(b"abc")
    assert read_head(tmp_path / "small", 3) == (b"abc", False)
    assert read_head(tmp_path / "small", 2) == (b"ab", True)
