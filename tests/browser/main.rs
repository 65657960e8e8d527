//! The Security Logs page in a real browser: headless Chromium (WebDriver, `helpers::browser`)
//! opens the dev server's demo page with a token in its fragment and reads what
//! `<security-logs>` rendered in its shadow root. The browser runs in `Asia/Manila`, so the
//! expected times are known. Needs `make browser` (Chromium and chromedriver).

use integration_tests::browser::{self, Browser, BrowserOptions};
use integration_tests::{Options, TestApp, account, event, spawn_app, spawn_app_with, token};
use serde_json::{Value, json};

/// Enter, as WebDriver types it.
const ENTER: &str = "\u{E007}";

/// The component's shadow root, bound to `root`, ahead of every script.
const ROOT: &str = "const root = document.querySelector('security-logs').shadowRoot;";

/// Each rendered row: its id, its cells' text (white space collapsed), its badge's label.
const ROWS: &str = "return [...root.querySelectorAll('tbody tr')].map(tr => ({
    id: tr.dataset.id,
    cells: [...tr.cells].map(td => td.innerText.replace(/\\s+/g, ' ').trim()),
    badge: tr.querySelector('.badge')?.title ?? null,
}));";

async fn open(app: &TestApp, account: &str) -> Browser {
    open_with_token(app, &token(account)).await
}

async fn open_with_token(app: &TestApp, token: &str) -> Browser {
    let browser = Browser::start(BrowserOptions::default()).await;
    browser.goto(&format!("{}/#token={token}", app.base)).await;
    browser
}

/// Waits until the list is shown with this status line, then returns its rows.
async fn rows_once(browser: &Browser, status: &str) -> Vec<Value> {
    let script = format!(
        "{ROOT} const state = root.querySelector('section').dataset.state;
         const line = root.querySelector('.status').textContent;
         if (!['ready', 'empty'].includes(state) || line !== {status}) return null; {ROWS}",
        status = json!(status)
    );
    let rows = browser
        .wait_for(&format!("status {status:?}"), &script)
        .await;
    rows.as_array().expect("rows").clone()
}

/// Clicks "Export as CSV", then waits until the export's status line is in one of `states`;
/// its text.
async fn export_until(browser: &Browser, states: &[&str]) -> String {
    let export = browser.find_in_component("button.export").await;
    browser.click(&export).await;
    let script = format!(
        "{ROOT} const line = root.querySelector('.export-status');
         return {states}.includes(line.dataset.state) && line.textContent",
        states = json!(states)
    );
    let said = browser
        .wait_for(&format!("the export status {states:?}"), &script)
        .await;
    said.as_str().expect("text").to_owned()
}

fn ids(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .map(|row| row["id"].as_str().expect("id").to_owned())
        .collect()
}

fn cells(rows: &[Value]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|row| serde_json::from_value(row["cells"].clone()).expect("cells"))
        .collect()
}

async fn api_ids(app: &TestApp, account: &str, query: &str) -> Vec<String> {
    app.list_all(account, query)
        .await
        .iter()
        .map(|entry| entry["id"].as_str().expect("id").to_owned())
        .collect()
}

/// The demo page with the walk-through's data (events/demo/): Alice's entries newest first, in the browser's zone,
/// the unfamiliar badge and toggle, the integrity line; then Bob sees only his own.
#[tokio::test]
async fn the_demo_page_lists_the_walk_through_newest_first_in_the_browsers_time_zone() {
    if !browser::available(
        "the_demo_page_lists_the_walk_through_newest_first_in_the_browsers_time_zone",
    ) {
        return;
    }
    let app = spawn_app().await;
    dev_server::demo::seed(&app.app).await.expect("demo data");
    wait_for_checkpoint(&app, "acct_demo", 7).await;
    let browser = open(&app, "acct_demo").await;

    let rows = rows_once(&browser, "Showing 7 entries, newest first.").await;
    let expected = [
        [
            "Apr 25, 2024, 4:00:00 PM GMT+8",
            "Login Unfamiliar sign-in: new device, new network",
            "Carol Admin u_2",
            "Firefox on Linux 198.51.100.7 PH",
            "Login from Firefox on Linux, unfamiliar: new device, new network",
        ],
        [
            "Apr 24, 2024, 4:00:00 PM GMT+8",
            "Login",
            "Carol Admin u_2",
            "Chrome on Windows 203.0.113.45 PH",
            "Login from Chrome on Windows",
        ],
        [
            "Apr 23, 2024, 4:00:00 PM GMT+8",
            "Login",
            "Carol Admin u_2",
            "Chrome on Windows 203.0.113.45 PH",
            "Login from Chrome on Windows",
        ],
        [
            "Apr 22, 2024, 3:05:00 PM GMT+8",
            "Payout Account Updated",
            "Carol Finance u_2",
            "—",
            "Payout account changed to BDO ****6789",
        ],
        [
            "Apr 22, 2024, 2:45:00 PM GMT+8",
            "API Key Viewed",
            "u_1",
            "—",
            "Secret API key sk_live_...4242 viewed",
        ],
        [
            "Apr 22, 2024, 2:40:00 PM GMT+8",
            "Account Settings Changed",
            "Alice Merchant u_1",
            "—",
            "Email changed from a@x.com to b@x.com",
        ],
        [
            "Apr 22, 2024, 2:32:15 PM GMT+8",
            "Login",
            "Alice Merchant u_1",
            "Safari on macOS 203.0.113.45 Makati, Metro Manila, PH",
            "Login from Safari on macOS",
        ],
    ];
    assert_eq!(cells(&rows), expected);
    assert_eq!(ids(&rows), api_ids(&app, "acct_demo", "limit=100").await);
    let badges: Vec<&Value> = rows.iter().map(|row| &row["badge"]).collect();
    assert_eq!(badges[0], "Unfamiliar sign-in: new device, new network");
    assert!(
        badges[1..].iter().all(|badge| badge.is_null()),
        "{badges:?}"
    );
    let caption = browser
        .execute(
            &format!("{ROOT} return root.querySelector('caption').textContent"),
            json!([]),
        )
        .await;
    assert_eq!(
        caption,
        "Security log entries, newest first. Times in Asia/Manila."
    );
    browser
        .wait_for(
            "the integrity line",
            &format!("{ROOT} const line = root.querySelector('.integrity'); return !line.hidden && line.textContent"),
        )
        .await;
    let integrity = browser
        .execute(
            &format!("{ROOT} return root.querySelector('.integrity').textContent"),
            json!([]),
        )
        .await;
    assert_eq!(
        integrity,
        "Tamper-evident: the last signed checkpoint of this account's log covers 7 entries."
    );

    // The toggle (switched with the keyboard's space bar) asks the API for flagged sign-ins only.
    let toggle = browser.find_in_component("input[name=unfamiliar]").await;
    browser.type_text(&toggle, " ").await;
    let flagged = rows_once(
        &browser,
        "Showing 1 entry (unfamiliar sign-ins), newest first.",
    )
    .await;
    assert_eq!(
        ids(&flagged),
        api_ids(&app, "acct_demo", "unfamiliar=true").await
    );
    assert_eq!(ids(&flagged), ids(&rows[..1]));
    browser.click(&toggle).await;
    rows_once(&browser, "Showing 7 entries, newest first.").await;

    // Another account, picked on the demo page: its own entry only.
    let bob = browser.find("#account option[value=bob]").await;
    browser.click(&bob).await;
    let rows = rows_once(&browser, "Showing 1 entry, newest first.").await;
    assert_eq!(
        cells(&rows),
        [[
            "Apr 22, 2024, 4:00:00 PM GMT+8",
            "Failed Login",
            "u_7",
            "Unknown device 198.51.100.7",
            "Failed login from 198.51.100.7: bad password",
        ]]
    );
    browser.quit().await;
}

/// Filters and "Load more" show exactly what the API answers for the same query.
#[tokio::test]
async fn filters_and_load_more_show_what_the_api_answers() {
    if !browser::available("filters_and_load_more_show_what_the_api_answers") {
        return;
    }
    let app = spawn_app().await;
    let acct = account();
    // Ten hours apart from 2024-04-22 14:00 Manila: three of them on 2024-04-23 there. Nina
    // (u_9) has a failed login and a login.
    let types = [
        "login",
        "login.failed",
        "password.changed",
        "login",
        "api_key.viewed",
        "login.failed",
        "login",
    ];
    let events: Vec<Value> = types
        .iter()
        .enumerate()
        .map(|(i, kind)| {
            let mut event = event(&acct, kind, i as i64 * 600);
            if i == 1 || i == 3 {
                event["actor"] = json!({"id": "u_9", "name": "Nina Ops"});
            }
            event
        })
        .collect();
    app.ingest(events).await;
    let browser = open(&app, &acct).await;
    rows_once(&browser, "Showing 7 entries, newest first.").await;

    // Pages of 3: two "Load more" clicks, then no button.
    browser
        .execute(
            "document.querySelector('security-logs').setAttribute('page-size', '3')",
            json!([]),
        )
        .await;
    let first = rows_once(
        &browser,
        "Showing 3 entries, newest first; more are available.",
    )
    .await;
    let all = api_ids(&app, &acct, "limit=3").await;
    assert_eq!(ids(&first), all[..3]);
    let load_more = browser.find_in_component("button.load-more").await;
    browser.click(&load_more).await;
    rows_once(
        &browser,
        "Showing 6 entries, newest first; more are available.",
    )
    .await;
    browser.type_text(&load_more, ENTER).await; // the keyboard works it too
    let everything = rows_once(&browser, "Showing 7 entries, newest first.").await;
    assert_eq!(ids(&everything), all);
    let hidden = browser
        .execute(
            &format!("{ROOT} return root.querySelector('button.load-more').hidden"),
            json!([]),
        )
        .await;
    assert_eq!(hidden, true);

    // Event types (two of them), then a user on top.
    browser
        .execute(
            "document.querySelector('security-logs').setAttribute('page-size', '100')",
            json!([]),
        )
        .await;
    rows_once(&browser, "Showing 7 entries, newest first.").await;
    let types_menu = browser.find_in_component("details.types summary").await;
    browser.click(&types_menu).await;
    for kind in ["login", "login.failed"] {
        let checkbox = browser
            .find_in_component(&format!("input[name=type][value='{kind}']"))
            .await;
        browser.click(&checkbox).await;
    }
    let by_type = rows_once(
        &browser,
        "Showing 5 entries (Login, Failed Login), newest first.",
    )
    .await;
    assert_eq!(
        ids(&by_type),
        api_ids(&app, &acct, "type=login,login.failed").await
    );
    let user = browser.find_in_component("input[name=actor]").await;
    browser.type_text(&user, &format!("u_9{ENTER}")).await;
    let by_user = rows_once(
        &browser,
        "Showing 2 entries (Login, Failed Login; user u_9), newest first.",
    )
    .await;
    assert_eq!(
        ids(&by_user),
        api_ids(&app, &acct, "type=login,login.failed&actor=u_9").await
    );
    assert!(cells(&by_user).iter().all(|row| row[2] == "Nina Ops u_9"));

    // Clear, then one day in the browser's zone (typed as a person types a date).
    let clear = browser.find_in_component("button[type=reset]").await;
    browser.click(&clear).await;
    rows_once(&browser, "Showing 7 entries, newest first.").await;
    for name in ["from", "to"] {
        let input = browser
            .find_in_component(&format!("input[name={name}]"))
            .await;
        browser.type_text(&input, "04232024").await;
    }
    let one_day = rows_once(
        &browser,
        "Showing 3 entries (the chosen dates), newest first.",
    )
    .await;
    assert_eq!(
        ids(&one_day),
        api_ids(
            &app,
            &acct,
            "from=2024-04-23T00:00:00%2B08:00&to=2024-04-23T23:59:59.999%2B08:00"
        )
        .await
    );
    assert!(
        cells(&one_day)
            .iter()
            .all(|row| row[0].starts_with("Apr 23, 2024")),
        "{one_day:?}"
    );
    browser.quit().await;
}

/// "Export as CSV" with a filter: pending, then ready with its row count, and the browser
/// downloads the CSV through the presigned link.
#[tokio::test]
async fn an_export_shows_its_progress_and_downloads_the_csv() {
    if !browser::available("an_export_shows_its_progress_and_downloads_the_csv") {
        return;
    }
    let app = spawn_app().await;
    dev_server::demo::seed(&app.app).await.expect("demo data");
    let browser = open(&app, "acct_demo").await;
    rows_once(&browser, "Showing 7 entries, newest first.").await;
    let types_menu = browser.find_in_component("details.types summary").await;
    browser.click(&types_menu).await;
    let login = browser
        .find_in_component("input[name=type][value=login]")
        .await;
    browser.click(&login).await;
    rows_once(&browser, "Showing 4 entries (Login), newest first.").await;

    // Every message of the export's status line, in order.
    browser
        .execute(
            &format!(
                "{ROOT} const line = root.querySelector('.export-status'); window.__exportLines = [];
                 new MutationObserver(() => window.__exportLines.push(line.textContent))
                     .observe(line, {{childList: true, characterData: true, subtree: true}});"
            ),
            json!([]),
        )
        .await;
    let done = export_until(&browser, &["succeeded", "failed"]).await;
    assert_eq!(
        done,
        "Export ready: 4 rows. The download starts; if it does not, use the link."
    );
    let lines = browser
        .execute("return window.__exportLines", json!([]))
        .await;
    let lines: Vec<String> = serde_json::from_value(lines).expect("lines");
    assert_eq!(
        lines.first().map(String::as_str),
        Some("Requesting the export…")
    );
    assert!(
        lines
            .iter()
            .any(|line| line == "Export pending: waiting to start…"),
        "{lines:?}"
    );

    let (name, bytes) = browser.downloaded().await;
    assert!(
        name.starts_with("security-logs-acct_demo-") && name.ends_with(".csv"),
        "{name}"
    );
    let csv = String::from_utf8(bytes).expect("UTF-8");
    let rows: Vec<Vec<String>> = csv::Reader::from_reader(csv.as_bytes())
        .records()
        .map(|record| record.expect("a row").iter().map(str::to_owned).collect())
        .collect();
    let times: Vec<&str> = rows.iter().map(|row| row[0].as_str()).collect();
    assert_eq!(
        times,
        [
            "2024-04-25 16:00:00 +08:00",
            "2024-04-24 16:00:00 +08:00",
            "2024-04-23 16:00:00 +08:00",
            "2024-04-22 14:32:15 +08:00",
        ]
    );
    assert!(rows.iter().all(|row| row[2] == "Login"), "{rows:?}");
    assert_eq!(rows[0][10], "New device, new network");

    // The link on the page is the same file.
    let href = browser
        .execute(
            &format!("{ROOT} return root.querySelector('a.download').href"),
            json!([]),
        )
        .await;
    assert_eq!(app.fetch(&href).await, csv);
    browser.quit().await;
}

#[tokio::test]
async fn a_failed_export_says_why() {
    if !browser::available("a_failed_export_says_why") {
        return;
    }
    let app = spawn_app_with(Options {
        broken_s3: true,
        ..Options::default()
    })
    .await;
    let acct = account();
    app.ingest(vec![event(&acct, "login", 0)]).await;
    let browser = open(&app, &acct).await;
    rows_once(&browser, "Showing 1 entry, newest first.").await;
    let said = export_until(&browser, &["failed"]).await;
    assert!(
        said.starts_with("The export failed: ") && said.contains("unreachable"),
        "{said}"
    );
    browser.quit().await;
}

#[tokio::test]
async fn a_fourth_export_in_flight_says_when_to_try_again() {
    if !browser::available("a_fourth_export_in_flight_says_when_to_try_again") {
        return;
    }
    // No worker: the three requested exports stay pending.
    let app = spawn_app_with(Options {
        trigger: false,
        ..Options::default()
    })
    .await;
    let acct = account();
    app.ingest(vec![event(&acct, "login", 0)]).await;
    for _ in 0..3 {
        app.request_export(&acct, &json!({})).await;
    }
    let browser = open(&app, &acct).await;
    rows_once(&browser, "Showing 4 entries, newest first.").await;
    let said = export_until(&browser, &["error"]).await;
    assert_eq!(
        said,
        "Too many exports are in progress for this account. Try again in 30 seconds."
    );
    browser.quit().await;
}

/// A name and details made of markup are shown as the characters they are.
#[tokio::test]
async fn hostile_text_is_shown_as_text() {
    if !browser::available("hostile_text_is_shown_as_text") {
        return;
    }
    let app = spawn_app().await;
    let acct = account();
    let name = "<img src=x onerror=window.__xss=1>";
    let mut hostile = event(&acct, "account_settings.changed", 0);
    hostile["actor"] = json!({"id": "u_<b>1</b>", "name": name});
    hostile["details"] = json!({"changes": [{"field": "display_name",
        "from": "<script>window.__xss=2</script>", "to": "<svg onload=window.__xss=3>"}]});
    app.ingest(vec![hostile]).await;
    let browser = open(&app, &acct).await;
    let rows = rows_once(&browser, "Showing 1 entry, newest first.").await;
    let row = &cells(&rows)[0];
    assert_eq!(row[2], format!("{name} u_<b>1</b>"));
    assert!(
        row[4].contains("<script>window.__xss=2</script>"),
        "{row:?}"
    );
    assert!(row[4].contains("<svg onload=window.__xss=3>"), "{row:?}");
    let elements = browser
        .execute(
            &format!(
                "{ROOT} return {{xss: window.__xss ?? null,
                 markup: root.querySelectorAll('tbody img, tbody script, tbody svg, tbody b').length}}"
            ),
            json!([]),
        )
        .await;
    assert_eq!(elements, json!({"xss": null, "markup": 0}));
    browser.quit().await;
}

/// A token the API refuses (401): the page says to sign in again, and tells the host page.
#[tokio::test]
async fn a_refused_token_asks_to_sign_in_again() {
    if !browser::available("a_refused_token_asks_to_sign_in_again") {
        return;
    }
    let app = spawn_app().await;
    let browser = open_with_token(&app, "expired.or.garbage").await;
    let said = browser
        .wait_for(
            "the refusal",
            &format!(
                "{ROOT} const line = root.querySelector('.status');
                 return line.dataset.kind === 'unauthorized' && line.textContent"
            ),
        )
        .await;
    assert_eq!(
        said,
        "Your session has expired. Sign in again to see the security logs."
    );
    // The demo page heard `security-logs:unauthorized` and offers to paste a token.
    let paste_shown = browser
        .execute("return !document.getElementById('paste').hidden", json!([]))
        .await;
    assert_eq!(paste_shown, true);
    browser.quit().await;
}

/// Waits until the account's signed checkpoint covers `size` entries (the sequencer runs a few
/// moments after ingest).
async fn wait_for_checkpoint(app: &TestApp, account: &str, size: u64) {
    for _ in 0..300 {
        let (status, note) = app.get_text(account, "/v1/integrity/checkpoint").await;
        if status == 200 && note.lines().nth(1) == Some(size.to_string().as_str()) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no checkpoint of {size} entries for {account}");
}

/// A storage fault (503) offers Retry, which loads the list once the service is back.
#[tokio::test]
async fn a_server_error_offers_retry() {
    if !browser::available("a_server_error_offers_retry") {
        return;
    }
    let app = spawn_app().await;
    let acct = account();
    app.dynamodb
        .delete_table()
        .table_name(&app.tables.events)
        .send()
        .await
        .expect("the events table goes");
    let browser = open(&app, &acct).await;
    let said = browser
        .wait_for(
            "the error",
            &format!(
                "{ROOT} const line = root.querySelector('.status');
                 return line.dataset.kind === 'error' && !root.querySelector('button.retry').hidden
                     && line.textContent"
            ),
        )
        .await;
    let said = said.as_str().expect("text");
    assert!(
        said.starts_with("The security logs could not be loaded: the service had a problem (5"),
        "{said}"
    );

    seclog::store::dynamodb::schema::create_events_table(&app.dynamodb, &app.tables.events, true)
        .await
        .expect("the events table is back");
    let retry = browser.find_in_component("button.retry").await;
    browser.click(&retry).await;
    let rows = rows_once(&browser, "No entries.").await;
    assert!(rows.is_empty());
    let empty_shown = browser
        .execute(
            &format!("{ROOT} return !root.querySelector('.empty').hidden"),
            json!([]),
        )
        .await;
    assert_eq!(empty_shown, true);
    browser.quit().await;
}

/// Replaces the page's `fetch` with one that records each request's URL in
/// `window.__requests` and answers `POST /v1/exports` with a succeeded export carrying the
/// given links (as a compromised or buggy API could); other requests go to the real API.
async fn fake_succeeded_exports(browser: &Browser, download_url: &str, evidence_url: &str) {
    browser
        .execute(
            "const [download_url, evidence_url] = arguments;
             window.__realFetch ??= window.fetch;
             window.__requests = [];
             window.fetch = (input, init) => {
                 const url = String(input);
                 window.__requests.push(url);
                 if (init?.method === 'POST' && new URL(url).pathname === '/v1/exports') {
                     const job = {id: 'exp_fake', status: 'succeeded', row_count: 1, download_url, evidence_url};
                     return Promise.resolve(new Response(JSON.stringify(job),
                         {status: 202, headers: {'content-type': 'application/json'}}));
                 }
                 return window.__realFetch(input, init);
             };",
            json!([download_url, evidence_url]),
        )
        .await;
}

/// The export's links in the component, as `[class, href]`, and whether any script the links
/// carried ran.
async fn export_links(browser: &Browser) -> Value {
    browser
        .execute(
            &format!(
                "{ROOT} return {{links: [...root.querySelectorAll('a')].map(a => [a.className, a.getAttribute('href')]),
                 pwned: window.__pwned ?? null, page: location.pathname}}"
            ),
            json!([]),
        )
        .await
}

/// An API answering a succeeded export with `javascript:`, `data:`, `file:`, plain-http or
/// relative links: none is put in an href or clicked, nothing runs, and the page says the link
/// was refused. A loopback http link (as `make dev` serves) and an https one are shown.
#[tokio::test]
async fn export_links_that_are_not_https_are_refused() {
    if !browser::available("export_links_that_are_not_https_are_refused") {
        return;
    }
    let app = spawn_app().await;
    let acct = account();
    app.ingest(vec![event(&acct, "login", 0)]).await;
    let browser = open(&app, &acct).await;
    rows_once(&browser, "Showing 1 entry, newest first.").await;

    let refused = [
        (
            "javascript:window.__pwned=1",
            "data:text/html,<script>window.__pwned=2</script>",
        ),
        ("data:text/csv;base64,YSxi", "javascript:window.__pwned=3"),
        ("JavaScript:window.__pwned=4//https://ok", "https://ok"),
        ("http://evil.example/export.csv", "file:///etc/passwd"),
        ("/v1/exports/exp_fake/file.csv", "https://ok"),
        ("https//missing-colon", "https://ok"),
    ];
    for (download, evidence) in refused {
        fake_succeeded_exports(&browser, download, evidence).await;
        let said = export_until(&browser, &["error"]).await;
        let start: String = download.chars().take(40).collect();
        assert_eq!(
            said,
            format!(
                "The export's download link was refused: only https:// links are followed, and the service sent \"{start}\"."
            ),
        );
        assert_eq!(
            export_links(&browser).await,
            json!({"links": [], "pwned": null, "page": "/"}),
            "{download}"
        );
    }

    // An evidence link alone refused: the download is shown (and clicked: a same-origin
    // loopback link, so the browser downloads rather than navigates), the evidence is not.
    let same_origin = format!("{}/", app.base);
    fake_succeeded_exports(&browser, &same_origin, "data:,x").await;
    let said = export_until(&browser, &["error"]).await;
    assert!(
        said.starts_with("The export's evidence file link was refused"),
        "{said}"
    );
    assert_eq!(
        export_links(&browser).await,
        json!({"links": [["download", same_origin]], "pwned": null, "page": "/"})
    );

    // The control: links by the rule (loopback http, https) are rendered as sent.
    fake_succeeded_exports(&browser, &same_origin, "https://example.invalid/e").await;
    let said = export_until(&browser, &["succeeded"]).await;
    assert!(said.starts_with("Export ready: 1 row."), "{said}");
    assert_eq!(
        export_links(&browser).await,
        json!({"links": [["download", same_origin], ["evidence", "https://example.invalid/e"]],
               "pwned": null, "page": "/"})
    );
    browser.quit().await;
}

/// An `api-base` that is neither https nor loopback http: no request is sent (the token would
/// travel in clear, or to a script URL), and the page says why.
#[tokio::test]
async fn an_api_base_that_is_not_https_is_refused_before_any_request() {
    if !browser::available("an_api_base_that_is_not_https_is_refused_before_any_request") {
        return;
    }
    let app = spawn_app().await;
    let acct = account();
    let browser = open(&app, &acct).await;
    rows_once(&browser, "No entries.").await;
    for base in [
        "http://evil.example",
        "javascript:fetch('//evil.example')",
        "ftp://evil.example",
    ] {
        fake_succeeded_exports(&browser, "https://ok", "https://ok").await;
        browser
            .execute(
                "document.querySelector('security-logs').setAttribute('api-base', arguments[0])",
                json!([base]),
            )
            .await;
        let said = browser
            .wait_for(
                "the refusal",
                &format!(
                    "{ROOT} const line = root.querySelector('.status');
                     return line.dataset.kind === 'error' && line.textContent.includes('api-base') && line.textContent"
                ),
            )
            .await;
        assert_eq!(
            said,
            "The API address (api-base) was refused: it must be an https:// address (or http:// to this computer while developing), so no request was sent."
        );
        // Exporting sends nothing either.
        let said = export_until(&browser, &["error"]).await;
        assert!(said.contains("(api-base) was refused"), "{said}");
        let requests = browser.execute("return window.__requests", json!([])).await;
        assert_eq!(requests, json!([]), "{base}");
        browser
            .execute(
                "document.querySelector('security-logs').removeAttribute('api-base')",
                json!([]),
            )
            .await;
        rows_once(&browser, "No entries.").await;
    }
    browser.quit().await;
}

/// The page's "Streams" part: add a webhook stream to a receiver on this machine, see its
/// signing secret once and its health, watch it catch up, replay it, remove it.
#[tokio::test]
async fn the_streams_part_adds_shows_replays_and_removes_a_stream() {
    if !browser::available("the_streams_part_adds_shows_replays_and_removes_a_stream") {
        return;
    }
    let app = spawn_app_with(Options {
        stream_delivery: true,
        ..Options::default()
    })
    .await;
    let acct = account();
    app.ingest((0..3).map(|i| event(&acct, "login", i)).collect())
        .await;
    // A receiver that acknowledges everything (the delivery tests check signatures and order).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    let receiver = axum::Router::new().route(
        "/hook",
        axum::routing::post(|| async { axum::http::StatusCode::NO_CONTENT }),
    );
    tokio::spawn(async move { axum::serve(listener, receiver).await });

    let browser = open(&app, &acct).await;
    rows_once(&browser, "Showing 3 entries, newest first.").await;
    let summary = browser.find_in_component(".streams > summary").await;
    browser.click(&summary).await;
    browser
        .wait_for(
            "no streams yet",
            &format!("{ROOT} return root.querySelector('.stream-list')?.textContent === 'No streams yet.'"),
        )
        .await;
    let url = browser
        .find_in_component(".add-stream input[name=url]")
        .await;
    browser.type_text(&url, &hook).await;
    let add = browser
        .find_in_component(".add-stream button[type=submit]")
        .await;
    browser.click(&add).await;

    // The secret is shown once, and the stream is listed, catching up.
    let secret = browser
        .wait_for(
            "the signing secret",
            &format!("{ROOT} return root.querySelector('.secret-value')?.textContent || null"),
        )
        .await;
    assert!(secret.as_str().unwrap().starts_with("whsec_"), "{secret}");
    let (_, listed) = app.get_with_token("/v1/streams", Some(&token(&acct))).await;
    assert!(
        !listed.to_string().contains(secret.as_str().unwrap()),
        "the API never shows the secret again"
    );
    let health = browser
        .wait_for(
            "the stream caught up",
            &format!(
                "{ROOT} const h = root.querySelector('.stream .health')?.textContent || '';
                 return h.includes('0 entries behind') && h"
            ),
        )
        .await;
    assert!(health.as_str().unwrap().starts_with("Active"), "{health}");

    // Replay from entry #0 (the form's default), then remove.
    let replay = browser
        .find_in_component(".stream button.secondary-button:not(.danger)")
        .await;
    browser.click(&replay).await;
    browser
        .wait_for(
            "the replay",
            &format!("{ROOT} return root.querySelector('.streams-status').textContent === 'Replaying from entry #0.'"),
        )
        .await;
    let remove = browser.find_in_component(".stream button.danger").await;
    browser.click(&remove).await;
    browser
        .wait_for(
            "the stream removed",
            &format!("{ROOT} return root.querySelector('.stream-list')?.textContent === 'No streams yet.'"),
        )
        .await;
    let kinds: Vec<String> = app
        .list_all(&acct, "")
        .await
        .iter()
        .map(|entry| entry["type"].as_str().unwrap().to_owned())
        .collect();
    for kind in [
        "security_logs.stream_created",
        "security_logs.stream_replayed",
        "security_logs.stream_deleted",
    ] {
        assert!(kinds.contains(&kind.to_owned()), "{kind} in {kinds:?}");
    }
    browser.quit().await;
}
