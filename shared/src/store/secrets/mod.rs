//! The Secrets Manager adapter: the key that signs list cursors, fetched once and cached.

pub mod cursor_keys;
