#!/usr/bin/env python3
"""Build the hostile submission zips of README.md into a folder (nothing big is committed).

    python3 build.py OUT [--bomb-gib 10] [--files 100000] [--only NAME ...]

writes ``OUT/<bundle>/<name>.zip`` for every folder ``<bundle>/<name>/`` here, and prints one line
per zip (path, bytes, members, bytes once unpacked). Each zip holds the folder's files plus
``attacks.py``; the iris-v2 ones also hold the honest ``predictions.csv`` of
``examples/submissions/iris-v2/good``. Two names get their payload here:

* ``zip-bomb``: ``padding/zeros-NN.bin``, 1 GiB of zeros each, ``--bomb-gib`` of them
  (10 GiB in about 10 MB by default; deflate compresses zeros about 1000:1);
* ``many-files``: ``--files`` one-byte files under ``junk/NNN/`` (100,000 by default).

Standard library only. Building never runs the hostile code. :func:`build` is importable
(``scripts/fault_matrix.py`` uses it).
"""

from __future__ import annotations

import argparse
import os
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
IRIS_GOOD = HERE.parent / "iris-v2" / "good" / "predictions.csv"
GIB = 1 << 30
CHUNK = b"\0" * (1 << 20)


def _add_bomb(archive: zipfile.ZipFile, gib: float) -> None:
    left, index = int(gib * GIB), 0
    while left > 0:
        size = min(GIB, left)
        info = zipfile.ZipInfo(f"padding/zeros-{index:02d}.bin", date_time=(2026, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as member:
            for _ in range(size // len(CHUNK)):
                member.write(CHUNK)
            member.write(CHUNK[: size % len(CHUNK)])
        left, index = left - size, index + 1


def _add_many(archive: zipfile.ZipFile, count: int) -> None:
    for index in range(count):
        archive.writestr(f"junk/{index // 1000:03d}/{index:06d}", b"x", compress_type=zipfile.ZIP_STORED)


def build(out: Path, *, bomb_gib: float = 10.0, files: int = 100_000, only: list[str] | None = None) -> list[Path]:
    """Write every hostile zip (or those whose name is in ``only``) under ``out``; return their paths."""
    made = []
    for bundle in sorted(p for p in HERE.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))):
        for folder in sorted(p for p in bundle.iterdir() if p.is_dir()):
            if only and folder.name not in only and f"{bundle.name}/{folder.name}" not in only:
                continue
            target = out / bundle.name / f"{folder.name}.zip"
            target.parent.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in sorted(folder.iterdir()):
                    archive.write(path, path.name)
                archive.write(HERE / "attacks.py", "attacks.py")
                if bundle.name == "iris-v2":
                    archive.write(IRIS_GOOD, "predictions.csv")
                if folder.name == "zip-bomb":
                    _add_bomb(archive, bomb_gib)
                elif folder.name == "many-files":
                    _add_many(archive, files)
            made.append(target)
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--bomb-gib", type=float, default=10.0, help="GiB of zeros in zip-bomb (default 10)")
    parser.add_argument("--files", type=int, default=100_000, help="one-byte files in many-files (default 100000)")
    parser.add_argument("--only", nargs="*", help="names (or bundle/name) to build")
    args = parser.parse_args(argv)
    for path in build(args.out, bomb_gib=args.bomb_gib, files=args.files, only=args.only):
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
        print(f"{path}\t{os.path.getsize(path)} bytes\t{len(members)} members\t"
              f"{sum(m.file_size for m in members)} bytes unpacked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
