"""Package data ``hear_byols.checkpoints`` (setup.cfg's package_dir mapping): weight files.

It ships one file, SERAB's MIT-licensed BYOL-S d=512 checkpoint with its licence notice
(``LICENSE-SERAB``), so ``hear_byols.default512`` works with no network. Official files put
here by hand are found before the user cache; no other weights are ever committed.
"""
