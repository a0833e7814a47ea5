//! Child processes that must not outlive the process that started them.
//!
//! `bulkhead demo` runs the server and the agent as its children. If the demo is
//! SIGKILLed it cannot stop them, and they would keep the port, the database and the
//! lab's firewall alive. A parent-death signal makes the kernel stop them instead. The
//! `unsafe` it needs lives here: only the dataplane and lab crates may hold any.

use std::os::unix::process::CommandExt;
use std::process::Command;

/// Asks the kernel to send SIGTERM to `cmd`'s process when its parent dies, however it
/// dies (SIGKILL included), so it can shut down as on Ctrl-C.
///
/// The signal follows the *thread* that spawns the child (prctl(2): "the parent thread"),
/// so spawn from a thread that lives as long as the process, such as the main thread.
pub fn die_with_parent(cmd: &mut Command) -> &mut Command {
    let parent = std::process::id();
    // SAFETY: the closure runs in the forked child before exec and only makes two
    // async-signal-safe system calls (prctl, getppid); it allocates nothing and touches
    // no lock or memory shared with the parent.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGTERM as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl: then no signal will
            // come, and the child was reparented already. Refuse to run.
            if libc::getppid() as u32 != parent {
                return Err(std::io::Error::other(
                    "the parent exited before the child started",
                ));
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_with_a_parent_death_signal_runs_normally() {
        let out = die_with_parent(Command::new("/bin/sh").args(["-c", "echo ok"]))
            .output()
            .expect("spawn");
        assert!(out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
    }
}
