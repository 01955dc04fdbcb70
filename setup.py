"""Only the optional C speed-up lives here; everything else is in pyproject.toml."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("ecert._b45", ["ecert/_b45.c"], optional=True)])
