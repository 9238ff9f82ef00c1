"""Cut the small real sample that nbmnist ships from the official MNIST / Fashion-MNIST files.

The sample is the first 6,000 training and first 1,000 test images (and their labels) of each
official IDX file, unchanged, written as gzipped IDX files to ``nbmnist/_sample/`` with the
SHA-256 of each decompressed file in ``nbmnist/_sample/SHA256SUMS``. The official files are
checked against their published SHA-256 before anything is cut.

Usage:
    python tools/make_sample.py [OFFICIAL_DATA_DIR]    # default: ../shared/data
"""

from __future__ import annotations

import sys
from pathlib import Path

from nbmnist.data import DATASETS, SAMPLE_DIR, SPLITS, load_dataset, write_idx

TRAIN, TEST = 6_000, 1_000


def main(source: Path) -> None:
    sums = []
    for info in DATASETS.values():
        full = load_dataset(info.name, source=source)
        if full.is_sample:
            raise SystemExit(f"{source} holds the sample, not the official files")
        folder = SAMPLE_DIR / info.folder
        folder.mkdir(parents=True, exist_ok=True)
        for split, fname in SPLITS.items():
            array = getattr(full, split)[: TRAIN if "train" in split else TEST]
            path = folder / f"{fname}.gz"
            digest = write_idx(path, array)
            sums.append(f"{digest}  {info.folder}/{fname}")
            print(f"{path}: {array.shape}, {path.stat().st_size:,} bytes")
    (SAMPLE_DIR / "SHA256SUMS").write_text("\n".join(sums) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data"))
