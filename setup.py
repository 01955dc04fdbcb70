"""Only the optional C speed-ups live here; everything else is in pyproject.toml.

``ecert.format._fast`` (Base45 and the EC1 decoding fast path) links zlib. When it cannot be
built (no compiler or no zlib headers), ``ecert`` falls back to its Python reference
code: same answers, slower.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("ecert.format._fast", ["ecert/format/_fast.c"], libraries=["z"], optional=True)])
