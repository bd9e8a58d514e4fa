"""``python -m hear_byols.cli`` runs the ``hear-byols`` command line."""
import sys

from hear_byols.cli import main

sys.exit(main())
