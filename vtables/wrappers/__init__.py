"""Builtin wrappers, one module each, registered through the ``sqlmed.wrappers`` entry points."""
