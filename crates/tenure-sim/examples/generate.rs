//! Generates a shop: `cargo run -p tenure-sim --example generate -- CUSTOMERS OUT_DIR [SEED]`.

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let customers = args.next().map_or(Ok(10_000), |s| s.parse())?;
    let out = args.next().unwrap_or_else(|| "shop".to_string());
    let seed = args.next().map_or(Ok(42), |s| s.parse())?;
    let params = tenure_sim::SimParams {
        customers,
        seed,
        ..tenure_sim::SimParams::default()
    };
    let started = Instant::now();
    let summary = tenure_sim::generate(&params, out.as_ref(), &mut |n| {
        if n % 100_000 == 0 {
            eprintln!("{n} customers");
        }
    })?;
    eprintln!("{:.1} s", started.elapsed().as_secs_f64());
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
