"""Package data: the registry of official weight files (``registry.yaml``).

Installed as ``hear_byols.checkpoints`` (setup.cfg's package_dir mapping). Weight files
placed here by hand are found before the user cache; they are never committed.
"""
