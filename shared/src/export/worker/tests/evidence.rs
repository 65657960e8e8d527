//! The evidence file: what a sealed export proves, across invocations, and the export that
//! waits for the log and gives up with a reason.

use super::*;

#[tokio::test]
async fn a_job_the_api_created_exports_the_log_before_its_request_with_evidence() {
    let h = Harness::new();
    let id = h.pending_job_with_evidence();
    assert_eq!(
        h.run(&id, t0(), WHOLE).await.unwrap(),
        Outcome::Succeeded { rows: ROWS }
    );
    assert!(
        h.file(&id).unwrap().bytes == h.expected_csv(),
        "the same rows as ever"
    );
    let verified = verify_export(&h, &id);
    assert_eq!(
        (verified.rows, verified.size, verified.request_index),
        (ROWS, ROWS + 1, ROWS)
    );
    assert!(verified.expired.is_empty());
    let job = h.job(&id).job;
    assert_eq!(
        job.log.map(|l| (l.index, l.size)),
        Some((ROWS, ROWS + 1)),
        "the log up to and with the request entry"
    );
    assert_eq!(
        job.result.unwrap().evidence_key,
        Some(evidence_key(&h.account, id.as_str()))
    );
}

#[tokio::test]
async fn a_filtered_export_proves_the_other_entries_do_not_match() {
    let h = Harness::with_filters(|f| f.filter.actor = Some("u_3".into()));
    let id = h.pending_job_with_evidence();
    assert_eq!(
        h.run(&id, t0(), WHOLE).await.unwrap(),
        Outcome::Succeeded { rows: 1 }
    );
    let verified = verify_export(&h, &id);
    assert_eq!((verified.rows, verified.size), (1, ROWS + 1));
}
/// The log owes a row storage no longer holds (retention raised after it expired): the
/// export fails with a reason instead of shipping evidence that cannot verify.

#[tokio::test]
async fn a_row_the_log_owes_but_storage_lost_fails_the_export() {
    let h = Harness::new();
    let id = h.pending_job_with_evidence();
    h.entries
        .0
        .lock()
        .unwrap()
        .entries
        .retain(|e| e.log_index != Some(3));
    let outcome = h.run(&id, t0(), WHOLE).await.unwrap();
    assert!(
        matches!(&outcome, Outcome::Failed { reason } if reason.contains("evidence")),
        "{outcome:?}"
    );
    assert!(h.evidence(&id).is_none(), "no evidence file was completed");
}

#[tokio::test]
async fn evidence_written_across_invocations_is_the_file_of_a_single_run() {
    let h = Harness::new();
    let single = h.pending_job_with_evidence();
    h.run(&single, t0(), WHOLE).await.unwrap();
    let resumed = h.pending_job_with_evidence();
    let mut evidence_pauses = 0;
    h.run_until_succeeded(&resumed, t0(), SHORT, ROWS, 20 * ROWS, |_, _| {
        let job = h.job(&resumed).job;
        if job.checkpoint.and_then(|c| c.evidence).is_some() {
            evidence_pauses += 1;
        }
    })
    .await;
    assert!(
        evidence_pauses >= 2,
        "the evidence was checkpointed too: {evidence_pauses}"
    );
    h.assert_files_of_single_run(&resumed, &single);
}

#[tokio::test]
async fn an_export_waits_for_the_log_then_fails_with_a_reason_if_it_never_comes() {
    let h = Harness::new();
    let id = h.pending_job_with_evidence();
    let indices = std::mem::take(&mut *h.log.indices.lock().unwrap());
    // The sequencer is behind: the invocation hands over instead of failing.
    assert_eq!(
        h.run(&id, t0(), WHOLE).await.unwrap(),
        Outcome::Checkpointed { rows: 0 }
    );
    assert_eq!(h.job(&id).job.status, ExportStatus::Resuming);
    // Still behind a quarter of an hour after the request: failed, with a reason.
    let late = requested() + SignedDuration::from_mins(16);
    match h.run(&id, late, WHOLE).await.unwrap() {
        Outcome::Failed { reason } => {
            assert!(reason.contains("tamper-evident log"), "{reason}")
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(h.file(&id).is_none() && h.evidence(&id).is_none());
    // Had it caught up in between, the export would have gone on.
    *h.log.indices.lock().unwrap() = indices;
    let other = h.pending_job_with_evidence();
    assert_eq!(
        h.run(&other, t0(), WHOLE).await.unwrap(),
        Outcome::Succeeded { rows: ROWS }
    );
}
