//! Failures: a fault that is a verdict aborts the upload and fails the job with a reason that
//! names what failed; DynamoDB's passing fault leaves the job to Lambda's retry.

use super::*;

#[tokio::test]
async fn a_failed_part_upload_aborts_the_upload_and_fails_the_job_with_a_reason() {
    let h = Harness::new();
    let id = h.pending_job();
    h.upload.fail_part(3);

    let outcome = h.run(&id, t0(), WHOLE).await.unwrap();

    let reason = "the exports bucket is unreachable, retry later";
    assert_eq!(
        outcome,
        Outcome::Failed {
            reason: reason.into()
        }
    );
    let stored = h.job(&id);
    assert_eq!(stored.job.status, ExportStatus::Failed);
    assert_eq!(stored.job.error.as_deref(), Some(reason));
    assert_eq!(stored.job.completed_at, Some(t0()));
    assert_eq!(stored.job.checkpoint, None);
    assert_eq!(stored.job.result, None);
    assert_eq!(stored.lease_until, 0);
    let upload = h.upload.state();
    assert_eq!(upload.aborted, ["upload-1"], "S3 frees the parts");
    assert!(upload.open.is_empty());
    assert!(upload.files.is_empty(), "no file");
}

#[tokio::test]
async fn a_failure_after_a_checkpoint_aborts_the_upload_the_checkpoint_continued() {
    let h = Harness::new();
    let id = h.pending_job();
    assert!(matches!(
        h.run(&id, t0(), SHORT).await.unwrap(),
        Outcome::Checkpointed { .. }
    ));
    h.upload.fail_part(2);

    let later = t0() + SignedDuration::from_secs(5);
    let outcome = h.run(&id, later, WHOLE).await.unwrap();

    assert!(matches!(outcome, Outcome::Failed { .. }), "{outcome:?}");
    let stored = h.job(&id);
    assert_eq!(stored.job.status, ExportStatus::Failed);
    assert_eq!(stored.job.checkpoint, None);
    assert_eq!(stored.job.invocations, 2);
    let upload = h.upload.state();
    assert_eq!(upload.started, 1);
    assert_eq!(
        upload.aborted,
        ["upload-1"],
        "the upload of the first invocation"
    );
    assert!(upload.open.is_empty() && upload.files.is_empty());
}

#[tokio::test]
async fn a_read_while_dynamodb_is_unavailable_leaves_the_job_to_the_retry() {
    let h = Harness::new();
    let (id, resuming) = h.checkpointed_job().await;
    let pages_read = h.entries.0.lock().unwrap().pages_read;
    h.entries.fail_page_unavailable(pages_read + 2);
    let t1 = t0() + SignedDuration::from_secs(5);

    // No verdict: the invocation fails (Lambda retries the record), the upload is kept.
    let error = h
        .deliver(&id, resuming.version, t1, WHOLE)
        .await
        .unwrap_err();
    assert!(error.is_transient(), "{error:?}");
    assert_eq!(h.job(&id).job.status, ExportStatus::Running);
    assert!(h.upload.state().aborted.is_empty());

    // The retry takes the job over from its checkpoint and finishes it.
    h.retry_finishes_in(&id, resuming.version, t1, "upload-1")
        .await;
}

#[tokio::test]
async fn a_seal_while_the_log_table_is_unavailable_leaves_the_job_to_the_retry() {
    let h = Harness::new();
    let id = h.pending_job_with_evidence();
    h.log
        .seal_unavailable
        .store(true, std::sync::atomic::Ordering::Relaxed);

    let error = h.deliver(&id, 1, t0(), WHOLE).await.unwrap_err();
    assert!(error.is_transient(), "{error:?}");
    assert_eq!(h.job(&id).job.status, ExportStatus::Running);

    let outcome = h.deliver(&id, 1, t0(), WHOLE).await.unwrap();
    assert_eq!(outcome, Outcome::Succeeded { rows: ROWS });
    verify_export(&h, &id);
}

#[tokio::test]
async fn a_failed_read_aborts_the_upload_and_fails_the_job_with_a_reason() {
    let h = Harness::new();
    let id = h.pending_job();
    h.entries.fail_page(3);

    let outcome = h.run(&id, t0(), WHOLE).await.unwrap();

    let reason = "reading the security logs failed; please request the export again";
    assert_eq!(
        outcome,
        Outcome::Failed {
            reason: reason.into()
        }
    );
    let stored = h.job(&id);
    assert_eq!(stored.job.status, ExportStatus::Failed);
    assert_eq!(stored.job.error.as_deref(), Some(reason));
    let upload = h.upload.state();
    assert_eq!(upload.aborted, ["upload-1"]);
    assert!(upload.open.is_empty() && upload.files.is_empty());
}

/// Issue "split the export worker": the carry of a CSV-only export that does not decode failed
/// the job with "writing the export's evidence failed"; the reason names the CSV now.
#[tokio::test]
async fn a_corrupt_carry_of_the_csv_fails_the_job_naming_the_csv() {
    for with_evidence in [false, true] {
        let h = Harness::new();
        let id = if with_evidence {
            h.pending_job_with_evidence()
        } else {
            h.pending_job()
        };
        h.edit_job(&id, |job| {
            job.status = ExportStatus::Resuming;
            job.checkpoint = Some(Checkpoint {
                carry: Some("not base64!".into()),
                ..Checkpoint::default()
            });
        });

        let reason = "writing the export's CSV failed; please request the export again";
        assert_eq!(
            h.run(&id, t0(), WHOLE).await.unwrap(),
            Outcome::Failed {
                reason: reason.into()
            }
        );
        let job = h.job(&id).job;
        assert_eq!(job.status, ExportStatus::Failed);
        assert_eq!(job.error.as_deref(), Some(reason));
        assert_eq!(h.upload.state().aborted.len(), 1, "the upload was aborted");
        assert!(h.file(&id).is_none());
    }
}

/// The same fault in the evidence's carry names the evidence (the CSV is complete by then).
#[tokio::test]
async fn a_corrupt_carry_of_the_evidence_fails_the_job_naming_the_evidence() {
    let h = Harness::new();
    let id = h.pending_job_with_evidence();
    let mut now = t0();
    while h.job(&id).job.phase != ExportPhase::Evidence {
        let outcome = h.run(&id, now, SHORT).await.unwrap();
        assert!(
            matches!(outcome, Outcome::Checkpointed { .. }),
            "{outcome:?}"
        );
        now += SignedDuration::from_secs(5);
    }
    h.edit_job(&id, |job| {
        let checkpoint = job.checkpoint.as_mut().expect("paused before the evidence");
        checkpoint.carry = Some("not base64!".into());
    });

    let reason = "writing the export's evidence failed; please request the export again";
    assert_eq!(
        h.run(&id, now, WHOLE).await.unwrap(),
        Outcome::Failed {
            reason: reason.into()
        }
    );
    assert_eq!(h.job(&id).job.error.as_deref(), Some(reason));
    assert!(h.evidence(&id).is_none());
}
