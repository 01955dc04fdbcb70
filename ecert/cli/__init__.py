"""The command-line tools: ``ecert`` (:mod:`ecert.cli.commands`) and the development launcher
behind ``make run`` (:mod:`ecert.cli.devsuite`)."""

from .commands import main

__all__ = ["main"]
