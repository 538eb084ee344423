//! Running one process in its own process group with a wall-clock limit, capped capture
//! of stdout and stderr, and a kill of the whole group when it ends or times out.
//!
//! The group is killed while its leader is still an unreaped zombie (the waiter thread
//! uses `waitid(WNOWAIT)`), so the process-group id cannot have been reused by then.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, WaitId, WaitIdOptions, kill_process_group, waitid};

/// How long to wait for the pipes to close after the group was killed.
const GRACE: Duration = Duration::from_millis(200);

/// What came back from a run.
#[derive(Debug, Default)]
pub(crate) struct Captured {
    /// Bytes read from stdout (the harness's result channel), up to its cap.
    pub stdout: Vec<u8>,
    /// Bytes read from stderr (the candidate's output), up to its cap.
    pub stderr: Vec<u8>,
    /// Whether stderr hit its cap.
    pub stderr_truncated: bool,
    /// Whether the wall-clock limit was hit.
    pub timed_out: bool,
}

enum Event {
    Exited,
    Stream {
        stderr: bool,
        bytes: Vec<u8>,
        truncated: bool,
    },
}

/// Spawns `cmd` in a new process group, writes `input` to its stdin, and collects its
/// output until it exits or `wall` elapses; then kills the group and reaps the child.
pub(crate) fn run_contained(
    mut cmd: Command,
    input: Vec<u8>,
    wall: Duration,
    stdout_cap: usize,
    stderr_cap: usize,
) -> std::io::Result<Captured> {
    let start = Instant::now();
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn()?;
    let pid = Pid::from_child(&child);
    let (tx, rx) = mpsc::channel();
    if let Some(mut stdin) = child.stdin.take() {
        // A candidate that dies early closes the pipe; the write error is expected then.
        std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
    }
    spawn_reader(child.stdout.take(), false, stdout_cap, tx.clone());
    spawn_reader(child.stderr.take(), true, stderr_cap, tx.clone());
    std::thread::spawn(move || {
        // Waits for the exit without reaping (WNOWAIT), retrying on EINTR.
        while let Err(e) = waitid(
            WaitId::Pid(pid),
            WaitIdOptions::EXITED | WaitIdOptions::NOWAIT,
        ) {
            if e != rustix::io::Errno::INTR {
                break;
            }
        }
        let _ = tx.send(Event::Exited);
    });
    let mut out = Captured::default();
    let (mut exited, mut streams) = (false, 0);
    let mut deadline = start + wall;
    let mut killed = false;
    while !(exited && streams == 2) {
        let now = Instant::now();
        let event = if now < deadline {
            rx.recv_timeout(deadline - now).ok()
        } else {
            None
        };
        match event {
            Some(Event::Exited) => {
                exited = true;
                kill_group(pid, &mut killed);
                deadline = deadline.min(Instant::now() + GRACE);
            }
            Some(Event::Stream {
                stderr,
                bytes,
                truncated,
            }) => {
                streams += 1;
                if stderr {
                    (out.stderr, out.stderr_truncated) = (bytes, truncated);
                } else {
                    out.stdout = bytes;
                }
            }
            None if !killed => {
                out.timed_out = !exited;
                kill_group(pid, &mut killed);
                deadline = Instant::now() + GRACE;
            }
            // Grace is over: a pipe is still held open by an escaped process.
            None => break,
        }
    }
    reap(&mut child, pid, &mut killed);
    Ok(out)
}

/// SIGKILL to the whole group, once (ESRCH, "already gone", is fine).
fn kill_group(pid: Pid, killed: &mut bool) {
    if !*killed {
        let _ = kill_process_group(pid, Signal::KILL);
        *killed = true;
    }
}

/// Kills the group if not done yet, then reaps the leader.
fn reap(child: &mut Child, pid: Pid, killed: &mut bool) {
    kill_group(pid, killed);
    let _ = child.wait();
}

/// Reads a pipe to its end or up to `cap` bytes (then closes it) on a thread.
fn spawn_reader<R: Read + Send + 'static>(
    pipe: Option<R>,
    stderr: bool,
    cap: usize,
    tx: mpsc::Sender<Event>,
) {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let mut truncated = false;
        if let Some(pipe) = pipe {
            let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
            let _ = pipe.take(limit).read_to_end(&mut bytes);
            if bytes.len() > cap {
                bytes.truncate(cap);
                truncated = true;
            }
        }
        let _ = tx.send(Event::Stream {
            stderr,
            bytes,
            truncated,
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("/bin/sh");
        c.args(["-c", script]);
        c
    }

    #[test]
    fn captures_and_caps_output() {
        let out = run_contained(
            sh("cat; echo err >&2"),
            b"hello".to_vec(),
            Duration::from_secs(5),
            100,
            2,
        )
        .unwrap();
        assert_eq!(out.stdout, b"hello");
        assert_eq!(out.stderr, b"er");
        assert!(out.stderr_truncated && !out.timed_out);
    }

    #[test]
    fn kills_the_group_on_timeout() {
        let t = Instant::now();
        // A background grandchild in the same group holds the pipes open too.
        let out = run_contained(
            sh("sleep 30 & sleep 30"),
            vec![],
            Duration::from_millis(300),
            10,
            10,
        )
        .unwrap();
        assert!(out.timed_out);
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    }
}
