"""SQLAlchemy's dialect compliance suite, run against the configured database."""

from sqlalchemy.testing.suite import *  # noqa: F401,F403
