"""SQLAlchemy over ``sqlmed://`` against its built-in pysqlite dialect (``sqlite://``).

On local tables of a file database, for each dialect:

- Core: insert ROWS rows with one executemany, then select them all back;
- ORM: add OBJECTS objects in one unit of work and commit, then load them all.

Prints seconds per dialect and the ratio sqlmed / pysqlite (the target is at
most 1.0).  Rounds interleave the two dialects and the best of each counts, so
a noisy moment on a shared machine favours neither.  Not part of the tests.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy import orm  # noqa: E402

import sqlmed_dialect  # noqa: E402, F401 - registers sqlmed://


class Base(orm.DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "items"
    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(40))
    price: orm.Mapped[float]
    qty: orm.Mapped[int]


def fresh_engine(scheme: str, directory: str, tag: str) -> sa.Engine:
    path = os.path.join(directory, f"{scheme}-{tag}.db")
    if os.path.exists(path):
        os.remove(path)
    engine = sa.create_engine(f"{scheme}:///{path}")
    Base.metadata.create_all(engine)
    return engine


def core(engine: sa.Engine, rows: int) -> float:
    table = Item.__table__
    data = [{"id": i, "name": f"item {i}", "price": i * 0.25, "qty": i % 7} for i in range(rows)]
    start = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(table.insert(), data)
    with engine.connect() as conn:
        got = conn.execute(sa.select(table)).all()
    took = time.perf_counter() - start
    assert len(got) == rows
    return took


def unit_of_work(engine: sa.Engine, objects: int) -> float:
    start = time.perf_counter()
    with orm.Session(engine) as session:
        session.add_all(
            Item(id=i, name=f"item {i}", price=i * 0.25, qty=i % 7) for i in range(objects)
        )
        session.commit()
    with orm.Session(engine) as session:
        got = session.scalars(sa.select(Item)).all()
    took = time.perf_counter() - start
    assert len(got) == objects
    return took


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    directory = tempfile.mkdtemp(prefix="sqlmed-orm-bench-")
    best: dict[tuple[str, str], float] = {}
    for round_ in range(args.rounds):
        for scheme in ("sqlmed", "sqlite"):
            for name, fn, n in (("core", core, args.rows), ("orm", unit_of_work, args.objects)):
                engine = fresh_engine(scheme, directory, f"{name}{round_}")
                took = fn(engine, n)
                engine.dispose()
                key = (name, scheme)
                best[key] = min(best.get(key, took), took)
    print(f"{'benchmark':<34} {'sqlmed':>9} {'pysqlite':>9} {'ratio':>6}")
    labels = {
        "core": f"Core insert {args.rows} + select",
        "orm": f"ORM unit of work {args.objects} + load",
    }
    for name in ("core", "orm"):
        ours, theirs = best[(name, "sqlmed")], best[(name, "sqlite")]
        print(f"{labels[name]:<34} {ours:>8.3f}s {theirs:>8.3f}s {ours / theirs:>6.2f}")


if __name__ == "__main__":
    main()
