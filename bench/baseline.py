"""The command line both baseline scripts share: `--sources` landing dir, `--database` to write."""

import argparse
from collections.abc import Callable
from pathlib import Path


def main(run: Callable[[Path, Path], dict], description: str) -> None:
    parser = argparse.ArgumentParser(description=description.splitlines()[0])
    parser.add_argument("--sources", type=Path, required=True)
    parser.add_argument("--database", type=Path, required=True)
    args = parser.parse_args()
    print(run(args.sources, args.database))
