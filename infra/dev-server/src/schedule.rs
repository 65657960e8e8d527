//! The sequencer's schedule, locally: the cloud invokes it every minute (an EventBridge rule) to
//! sign the checkpoints of the accounts whose log grew since their last one; the dev server
//! does it every [`LOCAL_SWEEP_EVERY`], so the page's checkpoint line is current within seconds.

use std::sync::Arc;
use std::time::Duration;

use sequencer::SequencerFunction;

pub const LOCAL_SWEEP_EVERY: Duration = Duration::from_secs(5);

/// Sweeps the pending set every `interval`, for ever; a failed sweep (storage down) is logged
/// and the next one tries again, as the schedule's next invocation would.
pub async fn sweep_every(interval: Duration, sequencer: Arc<SequencerFunction>) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        if let Err(error) = sequencer.sweep().await {
            tracing::warn!(error = %error, "the checkpoint sweep failed; the next one retries");
        }
    }
}
