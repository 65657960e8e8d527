//! Which functions exist (every `functions/*/Cargo.toml`), their binaries and sample events.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// A function crate: its binary has the package's name (`src/main.rs`), unless a `[[bin]]`
/// table names it.
#[derive(Debug, Clone)]
pub struct Function {
    pub name: String,
    pub binary: String,
}

/// Every crate under `<root>/functions/`, sorted by name.
pub fn discover(root: &Path) -> io::Result<Vec<Function>> {
    let mut found = Vec::new();
    for entry in fs::read_dir(root.join("functions"))? {
        let manifest = entry?.path().join("Cargo.toml");
        if !manifest.is_file() {
            continue;
        }
        let text = fs::read_to_string(&manifest)?;
        let Some(name) = manifest_name(&text, "[package]") else {
            return Err(io::Error::other(format!(
                "{}: no [package] name",
                manifest.display()
            )));
        };
        let binary = manifest_name(&text, "[[bin]]").unwrap_or_else(|| name.clone());
        found.push(Function { name, binary });
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

/// The `name = "..."` of the first `table` section of a Cargo manifest (enough for ours; no
/// TOML parser needed for one key).
fn manifest_name(manifest: &str, table: &str) -> Option<String> {
    let mut inside = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            if inside {
                return None;
            }
            inside = line == table;
            continue;
        }
        if !inside {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim() == "name" {
            return Some(value.trim().trim_matches('"').to_string());
        }
    }
    None
}

/// Where a function's sample event comes from.
#[derive(Clone)]
pub enum EventSource {
    File(PathBuf),
    Fallback,
}

impl std::fmt::Display for EventSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Fallback => write!(f, "minimal API Gateway v2 event (GET /, JWT claims)"),
        }
    }
}

/// `events/<function>.json`, else a minimal API Gateway HTTP API (payload 2.0) event for `GET /`
/// with the dashboard's JWT claims (`account_id`), as API Gateway's authorizer hands them over.
pub fn event_for(root: &Path, function: &str) -> EventSource {
    let path = root.join("events").join(format!("{function}.json"));
    if path.is_file() {
        EventSource::File(path)
    } else {
        EventSource::Fallback
    }
}

pub fn minimal_http_event() -> Vec<u8> {
    serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/",
        "rawQueryString": "",
        "headers": {"host": "coldstart.local", "user-agent": "coldstart"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "coldstart",
            "authorizer": {
                "jwt": {"claims": {"account_id": "acct_demo", "sub": "coldstart"}, "scopes": null}
            },
            "domainName": "coldstart.local",
            "domainPrefix": "coldstart",
            "http": {
                "method": "GET",
                "path": "/",
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "coldstart"
            },
            "requestId": "coldstart",
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Jan/2024:00:00:00 +0000",
            "timeEpoch": 1704067200000i64
        },
        "isBase64Encoded": false
    })
    .to_string()
    .into_bytes()
}

/// Whether an ELF file still carries a symbol table (`.symtab`), i.e. is not stripped.
/// `None` when the file is not a 64-bit little-endian ELF.
pub fn has_symtab(path: &Path) -> io::Result<Option<bool>> {
    let data = fs::read(path)?;
    if data.len() < 64 || &data[..4] != b"\x7fELF" || data[4] != 2 || data[5] != 1 {
        return Ok(None);
    }
    let u16_at = |o: usize| u16::from_le_bytes([data[o], data[o + 1]]) as usize;
    let u32_at = |o: usize| u32::from_le_bytes(data[o..o + 4].try_into().unwrap()) as usize;
    let u64_at = |o: usize| u64::from_le_bytes(data[o..o + 8].try_into().unwrap()) as usize;
    let shoff = u64_at(0x28);
    let shentsize = u16_at(0x3a);
    let shnum = u16_at(0x3c);
    let shstrndx = u16_at(0x3e);
    let section = |i: usize| shoff + i * shentsize;
    if shoff == 0 || shstrndx >= shnum || section(shnum) > data.len() {
        return Ok(Some(false));
    }
    let strtab = u64_at(section(shstrndx) + 0x18);
    for i in 0..shnum {
        let name = strtab + u32_at(section(i));
        if data.get(name..name + 8) == Some(b".symtab\0") {
            return Ok(Some(true));
        }
    }
    Ok(Some(false))
}

/// The `elapsed_us` of every JSON log line of `path` whose message is `message` (the functions
/// log with `tracing`'s JSON format).
pub fn logged_micros(path: &Path, message: &str) -> Vec<u64> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line["fields"]["message"] == message)
        .filter_map(|line| line["fields"]["elapsed_us"].as_u64())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_package_and_bin_names() {
        let manifest = "[package]\nname = \"list-logs\"\nversion = \"0.1.0\"\n\n[dependencies]\nname = \"x\"\n";
        assert_eq!(
            manifest_name(manifest, "[package]").as_deref(),
            Some("list-logs")
        );
        assert_eq!(manifest_name(manifest, "[[bin]]"), None);
        let with_bin = "[package]\nname = \"a\"\n[[bin]]\nname = \"bootstrap\"\n";
        assert_eq!(
            manifest_name(with_bin, "[[bin]]").as_deref(),
            Some("bootstrap")
        );
    }
}
