"""Build script: metadata lives in setup.cfg; this adds the optional C speedups.

The extension needs a C compiler, Python's headers and SQLite's sqlite3ext.h
(Debian: libsqlite3-dev).  When any is missing the build goes on without it
and sqlmed runs in pure Python (vtables.speedups.available() tells which).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "vtables._speedups",
            ["vtables/_speedups.c"],
            optional=True,
            extra_compile_args=["-O2", "-std=c11", "-D_GNU_SOURCE", "-fvisibility=hidden"],
        )
    ]
)
