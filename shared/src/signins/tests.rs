//! The use case over an in-memory [`ProfileStore`] with the real store's semantics (a write
//! succeeds only at the version read, and bumps it), so the orchestration is tested without
//! DynamoDB: what `flag` sets, what `learn` writes, and a clash with a concurrent sign-in.
//! The DynamoDB adapter is tested against the local stack (tests/api/signins.rs).

use std::sync::Mutex;

use jiff::Timestamp;

use super::*;
use crate::domain::{AccountId, Actor, EntryId, EventType, LogEntry};

const CHROME_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
const SAFARI_MACOS: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15";

#[derive(Default)]
struct Profiles {
    stored: Mutex<HashMap<User, StoredProfile>>,
    /// A concurrent sign-in of this user lands just before our next write: it learns these
    /// signals and moves the version, so our write of that user clashes.
    concurrent: Mutex<Option<(User, Signals, Timestamp)>>,
    writes: Mutex<usize>,
}

impl ProfileStore for Profiles {
    async fn profiles(&self, users: &[User]) -> Result<HashMap<User, StoredProfile>, StoreError> {
        let stored = self.stored.lock().unwrap();
        Ok(users
            .iter()
            .map(|user| (user.clone(), stored.get(user).cloned().unwrap_or_default()))
            .collect())
    }

    async fn write_profiles(
        &self,
        updates: &[(User, u64, Profile)],
    ) -> Result<Vec<User>, StoreError> {
        let mut stored = self.stored.lock().unwrap();
        if let Some((user, signals, at)) = self.concurrent.lock().unwrap().take() {
            let theirs = stored.entry(user).or_default();
            theirs.profile.learn(signals, at);
            theirs.version += 1;
        }
        let mut clashed = Vec::new();
        for (user, version, profile) in updates {
            let current = stored.entry(user.clone()).or_default();
            if current.version == *version {
                *current = StoredProfile {
                    profile: profile.clone(),
                    version: version + 1,
                };
                *self.writes.lock().unwrap() += 1;
            } else {
                clashed.push(user.clone());
            }
        }
        Ok(clashed)
    }
}

fn at(minute: i64) -> Timestamp {
    Timestamp::from_second(1_713_744_000 + minute * 60).unwrap()
}

fn account() -> AccountId {
    AccountId::parse("acct_signins").unwrap()
}

fn user() -> User {
    (account(), "u_alice".to_owned())
}

fn login(minute: i64, user_agent: &str, ip: &str) -> NewEvent {
    let ip = ip.parse().unwrap();
    NewEvent {
        account: account(),
        event_id: None,
        entry: LogEntry {
            id: EntryId::from_stored(format!("01HW3Z9V7Q4M8K2N5P{minute:08}")),
            event_type: EventType::Login,
            occurred_at: at(minute),
            actor: Actor {
                id: "u_alice".into(),
                name: None,
                email: None,
            },
            ip: Some(ip),
            user_agent: Some(user_agent.into()),
            device: crate::domain::device::describe(user_agent),
            location: None,
            details: serde_json::json!({}).into(),
            summary: "Signed in".into(),
            event_id: None,
            received_at: at(minute),
            producer: None,
            unfamiliar: None,
            log_index: None,
        },
    }
}

fn recorded(events: &[NewEvent], duplicate: bool) -> Vec<Recorded> {
    events
        .iter()
        .map(|e| Recorded {
            id: e.entry.id.clone(),
            duplicate,
        })
        .collect()
}

/// A store that knows Alice from two sign-ins on her usual device and network.
fn known_alice() -> (Profiles, Profile) {
    let mut profile = Profile::default();
    for minute in [0, 1] {
        profile.learn(
            Signals::of(&login(minute, CHROME_WINDOWS, "203.0.113.45").entry).unwrap(),
            at(minute),
        );
    }
    let store = Profiles::default();
    store.stored.lock().unwrap().insert(
        user(),
        StoredProfile {
            profile: profile.clone(),
            version: 2,
        },
    );
    (store, profile)
}

#[tokio::test]
async fn flag_sets_what_the_profile_judges_and_the_summary_note() {
    let (store, profile) = known_alice();
    let signins = SignIns::new(store);
    let mut events = vec![login(10, SAFARI_MACOS, "198.51.100.7")];
    let expected = profile
        .judge(&Signals::of(&events[0].entry).unwrap(), at(10))
        .expect("a new device on a new network is unfamiliar");

    signins.flag(&mut events).await.unwrap();

    assert_eq!(events[0].entry.unfamiliar.as_ref(), Some(&expected));
    assert_eq!(
        events[0].entry.summary,
        flagged_summary("Signed in", &expected)
    );
}

#[tokio::test]
async fn duplicates_teach_nothing() {
    let (store, _) = known_alice();
    let signins = SignIns::new(store);
    let mut events = vec![login(10, SAFARI_MACOS, "198.51.100.7")];
    let learning = signins.flag(&mut events).await.unwrap();

    signins
        .learn(learning, &recorded(&events, true))
        .await
        .unwrap();

    assert_eq!(*signins.store.writes.lock().unwrap(), 0);
}

#[tokio::test]
async fn a_clash_rereads_and_keeps_the_concurrent_sign_in() {
    let (store, profile) = known_alice();
    let theirs = Signals::of(&login(5, SAFARI_MACOS, "192.0.2.1").entry).unwrap();
    *store.concurrent.lock().unwrap() = Some((user(), theirs.clone(), at(5)));
    let signins = SignIns::new(store);
    let mut events = vec![
        login(10, CHROME_WINDOWS, "203.0.113.45"),
        login(11, SAFARI_MACOS, "198.51.100.7"),
    ];
    let learning = signins.flag(&mut events).await.unwrap();

    signins
        .learn(learning, &recorded(&events, false))
        .await
        .unwrap();

    let mut expected = profile;
    expected.learn(theirs, at(5));
    for (minute, event) in [(10, &events[0]), (11, &events[1])] {
        expected.learn(Signals::of(&event.entry).unwrap(), at(minute));
    }
    let stored = signins.store.stored.lock().unwrap()[&user()].clone();
    assert_eq!(stored.version, 4, "theirs, then ours after one re-read");
    assert_eq!(stored.profile, expected);
}
