"""Compile ``spam-training`` to ``pipelines/compiled/spam-training-v<VERSION>.yaml``.

    uv run python -m pipelines.spam_training.compile [--image IMAGE] [--out FILE] [--check]

The output is deterministic: the same code, image and kfp version give the same bytes (the
file records ``sdkVersion``, so a kfp upgrade means a recompile). ``--check`` compiles to a
temporary file and exits 1 if the committed file differs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from pipelines.spam_training.pipeline import build_pipeline, compiled_file_name, trainer_image

COMPILED_DIR = Path(__file__).resolve().parents[1] / "compiled"


def default_path() -> Path:
    return COMPILED_DIR / compiled_file_name()


def compile_pipeline(path: Path, image: str | None = None) -> Path:
    """Compile the current version to ``path`` (the trainer image: ``image`` or the default)."""
    from kfp import compiler

    path.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(pipeline_func=build_pipeline(image), package_path=str(path))
    return path


def compiled_text(image: str | None = None) -> str:
    """A fresh compile, as text (nothing written in the tree)."""
    with tempfile.TemporaryDirectory() as tmp:
        return compile_pipeline(Path(tmp) / compiled_file_name(), image).read_text()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", default=None, help=f"trainer image (default: {trainer_image()})")
    parser.add_argument("--out", type=Path, default=None, help=f"default: {default_path()}")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the committed file is not current"
    )
    args = parser.parse_args(argv)
    path = args.out or default_path()
    if args.check:
        current = path.read_text() if path.is_file() else None
        if current != compiled_text(args.image):
            print(f"{path} is out of date: run python -m pipelines.spam_training.compile")
            return 1
        print(f"{path} is current")
        return 0
    compile_pipeline(path, args.image)
    print(f"compiled {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
