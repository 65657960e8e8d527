//! CSV rendering, rows per second: the export's encoder (times in the viewer's zone, user and
//! location cells, formula guard) against a bare `csv::Writer` writing the same cells already
//! formatted, the floor any renderer on top of the csv crate pays. `make bench-micro`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jiff::SignedDuration;
use seclog::csv::{CsvEncoder, CsvStart};
use seclog::domain::ViewerZone;

#[path = "support/fixtures.rs"]
mod fixtures;

const ROWS: usize = 1_000;

fn csv_rows(c: &mut Criterion) {
    // 97 s apart ending 2024-11-04 12:00Z: the rows cross New York's fall-back transition.
    let now = "2024-11-04T12:00:00Z".parse().unwrap();
    let entries = fixtures::entries(ROWS, now, SignedDuration::from_secs(97));
    let zone = ViewerZone::parse("America/New_York").unwrap();

    let ours = |entries: &[_]| {
        let mut encoder = CsvEncoder::new(zone.clone(), CsvStart::Resumed);
        for entry in entries {
            encoder.row(entry);
        }
        encoder.take()
    };
    // The same cells, formatted (and guarded) by our encoder once, outside the measurement.
    let expected = ours(&entries);
    let cells: Vec<Vec<String>> = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(expected.as_slice())
        .records()
        .map(|record| record.unwrap().iter().map(str::to_owned).collect())
        .collect();
    let raw = |cells: &[Vec<String>]| {
        let mut writer = ::csv::WriterBuilder::new()
            .terminator(::csv::Terminator::CRLF)
            .from_writer(Vec::new());
        for record in cells {
            writer.write_record(record).unwrap();
        }
        writer.into_inner().unwrap()
    };
    assert_eq!(raw(&cells), expected, "both sides write the same bytes");

    let mut group = c.benchmark_group("csv_rows");
    group.throughput(Throughput::Elements(ROWS as u64));
    group.bench_function("ours", |b| b.iter(|| ours(black_box(&entries))));
    group.bench_function("raw csv::Writer", |b| b.iter(|| raw(black_box(&cells))));
    group.finish();
}

criterion_group!(benches, csv_rows);
criterion_main!(benches);
