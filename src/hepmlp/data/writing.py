"""Write the dataset folder: three parquet files and dataset.json, all or nothing.

Columns, in this order: the features (float64, raw), ``label`` (int64 class
index, or float64 regression target), ``weight``, ``training_weight``
(float64), ``sample`` (string), ``event`` (int64), ``fold`` (int64: the
k-fold fold, ``-1`` without folds), and for regression
``truth`` and ``raw`` (float64).  The parquet tables are zero-copy views of
the chunks' NumPy arrays (row groups of ``ROW_GROUP_ROWS`` rows), so memory
never holds a second copy of the dataset, and the three files are encoded in
parallel threads.

Cheap to encode: no column holds nulls, so every column is ``required``
(no definition levels); floats and integers are plain and uncompressed
(physics floats barely compress); ``sample`` is handed to Arrow already
dictionary-encoded (one dictionary of all sample names), so the writer
copies its indices instead of hashing a string per row; no min/max
statistics (every reader loads whole columns), and the encoder takes 64k
values at a time.  The Arrow schema is not stored in the files, so readers
see ``sample`` as a plain string column.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from hepmlp.data.split import SPLITS
from hepmlp.data.store import INFO_FILE
from hepmlp.outputs import atomic_outputs

ROW_GROUP_ROWS = 256 * 1024
WRITE_BATCH_ROWS = 64 * 1024  # values the encoder takes at a time (Arrow's default, 1024, costs 20 % more CPU)


def _write_parquet(path: Path, schema: pa.Schema, tables: list[pa.Table]) -> None:
    """One split's tables (zero-copy slices of the chunks) as one parquet file."""
    table = pa.concat_tables(tables) if tables else schema.empty_table()
    pq.write_table(
        table,
        path,
        row_group_size=ROW_GROUP_ROWS,
        use_dictionary=["sample"],
        compression="none",
        store_schema=False,
        write_statistics=False,
        write_batch_size=WRITE_BATCH_ROWS,
    )


def _schema(features: list[str], extra_columns: list[str], label_type: str) -> pa.Schema:
    """The tables' schema: ``sample`` as dictionary indices into the sample names, nothing nullable."""
    types = {name: pa.float64() for name in features}
    types |= {
        "label": pa.int64() if label_type == "int64" else pa.float64(),
        "weight": pa.float64(),
        "training_weight": pa.float64(),
        "sample": pa.dictionary(pa.int32(), pa.string()),
        "event": pa.int64(),
        "fold": pa.int64(),
    }
    types |= {name: pa.float64() for name in extra_columns}
    return pa.schema([pa.field(name, type, nullable=False) for name, type in types.items()])


def _tables(schema: pa.Schema, names: pa.Array, sample: int, chunk: dict[str, np.ndarray],
            n_files: int) -> list[pa.Table]:
    """One table per file (split code); the chunk's rows are already ordered by split code.

    ``names`` holds every sample name; ``sample`` is the index of this chunk's.
    """
    codes = chunk["split"]
    bounds = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=n_files))])
    indices = pa.array(np.full(len(codes), sample, dtype=np.int32))
    columns = {
        field.name: pa.DictionaryArray.from_arrays(indices, names)
        if field.name == "sample"
        else pa.array(chunk[field.name], type=field.type)
        for field in schema
    }
    return [
        pa.Table.from_arrays([columns[field.name].slice(start, stop - start) for field in schema], schema=schema)
        for start, stop in zip(bounds[:-1], bounds[1:])
    ]


def write_splits(
    outdir: Path,
    *,
    samples: list[tuple[str, list[dict[str, np.ndarray]]]],
    features: list[str],
    extra_columns: list[str],
    label_type: str,
    info: dict,
    files: tuple[str, ...] = SPLITS,
) -> None:
    """Write ``outdir/<file>.parquet`` for each of ``files`` and ``outdir/dataset.json``.

    ``samples`` holds ``(name, chunks)``; each chunk maps column names to
    arrays of equal length, including ``split`` (0 train, 1 validation,
    2 test: the index into ``files``), with the rows ordered by ``split``.
    ``files`` is ``(train, validation, test)``, or ``(events,)`` for a kfold
    dataset.  Nothing appears in ``outdir`` unless everything was written.
    """
    schema = _schema(features, extra_columns, label_type)
    paths = [outdir / f"{name}.parquet" for name in files] + [outdir / INFO_FILE]
    per_split: list[list[pa.Table]] = [[] for _ in files]
    names = pa.array([name for name, _ in samples], pa.string())
    for index, (_, chunks) in enumerate(samples):
        for chunk in chunks:
            for tables, table in zip(per_split, _tables(schema, names, index, chunk, len(files))):
                if table.num_rows:
                    tables.append(table)
    with atomic_outputs(*paths) as temporaries:
        # Arrow encodes without the GIL: the three files are written in parallel.
        with ThreadPoolExecutor(max_workers=len(files)) as pool:
            futures = [
                pool.submit(_write_parquet, path, schema, tables)
                for path, tables in zip(temporaries, per_split)
            ]
            for future in futures:
                future.result()
        temporaries[-1].write_text(json.dumps(info, indent=2) + "\n")
