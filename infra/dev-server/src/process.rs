//! Child processes of the local tools: started so that they die with the tool
//! (`PR_SET_PDEATHSIG`), and reaped with `wait4` so that their resource usage (CPU time, peak
//! resident set) is not lost. Used by the local stack ([`crate::stack`]), `coldstart` and
//! `export-bench`; Linux only, as those tools are.

use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitStatus};
use std::time::Duration;

/// Makes the child get `SIGKILL` when the thread that spawns it exits (`PR_SET_PDEATHSIG`), so
/// a tool that is interrupted or killed leaves no server or function process behind. Spawn from
/// a thread that lives as long as the child should (the main thread, or one made for it).
///
/// If the parent is already gone when the child gets to set this (between fork and
/// `prctl`), the spawn fails instead of leaving an orphan.
pub fn die_with_parent(command: &mut Command) -> &mut Command {
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: prctl and getppid are async-signal-safe, and the closure allocates nothing
    // (`from_raw_os_error` does not), as code between fork and exec must.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        })
    }
}

/// Spawns `command` from a thread made for it, which waits for the child, so the child's
/// [`die_with_parent`] tie lasts exactly as long as the child: it dies with this process, not
/// with whichever thread asked. Returns its pid; named `name` for the thread.
pub fn spawn_tied(name: String, mut command: Command) -> io::Result<i32> {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::Builder::new().name(name).spawn(move || {
        match die_with_parent(&mut command).spawn() {
            Ok(mut child) => {
                let _ = sender.send(Ok(child.id() as i32));
                let _ = child.wait();
            }
            Err(error) => {
                let _ = sender.send(Err(error));
            }
        }
    })?;
    receiver
        .recv()
        .map_err(|_| io::Error::other("the launcher thread died"))?
}

/// What a reaped child used: user + system CPU time and its peak resident set (`ru_maxrss`:
/// the largest of it and its waited-for descendants).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub cpu: Duration,
    pub max_rss_kib: u64,
}

/// A child that `wait4` reaped: how it ended and what it used.
#[derive(Debug, Clone, Copy)]
pub struct Reaped {
    pub status: ExitStatus,
    pub usage: Usage,
}

impl Reaped {
    /// `exit code N`, `signal N`, or the raw wait status.
    pub fn describe(&self) -> String {
        match (self.status.code(), self.status.signal()) {
            (Some(code), _) => format!("exit code {code}"),
            (None, Some(signal)) => format!("signal {signal}"),
            (None, None) => format!("status {}", self.status.into_raw()),
        }
    }
}

/// Whether [`wait4`] blocks until the child exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    Block,
    /// `WNOHANG`: `Ok(None)` while the child still runs.
    Poll,
}

/// Reaps our child `pid` with `wait4`, keeping its resource usage (which `Child::wait` drops).
/// After this the `Child` handle must not be waited for again (it would find no child).
pub fn wait4(pid: u32, wait: Wait) -> io::Result<Option<Reaped>> {
    let pid = pid as libc::pid_t;
    let flags = match wait {
        Wait::Block => 0,
        Wait::Poll => libc::WNOHANG,
    };
    loop {
        let mut status = 0;
        // SAFETY: an all-zero rusage is a valid value; wait4 only writes to the two locals.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let waited = unsafe { libc::wait4(pid, &mut status, flags, &mut usage) };
        if waited == pid {
            let time = |t: libc::timeval| {
                Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
            };
            return Ok(Some(Reaped {
                status: ExitStatus::from_raw(status),
                usage: Usage {
                    cpu: time(usage.ru_utime) + time(usage.ru_stime),
                    max_rss_kib: usage.ru_maxrss as u64,
                },
            }));
        }
        if waited == 0 {
            return Ok(None);
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn sh(script: &str) -> Command {
        let mut command = Command::new("sh");
        command.args(["-c", script]);
        command
    }

    fn sleep() -> Command {
        let mut command = Command::new("sleep");
        command.arg("30");
        command
    }

    #[test]
    fn reaps_exit_code_and_usage() {
        let pid = die_with_parent(&mut sh("exit 3")).spawn().unwrap().id();
        let reaped = wait4(pid, Wait::Block).unwrap().expect("reaped");
        assert_eq!(reaped.status.code(), Some(3));
        assert_eq!(reaped.describe(), "exit code 3");
        assert!(reaped.usage.max_rss_kib > 0, "{:?}", reaped.usage);
        // Reaped once: there is nothing left to wait for.
        assert!(wait4(pid, Wait::Poll).is_err());
    }

    #[test]
    fn polls_a_running_child_then_reaps_its_signal() {
        let pid = die_with_parent(&mut sleep()).spawn().unwrap().id();
        assert!(wait4(pid, Wait::Poll).unwrap().is_none());
        // SAFETY: signalling our own child, not reaped yet.
        assert_eq!(unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) }, 0);
        let reaped = wait4(pid, Wait::Block).unwrap().expect("reaped");
        assert_eq!(reaped.status.signal(), Some(libc::SIGKILL));
        assert_eq!(reaped.describe(), "signal 9");
    }

    #[test]
    fn child_dies_with_the_thread_that_spawned_it() {
        let started = Instant::now();
        let pid = std::thread::spawn(|| die_with_parent(&mut sleep()).spawn().unwrap().id())
            .join()
            .unwrap();
        // The spawning thread is gone: the kernel sent the child SIGKILL.
        let reaped = wait4(pid, Wait::Block).unwrap().expect("reaped");
        assert_eq!(reaped.status.signal(), Some(libc::SIGKILL));
        assert!(started.elapsed() < Duration::from_secs(20));
    }
}
