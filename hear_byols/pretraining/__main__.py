"""``torchrun --nproc_per_node=K -m hear_byols.pretraining DATA... --variant NAME --out RUN_DIR``."""
from __future__ import annotations

import sys

from hear_byols.pretraining.options import build_parser, config_from_args
from hear_byols.pretraining.run import run_pretraining

if __name__ == "__main__":
    sys.exit(run_pretraining(config_from_args(build_parser().parse_args())))
