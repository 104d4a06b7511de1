"""parquet_fdw: Parquet files, Arrow IPC (Feather) files and partitioned datasets as foreign tables.

Purpose
    Read columnar files written by pandas, pyarrow, Spark, DuckDB or Polars
    without loading them: a single file, a directory of files, or a
    hive-partitioned dataset (``year=2024/month=05/part-0.parquet``), read
    through Arrow (pyarrow, an extra: ``pip install 'sqlmed[parquet]'``),
    page by page: memory does not grow with the file.  Only the columns a
    query reads are read.  Quals on integer, floating-point and text columns
    are pushed into the scan, where partition directories and Parquet
    row-group statistics skip what no row can match.  ``count(*)``,
    ``count``, ``min``, ``max`` and ``sum``, grouped or not, are computed by
    Arrow under those quals (``count(*)`` alone from the files' footers; a
    REAL column's ``sum`` as SQLite adds doubles, in order).  Values are
    converted to the declared column types, as every wrapper's; record
    batches go to SQLite column by column through the C speedups when they
    are built.  Read-only.

    A database file names paths, never code; only regular files and
    directories are read (a FIFO or a device would make a scan wait for
    ever).

Options
    server ``directory``
        The directory that relative ``path`` values resolve against (default:
        the directory of the database file; for an in-memory database, the
        current directory).  IMPORT FOREIGN SCHEMA lists it.
    table ``path`` (required)
        A file, or a directory read as one dataset (every data file under it).
    table ``format``
        ``parquet`` or ``arrow`` (Arrow IPC files, ``.arrow`` and ``.feather``);
        default: from the file name's extension, else ``parquet``.
    table ``partitioning``
        ``hive`` (default: ``key=value`` directories are columns) or ``none``.
    column ``column_name``
        The column's name in the files (default: the column's name).

Types
    A column declared ``integer``/``bigint`` over Arrow integers, ``real`` or
    ``double precision`` over floating point, ``text`` over strings, reaches
    SQLite as it is and takes pushed quals; booleans read as 1/0, dates and
    timestamps as ISO text (``timestamptz`` in UTC), decimals as NUMERIC,
    lists, structs and maps as JSON text.  A NaN is NULL, as SQLite stores it.

IMPORT FOREIGN SCHEMA
    The remote schema is a directory under the server's ``directory``
    (``public`` or ``.`` for the directory itself): one foreign table for each
    ``.parquet``, ``.arrow`` or ``.feather`` file in it (named after the file)
    and for each subdirectory holding such files (a dataset, named after the
    directory; hive partitions become columns), with column types mapped
    from the Arrow schema.

Example
    ::

        CREATE EXTENSION parquet_fdw;
        CREATE SERVER lake FOREIGN DATA WRAPPER parquet_fdw
            OPTIONS (directory 'data');
        CREATE FOREIGN TABLE trips (
            id bigint, fare double precision, zone text
        ) SERVER lake OPTIONS (path 'trips.parquet');
        SELECT zone, count(*), max(id) FROM trips WHERE id > 1000 GROUP BY zone;
        IMPORT FOREIGN SCHEMA public EXCEPT (trips) FROM SERVER lake INTO main;
"""

from __future__ import annotations

import os
import stat
from collections.abc import Collection, Iterator, Mapping
from typing import Any

from vtables import semantics, speedups, types
from vtables.errors import FeatureNotSupportedError, InvalidOptionError, WrapperError
from vtables.wrapper import (
    COLUMN_NAME,
    ColumnDefinition,
    ForeignDataWrapper,
    ImportRequest,
    OptionSpec,
    Qual,
    TableDefinition,
    resolve_path,
)

from . import filters
from .aggregates import DatasetAggregates, Source
from .columns import BadValue, Reader, declared_type
from .reading import parquet_batches

__all__ = ["ParquetFdw"]

#: file extensions and the format they name
EXTENSIONS = {".parquet": "parquet", ".parq": "parquet", ".arrow": "arrow", ".feather": "arrow"}
_ARROW_FORMATS = {"parquet": "parquet", "arrow": "ipc"}
_BATCH_ROWS = 65536
_NO_VALUE = ("IS NULL", "IS NOT NULL")


def _pyarrow() -> Any:
    try:
        import pyarrow.dataset as ds
    except ImportError:  # pragma: no cover - the extra is part of the tests
        raise FeatureNotSupportedError(
            "parquet_fdw needs pyarrow", hint="pip install 'sqlmed[parquet]'"
        ) from None
    return ds


class ParquetFdw(ForeignDataWrapper):
    """Read-only foreign tables over Parquet and Arrow IPC files and datasets."""

    name = "parquet_fdw"
    version = "1.0"
    coerces_values = True
    #: Whether FIFOs, devices and other files that are not regular files may be
    #: read.  Set by the program (on this class or a subclass), never by a
    #: database file.
    allow_special_files: bool = False

    option_specs = (
        OptionSpec("directory", {"server"}, doc="directory relative paths resolve against"),
        OptionSpec("path", {"table"}, required=True, doc="a file or a dataset's directory"),
        OptionSpec("format", {"table"}, choices=("parquet", "arrow"), doc="parquet or arrow (IPC)"),
        OptionSpec(
            "partitioning",
            {"table"},
            choices=("hive", "none"),
            default="hive",
            doc="hive: key=value directories are columns",
        ),
        COLUMN_NAME,
    )

    def __init__(self, options: dict[str, str], columns: dict[str, ColumnDefinition]):
        super().__init__(options, columns)
        self._schema: Any = None
        self._rows: tuple[tuple, float] | None = None

    # ------------------------------------------------------------ the dataset

    def path(self) -> str:
        return resolve_path(
            self.options.get("path", ""),
            self.database_path,
            self.options.get("directory"),
            uris=False,
        )

    def _format(self, path: str) -> str:
        given = self.settings.get("format")
        if given:
            return str(given)
        return EXTENSIONS.get(os.path.splitext(path)[1].lower(), "parquet")

    def _where(self, path: str) -> str:
        return f'foreign table "{self.table_name}": "{path}"'

    def dataset(self, dictionary: Collection[str] = ()) -> Any:
        """The table's dataset as it is now (a directory is listed again);
        the ``dictionary`` columns of Parquet files read dictionary-encoded."""
        _pyarrow()  # the extra, or a clear error
        path = self.path()
        try:
            mode = os.stat(path).st_mode
        except FileNotFoundError:
            raise WrapperError(f"{self._where(path)} does not exist") from None
        except OSError as err:
            raise WrapperError(f"{self._where(path)}: {err.strerror or err}") from None
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)) and not self.allow_special_files:
            raise WrapperError(
                f"{self._where(path)} is not a regular file or directory",
                hint="parquet_fdw reads regular files only; a program that means to read "
                "others sets ParquetFdw.allow_special_files.",
            )
        partitioning = "hive" if self.settings["partitioning"] == "hive" else None
        kind = self._format(path)
        try:
            return _open(path, kind, partitioning, dictionary, self.allow_special_files)
        except LookupError:
            raise WrapperError(f"{self._where(path)} holds no {kind} file") from None
        except Exception as err:  # pyarrow's ArrowInvalid, OSError...
            raise WrapperError(f"{self._where(path)} could not be read: {err}") from None

    def schema(self) -> Any:
        """The dataset's schema, read again when the path changed."""
        path = self.path()
        try:
            info = os.stat(path)
            stamp: tuple = (path, info.st_mtime_ns, info.st_size)
        except OSError:
            stamp = (path,)
        if self._schema is None or self._schema[0] != stamp:
            self._schema = (stamp, self.dataset().schema)
        return self._schema[1]

    def _field(self, column: str) -> Any:
        remote = self.remote_names[column]
        schema = self.schema()
        index = schema.get_field_index(remote)
        if index < 0:
            raise WrapperError(
                f'foreign table "{self.table_name}": column "{remote}" is not in "{self.path()}"',
                hint="Its columns: " + ", ".join(schema.names),
            )
        return schema.field(index)

    def kinds(self) -> dict[str, str | None]:
        """Each column's exact kind (filters.exact_kind), None when its values
        are converted on the way to SQLite."""
        out: dict[str, str | None] = {}
        for name, col in self.columns.items():
            try:
                out[name] = filters.exact_kind(col.type, self._field(name).type)
            except WrapperError:
                out[name] = None
        return out

    # ------------------------------------------------------------ planning

    def honours(self, qual: Qual) -> bool:
        # by the declared type alone, so that the answer holds whatever the file
        # holds by the time the scan runs: a qual on a column whose file type
        # then differs is checked by the scan itself, by SQLite's rules
        return (
            qual.operator in filters.OPERATORS
            and qual.column in self.columns
            and types.family(self.columns[qual.column].type) in filters.FAMILIES
        )

    def can_limit(self) -> bool:
        return True

    def estimate(self, quals: list[Qual], columns: list[str]) -> tuple[float, float]:
        try:
            rows = self._row_count()
        except WrapperError:
            return super().estimate(quals, columns)
        for qual in quals:
            if qual.operator in ("=", "IS"):
                rows /= 100
            elif qual.operator == "IN":
                rows /= 100 / max(len(qual.value or ()), 1)
            elif qual.operator not in ("IS NOT NULL", "!="):
                rows /= 3
        rows = max(rows, 1.0)
        return rows, 10.0 + rows * (0.1 + 0.9 * len(columns) / max(len(self.columns), 1))

    def _row_count(self) -> float:
        path = self.path()
        try:
            stamp: tuple = (path, os.stat(path).st_mtime_ns)
        except OSError:
            stamp = (path, None)
        if self._rows is None or self._rows[0] != stamp:
            self._rows = (stamp, float(max(self.dataset().count_rows(), 1)))
        return self._rows[1]

    # ------------------------------------------------------------ scans

    def _pushed(self, quals: list[Qual]) -> list[Qual]:
        """The honoured quals the dataset filter applies: those on columns whose
        file type SQLite sees as it is (the others the scan checks itself)."""
        kinds = self.kinds()
        return [q for q in quals if self.honours(q) and kinds[q.column] is not None]

    def _filter(self, quals: list[Qual]) -> Any:
        """The honoured quals as one dataset filter (None when there are none)."""
        kinds = self.kinds()
        parts = [
            filters.Column(
                self.remote_names[q.column], kinds[q.column] or "", self.columns[q.column].type
            ).qual(q)
            for q in self._pushed(quals)
        ]
        return filters.conjunction(parts)

    def record_batches(
        self,
        columns: list[str],
        quals: list[Qual],
        dictionary: Collection[str] = (),
        groups_whole: bool = False,
    ) -> Iterator[Any]:
        """The dataset's record batches of these columns (in this order) of
        the rows every honoured qual holds for, the ``dictionary`` columns
        dictionary-encoded (as Parquet stores text: grouped by much faster).
        With no column, batches of one column that count the rows.

        Parquet is read page by page; ``groups_whole`` lets a read of one or
        two columns (an aggregate's) decode whole row groups, in order on one
        thread, which Arrow's scanner does twice as fast."""
        pushed = self._pushed(quals)
        checks = [q for q in quals if self.honours(q) and q not in pushed]
        wanted = list(columns) or [self._carrier()]
        read = list(dict.fromkeys([*wanted, *(q.column for q in checks)]))
        for name in read:
            self._field(name)
        remote = [self.remote_names[c] for c in read]
        dictionary = [self.remote_names[c] for c in dictionary]
        expression = self._filter(quals)
        import pyarrow.types as pt

        whole = groups_whole and len(remote) <= 2
        whole = whole and not any(pt.is_string_view(self._field(c).type) for c in read)
        try:
            if whole or self._format(self.path()) != "parquet":
                batches = self.dataset(dictionary).to_batches(
                    columns=remote, filter=expression, batch_size=_BATCH_ROWS, use_threads=False
                )
            else:
                filtered = [self.remote_names[q.column] for q in pushed]
                batches = parquet_batches(
                    self.dataset(dictionary), remote, expression, filtered, _BATCH_ROWS, dictionary
                )
            for batch in batches:
                if checks:
                    batch = self._checked(batch, read, checks)
                if len(read) != len(wanted):
                    batch = batch.select(list(range(len(wanted))))
                if batch.num_rows:
                    yield batch
        except WrapperError:
            raise
        except Exception as err:
            raise WrapperError(f"{self._where(self.path())} could not be read: {err}") from None

    def _carrier(self) -> str:
        """A column to count rows with when a scan reads none: the cheapest."""
        import pyarrow.types as pt

        present = [n for n in self.columns if self.remote_names[n] in self.schema().names]
        fixed = [n for n in present if pt.is_primitive(self._field(n).type)]
        return (fixed or present or list(self.columns))[0]

    def _checked(self, batch: Any, read: list[str], checks: list[Qual]) -> Any:
        """The rows of ``batch`` (columns ``read``) the quals hold for, decided on
        the values SQLite would see, by its rules (a file whose type is not the
        declared one)."""
        import pyarrow as pa

        keep = [True] * batch.num_rows
        for qual in checks:
            declared = self.columns[qual.column].type
            convert = types.converter(declared)
            affinity = semantics.affinity(declared)
            if qual.operator == "IN":
                value: Any = [semantics.apply_affinity(affinity, v) for v in qual.value or ()]
            else:
                value = semantics.apply_affinity(affinity, qual.value)
            column = batch.column(read.index(qual.column)).to_pylist()
            for i, v in enumerate(column):
                if keep[i]:
                    stored = None if v is None or v != v else convert(v)
                    keep[i] = semantics.holds(qual.operator, stored, value)
        return batch.filter(pa.array(keep, pa.bool_()))

    def scan_batches(self, quals, columns, sortkeys=None, limit=None, offset=None) -> Iterator[Any]:
        columns = list(columns)
        batches = self.record_batches(columns, quals)
        c = speedups.module()
        arrow_batch = getattr(c, "arrow_batch", None) if c is not None else None
        reader: Reader | None = None
        skip = offset or 0
        left = limit if limit is not None and limit >= 0 else None
        for batch in batches:
            if skip:
                if batch.num_rows <= skip:
                    skip -= batch.num_rows
                    continue
                batch, skip = batch.slice(skip), 0
            if left is not None:
                if left <= 0:
                    return
                if batch.num_rows > left:
                    batch = batch.slice(0, left)
                left -= batch.num_rows
            if reader is None:
                declared = [self.columns[name].type for name in columns]
                reader = Reader(declared, batch.schema, arrow_batch)
            try:
                yield reader.rows(batch)
            except BadValue as err:
                name = columns[err.column]
                raise WrapperError(
                    f'{self._where(self.path())}, column "{name}": a value does not convert'
                    f" to {self.columns[name].type}: {err}"
                ) from None

    def scan(self, quals, columns, sortkeys=None, limit=None, offset=None) -> Iterator[Any]:
        for rows in self.scan_batches(quals, columns, sortkeys, limit, offset):
            yield from rows

    def aggregator(self) -> Any:
        return DatasetAggregates(
            Source(
                kinds=self.kinds(),
                kinds_now=self.kinds,
                batches=lambda columns, quals, texts: self.record_batches(
                    columns, quals, texts, groups_whole=True
                ),
                rows=lambda quals, columns: self.scan(quals, columns),
                count=lambda quals: int(self.dataset().count_rows(filter=self._filter(quals))),
                described=f"{self._format(self.path())} {self.path()}",
                sum_reals=getattr(speedups.module(), "sum_reals", None),
            )
        )

    def explain(self, quals, columns, sortkeys, limit, offset) -> str:
        path = self.path()
        text = f"{self._format(path)}: {path}"
        # a value not known yet (a parameter, while planning) is no filter to show
        if any(q.value is None and q.operator not in _NO_VALUE for q in quals):
            return text + "; filter: the quals marked exact, once their values are known"
        try:
            expression = self._filter(quals)
            groups = self._row_groups(expression)
        except WrapperError as err:
            return f"{text} ({err})"
        if expression is not None:
            text += f"; filter: {expression}"
        if groups is not None:
            text += f"; row groups: {groups[0]} of {groups[1]}"
        return text

    def _row_groups(self, expression: Any) -> tuple[int, int] | None:
        """Row groups the filter leaves to read, and all of them (Parquet)."""
        if self._format(self.path()) != "parquet":
            return None
        dataset = self.dataset()
        total = sum(f.num_row_groups for f in dataset.get_fragments())
        if expression is None:
            return total, total
        kept = 0
        try:  # the partitions the filter leaves, then their row groups it leaves
            for fragment in dataset.get_fragments(filter=expression):
                kept += len(fragment.split_by_row_group(expression, schema=dataset.schema))
        except Exception:  # a value still unknown while planning
            return None
        return kept, total

    # ------------------------------------------------------------ options, import

    @classmethod
    def validate(cls, kind: str, options: Mapping[str, str], *, object_name: str) -> None:
        super().validate(kind, options, object_name=object_name)
        if kind == "table" and "path" in options and not options["path"].strip():
            raise InvalidOptionError(f'foreign table "{object_name}": option "path" is empty')

    @classmethod
    def import_tables(cls, request: ImportRequest) -> list[TableDefinition]:
        _pyarrow()
        options = request.connect_options
        schema = request.schema
        sub = "" if schema in ("public", ".", "main") else schema
        root = resolve_path(sub or ".", request.database_path, options.get("directory"), uris=False)
        if not os.path.isdir(root):
            raise WrapperError(f'IMPORT FOREIGN SCHEMA: "{root}" is not a directory')
        tables: list[TableDefinition] = []
        for entry in sorted(os.scandir(root), key=lambda e: e.name):
            stem, ext = os.path.splitext(entry.name)
            if entry.is_file() and ext.lower() in EXTENSIONS:
                name, fmt = stem, EXTENSIONS[ext.lower()]
            elif entry.is_dir() and _holds_data(entry.path):
                name, fmt = entry.name, _dataset_format(entry.path)
            else:
                continue
            if not request.wanted(name):
                continue
            try:
                arrow = _open(entry.path, fmt, "hive").schema
            except Exception as err:
                raise WrapperError(f'IMPORT FOREIGN SCHEMA: "{entry.path}": {err}') from None
            _importable(entry.path, arrow.names)
            path = os.path.join(sub, entry.name) if sub else entry.name
            table_options = {"path": path}
            if fmt != EXTENSIONS.get(ext.lower(), "parquet"):
                table_options["format"] = fmt
            columns = [ColumnDefinition(f.name, declared_type(f.type)) for f in arrow]
            tables.append(TableDefinition(name, columns, table_options))
        return tables


def _open(
    path: str,
    kind: str,
    partitioning: str | None,
    dictionary: Collection[str] = (),
    allow_special: bool = False,
) -> Any:
    """A file, or a directory's data files of the format (never a README, nor
    a FIFO unless allowed), as an Arrow dataset; LookupError for a directory
    holding none."""
    ds = _pyarrow()
    fmt: Any = _ARROW_FORMATS[kind]
    if dictionary and fmt == "parquet":
        options = ds.ParquetReadOptions(dictionary_columns=set(dictionary))
        fmt = ds.ParquetFileFormat(read_options=options)
    if not os.path.isdir(path):
        return ds.dataset(path, format=fmt, partitioning=partitioning)
    files = [
        name
        for name in _data_files(path)
        if EXTENSIONS[os.path.splitext(name)[1].lower()] == kind
        and (allow_special or stat.S_ISREG(os.stat(name).st_mode))
    ]
    if not files:
        raise LookupError(path)
    return ds.dataset(files, format=fmt, partitioning=partitioning, partition_base_dir=path)


def _importable(path: str, names: list[str]) -> None:
    """Refuse a file whose column names no foreign table can take."""
    seen: dict[str, str] = {}
    for i, name in enumerate(names, 1):
        if not name:
            raise WrapperError(f'IMPORT FOREIGN SCHEMA: "{path}": column {i} has no name')
        other = seen.setdefault(name.lower(), name)
        if other != name:
            raise WrapperError(
                f'IMPORT FOREIGN SCHEMA: "{path}": columns "{other}" and "{name}" differ only'
                " in case, which SQLite's names do not tell apart",
                hint="Declare the foreign table yourself, with column_name options.",
            )


def _data_files(path: str) -> Iterator[str]:
    """The data files under a directory, by extension; names starting with
    ``.`` or ``_`` (hidden, ``_SUCCESS``, ``_metadata``) left out, as Arrow does."""
    for dirpath, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        for name in sorted(files):
            if name.startswith((".", "_")):
                continue
            if os.path.splitext(name)[1].lower() in EXTENSIONS:
                yield os.path.join(dirpath, name)


def _holds_data(path: str) -> bool:
    return next(_data_files(path), None) is not None


def _dataset_format(path: str) -> str:
    first = next(_data_files(path))
    return EXTENSIONS[os.path.splitext(first)[1].lower()]
