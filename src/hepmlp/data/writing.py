"""Write the dataset folder: three parquet files and dataset.json, all or nothing.

Columns, in this order: the features (float64, raw), ``label`` (int64 class
index, or float64 regression target), ``weight``, ``training_weight``
(float64), ``sample`` (string), ``event`` (int64), and for regression
``truth`` and ``raw`` (float64).  Rows are written chunk by chunk, grouped
into row groups of about ``ROW_GROUP_ROWS`` rows, so that memory never holds
a second copy of the dataset.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from hepmlp.data.split import SPLITS
from hepmlp.data.store import INFO_FILE
from hepmlp.outputs import atomic_outputs

ROW_GROUP_ROWS = 256 * 1024


class _SplitWriter:
    """A parquet file written in row groups of at least ``ROW_GROUP_ROWS`` rows."""

    def __init__(self, path: Path, schema: pa.Schema):
        self.schema = schema
        self.writer = pq.ParquetWriter(path, schema)
        self.pending: list[pa.Table] = []
        self.pending_rows = 0
        self.written = 0

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        self.pending.append(table)
        self.pending_rows += table.num_rows
        if self.pending_rows >= ROW_GROUP_ROWS:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.writer.write_table(pa.concat_tables(self.pending))
            self.written += self.pending_rows
        self.pending, self.pending_rows = [], 0

    def close(self) -> None:
        self.flush()
        if self.written == 0:
            self.writer.write_table(self.schema.empty_table())
        self.writer.close()


def _schema(features: list[str], extra_columns: list[str], label_type: str) -> pa.Schema:
    fields = [pa.field(name, pa.float64()) for name in features]
    fields += [
        pa.field("label", pa.int64() if label_type == "int64" else pa.float64()),
        pa.field("weight", pa.float64()),
        pa.field("training_weight", pa.float64()),
        pa.field("sample", pa.string()),
        pa.field("event", pa.int64()),
    ]
    fields += [pa.field(name, pa.float64()) for name in extra_columns]
    return pa.schema(fields)


def _table(schema: pa.Schema, sample: str, chunk: dict[str, np.ndarray], rows: np.ndarray) -> pa.Table:
    n_rows = int(np.count_nonzero(rows))
    names = pc.take(pa.array([sample], pa.string()), pa.array(np.zeros(n_rows, dtype=np.int32)))
    columns = []
    for field in schema:
        if field.name == "sample":
            columns.append(names)
        else:
            columns.append(pa.array(np.ascontiguousarray(chunk[field.name][rows]), type=field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def write_splits(
    outdir: Path,
    *,
    samples: list[tuple[str, list[dict[str, np.ndarray]]]],
    features: list[str],
    extra_columns: list[str],
    label_type: str,
    info: dict,
) -> None:
    """Write ``outdir/{train,validation,test}.parquet`` and ``outdir/dataset.json``.

    ``samples`` holds ``(name, chunks)``; each chunk maps column names to
    arrays of equal length, including ``split`` (0 train, 1 validation,
    2 test).  Nothing appears in ``outdir`` unless everything was written.
    """
    schema = _schema(features, extra_columns, label_type)
    paths = [outdir / f"{split}.parquet" for split in SPLITS] + [outdir / INFO_FILE]
    with atomic_outputs(*paths) as temporaries:
        writers = [_SplitWriter(path, schema) for path in temporaries[: len(SPLITS)]]
        try:
            for name, chunks in samples:
                for chunk in chunks:
                    for code, writer in enumerate(writers):
                        writer.write(_table(schema, name, chunk, chunk["split"] == code))
        finally:
            for writer in writers:
                writer.close()
        temporaries[-1].write_text(json.dumps(info, indent=2) + "\n")
