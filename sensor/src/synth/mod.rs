//! `fabmon synth`: deterministic synthetic fab traffic. Filled in by the synth work.
