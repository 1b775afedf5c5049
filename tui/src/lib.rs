//! fabmon operator console (ratatui). Not built yet; see `docs/ARCHITECTURE.md`.
