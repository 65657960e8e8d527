//! An in-process S3 for local runs and tests: s3s-fs serving a directory on loopback.
//!
//! Unlike moto's S3, s3s-fs checks SigV4 signatures, presigned-URL expiry and the multipart
//! part-size rule, so download links and uploads are exercised as S3 would treat them. It runs
//! on the current tokio runtime and stops when the [`LocalS3`] handle is dropped or the runtime
//! shuts down.
//!
//! Layout on disk: a bucket is a directory under the root, an object a file below it (its key's
//! `/` become subdirectories); s3s-fs keeps metadata and pending parts as dot-files in the root.

use std::io;
use std::path::{Path, PathBuf};

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use s3s::auth::SimpleAuth;
use s3s::service::{S3Service, S3ServiceBuilder};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// The static credentials the server accepts: the ones `seclog::store::aws::local` signs with.
pub const ACCESS_KEY: &str = "local";
pub const SECRET_KEY: &str = "local";

/// A running local S3. Dropping it stops the server and closes its connections.
pub struct LocalS3 {
    /// `http://127.0.0.1:<port>`, for `endpoint_url` (path-style addressing).
    pub endpoint: String,
    root: PathBuf,
    server: JoinHandle<()>,
}

impl LocalS3 {
    /// Serves `root` (created if missing) on `127.0.0.1:port` (0: a free port). Must be called
    /// inside a tokio runtime; the server is ready to accept when this returns.
    pub async fn start(root: impl AsRef<Path>, port: u16) -> io::Result<Self> {
        let root = root.as_ref();
        std::fs::create_dir_all(root)?;
        let root = root.canonicalize()?;
        let fs = s3s_fs::FileSystem::new(&root).map_err(|e| {
            io::Error::other(format!("s3s-fs cannot serve {}: {e:?}", root.display()))
        })?;
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let service = builder.build();

        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let address = listener.local_addr()?;
        let server = tokio::spawn(serve(listener, service));
        Ok(Self {
            endpoint: format!("http://{address}"),
            root,
            server,
        })
    }

    /// The directory served.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Creates `bucket` (a directory under the root); an existing bucket is left as it is.
    pub fn create_bucket(&self, bucket: &str) -> io::Result<()> {
        if bucket.is_empty() || bucket.contains(['/', '\\']) || bucket.starts_with('.') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{bucket:?} is not a bucket name"),
            ));
        }
        std::fs::create_dir_all(self.root.join(bucket))
    }
}

impl Drop for LocalS3 {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every open connection.
        self.server.abort();
    }
}

async fn serve(listener: TcpListener, service: S3Service) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // Out of file descriptors and the like: back off briefly, then go on.
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                };
                let service = service.clone();
                connections.spawn(async move {
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            // Reap finished connections so the set does not grow without bound.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}
