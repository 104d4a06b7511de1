"""Reading a Parquet dataset a record batch at a time, in bounded memory.

Arrow's dataset scanner decodes a whole row group before it hands over the
first batch of it, and buffers ahead: a full scan of a file of large row
groups holds hundreds of megabytes.  Here the dataset only chooses what to
read (the files its partitions leave, the row groups their statistics
leave), and each file is read by ``ParquetFile.iter_batches``, page by page
through a small buffer.  The partition columns of a hive dataset are added
as constants, columns a file lacks as NULLs, and the filter is applied to
each batch (the statistics only say which row groups may hold matches).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any

#: the read buffer of a file (bytes): pages are read through it, not pre-buffered
_BUFFER = 1 << 20


def parquet_batches(
    dataset: Any,
    columns: list[str],
    expression: Any,
    filtered: list[str],
    batch_rows: int,
    dictionary: Collection[str] = (),
) -> Iterator[Any]:
    """The record batches of ``columns`` (names in the files) of the rows
    ``expression`` keeps (None: all; ``filtered`` are the columns it reads),
    ``dictionary`` columns as dictionaries."""
    import pyarrow.dataset as ds

    every = list(dict.fromkeys([*columns, *filtered]))
    for fragment in dataset.get_fragments(filter=expression):
        constants = ds.get_partition_keys(fragment.partition_expression)
        groups = None
        if expression is not None:
            pieces = fragment.split_by_row_group(expression, schema=dataset.schema)
            groups = [group.id for piece in pieces for group in piece.row_groups]
            if not groups:
                continue
        where = (fragment.path, constants, groups)
        for batch in _file_batches(where, dataset.schema, every, batch_rows, dictionary):
            if expression is not None:
                batch = batch.filter(expression)
            if len(every) != len(columns):
                batch = batch.select(columns)
            if batch.num_rows:
                yield batch


def _file_batches(
    where: tuple[str, dict[str, Any], list[int] | None],
    schema: Any,
    columns: list[str],
    batch_rows: int,
    dictionary: Collection[str],
) -> Iterator[Any]:
    """One file's batches of ``columns`` (the dataset's schema): a partition
    column a constant, a column the file lacks NULL."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path, constants, groups = where
    with pq.ParquetFile(
        path,
        pre_buffer=False,
        buffer_size=_BUFFER,
        read_dictionary=[c for c in dictionary if c not in constants] or None,
    ) as source:
        present = set(source.schema_arrow.names) - set(constants)
        read = [c for c in columns if c in present]
        if groups is None:
            groups = list(range(source.num_row_groups))
        for batch in source.iter_batches(batch_rows, row_groups=groups, columns=read):
            n = batch.num_rows
            arrays = []
            for name in columns:
                arrow_type = schema.field(name).type
                if pa.types.is_string_view(arrow_type):  # not every kernel takes views
                    arrow_type = pa.string()
                if name in constants:
                    arrays.append(pa.array([constants[name]] * n, arrow_type))
                elif name in present:
                    arrays.append(_as(batch.column(name), arrow_type, name in dictionary))
                else:
                    arrays.append(pa.nulls(n, arrow_type))
            yield pa.RecordBatch.from_arrays(arrays, names=columns)


def _as(array: Any, arrow_type: Any, dictionary: bool) -> Any:
    """A file's column as the dataset's type (files of a dataset may differ)."""
    import pyarrow.types as pt

    if array.type == arrow_type or (dictionary and pt.is_dictionary(array.type)):
        return array
    return array.cast(arrow_type)
