//! Generators shared by the properties: JSON documents with secrets planted where a masking
//! rule applies, filler that can never spell a secret, and hostile text.

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::sample::select;

use crate::domain::Json;

/// A secret planted in a generated document, and the texts that must never be seen again.
#[derive(Debug, Clone)]
pub enum Secret {
    /// `sk_live_` + tail: neither the key nor the part of its tail that the mask drops may show.
    ApiKey(String),
    /// An account number or IBAN as sent (`DE12 3456-7890`) and its digits (`1234567890`).
    Account { text: String, digits: String },
}

impl Secret {
    /// Texts whose presence in any output is a leak.
    pub fn needles(&self) -> Vec<String> {
        match self {
            Secret::ApiKey(key) => {
                let tail = &key[PREFIX_LEN..];
                // The mask keeps the last 4; everything before them (8 or more characters,
                // starting with an upper-case letter that filler never has) must be gone.
                vec![key.clone(), tail[..tail.len() - 4].to_owned()]
            }
            Secret::Account { text, digits } => {
                let mut needles = vec![digits.clone()];
                if text != digits {
                    needles.push(text.clone());
                }
                needles
            }
        }
    }

    /// How the secret appears in the document as generated (before masking).
    pub fn as_sent(&self) -> &str {
        match self {
            Secret::ApiKey(key) => key,
            Secret::Account { text, .. } => text,
        }
    }
}

/// A generated document and the secrets planted in it.
pub type Doc = (Json, Vec<Secret>);

pub const KEY_PREFIXES: [&str; 6] = [
    "sk_live_", "sk_test_", "rk_live_", "rk_test_", "pk_live_", "pk_test_",
];
const PREFIX_LEN: usize = 8;

/// Filler characters: lower-case letters, spaces, punctuation, tab, newline and non-ASCII. No
/// upper-case letter, digit or `_`, so filler can spell neither an API key (its prefix needs `_`,
/// its tail starts upper-case here) nor an account number (no digits at all).
const FILLER_CHARS: &str = "[a-z ,.;:!?()/'\"@#*=+\\-é中😀\t\n]";

/// Characters that end an API key's tail (anything but ASCII letters and digits).
const SEPARATORS: &str = "[ /:;,.()=\"'\t\n_@#\\-]";

/// Keys the summary reads (API.md examples), so secrets reach `summarize` too.
pub const SUMMARY_KEYS: [&str; 10] = [
    "method",
    "reason",
    "key",
    "key_id",
    "bank",
    "account_last4",
    "document",
    "status_from",
    "status_to",
    "format",
];

pub fn filler_text(max: usize) -> BoxedStrategy<String> {
    proptest::string::string_regex(&format!("{FILLER_CHARS}{{0,{max}}}"))
        .expect("a valid pattern")
        .boxed()
}

/// Object keys of filler: lower-case words, never an account-number key, `field`, `from` or `to`.
pub fn filler_key() -> BoxedStrategy<String> {
    "[a-z é中]{1,10}"
        .prop_filter("a plain key", |k| {
            !crate::domain::secrets::is_account_number_key(k)
                && !matches!(k.as_str(), "field" | "from" | "to")
        })
        .boxed()
}

/// JSON numbers of the digits 0-4 only: an account number (which always has a digit 5-9) can
/// never be read inside one.
pub fn filler_number() -> BoxedStrategy<String> {
    "-?(0|[1-4][0-4]{0,9})(\\.[0-4]{1,4})?([eE][+\\-]?[1-4]{1,2})?".boxed()
}

pub fn filler_scalar() -> BoxedStrategy<Json> {
    prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        filler_number().prop_map(Json::Number),
        filler_text(16).prop_map(Json::String),
    ]
    .boxed()
}

/// `sk_live_` etc. + 12 to 40 letters and digits (the first upper-case, so filler cannot hold it).
pub fn api_key() -> BoxedStrategy<String> {
    (select(&KEY_PREFIXES[..]), "[A-Z][A-Za-z0-9]{11,39}")
        .prop_map(|(prefix, tail)| format!("{prefix}{tail}"))
        .boxed()
}

/// A string holding API keys: the whole string, or keys inside text (each followed by a
/// character that ends a key, so the planted key is exactly what a reader would call the key;
/// before it, text or a separator).
pub fn api_key_text() -> BoxedStrategy<(String, Vec<Secret>)> {
    prop_oneof![
        api_key().prop_map(|key| (key.clone(), vec![Secret::ApiKey(key)])),
        (
            filler_text(8),
            prop::collection::vec(
                (
                    // Before a key anything goes (`tokensk_live_...` is still a key) ...
                    prop_oneof![Just(String::new()), SEPARATORS],
                    api_key(),
                    // ... after it, a character that ends its tail.
                    SEPARATORS,
                    filler_text(8),
                ),
                1..3,
            ),
        )
            .prop_map(|(mut text, parts)| {
                let mut secrets = Vec::new();
                for (before, key, after, filler) in parts {
                    text.push_str(&before);
                    text.push_str(&key);
                    text.push_str(&after);
                    text.push_str(&filler);
                    secrets.push(Secret::ApiKey(key));
                }
                (text, secrets)
            }),
    ]
    .boxed()
}

/// How the digits of an account number are written.
#[derive(Debug, Clone, Copy)]
enum Grouping {
    None,
    Every(usize, &'static str),
}

/// An account number: 5 to 34 digits (at least one of them 5-9, which filler numbers never
/// have), grouped with spaces or dashes or not, with or without a 2-letter country prefix like
/// an IBAN, sometimes after a label (`iban: DE12 3456`); as a string, or as a JSON number when
/// it is bare digits.
pub fn account_number() -> BoxedStrategy<(Json, Secret)> {
    let grouping = prop_oneof![
        2 => Just(Grouping::None),
        1 => (2usize..=6, select(vec![" ", "-", " - ", "  "])).prop_map(|(n, sep)| Grouping::Every(n, sep)),
    ];
    (
        "[0-9]{5,34}",
        any::<prop::sample::Index>(),
        b'5'..=b'9',
        prop::option::of("[A-Z]{2}"),
        grouping,
        any::<bool>(),
        prop_oneof![3 => Just(None), 1 => "[a-z]{1,8}(: | #)".prop_map(Some)],
    )
        .prop_map(|(digits, at, high, country, grouping, as_number, label)| {
            let mut digits = digits.into_bytes();
            let at = at.index(digits.len());
            digits[at] = high;
            let bare = country.is_none() && label.is_none() && matches!(grouping, Grouping::None);
            if as_number && bare {
                if digits[0] == b'0' {
                    digits[0] = high;
                }
                let digits = String::from_utf8(digits).expect("ASCII digits");
                let secret = Secret::Account {
                    text: digits.clone(),
                    digits: digits.clone(),
                };
                return (Json::Number(digits), secret);
            }
            let digits = String::from_utf8(digits).expect("ASCII digits");
            let compact = format!("{}{digits}", country.unwrap_or_default());
            let text = match grouping {
                Grouping::None => compact,
                Grouping::Every(n, sep) => compact
                    .as_bytes()
                    .chunks(n)
                    .map(|c| std::str::from_utf8(c).expect("ASCII"))
                    .collect::<Vec<_>>()
                    .join(sep),
            };
            let sent = format!("{}{text}", label.unwrap_or_default());
            (Json::String(sent), Secret::Account { text, digits })
        })
        .boxed()
}

/// Field names that hold account numbers, in many spellings: `accountNumber`,
/// `bank-account-number`, `Bank Account No`, `IBAN`, `payout_iban_value`, `acct.no`,
/// `OLD_ACCT_NUMBER_VALUE`, `primary.BankAcct`, ...
pub fn account_key() -> BoxedStrategy<String> {
    const CONTAINED: [&[&str]; 5] = [
        &["account", "number"],
        &["account", "no"],
        &["acct", "number"],
        &["acct", "no"],
        &["iban"],
    ];
    const ENDINGS: [&[&str]; 2] = [&["bank", "account"], &["bank", "acct"]];
    let core = prop_oneof![
        select(&CONTAINED[..]).prop_map(|c| (c, true)),
        select(&ENDINGS[..]).prop_map(|c| (c, false)),
    ];
    (
        core,
        select(vec![
            "",
            "payout",
            "primary",
            "beneficiary",
            "old",
            "new",
            "my",
        ]),
        select(vec!["", "s", "value", "masked", "text"]),
        prop::collection::vec(0u8..4, 5),
        prop::collection::vec(select(vec!["", "_", "-", ".", " ", "__"]), 4),
    )
        .prop_map(|((core, suffix_allowed), prefix, suffix, cases, seps)| {
            let mut words: Vec<&str> = Vec::new();
            if !prefix.is_empty() {
                words.push(prefix);
            }
            words.extend(core.iter());
            if suffix_allowed && !suffix.is_empty() {
                words.push(suffix);
            }
            let mut key = String::new();
            for (i, word) in words.iter().enumerate() {
                if i > 0 {
                    key.push_str(seps[(i - 1) % seps.len()]);
                }
                match cases[i % cases.len()] {
                    0 => key.push_str(word),
                    1 => key.push_str(&word.to_uppercase()),
                    2 => {
                        key.push_str(&word[..1].to_uppercase());
                        key.push_str(&word[1..]);
                    }
                    _ => key.extend(word.chars().enumerate().map(|(j, c)| {
                        if j % 2 == 0 {
                            c.to_ascii_uppercase()
                        } else {
                            c
                        }
                    })),
                }
            }
            key
        })
        .boxed()
}

fn object(entries: Vec<(String, Doc)>) -> Doc {
    let mut map = BTreeMap::new();
    let mut secrets = Vec::new();
    for (key, (value, planted)) in entries {
        secrets.extend(planted);
        map.insert(key, value);
    }
    (Json::Object(map), secrets)
}

fn array(items: Vec<Doc>) -> Doc {
    let mut secrets = Vec::new();
    let items = items
        .into_iter()
        .map(|(value, planted)| {
            secrets.extend(planted);
            value
        })
        .collect();
    (Json::Array(items), secrets)
}

fn plain(value: Json) -> Doc {
    (value, Vec::new())
}

/// The strategies a document is made of, built once: `prop_recursive` rebuilds its layers for
/// every case, so the closures below only clone these (building one compiles its patterns).
#[derive(Clone)]
struct Parts {
    /// A filler key or an API key as a key.
    key: BoxedStrategy<(String, Vec<Secret>)>,
    account_key: BoxedStrategy<String>,
    account_value: BoxedStrategy<Doc>,
    /// A leaf outside account-number keys: filler, or a string holding API keys.
    plain_leaf: BoxedStrategy<Doc>,
}

impl Parts {
    fn new() -> Self {
        let key = prop_oneof![
            4 => filler_key().prop_map(|k| (k, Vec::new())),
            1 => api_key().prop_map(|k| (k.clone(), vec![Secret::ApiKey(k)])),
        ]
        .boxed();
        let api_key_string = api_key_text()
            .prop_map(|(text, secrets)| (Json::String(text), secrets))
            .boxed();
        let plain_leaf = prop_oneof![
            4 => filler_scalar().prop_map(plain),
            1 => api_key_string.clone(),
        ]
        .boxed();
        Self {
            account_value: account_value(key.clone(), api_key_string),
            account_key: account_key(),
            key,
            plain_leaf,
        }
    }

    /// One entry of an object outside account-number keys: a filler or API-key key with any
    /// value, or an account-number key with an account value.
    fn entry(&self, inner: BoxedStrategy<Doc>) -> BoxedStrategy<(String, Doc)> {
        prop_oneof![
            4 => (self.key.clone(), inner).prop_map(|((key, mut secrets), (value, planted))| {
                secrets.extend(planted);
                (key, (value, secrets))
            }),
            1 => (self.account_key.clone(), self.account_value.clone()),
        ]
        .boxed()
    }

    /// A `changes` item whose `field` names an account number: its `from` and `to` are account
    /// values; other entries are anything.
    fn account_change(&self, inner: BoxedStrategy<Doc>) -> BoxedStrategy<Doc> {
        (
            self.account_key.clone(),
            prop::option::of(self.account_value.clone()),
            prop::option::of(self.account_value.clone()),
            prop::collection::vec(self.entry(inner), 0..2),
        )
            .prop_map(|(field, from, to, extra)| {
                let mut entries = extra;
                entries.push(("field".to_owned(), plain(Json::String(field))));
                entries.extend(from.map(|v| ("from".to_owned(), v)));
                entries.extend(to.map(|v| ("to".to_owned(), v)));
                object(entries)
            })
            .boxed()
    }

    /// Any value outside account-number keys, nested a few levels.
    fn plain_value(&self) -> BoxedStrategy<Doc> {
        let parts = self.clone();
        self.plain_leaf
            .clone()
            .prop_recursive(4, 48, 5, move |inner| {
                prop_oneof![
                    2 => prop::collection::vec(inner.clone(), 0..4).prop_map(array),
                    3 => prop::collection::vec(parts.entry(inner.clone()), 0..5).prop_map(object),
                    1 => parts.account_change(inner),
                ]
            })
            .boxed()
    }
}

/// A value under an account-number key: account numbers at any depth (values and keys of
/// nested objects, array items), mixed with filler and API keys.
fn account_value(
    key: BoxedStrategy<(String, Vec<Secret>)>,
    api_key_string: BoxedStrategy<Doc>,
) -> BoxedStrategy<Doc> {
    let number = account_number();
    let leaf = prop_oneof![
        3 => number.clone().prop_map(|(value, secret)| (value, vec![secret])),
        1 => filler_scalar().prop_map(plain),
        1 => api_key_string,
    ];
    let number_key = number
        .prop_map(|(value, secret)| {
            let text = match value {
                Json::Number(text) | Json::String(text) => text,
                _ => unreachable!("account numbers are numbers or strings"),
            };
            (text, vec![secret])
        })
        .boxed();
    leaf.prop_recursive(3, 24, 4, move |inner| {
        let key = prop_oneof![3 => key.clone(), 1 => number_key.clone()];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(array),
            prop::collection::vec((key, inner), 0..4).prop_map(|entries| {
                let entries = entries
                    .into_iter()
                    .map(|((key, mut secrets), (value, planted))| {
                        secrets.extend(planted);
                        (key, (value, secrets))
                    })
                    .collect();
                object(entries)
            }),
        ]
    })
    .boxed()
}

/// An event's `details` with secrets planted wherever a rule applies: the keys the summary
/// reads, a `changes` list, account-number keys, API keys as keys and inside text, at any depth.
pub fn secret_document() -> BoxedStrategy<Doc> {
    let parts = Parts::new();
    let plain_value = parts.plain_value();
    (
        prop::collection::vec((select(&SUMMARY_KEYS[..]), parts.plain_leaf.clone()), 0..4),
        prop::option::of(prop::collection::vec(
            prop_oneof![
                parts.account_change(plain_value.clone()),
                plain_value.clone()
            ],
            0..4,
        )),
        prop::collection::vec(parts.entry(plain_value), 0..5),
    )
        .prop_map(|(summary, changes, rest)| {
            let mut entries: Vec<(String, Doc)> = summary
                .into_iter()
                .map(|(key, value)| (key.to_owned(), value))
                .collect();
            if let Some(changes) = changes {
                entries.push(("changes".to_owned(), array(changes)));
            }
            entries.extend(rest);
            object(entries)
        })
        .boxed()
}

/// Characters the text rule is about (controls, bidi overrides and isolates) and their
/// harmless neighbours (tab, newline, joiners, BOM, line separator).
pub const SPECIAL_CHARS: [char; 22] = [
    '\0', '\u{7}', '\t', '\n', '\r', '\u{b}', '\u{1b}', '\u{7f}', '\u{85}', '\u{9f}', '\u{202A}',
    '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
    '\u{200D}', '\u{FEFF}', '\u{2028}',
];

/// Text a hostile or careless caller sends: anything, or near-normal text with a control or
/// bidi character, an API key, or a lot of characters.
pub fn tricky_text() -> BoxedStrategy<String> {
    prop_oneof![
        3 => "[A-Za-z0-9_.:@ -]{0,12}",
        2 => ("[A-Za-z0-9 ]{0,8}", select(&SPECIAL_CHARS[..]), "[a-z]{0,8}")
            .prop_map(|(a, c, b)| format!("{a}{c}{b}")),
        2 => any::<String>(),
        1 => api_key_text().prop_map(|(text, _)| text),
        1 => (1000usize..1100, select(vec!['u', 'é', '中'])).prop_map(|(n, c)| c.to_string().repeat(n)),
    ]
    .boxed()
}

/// JSON number text of any size: huge integers, long fractions, big exponents.
pub fn any_number() -> BoxedStrategy<String> {
    prop_oneof![
        "-?(0|[1-9][0-9]{0,40})(\\.[0-9]{1,20})?([eE][+\\-]?[0-9]{1,3})?",
        Just("12345678901234567890123456789012345678901234567890".to_owned()),
        Just("1e400".to_owned()),
        Just("-0".to_owned()),
    ]
    .boxed()
}

/// Object keys that steer the masker and the summary, and arbitrary ones.
fn any_key() -> BoxedStrategy<String> {
    prop_oneof![
        2 => tricky_text(),
        1 => account_key(),
        1 => select(vec!["field", "from", "to", "changes", "key_id", "events", "details"])
            .prop_map(str::to_owned),
        1 => "[12]{3,7}",
        1 => api_key(),
        1 => "\\*{4}[12A-Z]{0,5}(#[0-9]{1,2})?",
    ]
    .boxed()
}

/// Arbitrary `Json` (objects, arrays, any strings, any numbers), nested up to `depth` levels,
/// with keys and values that exercise the masker: account keys, API keys, `field`/`from`/`to`,
/// short digit strings that collide once masked.
pub fn any_json(depth: u32) -> BoxedStrategy<Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any_number().prop_map(Json::Number),
        tricky_text().prop_map(Json::String),
        any_key().prop_map(Json::String),
    ];
    let (key, field) = (any_key(), account_key());
    leaf.prop_recursive(depth, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Json::Array),
            prop::collection::btree_map(key.clone(), inner.clone(), 0..6).prop_map(Json::Object),
            // Keys that collide once masked (`12112` and `112112` both mask to `****2112`).
            prop::collection::btree_map("[12]{5,6}", inner.clone(), 2..6).prop_map(Json::Object),
            (field.clone(), inner.clone(), inner).prop_map(|(field, from, to)| {
                Json::Object(BTreeMap::from([
                    ("field".to_owned(), Json::String(field)),
                    ("from".to_owned(), from),
                    ("to".to_owned(), to),
                ]))
            }),
        ]
    })
    .boxed()
}

/// A document nested exactly `depth` levels (`{"a": {"a": ... }}` or arrays).
pub fn nested(depth: usize, innermost: Json, arrays: bool) -> Json {
    let mut value = innermost;
    for _ in 0..depth {
        value = if arrays {
            Json::Array(vec![value])
        } else {
            Json::Object(BTreeMap::from([("a".to_owned(), value)]))
        };
    }
    value
}
