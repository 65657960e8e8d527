//! The S3 adapter: the exports bucket (multipart uploads of export files, presigned downloads).

pub mod exports_bucket;
