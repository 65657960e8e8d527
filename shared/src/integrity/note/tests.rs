use super::*;
use crate::integrity::merkle;

// Test data of golang.org/x/mod/sumdb/note (note_test.go, example_test.go at commit
// fe2ec04f7c3c3aa6fad97631aafcff6e49e2d1db): an independent implementation's keys and notes.
const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
/// Its signer key `PRIVATE+KEY+PeterNeumann+c74f20a3+<base64(0x01 || seed)>`: the seed part.
const PETER_SKEY_MATERIAL: &str = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const PETER_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                          then you don't know what your problem is.\n";
const PETER_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const ENOCH_SIG: &str = "\u{2014} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

fn peter_signer() -> LocalSigner {
    let material = STANDARD.decode(PETER_SKEY_MATERIAL).unwrap();
    assert_eq!(material[0], ED25519);
    LocalSigner::from_seed(&material[1..].try_into().unwrap())
}

fn peter() -> VerifierKey {
    VerifierKey::parse(PETER_VKEY).unwrap()
}

#[test]
fn reads_and_writes_the_published_verifier_keys() {
    for text in [PETER_VKEY, ENOCH_VKEY] {
        assert_eq!(VerifierKey::parse(text).unwrap().to_string(), text);
    }
    let key = peter();
    assert_eq!(key.name(), "PeterNeumann");
    assert_eq!(key.key_id(), [0xc7, 0x4f, 0x20, 0xa3]);
    assert_eq!(key.public_key(), peter_signer().public_key());
    assert_eq!(
        VerifierKey::new("PeterNeumann", &peter_signer().public_key()),
        Ok(key)
    );
}

#[test]
fn refuses_every_mangled_verifier_key() {
    let bytes = PETER_VKEY.as_bytes();
    // Every proper substring and every one-byte change.
    for i in 0..=bytes.len() {
        for j in i + 1..=bytes.len() {
            if (i, j) != (0, bytes.len()) {
                let part = std::str::from_utf8(&bytes[i..j]).unwrap();
                assert!(VerifierKey::parse(part).is_err(), "{part}");
            }
        }
    }
    for i in 0..bytes.len() {
        let mut changed = bytes.to_vec();
        changed[i] += 1;
        let changed = String::from_utf8(changed).unwrap();
        assert!(VerifierKey::parse(&changed).is_err(), "{changed}");
    }
    // x/mod's own cases: a 39-byte key and an unknown algorithm, each with a matching id.
    for bad in [
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ] {
        assert!(VerifierKey::parse(bad).is_err(), "{bad}");
    }
}

#[tokio::test]
async fn signs_exactly_as_the_independent_implementation() {
    let note = sign_note(PETER_TEXT, "PeterNeumann", &peter_signer())
        .await
        .unwrap();
    assert_eq!(note, format!("{PETER_TEXT}\n{PETER_SIG}"));
}

#[test]
fn opens_the_published_notes_ignoring_unknown_keys() {
    let key = peter();
    let note = format!("{PETER_TEXT}\n{PETER_SIG}{ENOCH_SIG}");
    assert_eq!(open_note(&note, &key), Ok(PETER_TEXT));
    let enoch = VerifierKey::parse(ENOCH_VKEY).unwrap();
    assert_eq!(open_note(&note, &enoch), Ok(PETER_TEXT));
    assert_eq!(
        open_note(&format!("{PETER_TEXT}\n{ENOCH_SIG}"), &key),
        Err(NoteError::NoKnownSignature)
    );
    // C2SP signed-note's own example (signed-note.md, "Verifier keys", "Example").
    let c2sp =
        VerifierKey::parse("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k")
            .unwrap();
    let example = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
    assert_eq!(
        open_note(example, &c2sp),
        Ok("This is an example message.\n")
    );
}

#[test]
fn refuses_forged_and_malformed_notes() {
    let key = peter();
    let good = format!("{PETER_TEXT}\n{PETER_SIG}");
    let other_text = good.replacen("cryptography", "cryptograph!", 1);
    assert_eq!(open_note(&other_text, &key), Err(NoteError::BadSignature));
    // A known key's signature, corrupted: the whole note is refused even with another good one.
    let corrupt = PETER_SIG.replacen("x08go/ZJ", "x08go/ZK", 1);
    assert_eq!(
        open_note(&format!("{PETER_TEXT}\n{corrupt}{PETER_SIG}"), &key),
        Err(NoteError::BadSignature)
    );
    // The same key id under another name is another key.
    let renamed = PETER_SIG.replace("PeterNeumann", "CarmenSandiego");
    assert_eq!(
        open_note(&format!("{PETER_TEXT}\n{renamed}"), &key),
        Err(NoteError::NoKnownSignature)
    );
    let many = format!("{PETER_TEXT}\n{}", PETER_SIG.repeat(MAX_SIGNATURES + 1));
    for bad in [
        PETER_TEXT.to_owned(),
        format!("{PETER_TEXT}\n"),
        format!("{PETER_TEXT}\n{}", PETER_SIG.trim_end()),
        format!("\x01{PETER_TEXT}\n{PETER_SIG}"),
        format!(
            "{PETER_TEXT}\n\u{2014} Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
        ),
        format!("{PETER_TEXT}\n{PETER_SIG}Unexpected line.\n"),
        format!("{PETER_TEXT}\n- PeterNeumann x08go/ZJ\n"),
        format!("{PETER_TEXT}\r\n{PETER_SIG}"),
        many,
    ] {
        assert!(
            matches!(open_note(&bad, &key), Err(NoteError::Malformed(_))),
            "{bad:?}"
        );
    }
}

#[tokio::test]
async fn checkpoints_round_trip_and_bind_their_origin() {
    let signer = LocalSigner::from_seed(&[7; 32]);
    let account = AccountId::parse("acct_Demo-1").unwrap();
    let checkpoint = Checkpoint {
        origin: origin(&account),
        size: 8,
        root: merkle::root(&[merkle::leaf_hash(b"")]),
    };
    let note = sign_checkpoint(&checkpoint, &signer).await.unwrap();
    assert!(note.starts_with("security-logs/acct_Demo-1\n8\nbjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=\n\n\u{2014} security-logs/acct_Demo-1 "));
    let key = VerifierKey::new(&checkpoint.origin, &signer.public_key()).unwrap();
    assert_eq!(verify_checkpoint(&note, &key), Ok(checkpoint.clone()));

    // Another account's key name (same key material) knows no signature on it.
    let other = VerifierKey::new("security-logs/acct_other", &signer.public_key()).unwrap();
    assert_eq!(
        verify_checkpoint(&note, &other),
        Err(NoteError::NoKnownSignature)
    );
    // A checkpoint whose origin is not the signing name is refused even if the signature holds.
    let mut foreign = checkpoint.clone();
    foreign.origin = "security-logs/acct_other".into();
    let note = sign_note(&foreign.to_text(), &checkpoint.origin, &signer)
        .await
        .unwrap();
    assert!(matches!(
        verify_checkpoint(&note, &key),
        Err(NoteError::OriginMismatch { .. })
    ));
}

#[test]
fn checkpoint_text_is_parsed_strictly() {
    let root = STANDARD.encode(merkle::empty_root());
    let good = format!("example.com/log\n0\n{root}\n");
    assert_eq!(
        Checkpoint::parse(&good),
        Ok(Checkpoint {
            origin: "example.com/log".into(),
            size: 0,
            root: merkle::empty_root(),
        })
    );
    // The C2SP tlog-checkpoint example's text.
    let c2sp =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    assert_eq!(Checkpoint::parse(c2sp).map(|c| c.size), Ok(20852163));
    let short_root = STANDARD.encode([1u8; 31]);
    for bad in [
        format!("example.com/log\n0\n{root}"),
        format!("example.com/log\n00\n{root}\n"),
        format!("example.com/log\n01\n{root}\n"),
        format!("example.com/log\n+1\n{root}\n"),
        format!("example.com/log\n18446744073709551616\n{root}\n"),
        format!("example.com/log\n1\n{short_root}\n"),
        format!("example.com/log\n1\n{}\n", root.trim_end_matches('=')),
        format!("example.com/log\n1\n{root}\nextension\n"),
        format!("\n1\n{root}\n"),
        format!("example.com log\n1\n{root}\n"),
        "example.com/log\n1\n".to_owned(),
    ] {
        assert!(Checkpoint::parse(&bad).is_err(), "{bad:?}");
    }
}

#[tokio::test]
async fn signing_refuses_bad_text_and_names_and_reports_backend_failures() {
    let signer = peter_signer();
    for text in ["", "no newline", "tab\there\n"] {
        assert_eq!(
            sign_note(text, "PeterNeumann", &signer).await,
            Err(NoteError::Text)
        );
    }
    for name in ["", "a b", "a+b"] {
        assert_eq!(
            sign_note("x\n", name, &signer).await,
            Err(NoteError::KeyName)
        );
    }
    struct Failing;
    impl Signer for Failing {
        fn public_key(&self) -> [u8; 32] {
            peter_signer().public_key()
        }
        async fn sign(&self, _: &[u8]) -> Result<[u8; 64], SignError> {
            Err(SignError("KMS unavailable".into()))
        }
    }
    assert_eq!(
        sign_note("x\n", "PeterNeumann", &Failing).await,
        Err(NoteError::Sign(SignError("KMS unavailable".into())))
    );
    assert!(!format!("{signer:?}").contains(PETER_SKEY_MATERIAL));
}

/// The worked checkpoint of docs/design/integrity.md: the one-leaf log of the doc's example entry,
/// signed with the test seed 0x07 * 32.
#[tokio::test]
async fn worked_example_of_the_doc_holds() {
    let signer = LocalSigner::from_seed(&[7; 32]);
    let account = AccountId::parse("acct_Demo-1").unwrap();
    let leaf = "79fe00ffcf8ed7030031c0ca057f2ac82cd4b7517009b01c7bd1a32b20d5dc13";
    let root: Hash = (0..32)
        .map(|i| u8::from_str_radix(&leaf[2 * i..2 * i + 2], 16).unwrap())
        .collect::<Vec<_>>()
        .try_into()
        .unwrap();
    let checkpoint = Checkpoint {
        origin: origin(&account),
        size: 1,
        root,
    };
    let note = sign_checkpoint(&checkpoint, &signer).await.unwrap();
    let vkey = VerifierKey::new(&checkpoint.origin, &signer.public_key())
        .unwrap()
        .to_string();
    assert_eq!(vkey, EXAMPLE_VKEY);
    assert_eq!(note, EXAMPLE_NOTE);
    let doc = include_str!("../../../../docs/design/integrity.md");
    for shown in [EXAMPLE_VKEY, EXAMPLE_NOTE] {
        assert!(
            doc.contains(shown),
            "docs/design/integrity.md lacks {shown}"
        );
    }
}

const EXAMPLE_VKEY: &str =
    "security-logs/acct_Demo-1+9b6d2951+AepKbGPinFIKvvVQexMuxfmVR3auvr57kkIe6mkURtIs";
const EXAMPLE_NOTE: &str = "security-logs/acct_Demo-1\n1\nef4A/8+O1wMAMcDKBX8qyCzUt1FwCbAce9GjKyDV3BM=\n\n\u{2014} security-logs/acct_Demo-1 m20pURE1Eugu0484eGoprPHZ217wh1HcKUXTepBIRQLZbWBAWrCIg09yUWhrMADakGFN98P+xVpxTiKHa8H7QZZPJgs=\n";

#[test]
fn a_key_whose_base64_holds_a_plus_parses() {
    // Found by the verifier's CLI test: this seed's public key encodes with a '+'.
    let signer = LocalSigner::from_seed(&[8; 32]);
    let key = VerifierKey::new("security-logs/acct_cli", &signer.public_key()).unwrap();
    let text = key.to_string();
    assert!(
        text.rsplit('+').next().unwrap().len() < 45,
        "the key's base64 holds a '+': {text}"
    );
    assert_eq!(VerifierKey::parse(&text), Ok(key));
}
