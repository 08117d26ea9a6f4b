"""Builds the load engine's one C extension; everything else is in pyproject.toml.

`optional=True`: without a C compiler assay still installs and runs, on the pure-Python path
(assay.load.http.connection.COMPILED tells which one is in use).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "assay.load.http._fastresp",
            ["src/assay/load/http/_fastresp.c"],
            extra_compile_args=["-O2"],
            optional=True,
        )
    ]
)
