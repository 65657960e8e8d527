//! The tamper-evident log end to end: ingest, the sequencer on the events stream, the log
//! table, signed checkpoints and proofs over HTTP, all against the local stack.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use integration_tests::{
    Options, TEST_LOG_SEED, TestApp, account, event, spawn_app, spawn_app_with, token,
};
use seclog::domain::{AccountId, LogEntry, LogFilter};
use seclog::integrity::canonical::LeafData;
use seclog::integrity::merkle::{Hash, root, verify_consistency, verify_inclusion};
use seclog::integrity::note::{Checkpoint, LocalSigner, Signer, VerifierKey, verify_checkpoint};
use seclog::sequencer::{NewLeaf, Sequencer};
use seclog::storage::StoreError;
use seclog::store::dynamodb::events::EventStore;
use seclog::store::dynamodb::log::LogStore;
use serde_json::Value;

/// The account's stored entries (producer and all), in log order once all are sequenced.
async fn stored_entries(app: &TestApp, acct: &str) -> Vec<LogEntry> {
    let store = EventStore::new(app.dynamodb.clone(), &app.tables.events, 365);
    let account = AccountId::parse(acct).unwrap();
    let page = store
        .page(
            &account,
            &LogFilter::default(),
            None,
            100,
            jiff::Timestamp::now(),
        )
        .await
        .unwrap();
    let mut entries = page.entries;
    entries.sort_by_key(|e| e.log_index);
    entries
}

/// Waits (bounded) until every entry of the account has its `log_index` and the checkpoint
/// covers them all; returns the verified checkpoint.
async fn sequenced(app: &TestApp, acct: &str, count: u64) -> Checkpoint {
    let (status, key) = app.get_text(acct, "/v1/integrity/key").await;
    assert_eq!(status, 200, "{key}");
    let key = VerifierKey::parse(key.trim_end()).expect("a C2SP verifier key");
    for _ in 0..300 {
        let (status, note) = app.get_text(acct, "/v1/integrity/checkpoint").await;
        if status == 200 {
            let checkpoint = verify_checkpoint(&note, &key).expect("the checkpoint verifies");
            if checkpoint.size == count {
                return checkpoint;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the log of {acct} did not reach {count} entries");
}

fn leaf_hashes(entries: &[LogEntry]) -> Vec<Hash> {
    entries
        .iter()
        .map(|e| LeafData::of(e).unwrap().leaf_hash())
        .collect()
}

fn hashes(proof: &Value) -> Vec<Hash> {
    proof["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            STANDARD
                .decode(h.as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap()
        })
        .collect()
}

#[tokio::test]
async fn entries_are_sequenced_and_the_signed_checkpoint_commits_to_them() {
    let app = spawn_app().await;
    let acct = account();
    let (status, _) = app.get_text(&acct, "/v1/integrity/checkpoint").await;
    assert_eq!(status, 404, "an empty log has no checkpoint");

    app.ingest((0..5).map(|m| event(&acct, "login", m)).collect())
        .await;
    let checkpoint = sequenced(&app, &acct, 5).await;
    assert_eq!(checkpoint.origin, format!("security-logs/{acct}"));

    let entries = stored_entries(&app, &acct).await;
    let indices: Vec<Option<u64>> = entries.iter().map(|e| e.log_index).collect();
    assert_eq!(indices, (0..5).map(Some).collect::<Vec<_>>());
    assert_eq!(checkpoint.root, root(&leaf_hashes(&entries)));
    // The sequencer function kept each entry's leaf data with its index.
    let log = LogStore::new(app.dynamodb.clone(), &app.tables.log, &app.tables.events);
    let kept = log
        .leaf_data(&AccountId::parse(&acct).unwrap(), 0..5)
        .await
        .unwrap();
    let kept: Vec<Hash> = kept
        .iter()
        .map(|t| LeafData::parse(t.as_bytes()).unwrap().leaf_hash())
        .collect();
    assert_eq!(kept, leaf_hashes(&entries));
    // The dashboard sees the index too.
    let listed = app.list_all(&acct, "").await;
    assert!(listed.iter().all(|e| e["log_index"].is_u64()), "{listed:?}");

    // The key is the test key, named after the account.
    let (_, key) = app.get_text(&acct, "/v1/integrity/key").await;
    let expected = VerifierKey::new(
        &checkpoint.origin,
        &seclog::integrity::note::Signer::public_key(&LocalSigner::from_seed(&TEST_LOG_SEED)),
    )
    .unwrap();
    assert_eq!(key, format!("{expected}\n"));
}

#[tokio::test]
async fn inclusion_and_consistency_proofs_verify_against_signed_checkpoints() {
    let app = spawn_app().await;
    let acct = account();
    app.ingest((0..3).map(|m| event(&acct, "login", m)).collect())
        .await;
    let old = sequenced(&app, &acct, 3).await;
    app.ingest((3..11).map(|m| event(&acct, "api_key.viewed", m)).collect())
        .await;
    let new = sequenced(&app, &acct, 11).await;

    let leaves = leaf_hashes(&stored_entries(&app, &acct).await);
    for index in 0..11u64 {
        let (status, proof) = app
            .get_with_token(
                &format!("/v1/integrity/proof/inclusion?index={index}&size=11"),
                Some(&token(&acct)),
            )
            .await;
        assert_eq!(status, 200, "{proof}");
        verify_inclusion(
            &leaves[index as usize],
            index,
            11,
            &hashes(&proof),
            &new.root,
        )
        .unwrap_or_else(|e| panic!("leaf {index}: {e}"));
    }
    let (status, proof) = app
        .get_with_token(
            "/v1/integrity/proof/consistency?from=3&to=11",
            Some(&token(&acct)),
        )
        .await;
    assert_eq!(status, 200, "{proof}");
    assert_eq!(
        (proof["from"].as_u64(), proof["to"].as_u64()),
        (Some(3), Some(11))
    );
    verify_consistency(3, 11, &hashes(&proof), &old.root, &new.root).unwrap();
    // A forged old root does not verify with the served proof.
    assert!(verify_consistency(3, 11, &hashes(&proof), &leaves[0], &new.root).is_err());
}

#[tokio::test]
async fn proofs_stay_within_the_signed_size_and_within_the_account() {
    let app = spawn_app().await;
    let (alice, bob) = (account(), account());
    app.ingest((0..4).map(|m| event(&alice, "login", m)).collect())
        .await;
    sequenced(&app, &alice, 4).await;

    let get = |acct: String, path: &'static str| {
        let app = &app;
        async move { app.get_with_token(path, Some(&token(&acct))).await }
    };
    let (status, problem) = get(
        alice.clone(),
        "/v1/integrity/proof/inclusion?index=0&size=5",
    )
    .await;
    assert_eq!(
        (status, problem["errors"][0]["field"].as_str()),
        (400, Some("size")),
        "{problem}"
    );
    let (status, problem) = get(alice.clone(), "/v1/integrity/proof/consistency?from=0&to=4").await;
    assert_eq!(
        (status, problem["errors"][0]["field"].as_str()),
        (400, Some("from")),
        "{problem}"
    );
    let (status, problem) = get(alice.clone(), "/v1/integrity/proof/consistency?from=1&to=x").await;
    assert_eq!(
        (status, problem["errors"][0]["field"].as_str()),
        (400, Some("to")),
        "{problem}"
    );
    let (status, problem) = get(alice.clone(), "/v1/integrity/checkpoint?account_id=x").await;
    assert_eq!(status, 400, "{problem}");

    // Bob's log is his own: empty, whatever Alice's holds.
    let (status, _) = get(bob.clone(), "/v1/integrity/checkpoint").await;
    assert_eq!(status, 404);
    let (status, problem) = get(bob.clone(), "/v1/integrity/proof/inclusion?index=0&size=1").await;
    assert_eq!(status, 400, "{problem}");
    let (status, _) = get(bob.clone(), "/v1/integrity/key").await;
    assert_eq!(status, 200);

    let response = app
        .http
        .post(format!("{}/v1/integrity/checkpoint", app.base))
        .bearer_auth(token(&alice))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET");
    let (status, _) = app.get_with_token("/v1/integrity/checkpoint", None).await;
    assert_eq!(status, 401);
}

/// An app whose stream trigger is off (tests drive sequencers by hand), an account with
/// `count` sign-ins ingested, not sequenced, and their leaves in sort-key order.
async fn unsequenced(count: i64) -> (TestApp, String, Vec<LogEntry>, Vec<NewLeaf>) {
    let app = spawn_app_with(Options {
        sequencer: false,
        ..Options::default()
    })
    .await;
    let acct = account();
    app.ingest((0..count).map(|m| event(&acct, "login", m)).collect())
        .await;
    let entries = stored_entries(&app, &acct).await;
    assert_eq!(entries.len() as i64, count);
    assert!(entries.iter().all(|e| e.log_index.is_none()));
    let leaves: Vec<NewLeaf> = entries
        .iter()
        .map(|e| NewLeaf::of(e.sort_key(), e).unwrap())
        .collect();
    (app, acct, entries, leaves)
}

#[tokio::test]
async fn racing_sequencers_on_dynamodb_append_each_entry_once_and_never_fork() {
    // Two sequencers driven by hand, as two Lambda invocations handed overlapping records (a
    // redelivery during a shard split) would be.
    let (app, acct, _, leaves) = unsequenced(60).await;
    let account_id = AccountId::parse(&acct).unwrap();
    let signer = LocalSigner::from_seed(&TEST_LOG_SEED);
    let runs = [0..40, 20..60, 10..50, 0..60].map(|range| {
        let store = LogStore::new(app.dynamodb.clone(), &app.tables.log, &app.tables.events);
        let sequencer = Sequencer::new(store);
        let (account_id, signer) = (&account_id, &signer);
        let slice = leaves[range].to_vec();
        async move { sequencer.append(signer, account_id, slice).await }
    });
    let results = futures::future::join_all(runs).await;
    let appended: usize = results.into_iter().map(|r| r.unwrap().appended).sum();
    assert_eq!(appended, 60, "each entry is appended by exactly one run");

    let stored = stored_entries(&app, &acct).await;
    let indices: Vec<Option<u64>> = stored.iter().map(|e| e.log_index).collect();
    assert_eq!(
        indices,
        (0..60).map(Some).collect::<Vec<_>>(),
        "dense, each once"
    );
    let checkpoint = sequenced(&app, &acct, 60).await;
    assert_eq!(
        checkpoint.root,
        root(&leaf_hashes(&stored)),
        "one log, no fork"
    );
}

#[tokio::test]
async fn the_log_keeps_every_index_leaf_data_after_its_entry_is_gone() {
    // Sequenced by hand, so the commits (one leaf-data item each) are 0..5, 5..95 and 95..100.
    let (app, acct, entries, leaves) = unsequenced(100).await;
    let account_id = AccountId::parse(&acct).unwrap();
    let signer = LocalSigner::from_seed(&TEST_LOG_SEED);
    let log = LogStore::new(app.dynamodb.clone(), &app.tables.log, &app.tables.events);
    let sequencer = Sequencer::new(log.clone());
    for batch in [&leaves[..5], &leaves[5..]] {
        sequencer
            .append(&signer, &account_id, batch.to_vec())
            .await
            .unwrap();
    }
    let tree = log.leaf_hashes(&account_id, 0..100).await.unwrap();
    let hashed = |texts: Vec<String>| -> Vec<Hash> {
        texts
            .iter()
            .map(|t| LeafData::parse(t.as_bytes()).unwrap().leaf_hash())
            .collect()
    };
    let check = |range: std::ops::Range<u64>| {
        let (log, account_id, tree) = (&log, &account_id, &tree);
        async move {
            let texts = log.leaf_data(account_id, range.clone()).await.unwrap();
            assert_eq!(
                hashed(texts),
                tree[range.start as usize..range.end as usize],
                "{range:?}"
            );
        }
    };
    check(0..100).await;

    // The entries leave the events table; their leaf data stays.
    for entry in &entries {
        app.dynamodb
            .delete_item()
            .table_name(&app.tables.events)
            .key("pk", AttributeValue::S(acct.clone()))
            .key("sk", AttributeValue::S(entry.sort_key()))
            .send()
            .await
            .unwrap();
    }
    assert!(stored_entries(&app, &acct).await.is_empty());
    check(0..100).await;
    // Starting inside a commit's item, across the next ones, and within one.
    check(7..96).await;
    check(96..100).await;
    check(3..4).await;
    assert!(log.leaf_data(&account_id, 40..40).await.unwrap().is_empty());
    // Past the log's end: the first index it does not hold is named.
    let error = log.leaf_data(&account_id, 98..101).await.unwrap_err();
    assert!(matches!(error, StoreError::NoLeafData(100)), "{error:?}");
    let error = log.leaf_data(&account_id, 150..160).await.unwrap_err();
    assert!(matches!(error, StoreError::NoLeafData(150)), "{error:?}");
}

#[tokio::test]
async fn an_export_comes_with_evidence_that_proves_it_offline_and_catches_an_edit() {
    let app = spawn_app().await;
    let acct = account();
    let mut events: Vec<Value> = (0..6).map(|m| event(&acct, "login", m)).collect();
    events.extend((6..10).map(|m| event(&acct, "api_key.viewed", m)));
    app.ingest(events).await;

    let id = app
        .request_export(
            &acct,
            &serde_json::json!({"types": ["login"], "tz": "Asia/Manila"}),
        )
        .await;
    let export = app.wait_for_export(&acct, &id).await;
    assert_eq!(export["status"], "succeeded", "{export}");
    assert_eq!(export["row_count"], 6);
    let csv = app.fetch(&export["download_url"]).await.into_bytes();
    let evidence = app.fetch(&export["evidence_url"]).await.into_bytes();

    let verified = verify(&acct, csv.as_slice(), evidence.as_slice())
        .unwrap_or_else(|e| panic!("the export does not verify: {e}"));
    // Every entry recorded before the request; the checkpoint ends with the request's entry.
    assert_eq!(
        (verified.rows, verified.size, verified.request_index),
        (6, 11, 10)
    );
    assert!(verified.expired.is_empty());
    assert_eq!(verified.request.id.as_str(), id);
    assert_eq!(verified.request.filters.filter.types.len(), 1);

    // The log goes on past the export's checkpoint.
    app.ingest(vec![event(&acct, "login", 30)]).await;
    let later = sequenced(&app, &acct, 12).await;
    assert!(later.size > verified.size);

    let edited = String::from_utf8(csv)
        .unwrap()
        .replacen("Alice Merchant", "Mallory", 1);
    let error = verify(&acct, edited.as_bytes(), evidence.as_slice()).unwrap_err();
    assert!(error.to_string().starts_with("CSV row 1:"), "{error}");
}

/// Checks an export with the platform's key (the local stack's test key).
fn verify(
    acct: &str,
    csv: &[u8],
    evidence: &[u8],
) -> Result<seclog::integrity::evidence::Verified, seclog::integrity::evidence::VerifyError> {
    seclog::integrity::evidence::verify(
        csv,
        evidence,
        &AccountId::parse(acct).unwrap(),
        &[LocalSigner::from_seed(&TEST_LOG_SEED).public_key()],
        None,
    )
}

#[tokio::test]
async fn entries_that_occurred_before_the_retention_window_are_listed_as_expired() {
    let app = spawn_app_with(Options {
        retention_days: 30,
        ..Options::default()
    })
    .await;
    let acct = account();
    // Four sign-ins dated 2024 (long before the last 30 days) and two of a minute ago: the old
    // ones are still stored (a producer sent them late), but out of the export's reach.
    let mut events: Vec<Value> = (0..4).map(|m| event(&acct, "login", m)).collect();
    for n in 0..2 {
        let mut recent = event(&acct, "login", 0);
        recent["occurred_at"] = Value::from(
            (jiff::Timestamp::now() - jiff::SignedDuration::from_mins(1 + n)).to_string(),
        );
        events.push(recent);
    }
    app.ingest(events).await;
    sequenced(&app, &acct, 6).await;

    let id = app.request_export(&acct, &serde_json::json!({})).await;
    let export = app.wait_for_export(&acct, &id).await;
    assert_eq!(export["status"], "succeeded", "{export}");
    assert_eq!(export["row_count"], 2);
    let csv = app.fetch(&export["download_url"]).await;
    let evidence = app.fetch(&export["evidence_url"]).await;
    let verified = verify(&acct, csv.as_bytes(), evidence.as_bytes()).unwrap();
    assert_eq!((verified.rows, verified.size), (2, 7));
    assert_eq!(verified.expired.len(), 4, "{verified}");
    assert_eq!(verified.request.retention_days, 30);
    assert!(
        verified
            .to_string()
            .contains("4 matching entries had expired"),
        "{verified}"
    );
}

/// Our checkpoints through an independent implementation of the signed-note format (Python's
/// `cryptography`, `infra/signed_note.py`), not only through our own code.
#[tokio::test]
async fn an_independent_implementation_verifies_our_checkpoints() {
    let app = spawn_app().await;
    let acct = account();
    app.ingest((0..3).map(|m| event(&acct, "login", m)).collect())
        .await;
    let checkpoint = sequenced(&app, &acct, 3).await;
    let (_, key) = app.get_text(&acct, "/v1/integrity/key").await;
    let (_, note) = app.get_text(&acct, "/v1/integrity/checkpoint").await;
    let dir = tempfile::tempdir().unwrap();
    let run = |note: &str| {
        let path = dir.path().join("note.txt");
        std::fs::write(&path, note).unwrap();
        std::process::Command::new(dev_server::LocalStack::python())
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../infra/signed_note.py"
            ))
            .arg(key.trim_end())
            .arg(&path)
            .output()
            .unwrap()
    };
    let output = run(&note);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let root: String = checkpoint.root.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        String::from_utf8(output.stdout).unwrap().trim_end(),
        format!("security-logs/{acct} 3 {root}")
    );
    // A changed size, or another account's key, is refused there too.
    let forged = note.replacen("\n3\n", "\n4\n", 1);
    assert_eq!(run(&forged).status.code(), Some(1));
}

/// Checkpoints when due: an append signs only if the latest checkpoint is older than the
/// interval, other growth waits in the pending set (an item put in the edge's own transaction),
/// and the sweep signs it. A warm sequencer that marked the account before a sweep must mark it
/// again after: a sequencer that trusted its memory of the set would leave growth no sweep
/// finds.
#[tokio::test]
async fn growth_waits_in_the_pending_set_until_the_sweep_signs_it() {
    let (app, acct, _, leaves) = unsequenced(9).await;
    let account_id = AccountId::parse(&acct).unwrap();
    let signer = LocalSigner::from_seed(&TEST_LOG_SEED);
    let log = LogStore::new(app.dynamodb.clone(), &app.tables.log, &app.tables.events);
    let sequencer = Sequencer::new(log.clone()).signing_every(Duration::from_secs(3600));
    let signed_size = || async { log.checkpoint(&account_id).await.unwrap().map(|c| c.size) };

    // A new log's first append is due a checkpoint; the next, within the hour, is not.
    sequencer
        .append(&signer, &account_id, leaves[..3].to_vec())
        .await
        .unwrap();
    assert_eq!(signed_size().await, Some(3));
    sequencer
        .append(&signer, &account_id, leaves[3..5].to_vec())
        .await
        .unwrap();
    assert_eq!(signed_size().await, Some(3), "not signed for every batch");

    // The sequencer function, invoked by its schedule (the sample event), signs the growth.
    let schedule: Value = serde_json::from_str(&integration_tests::repository_file(
        "events/sequencer-schedule.json",
    ))
    .unwrap();
    let function = app.app.sequencer();
    let invoke = |payload: Value| {
        let function = function.clone();
        async move {
            function
                .invoke(lambda_runtime::LambdaEvent::new(
                    serde_json::from_value(payload).expect("an invocation"),
                    lambda_runtime::Context::default(),
                ))
                .await
        }
    };
    let swept = invoke(schedule).await.unwrap();
    assert_eq!(swept, serde_json::json!({"signed": 1, "moved": 0}));
    assert_eq!(signed_size().await, Some(5));
    assert!(
        invoke(serde_json::json!({"detail-type": "something else"}))
            .await
            .is_err(),
        "neither a batch nor the schedule"
    );
    // The sample stream payload takes the batch's way (its entry is not stored: nothing to do).
    let batch = invoke(
        serde_json::from_str(&integration_tests::repository_file("events/sequencer.json")).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(batch, serde_json::json!({"batchItemFailures": []}));
    // A batch whose records do not parse fails, whatever else it says: Lambda retries it.
    assert!(
        serde_json::from_value::<sequencer::Invocation>(
            serde_json::json!({"Records": "not records", "source": "aws.events"})
        )
        .is_err()
    );
    let sweeper = Sequencer::new(log.clone());

    // The warm sequencer marked the account before the sweep; its next append marks it again.
    sequencer
        .append(&signer, &account_id, leaves[5..].to_vec())
        .await
        .unwrap();
    assert_eq!(signed_size().await, Some(5));
    let swept = sweeper.sign_pending(&signer).await.unwrap();
    assert_eq!(
        swept.signed, 1,
        "the growth after the sweep is pending again"
    );
    let checkpoint = sequenced(&app, &acct, 9).await;
    let stored = stored_entries(&app, &acct).await;
    assert_eq!(checkpoint.root, root(&leaf_hashes(&stored)));
    // Nothing left to sign.
    assert_eq!(sweeper.sign_pending(&signer).await.unwrap().signed, 0);
}
