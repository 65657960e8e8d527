//! `GET /v1/logs`'s own work for a full dashboard page, storage aside: parse the query (filter,
//! zone, signed cursor), shape 100 stored entries into views in the viewer's zone, sign the next
//! cursor and serialize the JSON body. `make bench-micro`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jiff::SignedDuration;
use list_logs::render_page;
use seclog::domain::Page;
use seclog::domain::cursor::{self, CursorKey};
use seclog::domain::{AccountId, LogQuery};

#[path = "../../../shared/benches/support/fixtures.rs"]
mod fixtures;

const PAGE: usize = 100;

fn list_page(c: &mut Criterion) {
    let now = "2024-04-22T06:32:15Z".parse().unwrap();
    let entries = fixtures::entries(PAGE, now, SignedDuration::from_secs(97));
    let account = AccountId::parse("acct_bench").unwrap();
    let key = CursorKey::new(&[7; 32]).unwrap();
    let filter = [
        ("from", "2024-04-01T00:00:00Z"),
        ("to", "2024-04-30T00:00:00Z"),
        ("limit", "100"),
        ("tz", "Asia/Manila"),
    ];
    // The second page: the request carries the cursor the first page handed out.
    let first = LogQuery::parse(filter, &account, &key).unwrap();
    let cursor = cursor::encode(&key, first.filter.scope(&account), &entries[0].sort_key());
    let params: Vec<_> = filter.into_iter().chain([("cursor", &*cursor)]).collect();
    let page = Page {
        resume_after: Some(entries[PAGE - 1].sort_key()),
        entries,
    };

    let mut group = c.benchmark_group("list_page");
    group.throughput(Throughput::Elements(PAGE as u64));
    group.bench_function("100 entries", |b| {
        b.iter(|| {
            let query = LogQuery::parse(black_box(params.iter().copied()), &account, &key).unwrap();
            render_page(black_box(&page), &query, &account, &key)
        })
    });
    group.finish();
}

criterion_group!(benches, list_page);
criterion_main!(benches);
