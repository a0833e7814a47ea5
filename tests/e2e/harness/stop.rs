//! Ending the processes a test started: by PID only (other engineers and CI jobs run the
//! same binaries on this machine), politely first so they can clean up after themselves.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// SIGTERM to `child`'s PID, then waits up to `grace` for it to exit; true if it did.
pub fn sigterm_and_wait(child: &mut Child, grace: Duration) -> bool {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + grace;
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// [`sigterm_and_wait`], then SIGKILL (still by PID) if the grace ran out; reaps it.
pub fn terminate(child: &mut Child, grace: Duration) {
    if !sigterm_and_wait(child, grace) {
        let _ = child.kill();
        let _ = child.wait();
    }
}
