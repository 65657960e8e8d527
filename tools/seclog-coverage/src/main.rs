//! `seclog-coverage`: the producer coverage the sequencer keeps (`seclog::coverage`), for an
//! operator: one line per producer and event type, with its count and last arrival, marked
//! `SILENT` when nothing came for longer than the threshold.
//!
//! ```text
//! LOG_TABLE=<the stack's log table> seclog-coverage [--silent-after-hours 24]
//! seclog-coverage --local http://127.0.0.1:<moto port> --table security-logs-log  # make dev
//! ```
//!
//! In AWS it reads with the default credentials chain (read access to the log table); the dev
//! server logs its moto endpoint at start.

use std::process::ExitCode;

use jiff::{SignedDuration, Timestamp};
use seclog::coverage::ports::CoverageStore;
use seclog::coverage::report;
use seclog::store::aws;
use seclog::store::dynamodb::coverage::DynamoCoverage;

struct Args {
    table: String,
    local: Option<String>,
    silent_after: SignedDuration,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut table = std::env::var("LOG_TABLE").ok();
    let (mut local, mut hours) = (None, 24i64);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--table" => table = Some(value()?),
            "--local" => local = Some(value()?),
            "--silent-after-hours" => {
                hours = value()?
                    .parse()
                    .map_err(|_| "--silent-after-hours takes a whole number".to_owned())?
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Args {
        table: table.ok_or("the log table: --table or LOG_TABLE")?,
        local,
        silent_after: SignedDuration::from_hours(hours),
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("seclog-coverage: {message}");
            return ExitCode::from(2);
        }
    };
    let config = match &args.local {
        Some(endpoint) => aws::local(endpoint).await,
        None => aws::from_env().await,
    };
    let store = DynamoCoverage::new(aws_sdk_dynamodb::Client::new(&config), &args.table);
    match store.all().await {
        Ok(rows) => {
            print!("{}", report(&rows, Timestamp::now(), args.silent_after));
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("seclog-coverage: reading {}: {error}", args.table);
            ExitCode::FAILURE
        }
    }
}
