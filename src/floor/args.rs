//! The `floor` command line (clap derive), and the brief measurement compare asks for.

use clap::Args;

/// `iomodels floor`.
#[derive(Debug, Args)]
pub struct FloorArgs {
    /// Loopback connections the requests are spread over.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub connections: u32,
    /// Rounds, each measured with the client watching its connections (the floor) and
    /// without (the bare figure); the median round of each is reported.
    #[arg(long, default_value_t = 9, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub rounds: u32,
    /// Requests per round (a multiple of the connections, rounded up).
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub requests: u32,
    /// Print the result as one line of JSON.
    #[arg(long)]
    pub json: bool,
    /// Measure the floor alone, without the bare figure, as compare does each round
    /// (how it measures the floor on another host).
    #[arg(long, hide = true)]
    pub floor_only: bool,
}

impl FloorArgs {
    /// A shorter measurement, for `compare` to put its figures against.
    pub fn brief() -> Self {
        FloorArgs {
            connections: 100,
            rounds: 5,
            requests: 20_000,
            json: false,
            floor_only: true,
        }
    }
}
