//! The peer: `ingest`'s first request written the common way, in Python with boto3
//! (`infra/coldstart/peer/ingest_peer.py`), started as Lambda's Python runtime starts a
//! function: `python -m awslambdaric ingest_peer.handler` in the task root, with the same
//! Runtime API, Lambda environment and event as `ingest`. The Python, awslambdaric and boto3
//! come from `.venv/bench-peer` (`infra/venv.sh bench-peer`, pinned in
//! `infra/requirements-bench-peer.txt`).

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::functions::{self, EventSource};
use crate::options::Options;
use crate::report::Kind;
use crate::runs::Subject;
use crate::stack::{Stack, lambda_env};

/// The function the peer does the work of.
pub const OF: &str = "ingest";
const NAME: &str = "python-boto3-peer";
const LABEL: &str = "python-boto3 peer";
const HANDLER: &str = "ingest_peer.handler";

pub struct Peer {
    python: PathBuf,
    task_root: PathBuf,
    /// `Python 3.11.7, awslambdaric 4.2.2, boto3 1.44.8`.
    versions: String,
}

impl Peer {
    /// Finds the peer's Python and checks that it imports awslambdaric and boto3.
    pub fn locate(options: &Options) -> Result<Self, String> {
        let python = options
            .peer_python
            .clone()
            .unwrap_or_else(|| options.root.join(".venv/bench-peer/bin/python"));
        let task_root = options.root.join("infra/coldstart/peer");
        if !python.exists() {
            return Err(format!(
                "{} not found: run infra/venv.sh bench-peer (make bench does), or pass --no-peer",
                python.display()
            ));
        }
        let output = Command::new(&python)
            .args([
                "-c",
                "import sys, awslambdaric, boto3; \
                 print(f'Python {sys.version.split()[0]}, awslambdaric {awslambdaric.__version__}, boto3 {boto3.__version__}')",
            ])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{}: {e}", python.display()))?;
        if !output.status.success() {
            return Err(format!(
                "{} cannot import awslambdaric and boto3 (run infra/venv.sh bench-peer): {}",
                python.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        Ok(Self {
            python,
            task_root,
            versions: String::from_utf8_lossy(&output.stdout).trim().to_string(),
        })
    }

    /// Run as a Lambda function named after the peer, with `ingest`'s event.
    pub fn subject(&self, options: &Options, stack: &Stack) -> Subject {
        let mut env = lambda_env(options, NAME, HANDLER, &self.task_root, stack);
        // The task root is read-only in Lambda: the handler module is compiled at every cold
        // start (the installed libraries come with their bytecode, as the runtime's boto3 does).
        if !env.iter().any(|(k, _)| k == "PYTHONDONTWRITEBYTECODE") {
            env.push(("PYTHONDONTWRITEBYTECODE".into(), "1".into()));
        }
        let event = match options.events.get(OF) {
            Some(path) => EventSource::File(options.root.join(path)),
            None => functions::event_for(&options.root, OF),
        };
        Subject {
            name: NAME.into(),
            program: self.python.clone(),
            args: ["-m", "awslambdaric", HANDLER].map(String::from).to_vec(),
            cwd: self.task_root.clone(),
            env,
            event,
            kind: Kind::Peer {
                of: OF.into(),
                label: LABEL,
                about: format!(
                    "{}; python -m awslambdaric {HANDLER} in {}",
                    self.versions,
                    self.task_root.display()
                ),
            },
        }
    }
}
