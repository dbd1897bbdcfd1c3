"""Unpack limits (issue 9 item 6) and file/folder clashes (item 12): hostile archives are refused
before anything is written, with a message that says which limit, the member, the value, the
limit and whose fix it is. The archives are built here; the zip bomb is unpacked in a child
process whose file-size limit (RLIMIT_FSIZE) keeps a regression from filling the disk."""

from __future__ import annotations

import io
import json
import resource
import stat
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import pytest

from codalab_worker_compat import DEFAULT_LIMITS, UnpackLimits
from codalab_worker_compat._archive import ArchiveError, unpack
from codalab_worker_compat._platforms import Worker
from codalab_worker_compat._unpack_limits import MIB, Breach, Budget

GIB = 1024 * MIB
REPO = Path(__file__).resolve().parents[2]
ALL: list[Worker] = ["v1", "codabench", "ai4mediabench"]


def zeros_bomb(path: Path, members: int, member_size: int) -> Path:
    """A real zip of ``members`` deflated members of ``member_size`` zero bytes each, written by hand:
    a full-flush deflate block of 1 MiB of zeros repeats, so 10 GiB cost ~10 MB and no compression time."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(MIB)) + compressor.flush(zlib.Z_FULL_FLUSH)
    data = block * (member_size // MIB) + compressor.flush(zlib.Z_FINISH)
    crc = 0
    for _ in range(member_size // MIB):
        crc = zlib.crc32(bytes(MIB), crc)
    central, offset = b"", 0
    with path.open("wb") as out:
        for index in range(members):
            name = f"zeros{index}.bin".encode()
            local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(data), member_size, len(name), 0)
            out.write(local + name + data)
            central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, len(data), member_size,
                                   len(name), 0, 0, 0, 0, 0o644 << 16, offset) + name
            offset += len(local) + len(name) + len(data)
        out.write(central + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, members, members, len(central), offset, 0))
    return path


def disk_use(folder: Path) -> int:
    """Bytes allocated on disk under ``folder`` (0 when it does not exist)."""
    return sum(p.lstat().st_blocks * 512 for p in folder.rglob("*")) if folder.exists() else 0


_CHILD = """
import json, sys
from pathlib import Path
from codalab_worker_compat._archive import ArchiveError, unpack
try:
    unpack(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3])
    print(json.dumps({"error": None}))
except ArchiveError as error:
    print(json.dumps({"error": error.message, "limit": error.limit}))
"""


def _fsize_limit() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * MIB, 64 * MIB))


@pytest.mark.parametrize("worker", ["v1", "codabench"])
def test_zip_bomb_of_10_gib_refused_without_filling_the_disk(tmp_path: Path, worker: str) -> None:
    bomb = zeros_bomb(tmp_path / "submission.zip", members=10, member_size=GIB)
    assert bomb.stat().st_size < 12 * MIB
    assert sum(i.file_size for i in zipfile.ZipFile(bomb).infolist()) == 10 * GIB
    target = tmp_path / "out"
    child = subprocess.run([sys.executable, "-c", _CHILD, str(bomb), str(target), worker], capture_output=True,
                           text=True, timeout=120, preexec_fn=_fsize_limit)
    assert child.returncode == 0, child.stderr[-2000:]
    outcome = json.loads(child.stdout)
    assert outcome["limit"] == "max_ratio", outcome
    message = outcome["error"]
    assert "submission.zip: member 'zeros0.bin' expands 1.0 GiB" in message
    assert "over the limit of 500:1 (unpack limit max_ratio)" in message
    assert "The participant's to fix" in message and '"unpack_limits": {"max_ratio": ' in message
    assert disk_use(target) < MIB


def test_ratio_over_the_whole_archive_catches_many_small_members(tmp_path: Path) -> None:
    """Members under the per-member floor still count: the archive's own ratio is bounded."""
    source = tmp_path / "s.zip"
    with zipfile.ZipFile(source, "w", zipfile.ZIP_DEFLATED) as archive:
        for index in range(40):
            archive.writestr(f"part{index}.bin", bytes(512 * 1024))
    limits = UnpackLimits(max_ratio=250, ratio_floor_bytes=MIB)
    with pytest.raises(ArchiveError, match=r"s\.zip: the archive expands 20\.0 MiB from .* a ratio of") as caught:
        unpack(source, tmp_path / "out", "codabench", limits=limits)
    assert caught.value.limit == "max_ratio"
    assert not (tmp_path / "out").exists() or disk_use(tmp_path / "out") == 0


def test_100000_one_byte_files_refused_by_count(tmp_path: Path) -> None:
    source = tmp_path / "flood.zip"
    with zipfile.ZipFile(source, "w") as archive:
        for index in range(100_000):
            archive.writestr(f"f/{index}", b"x")
    with pytest.raises(ArchiveError) as caught:
        unpack(source, tmp_path / "out", "codabench")
    assert caught.value.limit == "max_entries"
    assert caught.value.message.startswith(
        "flood.zip: member 'f/50000' brings the number of entries to 100,000, over the limit of 50,000 "
        "(unpack limit max_entries); unpacking refused before writing it.")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_deep_paths_refused(tmp_path: Path) -> None:
    source = tmp_path / "deep.zip"
    with zipfile.ZipFile(source, "w") as archive:
        archive.writestr("ok.txt", "x")
        archive.writestr("d/" * 200 + "f.txt", "x")
    with pytest.raises(ArchiveError, match=r"has a path depth \(folders and file\) of 201, over the limit of 32 "
                                           r"\(unpack limit max_depth\)") as caught:
        unpack(source, tmp_path / "out", "v1")
    assert caught.value.limit == "max_depth"
    assert not (tmp_path / "out" / "ok.txt").exists()


def test_total_and_member_sizes_declared_are_refused(tmp_path: Path) -> None:
    source = tmp_path / "s.zip"
    with zipfile.ZipFile(source, "w") as archive:  # stored: ratio 1, only the sizes matter
        archive.writestr("a.bin", bytes(3 * MIB))
        archive.writestr("b.bin", bytes(3 * MIB))
    small = UnpackLimits(max_total_bytes=5 * MIB, max_member_bytes=4 * MIB)
    with pytest.raises(ArchiveError, match=r"member 'b.bin' brings the total uncompressed size to 6.0 MiB, over "
                                           r"the limit of 5.0 MiB \(unpack limit max_total_mb\)"):
        unpack(source, tmp_path / "out1", "codabench", limits=small)
    with pytest.raises(ArchiveError, match=r"member 'a.bin' declares an uncompressed size of 3.0 MiB, over the "
                                           r"limit of 2.0 MiB \(unpack limit max_member_mb\)"):
        unpack(source, tmp_path / "out2", "codabench", limits=UnpackLimits(max_member_bytes=2 * MIB))


def test_bytes_written_are_counted_not_the_header() -> None:
    """The stream is counted as it is copied: a member that yields more than its limit stops there."""
    budget = Budget(UnpackLimits(max_member_bytes=2 * MIB, max_total_bytes=10 * MIB))
    target = io.BytesIO()
    with pytest.raises(Breach) as caught:
        budget.copy(io.BytesIO(bytes(5 * MIB)), target, "liar.bin")
    assert caught.value.limit == "max_member_bytes" and caught.value.member == "liar.bin"
    assert target.tell() <= 2 * MIB


def test_v1_nested_zips_share_the_budget(tmp_path: Path) -> None:
    """v1 also extracts nested zips (§4.3): their entries count against the same limits."""
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        for index in range(30):
            archive.writestr(f"x{index}", b"1")
    source = tmp_path / "s.zip"
    with zipfile.ZipFile(source, "w") as archive:
        archive.writestr("metadata", "command: x\n")
        archive.writestr("data.zip", inner.getvalue())
    with pytest.raises(ArchiveError, match="data.zip: member 'x18' brings the number of entries to 32") as caught:
        unpack(source, tmp_path / "out", "v1", limits=UnpackLimits(max_entries=20))
    assert caught.value.limit == "max_entries"


def test_bundle_parts_say_the_organiser_fixes_it(tmp_path: Path) -> None:
    source = tmp_path / "reference.zip"
    with zipfile.ZipFile(source, "w") as archive:
        for index in range(5):
            archive.writestr(f"r{index}.csv", "1\n")
    with pytest.raises(ArchiveError) as caught:
        unpack(source, tmp_path / "out", "codabench", limits=UnpackLimits(max_entries=3), owner="organiser",
               part="reference_data 'reference.zip'")
    assert ("The organiser's to fix: the bundle's reference_data 'reference.zip' is over aibench's unpack limit. "
            'Shrink the archive, or raise the limit with "unpack_limits": {"max_entries": 11} in aibench.json'
            in caught.value.message)


def test_raised_limits_let_the_archive_through(tmp_path: Path) -> None:
    source = tmp_path / "deep.zip"
    with zipfile.ZipFile(source, "w") as archive:
        archive.writestr("d/" * 40 + "f.txt", "x")
    unpack(source, tmp_path / "out", "codabench", limits=UnpackLimits(max_depth=64))
    assert (tmp_path / "out" / ("d/" * 40 + "f.txt")).read_text() == "x"
    unpack(source, tmp_path / "out2", "codabench", limits=UnpackLimits.unlimited())


@pytest.mark.parametrize("bundle", sorted(p.name for p in (REPO / "bundles").iterdir() if p.is_dir()))
def test_example_bundles_fit_the_default_limits(tmp_path: Path, bundle: str) -> None:
    """The defaults are generous: every example bundle, zipped, unpacks under them."""
    source = tmp_path / f"{bundle}.zip"
    with zipfile.ZipFile(source, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted((REPO / "bundles" / bundle).rglob("*")):
            archive.write(path, path.relative_to(REPO / "bundles" / bundle).as_posix())
    unpack(source, tmp_path / "out", "codabench", limits=DEFAULT_LIMITS)


# --- file/folder clashes (item 12) ---------------------------------------------------------------

@pytest.mark.parametrize("worker", ALL)
def test_file_and_folder_of_the_same_name_refused(tmp_path: Path, worker: Worker) -> None:
    source = tmp_path / "s.zip"
    with zipfile.ZipFile(source, "w") as archive:
        archive.writestr("a", "file")
        archive.writestr("a/b", "under it")
    with pytest.raises(ArchiveError, match=r"s\.zip: member 'a/b' needs 'a' to be a folder, but member 'a' is a "
                                           r"file; the workers' ZipFile.extractall stops there with "
                                           r"NotADirectoryError"):
        unpack(source, tmp_path / "out", worker)


def test_symlink_member_and_a_path_under_it_refused(tmp_path: Path) -> None:
    source = tmp_path / "s.zip"
    with zipfile.ZipFile(source, "w") as archive:
        link = zipfile.ZipInfo("link")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc")
        archive.writestr("link/passwd", "x")
    with pytest.raises(ArchiveError, match="member 'link' is a symlink member .*Re-create the zip so that 'link' is "
                                           "either a file or a folder"):
        unpack(source, tmp_path / "out", "codabench")


def test_folder_entry_and_file_of_the_same_name_refused(tmp_path: Path) -> None:
    source = tmp_path / "s.zip"
    with zipfile.ZipFile(source, "w") as archive:
        archive.writestr("a/", "")
        archive.writestr("a", "file")
    with pytest.raises(ArchiveError, match="member 'a/' needs 'a' to be a folder"):
        unpack(source, tmp_path / "out", "codabench")


# --- zip bundles: parts streamed out of the bundle zip within the limits -------------------------

def test_zip_bundle_part_over_the_limits_is_the_organisers_to_fix(tmp_path: Path) -> None:
    from codalab_worker_compat import BundleError, load_bundle

    source = tmp_path / "bundle.zip"
    with zipfile.ZipFile(source, "w") as archive:
        archive.writestr("competition.yaml", "version: 2\n")
        for index in range(30):
            archive.writestr(f"reference_data/r{index}.csv", "1\n")
    bundle = load_bundle(source)
    with pytest.raises(BundleError, match=r"bundle.zip: member 'reference_data/r10.csv' brings the number of entries "
                                          r"to 30, over the limit of 10 .* The organiser's to fix: the bundle's "
                                          r"'reference_data'"):
        bundle.materialize("reference_data", tmp_path / "scratch", UnpackLimits(max_entries=10))
    assert not (tmp_path / "scratch").exists()
    assert len(list(bundle.materialize("reference_data", tmp_path / "ok").iterdir())) == 30


def test_zip_bundle_with_a_huge_spec_is_refused_before_reading(tmp_path: Path) -> None:
    from codalab_worker_compat import BundleError, load_bundle

    source = tmp_path / "bundle.zip"
    with zipfile.ZipFile(source, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("competition.yaml", b"#" * (17 * MIB))
    with pytest.raises(BundleError, match="competition.yaml is 17,825,792 bytes uncompressed, over the 16,777,216"):
        load_bundle(source)


def test_folder_submission_is_held_to_the_same_limits(tmp_path: Path) -> None:
    source = tmp_path / "submission"
    (source / "junk").mkdir(parents=True)
    for index in range(12):
        (source / "junk" / f"{index}.txt").write_text("x")
    with pytest.raises(ArchiveError, match=r"submission: member 'junk/7.txt' brings the number of entries to at "
                                           r"least 11, over the limit of 10 \(unpack limit max_entries\)"):
        unpack(source, tmp_path / "out", "codabench", limits=UnpackLimits(max_entries=10))
    assert not (tmp_path / "out").exists()
    unpack(source, tmp_path / "out", "codabench")


def test_compressible_data_under_the_floor_passes_by_default(tmp_path: Path) -> None:
    """Masks that are mostly background compress ~1000:1; under 64 MiB expanded they are harmless."""
    source = tmp_path / "masks.zip"
    with zipfile.ZipFile(source, "w", zipfile.ZIP_DEFLATED) as archive:
        for index in range(6):
            archive.writestr(f"masks/{index}.npy", bytes(8 * MIB))
    unpack(source, tmp_path / "out", "codabench")
    assert (tmp_path / "out" / "masks" / "5.npy").stat().st_size == 8 * MIB
