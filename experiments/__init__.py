"""The project's studies: specs (``*.toml``) and the scripts that run them.

A package so that its scripts share helpers by ordinary imports: run them from
the project's root as modules, e.g. ``.venv/bin/python -m experiments.headline``
(``make run``) or ``.venv/bin/python -m experiments.calibrate``. It is not
installed with ``sim``.
"""
