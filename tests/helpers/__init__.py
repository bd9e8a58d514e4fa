"""What several test areas share, imported as ``helpers.<module>`` (setup.cfg puts ``tests/`` on
pytest's ``pythonpath``): fixture files, variant lists, devices, generated audio, a local weights
server, the ``embed`` command in process, and the hostile-input catalogue."""
