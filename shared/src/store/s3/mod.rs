//! The S3 adapters: the exports bucket (multipart uploads of export files, presigned
//! downloads), and s3 streams' objects in merchants' buckets through their roles.

pub mod exports_bucket;
pub mod stream_objects;
