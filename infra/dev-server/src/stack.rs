//! The local AWS stack: moto (DynamoDB and its streams) as a child process on loopback.
//!
//! The child is started from a thread that lives as long as it does, with `PR_SET_PDEATHSIG`
//! ([`crate::process::die_with_parent`]), so it dies with this process even when the process is killed: tests
//! and `make dev` leave no server behind.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::spawn_tied;

pub struct LocalStack {
    pid: i32,
    pub dynamodb_endpoint: String,
}

impl LocalStack {
    /// The Python of the project's stack venv (`infra/venv.sh stack` creates it), or `MOTO_PYTHON`.
    pub fn python() -> PathBuf {
        std::env::var_os("MOTO_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/../../.venv/stack/bin/python"
                ))
            })
    }

    /// moto's server, serving one request at a time (see `infra/moto_serial.py`).
    fn launcher() -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../moto_serial.py"))
    }

    /// Starts moto on `port` (0: a free one) and waits until it accepts connections.
    pub fn start(port: u16) -> io::Result<Self> {
        let port = if port == 0 { free_port()? } else { port };
        let python = Self::python();
        if !python.exists() && std::env::var_os("MOTO_PYTHON").is_none() {
            set_up_venv()?;
        }
        if !python.exists() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "{} not found: run `make venv` (or `infra/venv.sh stack`) first",
                    python.display()
                ),
            ));
        }
        let mut command = Command::new(&python);
        command
            .arg(Self::launcher())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let pid = spawn_tied(format!("moto-{port}"), command)?;
        let stack = Self {
            pid,
            dynamodb_endpoint: format!("http://127.0.0.1:{port}"),
        };
        wait_for_port(port, Duration::from_secs(30))?;
        Ok(stack)
    }
}

impl Drop for LocalStack {
    fn drop(&mut self) {
        // SAFETY: signalling our own child by pid.
        unsafe {
            libc::kill(self.pid, libc::SIGTERM);
        }
    }
}

/// A port that was free a moment ago on loopback.
pub fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn wait_for_port(port: u16, timeout: Duration) -> io::Result<()> {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(io::Error::new(
        io::ErrorKind::TimedOut,
        format!("moto did not listen on {port}"),
    ))
}

/// Makes the stack's virtual environment as `make` does (`infra/venv.sh stack`), for a plain
/// `cargo test` on a fresh clone: under a lock, so test binaries started side by side make it
/// once (the script itself does nothing when the environment is current).
fn set_up_venv() -> io::Result<()> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../venv.sh");
    let lock = std::env::temp_dir().join("security-logs-venv.lock");
    eprintln!("setting up the local stack's Python environment (infra/venv.sh stack), once");
    let status = Command::new("flock")
        .arg(&lock)
        .arg(script)
        .arg("stack")
        .status()?;
    match status.success() {
        true => Ok(()),
        false => Err(io::Error::other(format!(
            "{script} stack failed ({status})"
        ))),
    }
}
