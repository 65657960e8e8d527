//! Who runs a job: a live lease keeps duplicate deliveries out, a lapsed one or Lambda's retry
//! of the claiming record takes over, a finished job is never redone, and an outlived worker
//! loses its result.

use super::*;

#[tokio::test]
async fn a_duplicate_delivery_while_the_job_runs_under_a_live_lease_is_skipped() {
    let h = Harness::new();
    let id = h.pending_job();
    // The first delivery's invocation claims the job and is busy uploading part 2.
    let gate = h.upload.hold_part(2);
    let first = h.worker(t0());
    let mut running = pin!(first.run(&h.account, &id, t0() + WHOLE));
    assert!(futures::poll!(&mut running).is_pending());
    let claimed = h.job(&id);
    assert_eq!(claimed.job.status, ExportStatus::Running);
    assert_eq!(claimed.lease_until, (t0() + WHOLE).as_second() + 1);

    // A duplicate delivery, at once or in the lease's last second, leaves the job alone.
    let last_second = Timestamp::from_second(claimed.lease_until).unwrap();
    for now in [t0(), last_second] {
        let outcome = h.run(&id, now, WHOLE).await.unwrap();
        assert_eq!(
            outcome,
            Outcome::Skipped("export is finished or running elsewhere")
        );
    }
    assert_eq!(h.job(&id).version, claimed.version, "nothing written");
    assert_eq!(h.upload.state().started, 1, "no second upload");

    // The owner carries on undisturbed.
    gate.notify_one();
    assert_eq!(running.await.unwrap(), Outcome::Succeeded { rows: ROWS });
    assert!(h.file(&id).unwrap().bytes == h.expected_csv());
    assert_eq!(h.job(&id).job.invocations, 1);
}

#[tokio::test]
async fn a_job_whose_lease_ran_out_is_taken_over_and_the_dead_upload_is_left_to_the_lifecycle() {
    let h = Harness::new();
    let id = h.pending_job();
    // The first invocation uploads part 1 and dies during part 2 (Lambda ends the sandbox:
    // its future is dropped), before any checkpoint.
    let _gate = h.upload.hold_part(2);
    {
        let first = h.worker(t0());
        let mut running = pin!(first.run(&h.account, &id, t0() + WHOLE));
        assert!(futures::poll!(&mut running).is_pending());
    }
    let dead = h.job(&id);
    assert_eq!(dead.job.status, ExportStatus::Running);
    assert_eq!(dead.job.checkpoint, None);

    // The first delivery after the lease takes the job over.
    let later = Timestamp::from_second(dead.lease_until + 1).unwrap();
    let outcome = h.run(&id, later, WHOLE).await.unwrap();

    assert_eq!(outcome, Outcome::Succeeded { rows: ROWS });
    let stored = h.job(&id);
    assert_eq!(stored.job.status, ExportStatus::Succeeded);
    assert_eq!(stored.job.invocations, 2);
    assert_eq!(stored.job.completed_at, Some(later));
    // With no checkpoint to continue, the takeover starts over in a new upload; the file is
    // made of its parts alone. The dead invocation's upload is neither completed nor aborted
    // (it was never recorded anywhere the takeover could see it): it stays open with its part
    // until the bucket's lifecycle rule aborts incomplete uploads (after a day).
    let file = h.file(&id).unwrap();
    assert_eq!(file.upload_id, "upload-2");
    assert!(file.bytes == h.expected_csv());
    let upload = h.upload.state();
    assert_eq!(upload.open.keys().collect::<Vec<_>>(), ["upload-1"]);
    assert_eq!(
        upload.open["upload-1"].parts.keys().collect::<Vec<_>>(),
        [&1]
    );
    assert!(upload.aborted.is_empty());
}

#[tokio::test]
async fn a_worker_that_outlives_its_lease_loses_its_result_to_the_takeover() {
    let h = Harness::new();
    let id = h.pending_job();
    // The first invocation stalls in part 2 past its lease (it is not dead, only slow).
    let gate = h.upload.hold_part(2);
    let first = h.worker(t0());
    let mut stalled = pin!(first.run(&h.account, &id, t0() + WHOLE));
    assert!(futures::poll!(&mut stalled).is_pending());
    let later = Timestamp::from_second(h.job(&id).lease_until + 1).unwrap();
    assert_eq!(
        h.run(&id, later, WHOLE).await.unwrap(),
        Outcome::Succeeded { rows: ROWS }
    );
    let finished = h.job(&id);

    // The stalled invocation wakes up and finishes its own upload to the same key (the same
    // snapshot, so the same bytes), but its final write loses: the job keeps the takeover's
    // result.
    gate.notify_one();
    assert_eq!(
        stalled.await.unwrap(),
        Outcome::Skipped("export changed while running")
    );
    let file = h.file(&id).unwrap();
    assert_eq!(
        file.upload_id, "upload-1",
        "the last completion wins the key"
    );
    assert!(file.bytes == h.expected_csv());
    let now = h.job(&id);
    assert_eq!(now.version, finished.version);
    assert_eq!(now.job, finished.job);
}

#[tokio::test]
async fn a_finished_job_is_never_redone() {
    let h = Harness::new();
    let succeeded = h.pending_job();
    assert_eq!(
        h.run(&succeeded, t0(), WHOLE).await.unwrap(),
        Outcome::Succeeded { rows: ROWS }
    );
    let failed = h.pending_job();
    h.upload.fail_part(1);
    assert!(matches!(
        h.run(&failed, t0(), WHOLE).await.unwrap(),
        Outcome::Failed { .. }
    ));
    let (pages, uploads) = (h.entries.pages_read(), h.upload.state().started);
    let writes = h.jobs.writes().len();
    let file = h.file(&succeeded).unwrap();

    // Redeliveries, at once and a day later (no lease holds a finished job).
    for id in [&succeeded, &failed] {
        let before = h.job(id);
        for now in [t0(), t0() + SignedDuration::from_hours(24)] {
            assert_eq!(
                h.run(id, now, WHOLE).await.unwrap(),
                Outcome::Skipped("export is finished or running elsewhere")
            );
        }
        let after = h.job(id);
        assert_eq!((after.version, &after.job), (before.version, &before.job));
    }
    assert_eq!(h.jobs.writes().len(), writes, "no write");
    assert_eq!(h.entries.pages_read(), pages, "no read");
    assert_eq!(h.upload.state().started, uploads, "no upload");
    assert_eq!(h.file(&succeeded).unwrap(), file);
    assert_eq!(
        h.run(&ExportId::generate(), t0(), WHOLE).await.unwrap(),
        Outcome::Skipped("no such export")
    );
}

#[tokio::test]
async fn a_checkpoint_that_cannot_be_saved_leaves_the_job_to_whoever_comes_after_the_lease() {
    let h = Harness::new();
    let id = h.pending_job();
    // Invocation 1 saves its checkpoint after part 1.
    assert!(matches!(
        h.run(&id, t0(), SHORT).await.unwrap(),
        Outcome::Checkpointed { .. }
    ));
    let saved = h.job(&id).job.checkpoint.unwrap();
    assert_eq!(saved.parts.len(), 1);

    // Invocation 2 uploads part 2, then its checkpoint write fails.
    h.jobs.fail_next_save_of(ExportStatus::Resuming);
    let t1 = t0() + SignedDuration::from_secs(5);
    let error = h.run(&id, t1, SHORT).await.unwrap_err();
    assert!(matches!(error, StoreError::Dynamo(_)), "{error:?}");

    // The error goes back to Lambda (which retries the batch). The job stays as invocation 2
    // claimed it: running under its lease, holding invocation 1's checkpoint. The upload is
    // not aborted and keeps the part whose checkpoint was lost.
    let stuck = h.job(&id);
    assert_eq!(stuck.job.status, ExportStatus::Running);
    assert_eq!(stuck.lease_until, (t1 + SHORT).as_second() + 1);
    assert_eq!(stuck.job.checkpoint.as_ref(), Some(&saved));
    {
        let upload = h.upload.state();
        assert!(upload.aborted.is_empty());
        assert_eq!(
            upload.open["upload-1"].parts.keys().collect::<Vec<_>>(),
            [&1, &2]
        );
    }
    // A delivery of unknown origin within the lease is skipped. (Lambda's retry of the record
    // invocation 2 claimed from takes over at once: see the tests of `run_delivery` below.)
    assert_eq!(
        h.run(&id, t1, SHORT).await.unwrap(),
        Outcome::Skipped("export is finished or running elsewhere")
    );

    // A delivery after the lease continues from invocation 1's checkpoint, in the same
    // upload: part 2 is uploaded again over the orphaned one; no row is missing or repeated.
    let after_lease = Timestamp::from_second(stuck.lease_until + 1).unwrap();
    h.run_until_succeeded(&id, after_lease, SHORT, ROWS, 2 * ROWS, |_, _| {})
        .await;
    let file = h.file(&id).unwrap();
    assert_eq!(file.upload_id, "upload-1");
    assert!(file.bytes == h.expected_csv());
    let per_part = h.upload.uploads_per_part("upload-1");
    assert_eq!(per_part[&2], 2, "part 2 replaced");
    assert!(per_part.iter().all(|(&n, &count)| n == 2 || count == 1));
}

#[tokio::test]
async fn a_retry_of_the_record_a_dead_worker_claimed_from_takes_over_at_once() {
    let h = Harness::new();
    let (id, resuming) = h.checkpointed_job().await;
    // Invocation 2, for that record, claims the job, uploads part 2 and dies in part 3
    // (out of memory, a panic: its future is dropped) with its lease still ahead.
    let t1 = t0() + SignedDuration::from_secs(5);
    let _gate = h.upload.hold_part(3);
    {
        let doomed = h.worker(t1);
        let mut running =
            pin!(doomed.run_delivery(&h.account, &id, Some(resuming.version), t1 + WHOLE));
        assert!(futures::poll!(&mut running).is_pending());
    }
    let dead = h.job(&id);
    assert_eq!(dead.job.status, ExportStatus::Running);
    assert_eq!(dead.version, resuming.version + 1);
    assert!(
        dead.lease_until > t1.as_second(),
        "the lease is still ahead"
    );

    // A delivery of some other record (an older one, or of unknown origin) still leaves a
    // job under a live lease alone...
    let skipped = Outcome::Skipped("export is finished or running elsewhere");
    assert_eq!(h.deliver(&id, 1, t1, WHOLE).await.unwrap(), skipped);
    assert_eq!(h.run(&id, t1, WHOLE).await.unwrap(), skipped);
    // ...but Lambda's retry of the same record takes it over at once, from the checkpoint,
    // in the same upload: part 2 is uploaded again over the dead worker's.
    h.retry_finishes_in(&id, resuming.version, t1, "upload-1")
        .await;
    assert_eq!(h.upload.uploads_per_part("upload-1")[&2], 2);
    assert_eq!(h.job(&id).job.invocations, 3);
}

#[tokio::test]
async fn concurrent_deliveries_of_a_pending_job_run_it_once() {
    let h = Harness::new();
    let id = h.pending_job();
    // Both deliveries read the pending job before either claims it.
    h.jobs.yield_on_get();
    let (a, b) = (h.worker(t0()), h.worker(t0()));

    let (a, b) = tokio::join!(
        a.run(&h.account, &id, t0() + WHOLE),
        b.run(&h.account, &id, t0() + WHOLE)
    );

    let mut outcomes = [a.unwrap(), b.unwrap()];
    outcomes.sort_by_key(|o| format!("{o:?}"));
    assert_eq!(
        outcomes,
        [
            Outcome::Skipped("another delivery claimed the export"),
            Outcome::Succeeded { rows: ROWS },
        ]
    );
    assert_eq!(h.upload.state().started, 1);
    assert!(h.file(&id).unwrap().bytes == h.expected_csv());
    assert_eq!(h.job(&id).job.invocations, 1);
}
