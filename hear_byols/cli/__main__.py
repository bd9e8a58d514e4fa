"""``python -m hear_byols.cli`` runs the ``hear-byols`` command line."""
import sys

from hear_byols.cli import main

if __name__ == "__main__":  # importing the module (pkgutil.walk_packages, docs tools) must not run the CLI
    sys.exit(main())
