//! Settling one batch: send it, and send it again after retryable failures, split it when it is
//! too large, and take out the events the service rejects, until every event is stored or
//! rejected. Every attempt sends the same encoded events, so a retry stores nothing twice.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::backoff::RetryPolicy;
use crate::error::{Rejected, RejectionHandler};
use crate::stats::Counters;
use crate::transport::{EncodedEvent, FieldError, Problem, Receipt, SendError, Transport};

pub(crate) struct Delivery<T> {
    pub transport: T,
    pub retry: RetryPolicy,
    pub counters: Arc<Counters>,
    pub on_rejected: RejectionHandler,
}

impl<T: Transport> Delivery<T> {
    pub async fn settle(&self, batch: Vec<EncodedEvent>) {
        let mut parts = vec![batch];
        while let Some(part) = parts.pop() {
            if let Some((first, second)) = self.settle_part(part).await {
                parts.push(second);
                parts.push(first);
            }
        }
    }

    /// Settles `events`, or returns them in two halves to settle one after the other.
    async fn settle_part(
        &self,
        mut events: Vec<EncodedEvent>,
    ) -> Option<(Vec<EncodedEvent>, Vec<EncodedEvent>)> {
        let mut retries = 0;
        loop {
            match self.transport.send(&events).await {
                Ok(receipts) => {
                    self.count_stored(&receipts);
                    return None;
                }
                Err(SendError::Retryable {
                    reason,
                    retry_after,
                }) => {
                    retries += 1;
                    self.back_off(retries, retry_after, events.len(), &reason)
                        .await;
                }
                Err(SendError::TooLarge) if events.len() > 1 => {
                    let second = events.split_off(events.len() / 2);
                    return Some((events, second));
                }
                Err(SendError::TooLarge) => {
                    let problem = Problem {
                        status: 413,
                        detail: "the event alone is larger than a request may be".into(),
                        errors: Vec::new(),
                    };
                    self.reject_all(events, &problem);
                    return None;
                }
                Err(SendError::Partial {
                    accepted,
                    refused,
                    reason,
                }) => {
                    events = self.settle_accepted(events, accepted, refused);
                    if events.is_empty() {
                        return None;
                    }
                    retries += 1;
                    self.back_off(retries, None, events.len(), &reason).await;
                }
                Err(SendError::Rejected(problem)) => {
                    events = self.reject_named(events, &problem);
                    if events.is_empty() {
                        return None;
                    }
                    // Nothing of a rejected request is stored: the others go again at once.
                }
            }
        }
    }

    /// Waits before retry number `retries` of `events` events, counted and logged.
    async fn back_off(
        &self,
        retries: u32,
        retry_after: Option<std::time::Duration>,
        events: usize,
        reason: &str,
    ) {
        self.counters.retried();
        let delay = self.retry.delay(retries, retry_after);
        tracing::warn!(
            events,
            retry = retries,
            delay_ms = delay.as_millis() as u64,
            "security logs: sending again later: {reason}"
        );
        tokio::time::sleep(delay).await;
    }

    fn count_stored(&self, receipts: &[Receipt]) {
        let duplicates = receipts.iter().filter(|r| r.duplicate).count() as u64;
        self.counters
            .stored(receipts.len() as u64 - duplicates, duplicates);
    }

    /// Counts the `accepted` events stored, rejects the `refused` ones, and returns the rest.
    fn settle_accepted(
        &self,
        events: Vec<EncodedEvent>,
        accepted: Vec<(usize, Receipt)>,
        refused: Vec<(usize, String)>,
    ) -> Vec<EncodedEvent> {
        let receipts: Vec<Receipt> = accepted.iter().map(|(_, r)| r.clone()).collect();
        self.count_stored(&receipts);
        let accepted: BTreeSet<usize> = accepted.into_iter().map(|(i, _)| i).collect();
        let mut refused: std::collections::BTreeMap<usize, String> = refused.into_iter().collect();
        let mut kept = Vec::new();
        for (index, event) in events.into_iter().enumerate() {
            if accepted.contains(&index) {
                continue;
            }
            match refused.remove(&index) {
                Some(why) => self.reject(event, None, &why, Vec::new()),
                None => kept.push(event),
            }
        }
        kept
    }

    /// Rejects the events the problem names and returns the others; when it names none (or
    /// none of this batch), all of them are rejected with its request-wide errors.
    fn reject_named(&self, events: Vec<EncodedEvent>, problem: &Problem) -> Vec<EncodedEvent> {
        let named: BTreeSet<usize> = problem
            .errors
            .iter()
            .filter_map(|e| e.event)
            .filter(|&i| i < events.len())
            .collect();
        if named.is_empty() {
            self.reject_all(events, problem);
            return Vec::new();
        }
        let mut kept = Vec::with_capacity(events.len() - named.len());
        for (index, event) in events.into_iter().enumerate() {
            if named.contains(&index) {
                let errors = problem
                    .errors
                    .iter()
                    .filter(|e| e.event == Some(index))
                    .map(|e| FieldError {
                        event: None,
                        ..e.clone()
                    })
                    .collect();
                self.reject(event, Some(problem.status), &problem.detail, errors);
            } else {
                kept.push(event);
            }
        }
        kept
    }

    fn reject_all(&self, events: Vec<EncodedEvent>, problem: &Problem) {
        for event in events {
            self.reject(
                event,
                Some(problem.status),
                &problem.detail,
                problem.errors.clone(),
            );
        }
    }

    pub fn reject(
        &self,
        event: EncodedEvent,
        status: Option<u16>,
        detail: &str,
        errors: Vec<FieldError>,
    ) {
        self.counters.rejected();
        (self.on_rejected)(Rejected {
            event: event.into_event(),
            status,
            detail: detail.to_owned(),
            errors,
        });
    }
}
