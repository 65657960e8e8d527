use std::time::Duration;

use futures::future::join_all;

use integration_tests::{Options, TestApp, account, event, spawn_app, spawn_app_with, token};
use seclog::csv::CsvEncoder;
use seclog::csv::CsvStart;
use seclog::domain::export::ExportId;
use seclog::domain::{AccountId, LogFilter, ViewerZone};
use seclog::store::dynamodb::events::EventStore;
use seclog::store::dynamodb::exports::ExportStore;
use serde_json::{Value, json};

async fn download(app: &TestApp, url: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let response = app.http.get(url).send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.bytes().await.unwrap().to_vec())
}

fn parse_csv(bytes: &[u8]) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(bytes)
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_is_requested_polled_and_downloaded() {
    let app = spawn_app().await;
    let (acct, other) = (account(), account());
    let mut risky = event(&acct, "login", 120);
    risky["actor"] =
        json!({"id": "u_9", "name": "=HYPERLINK(\"http://evil\")", "email": "mallory@example.com"});
    risky["user_agent"] = json!("-2+3 @SUM(A1)");
    risky["location"] = json!({"country": "PH", "city": "Makati"});
    let mut settings = event(&acct, "account_settings.changed", 60);
    settings["details"] =
        json!({"changes": [{"field": "email", "from": "a@x.com", "to": "b@x.com"}]});
    let ids = app
        .ingest(vec![
            event(&acct, "login", 0),
            settings,
            risky,
            event(&acct, "password.changed", 180), // outside the types filter
            event(&acct, "login", 24 * 60),        // outside the time window
        ])
        .await;
    app.ingest(vec![event(&other, "login", 30)]).await; // another account: never exported

    let filters = json!({
        "from": "2024-04-22T06:00:00Z", "to": "2024-04-22T12:00:00Z",
        "types": ["login", "account_settings.changed"], "tz": "Asia/Manila"
    });
    let id = app.request_export(&acct, &filters).await;
    let export = app.wait_for_export(&acct, &id).await;
    assert_eq!(export["status"], "succeeded", "{export}");
    assert_eq!(export["row_count"], 3);
    assert_eq!(export["filters"]["tz"], "Asia/Manila");
    assert!(export["completed_at"].is_string());
    let url = export["download_url"]
        .as_str()
        .expect("download_url when succeeded");
    let expires: jiff::Timestamp = export["download_expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(expires <= jiff::Timestamp::now() + jiff::SignedDuration::from_mins(15));

    let (status, headers, body) = download(&app, url).await;
    assert_eq!(status, 200);
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert_eq!(
        disposition,
        format!("attachment; filename=\"security-logs-{acct}-2024-04-22.csv\"").replace(
            "2024-04-22",
            &jiff::Timestamp::now()
                .to_zoned_datetime(jiff::tz::TimeZone::get("Asia/Manila").unwrap())
                .strftime("%Y-%m-%d")
                .to_string()
        )
    );
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );

    let rows = parse_csv(&body);
    assert_eq!(
        rows[0],
        [
            "Timestamp",
            "Timestamp (UTC)",
            "Event Type",
            "User",
            "Device",
            "IP Address",
            "Location",
            "Details",
            "Event ID",
            "Received (UTC)",
            "Unfamiliar"
        ]
    );
    assert_eq!(rows.len(), 4, "{rows:?}");
    // When the service stored each row (UTC): a backdated entry shows against it.
    let now = jiff::Timestamp::now();
    for row in &rows[1..] {
        let received = jiff::fmt::strtime::parse("%Y-%m-%d %H:%M:%S %:z", &row[9])
            .and_then(|t| t.to_timestamp())
            .unwrap();
        let age = now.duration_since(received);
        assert!(age.as_secs() >= 0 && age.as_secs() < 600, "{row:?}");
    }
    // Newest first, local time with offset, formula cells neutralised.
    assert_eq!(rows[1][0], "2024-04-22 16:00:00 +08:00");
    assert_eq!(rows[1][1], "2024-04-22 08:00:00 +00:00");
    assert_eq!(rows[1][2], "Login");
    assert!(rows[1][3].starts_with("'=HYPERLINK"), "{}", rows[1][3]);
    assert_eq!(rows[1][6], "Makati, PH");
    assert_eq!(rows[1][8], ids[2]);
    assert_eq!(rows[2][2], "Account Settings Changed");
    assert_eq!(rows[2][7], "Email changed from a@x.com to b@x.com");
    assert_eq!(rows[2][8], ids[1]);
    assert_eq!(rows[3][0], "2024-04-22 14:00:00 +08:00");
    assert_eq!(rows[3][4], "Safari on macOS");
    assert_eq!(rows[3][5], "203.0.113.45");
    assert_eq!(rows[3][8], ids[0]);

    // The request itself is in the audit trail.
    let (_, page) = app.list(&acct, "type=security_logs.exported").await;
    assert_eq!(page["data"][0]["details"]["export_id"], id.as_str());
    assert_eq!(page["data"][0]["actor"]["id"], "u_1");
}

/// Links live `LINK_TTL`: short, to see one expire, so a machine stalled for that long between
/// minting a link and using it would see a fresh link expired. A fresh link is therefore minted
/// and used up to three times; each must be new, and one of them must work.
const LINK_TTL: Duration = Duration::from_secs(2);

async fn download_fresh(app: &TestApp, acct: &str, id: &str, old: &str) -> (String, Vec<u8>) {
    for _ in 0..3 {
        let (_, export) = app
            .get_with_token(&format!("/v1/exports/{id}"), Some(&token(acct)))
            .await;
        let url = export["download_url"].as_str().unwrap().to_owned();
        assert_ne!(url, old, "each read mints a new link");
        let (status, _, body) = download(app, &url).await;
        if status == 200 {
            return (url, body);
        }
        assert_eq!(status, 403, "a fresh link works or has expired meanwhile");
    }
    panic!("three fresh links in a row did not download");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_read_mints_a_fresh_link_and_tampered_or_expired_links_fail() {
    let app = spawn_app_with(Options {
        link_ttl: LINK_TTL,
        ..Options::default()
    })
    .await;
    let acct = account();
    app.ingest(vec![event(&acct, "login", 0)]).await;
    let id = app.request_export(&acct, &json!({})).await;
    app.wait_for_export(&acct, &id).await;
    let (url, body) = download_fresh(&app, &acct, &id, "").await;
    assert_eq!(parse_csv(&body).len(), 2);

    let tampered = url.replacen(&acct, &account(), 1);
    assert_eq!(download(&app, &tampered).await.0, 403);
    let mut signature_changed = url.clone();
    let last = signature_changed.pop().unwrap();
    signature_changed.push(if last == '0' { '1' } else { '0' });
    assert_eq!(download(&app, &signature_changed).await.0, 403);

    tokio::time::sleep(LINK_TTL + Duration::from_millis(1100)).await;
    assert_eq!(download(&app, &url).await.0, 403, "expired link");
    download_fresh(&app, &acct, &id, &url).await;
}

#[tokio::test]
async fn bad_filters_missing_tokens_and_foreign_exports_are_refused() {
    let app = spawn_app().await;
    let (acct, other) = (account(), account());
    for (filters, field) in [
        (json!({"tz": "Mars/Base"}), "tz"),
        (json!({"types": ["logout"]}), "types[0]"),
        (
            json!({"from": "2024-05-01T00:00:00Z", "to": "2024-04-01T00:00:00Z"}),
            "to",
        ),
        (json!({"from": "last week"}), "from"),
        (json!({"account_id": other}), "account_id"),
    ] {
        let response = app
            .post_with_token("/v1/exports", &filters, Some(&token(&acct)))
            .await;
        assert_eq!(response.status(), 400, "{filters}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    let response = app.post_with_token("/v1/exports", &json!({}), None).await;
    assert_eq!(response.status(), 401);
    let (status, _) = app.get_with_token("/v1/exports", None).await;
    assert_eq!(status, 401);

    let id = app.request_export(&acct, &json!({})).await;
    let (status, problem) = app
        .get_with_token(&format!("/v1/exports/{id}"), Some(&token(&other)))
        .await;
    assert_eq!(status, 404, "{problem}");
    let (status, _) = app
        .get_with_token("/v1/exports/not-an-id", Some(&token(&acct)))
        .await;
    assert_eq!(status, 404);
    // One export takes no query parameters: a stray one is named, not ignored.
    let (status, problem) = app
        .get_with_token(
            &format!("/v1/exports/{id}?account={other}"),
            Some(&token(&acct)),
        )
        .await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "account", "{problem}");
    let response = app
        .post_with_token("/v1/exports?format=xlsx", &json!({}), Some(&token(&acct)))
        .await;
    assert_eq!(response.status(), 400);
    // An open-ended window up to the last day RFC 3339 can write is accepted.
    // Zone names match in any case and are kept as the time zone database spells them.
    let filters =
        json!({"from": "0000-01-01T00:00:00Z", "to": "9999-12-31T23:59:59Z", "tz": "asia/MANILA"});
    let response = app
        .post_with_token("/v1/exports", &filters, Some(&token(&acct)))
        .await;
    assert_eq!(response.status(), 202);
    let job: Value = response.json().await.unwrap();
    assert_eq!(job["filters"]["tz"], "Asia/Manila", "{job}");
    let (_, list) = app
        .get_with_token("/v1/exports", Some(&token(&other)))
        .await;
    assert_eq!(list["data"], json!([]));
}

#[tokio::test]
async fn exports_list_newest_first_with_cursors() {
    let app = spawn_app_with(Options {
        trigger: false,
        ..Options::default()
    })
    .await;
    let acct = account();
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(app.request_export(&acct, &json!({})).await);
    }
    let (status, first) = app
        .get_with_token("/v1/exports?limit=2", Some(&token(&acct)))
        .await;
    assert_eq!(status, 200);
    let listed: Vec<&str> = first["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [ids[2].as_str(), ids[1].as_str()]);
    assert_eq!(first["data"][0]["status"], "pending");
    assert_eq!(first["data"][0]["download_url"], Value::Null);
    let cursor = first["next_cursor"].as_str().unwrap();
    let (_, second) = app
        .get_with_token(
            &format!("/v1/exports?limit=2&cursor={cursor}"),
            Some(&token(&acct)),
        )
        .await;
    assert_eq!(second["data"][0]["id"], ids[0].as_str());
    assert_eq!(second["next_cursor"], Value::Null);
    let (status, _) = app
        .get_with_token(
            &format!("/v1/exports?cursor={cursor}"),
            Some(&token(&account())),
        )
        .await;
    assert_eq!(status, 400, "another account's cursor");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_bucket_fails_the_export_with_a_reason() {
    let app = spawn_app_with(Options {
        broken_s3: true,
        ..Options::default()
    })
    .await;
    let acct = account();
    app.ingest(vec![event(&acct, "login", 0)]).await;
    let id = app.request_export(&acct, &json!({})).await;
    let export = app.wait_for_export(&acct, &id).await;
    assert_eq!(export["status"], "failed");
    assert!(
        export["error"].as_str().unwrap().contains("unreachable"),
        "{export}"
    );
    assert_eq!(export["download_url"], Value::Null);
}

fn jobs(app: &TestApp) -> ExportStore {
    ExportStore::from_config(&app.aws, &app.tables.exports, 7)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_stream_record_does_not_export_twice() {
    let app = spawn_app().await;
    let acct = account();
    app.ingest((0..5).map(|i| event(&acct, "login", i)).collect())
        .await;
    let id = app.request_export(&acct, &json!({})).await;
    let export = app.wait_for_export(&acct, &id).await;
    assert_eq!(export["row_count"], 5);

    // Lambda delivers at least once: the same INSERT record again, through the same handler.
    let worker = integration_tests::worker(&app);
    let record = integration_tests::stream_event(&acct, &id);
    let outcomes = worker.handle(record).await.unwrap();
    assert!(
        matches!(outcomes[0], seclog::export::worker::Outcome::Skipped(_)),
        "{outcomes:?}"
    );

    let stored = jobs(&app)
        .get(
            &AccountId::parse(&acct).unwrap(),
            &ExportId::parse(&id).unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.job.invocations, 1);
    let (_, _, body) = download(&app, export["download_url"].as_str().unwrap()).await;
    assert_eq!(parse_csv(&body).len(), 6);
    let objects = app
        .bucket
        .client()
        .list_objects_v2()
        .bucket(app.bucket.bucket())
        .send()
        .await
        .unwrap();
    let mut keys: Vec<&str> = objects.contents().iter().filter_map(|o| o.key()).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            format!("exports/{acct}/{id}.csv"),
            format!("exports/{acct}/{id}.evidence.json")
        ],
        "one CSV and its evidence"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_deliveries_run_the_job_once() {
    let app = spawn_app_with(Options {
        trigger: false,
        ..Options::default()
    })
    .await;
    let acct = account();
    app.ingest((0..20).map(|i| event(&acct, "login", i)).collect())
        .await;
    let id = app.request_export(&acct, &json!({})).await;
    let worker = integration_tests::worker(&app);
    let (a, b) = tokio::join!(
        worker.handle(integration_tests::stream_event(&acct, &id)),
        worker.handle(integration_tests::stream_event(&acct, &id)),
    );
    let outcomes = [a.unwrap().remove(0), b.unwrap().remove(0)];
    let succeeded = outcomes
        .iter()
        .filter(|o| matches!(o, seclog::export::worker::Outcome::Succeeded { rows: 20 }))
        .count();
    assert_eq!(succeeded, 1, "{outcomes:?}");
    let export = app.wait_for_export(&acct, &id).await;
    let (_, _, body) = download(&app, export["download_url"].as_str().unwrap()).await;
    assert_eq!(parse_csv(&body).len(), 21);
}

/// Entries big enough that a few hundred rows fill a 5 MiB part.
fn bulky_events(acct: &str, count: i64) -> Vec<Vec<Value>> {
    let filler = "x".repeat(3500);
    let all: Vec<Value> = (0..count)
        .map(|i| {
            let mut e = event(acct, "account_settings.changed", i);
            e["details"] = json!({"changes": [
                {"field": "statement_descriptor", "from": format!("{i}-{filler}"), "to": format!("{filler}-{i}")}
            ]});
            e
        })
        .collect();
    all.chunks(100).map(<[Value]>::to_vec).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpointed_export_resumes_through_the_stream_and_matches_a_single_run() {
    // Every invocation gets 1 s: less than the checkpoint reserve, so each one uploads a part
    // and hands over to the next through a `resuming` write on the stream.
    let app = spawn_app_with(Options {
        worker_timeout: Duration::from_secs(1),
        ..Options::default()
    })
    .await;
    let acct = account();
    for chunk in bulky_events(&acct, 1700) {
        app.ingest(chunk).await;
    }
    let id = app
        .request_export(&acct, &json!({"tz": "America/New_York"}))
        .await;
    let export = app.wait_for_export(&acct, &id).await;
    assert_eq!(export["status"], "succeeded", "{export}");
    assert_eq!(export["row_count"], 1700);
    let stored = jobs(&app)
        .get(
            &AccountId::parse(&acct).unwrap(),
            &ExportId::parse(&id).unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(
        stored.job.invocations >= 3,
        "checkpointed {} times",
        stored.job.invocations
    );
    let (_, _, body) = download(&app, export["download_url"].as_str().unwrap()).await;

    // The same export in one pass, straight from storage.
    let events = EventStore::from_config(&app.aws, &app.tables.events, 365);
    let account = AccountId::parse(&acct).unwrap();
    let mut encoder = CsvEncoder::new(
        ViewerZone::parse("America/New_York").unwrap(),
        CsvStart::Fresh,
    );
    let mut after: Option<String> = None;
    loop {
        let page = events
            .page(
                &account,
                &LogFilter::default(),
                after.as_deref(),
                100,
                jiff::Timestamp::now(),
            )
            .await
            .unwrap();
        for entry in page
            .entries
            .iter()
            .filter(|e| e.event_type != seclog::domain::EventType::SecurityLogsExported)
        {
            encoder.row(entry);
        }
        match page.resume_after {
            Some(p) => after = Some(p),
            None => break,
        }
    }
    let expected = encoder.take();
    assert!(
        body.len() > 10 * 1024 * 1024,
        "spans several parts: {} bytes",
        body.len()
    );
    assert_eq!(body.len(), expected.len());
    assert!(
        body == expected,
        "checkpointed file differs from a single pass"
    );
}

#[tokio::test]
async fn a_fourth_export_in_flight_is_429_with_retry_after_until_one_finishes() {
    // The worker does not run by itself: requested exports stay pending.
    let app = spawn_app_with(Options {
        trigger: false,
        ..Options::default()
    })
    .await;
    let (acct, other) = (account(), account());
    app.ingest(vec![event(&acct, "login", 1)]).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(app.request_export(&acct, &json!({})).await);
    }
    let response = app
        .post_with_token("/v1/exports", &json!({}), Some(&token(&acct)))
        .await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "30");
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["status"], 429);
    assert!(
        problem["detail"].as_str().unwrap().contains("3 exports"),
        "{problem}"
    );
    // Another account is not held back.
    app.request_export(&other, &json!({})).await;

    // One finishes (the worker run as Lambda would): its place is free again.
    let worker = integration_tests::worker(&app);
    worker
        .handle(integration_tests::stream_event(&acct, &ids[0]))
        .await
        .unwrap();
    assert_eq!(
        app.wait_for_export(&acct, &ids[0]).await["status"],
        "succeeded"
    );
    app.request_export(&acct, &json!({})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_never_put_more_than_the_limit_in_flight() {
    let app = spawn_app_with(Options {
        trigger: false,
        ..Options::default()
    })
    .await;
    let acct = account();
    let (body, bearer) = (json!({}), token(&acct));
    let requests = (0..6).map(|_| app.post_with_token("/v1/exports", &body, Some(&bearer)));
    let mut statuses: Vec<u16> = join_all(requests)
        .await
        .into_iter()
        .map(|r| r.status().as_u16())
        .collect();
    statuses.sort();
    assert_eq!(statuses, [202, 202, 202, 429, 429, 429]);
}
