//! fabmon analyzer: reads the sensor's Parquet dataset (DataFusion) and builds the weekly asset
//! report and the OT audit evidence pack. Not built yet; see `docs/ARCHITECTURE.md`.
