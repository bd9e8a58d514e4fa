"""The file foundation: atomic writes, file locks, clean-up of what killed processes left,
and where the package data folders are. Imports nothing of the package above errors.
"""
