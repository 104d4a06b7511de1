"""SQLAlchemy dialect ``sqlmed://`` over vtables connections (see the dialect issue)."""
