#!/usr/bin/env python3
"""Reads a `fabmon run --out DIR` dataset with pyarrow and prints what the tests check, as JSON.

    read_dataset.py DIR [--files]

Every closed file (`part-*.parquet`) must read completely and carry the dataset metadata; the
output gives per table the row count, the distinct alert uids, and a few rows for spot checks.
With --files, each file is read on its own (no dataset discovery) and only counts are printed.
"""
import json
import os
import sys

import pyarrow.dataset as ds
import pyarrow.parquet as pq

TABLES = ["messages", "flows", "assets", "alerts", "stats"]


def closed_files(root, table):
    out = []
    for d, _, names in os.walk(os.path.join(root, table)):
        out.extend(os.path.join(d, n) for n in names if n.startswith("part-") and n.endswith(".parquet"))
    return sorted(out)


def check_file(path, table):
    f = pq.ParquetFile(path)
    meta = {k.decode(): v.decode() for k, v in (f.metadata.metadata or {}).items()}
    assert meta.get("fabmon.schema") == "fabmon-dataset/1", (path, meta)
    assert meta.get("fabmon.table") == table, (path, meta)
    t = f.read()
    assert t.num_rows == f.metadata.num_rows, path
    return t.num_rows


def main():
    root = sys.argv[1]
    only_files = "--files" in sys.argv[2:]
    res = {}
    for table in TABLES:
        files = closed_files(root, table)
        rows = sum(check_file(p, table) for p in files)
        res[table] = {"files": len(files), "rows": rows}
        if only_files or not files:
            continue
        t = ds.dataset(os.path.join(root, table), format="parquet", partitioning="hive").to_table()
        assert t.num_rows == rows, (table, t.num_rows, rows)
        assert "date" in t.column_names and "hour" in t.column_names
        if table == "alerts":
            res[table]["uids"] = len(set(t.column("uid").to_pylist()))
            # The latest row per uid carries the final count.
            best = {}
            for uid, count in zip(t.column("uid").to_pylist(), t.column("count").to_pylist()):
                best[uid] = max(best.get(uid, 0), count)
            res[table]["occurrences"] = sum(best.values())
        if table == "messages":
            cols = ["frame", "proto", "kind", "summary", "hsms_stream", "hsms_function", "hsms_system",
                    "modbus_function", "modbus_unit", "latency_us", "request_frame", "detail"]
            t = t.sort_by("frame")
            res[table]["sample"] = [
                {c: (v if not isinstance(v, (bytes,)) else v.decode()) for c, v in r.items()}
                for r in t.select(cols).to_pylist()
            ]
        if table == "stats":
            res[table]["packets"] = sum(t.column("packets").to_pylist())
            res[table]["messages"] = sum(
                sum(t.column(c).to_pylist()) for c in ["messages_hsms", "messages_modbus", "messages_bacnet"])
        if table == "assets":
            res[table]["snapshot_ips"] = len(set(
                ip for ip, r in zip(t.column("ip").to_pylist(), t.column("reason").to_pylist()) if r == "snapshot"))
    print(json.dumps(res))


if __name__ == "__main__":
    main()
