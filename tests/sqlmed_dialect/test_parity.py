"""Issue 13 through SQLAlchemy: defaults of foreign columns on every write path."""

from __future__ import annotations

import apsw
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import orm


def test_defaults_reach_the_source_through_core_orm_and_pandas(tmp_path):
    remote_path = tmp_path / "remote.db"
    db = apsw.Connection(str(remote_path))
    db.execute("CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, status TEXT, n INTEGER)")
    db.close()
    engine = sa.create_engine(f"sqlmed:///{tmp_path / 'local.db'}")
    with engine.begin() as c:
        c.exec_driver_sql(
            "CREATE EXTENSION sqlite_fdw; CREATE SERVER arch FOREIGN DATA WRAPPER sqlite_fdw"
            f" OPTIONS (database '{remote_path}');"
            " CREATE FOREIGN TABLE items (id integer NOT NULL OPTIONS (key 'true'), name text,"
            "   status text DEFAULT 'new', n int DEFAULT 7) SERVER arch"
        )

        c.exec_driver_sql(
            "CREATE TABLE local_items (id integer PRIMARY KEY, name text,"
            " status text DEFAULT 'new', n int DEFAULT 7)"
        )

    def write(table_name):
        """The same writes through Core, executemany, the ORM and pandas."""

        class Base(orm.DeclarativeBase):
            pass

        class Item(Base):
            __tablename__ = table_name
            id: orm.Mapped[int] = orm.mapped_column(primary_key=True, autoincrement=False)
            name: orm.Mapped[str | None]
            status: orm.Mapped[str | None] = orm.mapped_column(server_default=sa.text("'new'"))
            n: orm.Mapped[int | None] = orm.mapped_column(server_default=sa.text("7"))

        table = Item.__table__
        with engine.begin() as c:
            c.execute(sa.insert(table).values(id=1, name="core"))
            c.execute(sa.insert(table), [{"id": 2, "name": "many"}, {"id": 3, "name": "many"}])
            c.execute(sa.insert(table).values(id=8, name="null", status=None))
        with orm.Session(engine) as session:
            session.add(Item(id=4, name="orm"))
            session.add(Item(id=5, name="orm", status="set"))
            session.commit()
        pd.DataFrame({"id": [6, 7], "name": ["pandas", "pandas"]}).to_sql(
            table_name, engine, if_exists="append", index=False
        )

    write("items")
    write("local_items")
    got = (
        apsw.Connection(str(remote_path))
        .execute("SELECT id, name, status, n FROM items ORDER BY id")
        .fetchall()
    )
    with engine.connect() as c:
        want = c.exec_driver_sql("SELECT id, name, status, n FROM local_items ORDER BY id").all()
    assert got == [tuple(r) for r in want]
    assert got[0] == (1, "core", "new", 7) and got[-1] == (8, "null", None, 7)
