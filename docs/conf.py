"""Sphinx configuration for sqlmed's documentation.

The wrapper pages are rendered from the wrapper modules themselves (their
docstrings and ``option_specs``) by the extension in ``_ext/``, and the
catalog view tables from a live connection, so neither can drift from the code.
"""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "_ext"))
# A checkout builds without being installed (tox installs it anyway).
sys.path.insert(0, os.path.dirname(HERE))

import vtables  # noqa: E402

project = "sqlmed"
author = "the sqlmed authors"
copyright = "the sqlmed authors"  # noqa: A001
version = release = vtables.__version__

extensions = ["myst_parser", "sqlmed_docs"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "_ext", ".DS_Store"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
highlight_language = "none"
pygments_style = "sphinx"
html_theme = "alabaster"
html_title = f"sqlmed {release}"
