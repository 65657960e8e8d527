//! `make bench-export`: how fast the export worker turns N events into a CSV in S3, and how much
//! memory it needs, for N = 10k, 100k and 1M (override with `ROWS=10000,50000`).
//!
//! For each N: a fresh dynalite (the strict, fast local DynamoDB; moto reads its whole table on
//! every Query) and an in-process s3s-fs; N realistic events loaded through the ingest path's
//! parser and loaded with BatchWriteItem (dynalite has no transactions, which the service's
//! write path uses); one export job; then this same binary re-executed as a
//! child (`export-bench worker ...`) that runs `ExportWorker::run`, the export worker Lambda's
//! code, in a process of its own, so its peak resident set (`wait4` `ru_maxrss`) is the worker's
//! alone. The CSV is checked to hold N rows. Then, in the same run, the same rows are paged out
//! of the same table with the SDK alone (1,000 per Query, nothing parsed or written): the
//! export's rows/s is reported as a ratio of that.
//!
//! What it measures, and why not the whole path: the job is seeded straight into the table,
//! without the `security_logs.exported` entry the API records in the same transaction (dynalite
//! has no transactions), so it has no sealed log and the worker writes the CSV only, no
//! evidence. That evidence-less mode is not in the Lambda: it exists behind `seclog`'s `bench`
//! feature, which only this crate enables (`cargo tree -p export-worker -e features | grep
//! bench` prints nothing). We kept dynalite rather than benchmark the real path on the moto
//! stack because moto reads its whole table on every Query: 1M rows there would measure moto.
//! The CSV phase measured here runs the same streaming loop (`shared/src/export/worker/
//! stream.rs`) the evidence phase runs in production, over the same `EventStore` pages; the
//! evidence's own cost (writing it, and verifying it) is `make bench-evidence`'s.

use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use dev_server::LocalS3;
use dev_server::process::{self, Wait};
use futures::{StreamExt, TryStreamExt, stream};
use jiff::Timestamp;
use seclog::domain::export::{ExportFilters, ExportId, ExportJob};
use seclog::domain::{AccountId, IngestBatch, IngestContext, Producer};
use seclog::export::worker::{ExportWorker, Outcome, WorkerSettings};
use seclog::integrity::note::LocalSigner;
use seclog::store::dynamodb::events::EventStore;
use seclog::store::dynamodb::exports::ExportStore;
use seclog::store::dynamodb::log::LogStore;
use seclog::store::export_ports::LogSealer;
use seclog::store::kms::log_keys::LogKeys;
use seclog::store::s3::exports_bucket::ExportsBucket;
use seclog::store::{aws, dynamodb::schema};
use serde_json::json;

const EVENTS: &str = "bench-events";
const JOBS: &str = "bench-jobs";
const BUCKET: &str = "exports";
const ACCOUNT: &str = "acct_bench";

type Error = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("worker") {
        // Set up exactly as the export worker Lambda's main does.
        seclog::export::memory::keep_large_buffers_off_the_heap();
        return tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(worker(&args[2..]));
    }
    tokio::runtime::Runtime::new()?.block_on(bench())
}

async fn bench() -> Result<(), Error> {
    let rows: Vec<u64> = std::env::var("ROWS")
        .unwrap_or_else(|_| "10000,100000,1000000".into())
        .split(',')
        .map(|n| n.trim().parse())
        .collect::<Result<_, _>>()?;
    println!(
        "| events | load (events/s) | export time | rows/s | SDK paging rows/s | export / paging | CSV size | worker peak RSS |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for n in rows {
        let result = run(n).await?;
        let export_rate = n as f64 / result.export.as_secs_f64();
        let paging_rate = n as f64 / result.paging.as_secs_f64();
        println!(
            "| {n} | {:.0} | {:.1} s | {export_rate:.0} | {paging_rate:.0} | {:.2} | {:.1} MiB | {:.1} MiB |",
            result.load_rate,
            result.export.as_secs_f64(),
            export_rate / paging_rate,
            result.csv_bytes as f64 / 1048576.0,
            result.peak_rss_kib as f64 / 1024.0,
        );
    }
    Ok(())
}

struct Measured {
    load_rate: f64,
    export: Duration,
    /// Paging the same rows out of the same table with the SDK alone: the floor the export's
    /// rate is compared with.
    paging: Duration,
    csv_bytes: u64,
    peak_rss_kib: u64,
}

async fn run(n: u64) -> Result<Measured, Error> {
    let dynalite = Dynalite::start()?;
    let s3_dir = tempfile::tempdir()?;
    let s3 = LocalS3::start(s3_dir.path(), 0).await?;
    s3.create_bucket(BUCKET)?;
    let config = aws::local(&dynalite.endpoint).await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    schema::create_events_table(&client, EVENTS, false).await?;
    schema::create_jobs_table(&client, JOBS, false).await?;

    let started = Instant::now();
    load(&EventStore::from_config(&config, EVENTS, 365), &client, n).await?;
    let load_rate = n as f64 / started.elapsed().as_secs_f64();

    let account = AccountId::parse(ACCOUNT)?;
    let filters = ExportFilters::parse(br#"{"tz": "Asia/Manila"}"#)?;
    let job = ExportJob::new(filters, "bench".into(), Timestamp::now());
    ExportStore::from_config(&config, JOBS, 7)
        .insert(&account, &job)
        .await?;

    let started = Instant::now();
    let mut command = Command::new(std::env::current_exe()?);
    command
        .args(["worker", &dynalite.endpoint, &s3.endpoint, job.id.as_str()])
        .stdout(Stdio::inherit());
    let child = process::die_with_parent(&mut command).spawn()?;
    let reaped = process::wait4(child.id(), Wait::Block)?.ok_or("wait4 returned no child")?;
    let export = started.elapsed();
    if !reaped.status.success() {
        return Err(format!("worker failed for {n} events ({})", reaped.describe()).into());
    }
    let peak_rss_kib = reaped.usage.max_rss_kib;
    let file = s3_dir
        .path()
        .join(BUCKET)
        .join("exports")
        .join(ACCOUNT)
        .join(format!("{}.csv", job.id.as_str()));
    let csv_bytes = std::fs::metadata(&file)?.len();
    let lines = count_lines(&file)?;
    if lines != n + 1 {
        return Err(format!("CSV has {lines} lines for {n} events").into());
    }
    let started = Instant::now();
    let paged = page_with_sdk(&client, &account).await?;
    let paging = started.elapsed();
    if paged != n {
        return Err(format!("paging read {paged} items for {n} events").into());
    }
    Ok(Measured {
        load_rate,
        export,
        paging,
        csv_bytes,
        peak_rss_kib,
    })
}

/// N events in batches of 100 through the ingest parser (device, summary, masking), written
/// 25 at a time with BatchWriteItem (the items are the ones the service writes).
async fn load(
    events: &EventStore,
    dynamodb: &aws_sdk_dynamodb::Client,
    n: u64,
) -> Result<(), Error> {
    let now = Timestamp::now();
    let producer = Producer::parse("arn:aws:iam::000000000000:user/bench")?;
    let batches = n.div_ceil(100);
    stream::iter(0..batches)
        .map(|b| {
            let events = events.clone();
            let producer = producer.clone();
            async move {
                let list: Vec<_> = (b * 100..((b + 1) * 100).min(n))
                    .map(sample_event)
                    .collect();
                let body = serde_json::to_vec(&json!({ "events": list }))?;
                let context = IngestContext {
                    now,
                    producer: &producer,
                };
                let batch = IngestBatch::parse(&body, &context)?;
                let expires_at = events.expires_at(now);
                for chunk in batch.events.chunks(25) {
                    let mut pending: Vec<WriteRequest> = chunk
                        .iter()
                        .map(|e| {
                            let item = events.entry_item(&e.account, &e.entry, expires_at);
                            let put = PutRequest::builder().set_item(Some(item)).build()?;
                            Ok::<_, Error>(WriteRequest::builder().put_request(put).build())
                        })
                        .collect::<Result<_, _>>()?;
                    while !pending.is_empty() {
                        let output = dynamodb
                            .batch_write_item()
                            .request_items(EVENTS, pending)
                            .send()
                            .await?;
                        pending = output
                            .unprocessed_items
                            .and_then(|mut by_table| by_table.remove(EVENTS))
                            .unwrap_or_default();
                    }
                }
                Ok::<_, Error>(())
            }
        })
        .buffer_unordered(8)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}

fn sample_event(i: u64) -> serde_json::Value {
    let types = [
        "login",
        "login.failed",
        "api_key.viewed",
        "account_settings.changed",
        "payout_account.updated",
    ];
    let at = Timestamp::from_second(1_700_000_000 + i as i64).expect("in range");
    json!({
        "account_id": ACCOUNT,
        "type": types[(i % 5) as usize],
        "occurred_at": at.to_string(),
        "actor": {"id": format!("u_{}", i % 7), "name": "Alice Merchant", "email": "alice@example.com"},
        "ip": "203.0.113.45",
        "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
        "location": {"country": "PH", "city": "Makati"},
        "details": {"method": "password", "reason": "bad_password", "key": "secret", "key_id": "sk_live_...4242",
                    "changes": [{"field": "email", "from": "a@x.com", "to": "b@x.com"}], "bank": "BDO", "account_last4": "6789"}
    })
}

/// Reads every item of the account newest first, 1,000 per Query as the worker asks, with the
/// SDK alone (no parsing, no CSV, no upload): how fast the store hands the rows out. Returns how
/// many it read.
async fn page_with_sdk(
    dynamodb: &aws_sdk_dynamodb::Client,
    account: &AccountId,
) -> Result<u64, Error> {
    let mut read = 0;
    let mut start = None;
    loop {
        let output = dynamodb
            .query()
            .table_name(EVENTS)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", schema::PK)
            .expression_attribute_values(
                ":pk",
                aws_sdk_dynamodb::types::AttributeValue::S(account.as_str().to_owned()),
            )
            .scan_index_forward(false)
            .limit(1000)
            .set_exclusive_start_key(start)
            .send()
            .await?;
        read += output.items.map_or(0, |items| items.len() as u64);
        start = output.last_evaluated_key;
        if start.is_none() {
            return Ok(read);
        }
    }
}

/// The child: one export, as the worker Lambda runs it.
async fn worker(args: &[String]) -> Result<(), Error> {
    let [dynamodb, s3, id] = args else {
        return Err(
            "usage: export-bench worker <dynamodb endpoint> <s3 endpoint> <export id>".into(),
        );
    };
    let config = aws::local(dynamodb).await;
    let worker = ExportWorker::new(
        ExportStore::from_config(&config, JOBS, 7),
        EventStore::from_config(&config, EVENTS, 365),
        ExportsBucket::local(s3, BUCKET).await,
        // Seeded jobs have no audit entry: they export without evidence (the `bench` feature),
        // never reaching the log.
        LogSealer {
            log: LogStore::new(aws_sdk_dynamodb::Client::new(&config), "unused-log", EVENTS),
            keys: std::sync::Arc::new(LogKeys::local(LocalSigner::from_seed(&[0; 32]))),
        },
        WorkerSettings::default(),
    );
    let id = ExportId::parse(id)?;
    let deadline = Timestamp::now() + jiff::SignedDuration::from_hours(2);
    match worker
        .run(&AccountId::parse(ACCOUNT)?, &id, deadline)
        .await?
    {
        Outcome::Succeeded { .. } => Ok(()),
        other => Err(format!("export did not succeed: {other:?}").into()),
    }
}

fn count_lines(path: &Path) -> Result<u64, Error> {
    // CRLF records; no field of these rows contains a line break.
    let reader = std::io::BufReader::new(std::fs::File::open(path)?);
    Ok(reader.split(b'\n').count() as u64)
}

/// dynalite on a free loopback port, killed on drop.
struct Dynalite {
    child: std::process::Child,
    endpoint: String,
}

impl Dynalite {
    fn start() -> Result<Self, Error> {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
        let bin = format!("{root}/.local/dynalite/node_modules/dynalite/cli.js");
        if !Path::new(&bin).exists() {
            return Err(
                "dynalite is not installed: run infra/dynalite.sh (make bench-export does)".into(),
            );
        }
        let port = dev_server::stack::free_port()?;
        let mut command = Command::new("node");
        command
            .args([
                "--max-old-space-size=12288",
                &bin,
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
            ])
            .args([
                "--createTableMs",
                "0",
                "--deleteTableMs",
                "0",
                "--updateTableMs",
                "0",
            ])
            .stdout(Stdio::null());
        // dynalite dies with the benchmark, even when the benchmark is killed.
        let child = process::die_with_parent(&mut command).spawn()?;
        let endpoint = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(Self { child, endpoint });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err("dynalite did not start".into())
    }
}

impl Drop for Dynalite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
