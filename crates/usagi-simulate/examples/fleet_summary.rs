//! Prints what a fleet would send: `cargo run -p usagi-simulate --example fleet_summary -- [installs] [days] [seed]`.

use std::time::Instant;

use chrono::NaiveDate;
use usagi_simulate::{Fleet, FleetConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let installs = args.first().map_or(Ok(3000), |s| s.parse())?;
    let days = args.get(1).map_or(Ok(180), |s| s.parse())?;
    let seed = args.get(2).map_or(Ok(1), |s| s.parse())?;
    let end = NaiveDate::from_ymd_opt(2024, 3, 20).ok_or("bad date")?;
    let started = Instant::now();
    let fleet = Fleet::new(FleetConfig::new(installs, days, end, seed))?;
    print!("{}", fleet.summary());
    let summarised = started.elapsed();
    let bytes: usize = fleet.batches_in_time_order().map(|b| b.body.len()).sum();
    println!("body bytes          {bytes:>12}");
    println!("summary {:.2?}, bodies {:.2?}", summarised, started.elapsed() - summarised);
    Ok(())
}
