//! Process control for one run: spawn the function in a process group of its own that dies
//! with this tool, read its peak resident set while it lives, then kill and reap it (with
//! `wait4`, keeping its CPU time and `ru_maxrss`).

use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::{Duration, Instant};

use dev_server::process::{self, Reaped, Usage, Wait};

/// A child tracked by pid (also its process group), reaped with `wait4` so its resource usage
/// is not lost. Dropping it kills and reaps whatever is left.
pub struct Process {
    pid: i32,
    reaped: Option<Reaped>,
}

impl Process {
    /// Spawns `command`. The child dies with this thread (so an interrupted benchmark leaves
    /// no function process behind), and leads its own process group, so that a kill reaches
    /// whatever it started too (a `--wrap` tool and the binary under it).
    pub fn spawn(command: &mut Command) -> io::Result<Self> {
        let child = process::die_with_parent(command).process_group(0).spawn()?;
        Ok(Self {
            pid: child.id() as i32,
            reaped: None,
        })
    }

    fn reap(&mut self, wait: Wait) -> bool {
        if self.reaped.is_none() {
            // An error (no such child) counts as not reaped, as a child still running does.
            self.reaped = process::wait4(self.pid as u32, wait).ok().flatten();
        }
        self.reaped.is_some()
    }

    pub fn alive(&mut self) -> bool {
        !self.reap(Wait::Poll)
    }

    /// SIGINT to the process group, then wait up to `grace` for the child to exit.
    pub fn interrupt(&mut self, grace: Duration) {
        self.signal_group(libc::SIGINT);
        let deadline = Instant::now() + grace;
        while self.alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// VmHWM (peak resident set) from /proc, while the process still exists.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// SIGKILL (as Lambda ends a sandbox) and reap; returns the exit status if it had exited
    /// on its own before the kill.
    pub fn kill_and_reap(&mut self) -> (Option<String>, Usage) {
        // Whatever it started may still run in its group, even if it exited.
        self.signal_group(libc::SIGKILL);
        let exited_before = if self.reaped.is_some() {
            self.reaped.map(|reaped| reaped.describe())
        } else {
            self.reap(Wait::Block);
            None
        };
        (
            exited_before,
            self.reaped.map(|reaped| reaped.usage).unwrap_or_default(),
        )
    }

    fn signal_group(&self, signal: i32) {
        // SAFETY: signalling the process group our own child leads.
        unsafe { libc::kill(-self.pid, signal) };
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.reaped.is_none() {
            self.signal_group(libc::SIGKILL);
            self.reap(Wait::Block);
        }
    }
}
