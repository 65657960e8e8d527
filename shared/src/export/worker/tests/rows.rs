//! The plain case: a fresh job runs to `succeeded` with exactly the rows it should list.

use super::*;

#[tokio::test]
async fn a_fresh_job_runs_to_succeeded_with_the_exact_rows() {
    let h = Harness::new();
    let id = h.pending_job();
    let deadline = t0() + WHOLE;

    let outcome = h.run(&id, t0(), WHOLE).await.unwrap();

    assert_eq!(outcome, Outcome::Succeeded { rows: ROWS });
    assert_eq!(
        h.jobs.0.lock().unwrap().released,
        [id.as_str()],
        "a finished job gives up its place in flight"
    );
    let file = h.file(&id).expect("the file is complete");
    assert!(file.bytes == h.expected_csv(), "exactly the rows, in order");
    let text = String::from_utf8(file.bytes.clone()).unwrap();
    assert_eq!(
        text.matches("\r\n").count() as u64,
        ROWS + 1,
        "header and rows"
    );
    assert!(
        !text.contains(&format!("#{ROWS}")) && !text.contains(&format!("#{}", ROWS + 1)),
        "neither its own audit entry nor one that arrived later"
    );
    assert_eq!(file.filename, "security-logs-acct_1-2024-04-22.csv");
    assert!(file.part_sizes.len() > 3, "{:?}", file.part_sizes);
    let (last, full) = file.part_sizes.split_last().unwrap();
    assert!(
        full.iter().all(|&size| size >= 300),
        "{:?}",
        file.part_sizes
    );
    assert!(*last > 0);

    let stored = h.job(&id);
    assert_eq!(stored.job.status, ExportStatus::Succeeded);
    assert_eq!(
        stored.job.result,
        Some(ExportResult {
            object_key: export_key(&h.account, id.as_str()),
            row_count: ROWS,
            size_bytes: file.bytes.len() as u64,
            evidence_key: None,
        })
    );
    assert_eq!(stored.job.completed_at, Some(t0()));
    assert_eq!(stored.job.updated_at, t0());
    assert_eq!(stored.job.invocations, 1);
    assert_eq!(stored.job.checkpoint, None);
    assert_eq!(stored.job.error, None);
    assert_eq!(
        h.jobs.writes(),
        [
            (ExportStatus::Running, deadline.as_second() + 1),
            (ExportStatus::Succeeded, 0),
        ],
        "claimed under a lease until just after the deadline, released when done"
    );
    let upload = h.upload.state();
    assert_eq!(upload.started, 1);
    assert!(upload.open.is_empty() && upload.aborted.is_empty());
}

#[tokio::test]
async fn the_next_page_is_read_before_this_one_is_parsed() {
    let h = Harness::new();
    let id = h.pending_job();

    let outcome = h.run(&id, t0(), WHOLE).await.unwrap();

    assert_eq!(outcome, Outcome::Succeeded { rows: ROWS });
    let calls = h.entries.calls();
    let mut between_reads = calls.split(|&call| call == EntryCall::Read);
    let page = vec![EntryCall::Parsed; settings().page_size];
    // Read 1, read 2, parse page 1, read 3, parse page 2, read 4, ...: each page is read
    // before the one before it is parsed, so the store serves it meanwhile.
    assert_eq!(between_reads.next(), Some(&[][..]), "{calls:?}");
    assert_eq!(
        between_reads.next(),
        Some(&[][..]),
        "page 2 is read before page 1 is parsed: {calls:?}"
    );
    assert_eq!(between_reads.next(), Some(&page[..]), "{calls:?}");
    assert_eq!(between_reads.next(), Some(&page[..]), "{calls:?}");
}
