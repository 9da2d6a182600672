"""Subcommands of the ``trustladder`` CLI, one module each (see :mod:`sim.cli`)."""
