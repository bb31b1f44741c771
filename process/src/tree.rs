//! Killing a child's whole process tree: `SIGKILL` to its process group on Unix, `taskkill /T`
//! on Windows.
//!
//! On Windows a job object would be tighter (it also catches processes that outlive their
//! parent), but needs `unsafe` Win32 calls, which the workspace forbids.

/// Kills the child's process tree: when told to, or when the run is dropped mid-way.
pub(crate) struct TreeGuard {
    pid: u32,
    armed: bool,
}

impl TreeGuard {
    /// A guard of the tree led by the child `pid` (on Unix, the leader of its own group).
    pub(crate) fn new(pid: u32) -> Self {
        Self { pid, armed: true }
    }

    /// The child was reaped or ran to its end: nothing is killed on drop.
    pub(crate) fn disarm(&mut self) {
        self.armed = false;
    }

    /// Kills the tree now: `SIGKILL` to the process group on Unix, `taskkill /T` (waited for)
    /// on Windows.
    // Awaits only on Windows, where it waits for taskkill.
    #[cfg_attr(not(windows), allow(clippy::unused_async))]
    pub(crate) async fn kill(&mut self) {
        #[cfg(unix)]
        self.kill_now();
        #[cfg(windows)]
        {
            self.armed = false;
            if let Ok(mut taskkill) = taskkill(self.pid).spawn() {
                let _ = taskkill.status().await;
            }
        }
    }

    /// Sends `SIGKILL` to the child's process group, once.
    #[cfg(unix)]
    fn kill_now(&mut self) {
        if std::mem::replace(&mut self.armed, false) {
            let group = i32::try_from(self.pid)
                .ok()
                .and_then(rustix::process::Pid::from_raw);
            if let Some(group) = group {
                // Fails only if the group is already gone.
                let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
            }
        }
    }
}

impl Drop for TreeGuard {
    fn drop(&mut self) {
        #[cfg(unix)]
        self.kill_now();
        #[cfg(windows)]
        if std::mem::replace(&mut self.armed, false) {
            // Not waited for: a destructor cannot block an executor thread.
            let _ = taskkill(self.pid).kill_on_drop(false).spawn();
        }
    }
}

/// `taskkill /T /F /PID <pid>`: ends the process and all it started.
#[cfg(windows)]
fn taskkill(pid: u32) -> async_process::Command {
    use async_process::Stdio;
    let mut command = async_process::Command::new("taskkill");
    command
        .args(["/T", "/F", "/PID", &pid.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}
