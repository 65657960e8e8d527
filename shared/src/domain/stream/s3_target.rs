//! The parts of an S3 stream's target: the merchant's bucket, the key prefix, the role the
//! service assumes to write there, its region, and the external id the role must require.
//!
//! Each is checked against AWS's own rules at creation, so a typo is a 400 naming the field
//! rather than a stream that fails at its first delivery.

/// A general purpose bucket name, as S3 accepts it when the bucket is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketName(String);

/// Prefixes and suffixes S3 reserves for other kinds of buckets and access points.
const RESERVED_BUCKET_PREFIXES: [&str; 3] = ["xn--", "sthree-", "amzn-s3-demo-"];
const RESERVED_BUCKET_SUFFIXES: [&str; 5] =
    ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];

impl BucketName {
    pub fn parse(text: &str) -> Result<Self, String> {
        let shape = (3..=63).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
            && text.starts_with(|c: char| c.is_ascii_alphanumeric())
            && text.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !shape {
            return Err("must be an S3 bucket name: 3 to 63 lowercase letters, digits, dots and hyphens, beginning and ending with a letter or digit".to_owned());
        }
        if text.contains("..") {
            return Err("must not contain two adjacent dots".to_owned());
        }
        if text.parse::<std::net::Ipv4Addr>().is_ok() {
            return Err("must not be an IP address".to_owned());
        }
        if RESERVED_BUCKET_PREFIXES.iter().any(|p| text.starts_with(p))
            || RESERVED_BUCKET_SUFFIXES.iter().any(|s| text.ends_with(s))
        {
            return Err("uses a prefix or suffix S3 reserves".to_owned());
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where the objects go in the bucket: `<prefix>YYYY/MM/DD/...`. Kept ending with a slash
/// (one is added when missing), or empty for the bucket's root, so the delivery's object keys
/// are the prefix and the date path put together.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct S3Prefix(String);

impl S3Prefix {
    pub const MAX_LEN: usize = 512;

    pub fn parse(text: &str) -> Result<Self, String> {
        if text.len() > Self::MAX_LEN {
            return Err(format!("must be at most {} characters", Self::MAX_LEN));
        }
        let trimmed = text
            .strip_suffix('/')
            .filter(|t| !t.is_empty())
            .unwrap_or(text);
        // S3's "safe characters" for object keys: nothing that needs encoding or that tools
        // treat specially.
        let safe = |b: u8| b.is_ascii_alphanumeric() || b"!-_.*'()/".contains(&b);
        if !trimmed.bytes().all(safe) {
            return Err("must use only letters, digits and !-_.*'()/".to_owned());
        }
        if trimmed.starts_with('/')
            || trimmed
                .split('/')
                .any(|part| part.is_empty() && !trimmed.is_empty() || part == "." || part == "..")
        {
            return Err("must be key segments separated by single slashes, without a leading slash or . and .. segments".to_owned());
        }
        Ok(Self(match trimmed {
            "" => String::new(),
            segments => format!("{segments}/"),
        }))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The IAM role the service assumes to write to the bucket:
/// `arn:aws:iam::<12-digit account>:role/<path/><name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleArn(String);

impl RoleArn {
    const PREFIX: &'static str = "arn:aws:iam::";
    /// A role name has at most 64 characters (IAM's bound); the whole ARN, path included, at
    /// most 600 (IAM allows a 512-character path, so this refuses only absurd ones).
    const MAX_NAME: usize = 64;
    const MAX_LEN: usize = 600;

    pub fn parse(text: &str) -> Result<Self, String> {
        let malformed = || {
            "must be an IAM role ARN: arn:aws:iam::<12-digit account id>:role/<path/><name>"
                .to_owned()
        };
        if text.len() > Self::MAX_LEN {
            return Err(format!("must be at most {} characters", Self::MAX_LEN));
        }
        let rest = text.strip_prefix(Self::PREFIX).ok_or_else(malformed)?;
        let (account, resource) = rest.split_once(':').ok_or_else(malformed)?;
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed());
        }
        let path_and_name = resource.strip_prefix("role/").ok_or_else(malformed)?;
        // `role/name`, or `role/path/to/name`: every path segment non-empty.
        let (path, name) = match path_and_name.rsplit_once('/') {
            Some((path, name)) => (Some(path), name),
            None => (None, path_and_name),
        };
        let role_char = |b: u8| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b);
        let name_ok = (1..=Self::MAX_NAME).contains(&name.len()) && name.bytes().all(role_char);
        let path_ok = path.is_none_or(|path| {
            path.split('/')
                .all(|part| !part.is_empty() && part.bytes().all(role_char))
        });
        if !(name_ok && path_ok) {
            return Err(malformed());
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An AWS region's code (`eu-west-1`, `us-gov-east-1`, `ap-southeast-3`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsRegion(String);

impl AwsRegion {
    pub fn parse(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.split('-').collect();
        let lower = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase());
        let well_formed = text.len() <= 32
            && parts.len() >= 3
            && parts[0].len() == 2
            && parts[..parts.len() - 1].iter().all(lower)
            && parts.last().is_some_and(|n| {
                (1..=2).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit())
            });
        if !well_formed {
            return Err("must be an AWS region code, such as eu-west-1".to_owned());
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What the merchant's role trust policy requires as `sts:ExternalId` (the answer to the
/// confused deputy: nobody else's stream can make the service assume that role). Generated per
/// stream, never chosen by the caller; not secret, so it is shown on every read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalId(String);

impl ExternalId {
    /// `ext_` and a ULID: 80 random bits, unguessable, and time-ordered for support.
    pub fn generate() -> Self {
        Self(format!("ext_{}", ulid::Ulid::generate()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_follow_s3_s_rules() {
        for good in ["my-siem-logs", "a.b.c", "logs2024", "abc"] {
            assert!(BucketName::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "ab",
            &"a".repeat(64),
            "My-Bucket",
            "-logs",
            "logs-",
            "logs..archive",
            "192.168.1.10",
            "xn--logs",
            "logs-s3alias",
            "under_score",
            "",
        ] {
            assert!(BucketName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_prefix_is_bounded_safe_and_ends_with_one_slash() {
        assert_eq!(S3Prefix::parse("").unwrap().as_str(), "");
        assert_eq!(
            S3Prefix::parse("security/logs/").unwrap().as_str(),
            "security/logs/"
        );
        assert_eq!(S3Prefix::parse("siem").unwrap().as_str(), "siem/");
        for bad in [
            "/",
            "/abs",
            "a//b",
            "a//",
            "a/../b",
            "./a",
            "sp ace",
            "new\nline",
            "é",
        ] {
            assert!(S3Prefix::parse(bad).is_err(), "{bad:?}");
        }
        assert!(S3Prefix::parse(&"p".repeat(S3Prefix::MAX_LEN + 1)).is_err());
    }

    #[test]
    fn role_arns_name_an_iam_role_of_a_12_digit_account() {
        for good in [
            "arn:aws:iam::123456789012:role/SecurityLogsWriter",
            "arn:aws:iam::123456789012:role/service-role/siem/writer+1=,.@_-",
        ] {
            assert!(RoleArn::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "writer",
            "arn:aws:iam::12345678901:role/writer",
            "arn:aws:iam::1234567890123:role/writer",
            "arn:aws:iam::12345678901a:role/writer",
            "arn:aws:iam::123456789012:user/writer",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:iam::123456789012:role//writer",
            "arn:aws:iam::123456789012:role/has space",
            "arn:aws:s3:::bucket",
            "arn:aws:iam:eu-west-1:123456789012:role/writer",
        ] {
            assert!(RoleArn::parse(bad).is_err(), "{bad}");
        }
        let long_name = format!("arn:aws:iam::123456789012:role/{}", "n".repeat(65));
        assert!(RoleArn::parse(&long_name).is_err());
        let path = |len: usize| format!("arn:aws:iam::123456789012:role/{}/n", "p".repeat(len));
        assert_eq!(path(600 - 33).len(), 600);
        assert!(RoleArn::parse(&path(600 - 33)).is_ok());
        assert!(RoleArn::parse(&path(600 - 32)).is_err());
    }

    #[test]
    fn regions_have_the_shape_of_aws_region_codes() {
        for good in [
            "eu-west-1",
            "us-gov-east-1",
            "ap-southeast-3",
            "il-central-1",
        ] {
            assert!(AwsRegion::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "eu-west",
            "EU-WEST-1",
            "europe-west-1",
            "eu-west-100",
            "eu--1",
            "eu-west-1 ",
        ] {
            assert!(AwsRegion::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn external_ids_are_fresh_each_time() {
        let (a, b) = (ExternalId::generate(), ExternalId::generate());
        assert!(a.as_str().starts_with("ext_"));
        assert_ne!(a, b);
    }
}
