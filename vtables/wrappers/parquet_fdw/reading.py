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

    filtered = list(dict.fromkeys(filtered))
    every = list(dict.fromkeys([*columns, *filtered]))
    for fragment in dataset.get_fragments(filter=expression):
        constants = ds.get_partition_keys(fragment.partition_expression)
        groups = None
        if expression is not None:
            pieces = fragment.split_by_row_group(expression, schema=dataset.schema)
            groups = [group.id for piece in pieces for group in piece.row_groups]
            if not groups:
                continue
        file = _File(fragment.path, dataset.schema, constants, dictionary)
        for batch in file.batches(every, groups, batch_rows, expression, filtered):
            if expression is not None:
                batch = batch.filter(expression)
            if len(every) != len(columns):
                batch = batch.select(columns)
            if batch.num_rows:
                yield batch


class _File:
    """One file of a dataset: its batches in the dataset's schema, a partition
    column a constant, a column the file lacks NULL."""

    def __init__(
        self, path: str, schema: Any, constants: dict[str, Any], dictionary: Collection[str]
    ):
        self.path, self.schema, self.constants = path, schema, constants
        self.dictionary = dictionary

    def batches(
        self,
        columns: list[str],
        groups: list[int] | None,
        batch_rows: int,
        expression: Any,
        filtered: list[str],
    ) -> Iterator[Any]:
        """The batches of ``columns`` in these row groups.  Under a filter that
        reads fewer columns than the scan, each row group's filter columns are
        read first: a row group none of whose rows pass is not decoded further,
        and one is decoded only as far as its last row that passes (a range of
        a sorted column reads the pages it needs, not the row group)."""
        import pyarrow.parquet as pq

        with pq.ParquetFile(
            self.path,
            pre_buffer=False,
            buffer_size=_BUFFER,
            read_dictionary=[c for c in self.dictionary if c not in self.constants] or None,
        ) as source:
            present = set(source.schema_arrow.names) - set(self.constants)
            read = [c for c in columns if c in present]
            if groups is None:
                groups = list(range(source.num_row_groups))
            first = expression is not None and set(filtered) < set(columns)
            for group in groups:
                last = self._last_kept(source, group, filtered, expression) if first else None
                if last is not None and last < 0:
                    continue
                row = 0
                # one thread: the columns' pages are not all decoded at once
                pages = source.iter_batches(
                    batch_rows, row_groups=[group], columns=read, use_threads=False
                )
                for batch in pages:
                    if last is not None and row > last:
                        break
                    row += batch.num_rows
                    yield self._complete(batch, columns, present)

    def _last_kept(self, source: Any, group: int, filtered: list[str], expression: Any) -> int:
        """The row group's last row that passes the filter (-1: none)."""
        import numpy as np
        import pyarrow as pa

        present = set(source.schema_arrow.names) - set(self.constants)
        keys = source.read_row_group(group, columns=[c for c in filtered if c in present])
        keys = self._complete(keys, filtered, present)
        rows = pa.array(np.arange(keys.num_rows, dtype=np.int64))
        kept = keys.append_column("sqlmed_row", rows).filter(expression)
        return kept.column("sqlmed_row")[-1].as_py() if kept.num_rows else -1

    def _complete(self, batch: Any, columns: list[str], present: set[str]) -> Any:
        import pyarrow as pa

        n = batch.num_rows
        arrays = []
        for name in columns:
            arrow_type = self.schema.field(name).type
            if pa.types.is_string_view(arrow_type):  # not every kernel takes views
                arrow_type = pa.string()
            if name in self.constants:
                arrays.append(pa.array([self.constants[name]] * n, arrow_type))
            elif name in present:
                column = batch.column(name)
                if isinstance(column, pa.ChunkedArray):
                    column = column.combine_chunks()
                arrays.append(_as(column, arrow_type, name in self.dictionary))
            else:
                arrays.append(pa.nulls(n, arrow_type))
        return pa.RecordBatch.from_arrays(arrays, names=columns)


def _as(array: Any, arrow_type: Any, dictionary: bool) -> Any:
    """A file's column as the dataset's type (files of a dataset may differ)."""
    import pyarrow.types as pt

    if array.type == arrow_type or (dictionary and pt.is_dictionary(array.type)):
        return array
    return array.cast(arrow_type)
