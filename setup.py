"""Build script: metadata lives in setup.cfg; this adds the optional C speedups.

The extension needs a C compiler, Python's headers and SQLite's sqlite3ext.h
(Debian: libsqlite3-dev).  When any is missing the build goes on without it
and sqlmed runs in pure Python (vtables.speedups.built() tells which).
Its sources are in vtables/_speedups_c/, a file a concept (speedups.h says
which); the module keeps the name vtables._speedups.
"""

from setuptools import Extension, setup

SOURCES = "vtables/_speedups_c"
FILES = (
    "module",
    "batch",
    "bridge",
    "indexinfo",
    "vtab",
    "cursor",
    "fields",
    "chunk",
    "router",
    "arrow",
    "sums",
)

setup(
    ext_modules=[
        Extension(
            "vtables._speedups",
            [f"{SOURCES}/{name}.c" for name in FILES],
            # rebuilt when the header changes; also puts it in the sdist
            depends=[f"{SOURCES}/speedups.h"],
            optional=True,
            extra_compile_args=["-O2", "-std=c11", "-D_GNU_SOURCE", "-fvisibility=hidden"],
        )
    ]
)
