//! `fabmon demo`: the main job on the embedded demo capture.

use std::process::ExitCode;

use clap::Args;

#[derive(Debug, Args)]
pub struct DemoArgs {}

pub fn run(_args: DemoArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("the demo capture is not built yet")
}
