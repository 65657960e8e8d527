//! Pausing and resuming: a job checkpointed after every part, or by time before a part filled,
//! or whose completed upload was lost with its final save, ends with the files of a single run.

use super::*;

#[tokio::test]
async fn a_run_checkpointed_after_every_part_writes_the_same_file_as_a_single_run() {
    let h = Harness::new();
    let single = h.pending_job();
    assert_eq!(
        h.run(&single, t0(), WHOLE).await.unwrap(),
        Outcome::Succeeded { rows: ROWS }
    );
    let single_file = h.file(&single).unwrap();

    // Every invocation has less time left than the reserve, so each one uploads one part,
    // saves a checkpoint and hands over (the `resuming` write starts the next one).
    let resumed = h.pending_job();
    let expected_entries = h.expected_entries();
    let mut rows_so_far = 0;
    let invocations = h
        .run_until_succeeded(&resumed, t0(), SHORT, ROWS, 2 * ROWS, |invocation, rows| {
            let stored = h.job(&resumed);
            assert_eq!(stored.job.status, ExportStatus::Resuming);
            assert_eq!(stored.lease_until, 0, "released for the next invocation");
            let checkpoint = stored.job.checkpoint.unwrap();
            assert_eq!(checkpoint.upload_id, "upload-2", "one upload throughout");
            assert_eq!(checkpoint.parts.len() as u64, invocation, "a part each");
            assert!(rows > rows_so_far, "progress: {rows} after {rows_so_far}");
            assert_eq!(checkpoint.rows, rows);
            // Exactly the first `rows` rows are in the parts, the checkpoint points at the
            // last of them, and the next invocation continues strictly after it.
            assert_eq!(
                checkpoint.after,
                Some(expected_entries[rows as usize - 1].sort_key())
            );
            rows_so_far = rows;
        })
        .await;

    assert!(invocations >= 3, "{invocations}");
    let stored = h.job(&resumed);
    assert_eq!(stored.job.invocations as u64, invocations);
    assert_eq!(stored.job.result.unwrap().row_count, ROWS);
    let file = h.file(&resumed).unwrap();
    assert!(
        file.bytes == single_file.bytes,
        "the checkpointed file differs from a single run"
    );
    assert!(file.bytes == h.expected_csv());
    assert_eq!(
        file.part_sizes, single_file.part_sizes,
        "cut at the same rows"
    );
    assert!(
        h.upload
            .uploads_per_part("upload-2")
            .values()
            .all(|&n| n == 1),
        "no part uploaded twice"
    );
}
/// Issue "load and faults": an export whose filter matches little fills no part before its
/// time runs out; it must still checkpoint (by time, carrying its few bytes), and the file
/// must be the one a single run writes.

#[tokio::test]
async fn a_selective_export_checkpoints_by_time_and_writes_the_same_files() {
    for with_evidence in [false, true] {
        let h = Harness::with_filters(|f| f.filter.actor = Some("u_7".into()));
        let new_job = |h: &Harness| {
            if with_evidence {
                h.pending_job_with_evidence()
            } else {
                h.pending_job()
            }
        };
        let single = new_job(&h);
        assert_eq!(
            h.run(&single, t0(), WHOLE).await.unwrap(),
            Outcome::Succeeded { rows: 1 }
        );

        let paused = new_job(&h);
        let mut carried = 0;
        h.run_until_succeeded(&paused, t0(), SHORT, 1, 100, |_, _| {
            let checkpoint = h.job(&paused).job.checkpoint.unwrap();
            if checkpoint.carry.is_some() {
                carried += 1;
            }
        })
        .await;
        assert!(
            carried >= 2,
            "paused by time, carrying its bytes: {carried}"
        );
        h.assert_files_of_single_run(&paused, &single);
    }
}

#[tokio::test]
async fn a_retry_after_a_lost_final_save_starts_the_completed_file_over() {
    let h = Harness::new();
    let (id, resuming) = h.checkpointed_job().await;
    // Invocation 2 completes the upload, then DynamoDB fails its final save: the job stays
    // `running` with invocation 1's checkpoint, whose upload no longer exists.
    let t1 = t0() + SignedDuration::from_secs(5);
    h.jobs.fail_next_save_of(ExportStatus::Succeeded);
    let error = h
        .deliver(&id, resuming.version, t1, WHOLE)
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Dynamo(_)), "{error:?}");
    assert_eq!(h.job(&id).job.status, ExportStatus::Running);
    assert!(h.upload.state().open.is_empty(), "upload-1 was completed");

    // Lambda retries the record: the checkpoint's upload is gone, so the file starts over
    // in a new upload (a job that is not `succeeded` has no download link meanwhile).
    let t2 = t1 + SignedDuration::from_secs(1);
    assert_eq!(
        h.deliver(&id, resuming.version, t2, WHOLE).await.unwrap(),
        Outcome::Succeeded { rows: ROWS }
    );
    let file = h.file(&id).unwrap();
    assert_eq!(file.upload_id, "upload-2");
    assert!(file.bytes == h.expected_csv(), "no row missing or repeated");
    let stored = h.job(&id);
    assert_eq!(stored.job.status, ExportStatus::Succeeded);
    assert_eq!(stored.job.result.unwrap().row_count, ROWS);
}

#[tokio::test]
async fn a_retry_after_a_lost_final_save_starts_the_completed_evidence_over() {
    let h = Harness::new();
    let single = h.pending_job_with_evidence();
    h.run(&single, t0(), WHOLE).await.unwrap();
    // Short invocations until the evidence is checkpointed with a part uploaded.
    let id = h.pending_job_with_evidence();
    let mut now = t0();
    let record = loop {
        let version = h.job(&id).version;
        let outcome = h.deliver(&id, version, now, SHORT).await.unwrap();
        assert!(
            matches!(outcome, Outcome::Checkpointed { .. }),
            "{outcome:?}"
        );
        now += SignedDuration::from_secs(5);
        let checkpoint = h.job(&id).job.checkpoint.unwrap();
        if checkpoint.evidence.is_some() && !checkpoint.parts.is_empty() {
            break h.job(&id).version;
        }
    };
    // The next invocation completes the evidence, and its final save fails.
    h.jobs.fail_next_save_of(ExportStatus::Succeeded);
    assert!(h.deliver(&id, record, now, WHOLE).await.is_err());
    assert!(
        h.upload.state().open.is_empty(),
        "the evidence was completed"
    );

    assert_eq!(
        h.deliver(&id, record, now, WHOLE).await.unwrap(),
        Outcome::Succeeded { rows: ROWS }
    );
    h.assert_files_of_single_run(&id, &single);
}
