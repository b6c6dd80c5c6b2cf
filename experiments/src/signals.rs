//! SIGINT (Ctrl-C) and SIGTERM during long commands: the first asks the command to stop at the
//! next safe point (after the current training step, after the current generation request),
//! the second stops at once. A command that stopped this way returns [`Interrupted`], and the
//! process exits with 128 + the signal number (130 for SIGINT, 143 for SIGTERM).

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// The signal that asked the running command to stop (0: none yet).
static RECEIVED: AtomicI32 = AtomicI32::new(0);
/// The flag the first signal sets, shared by every [`listen`] of the process.
static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
/// What the first signal will do, as said to the user by the latest [`listen`].
static ON_FIRST: Mutex<&str> = Mutex::new("stopping");

/// Listens for SIGINT and SIGTERM from now on (once per process; later calls only change the
/// message): the returned flag is set by the first one, after `on_first` was printed; a second
/// one ends the process at once.
pub fn listen(on_first: &'static str) -> anyhow::Result<Arc<AtomicBool>> {
    *ON_FIRST.lock().expect("message lock") = on_first;
    if let Some(flag) = FLAG.get() {
        return Ok(Arc::clone(flag));
    }
    let flag = Arc::new(AtomicBool::new(false));
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    let set = Arc::clone(&flag);
    std::thread::spawn(move || {
        for signal in signals.forever() {
            if RECEIVED
                .compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                set.store(true, Ordering::SeqCst);
                let what = *ON_FIRST.lock().expect("message lock");
                eprintln!("\n{}: {what} (send it again to stop at once)", name(signal));
            } else {
                eprintln!("\n{}: stopping at once", name(signal));
                std::process::exit(128 + signal);
            }
        }
    });
    Ok(Arc::clone(FLAG.get_or_init(|| flag)))
}

/// Whether a signal has asked the command to stop.
pub fn requested() -> bool {
    RECEIVED.load(Ordering::SeqCst) != 0
}

fn name(signal: i32) -> &'static str {
    match signal {
        SIGINT => "interrupted (SIGINT)",
        _ => "terminated (SIGTERM)",
    }
}

/// A command stopped by a signal, after keeping what it could; `message` says what was kept and
/// how to continue.
#[derive(Debug)]
pub struct Interrupted {
    /// What was kept and how to continue.
    pub message: String,
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Interrupted {}

/// The exit code for a command that stopped on a signal: 128 + its number (130 when unknown).
pub fn exit_code() -> u8 {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => 130,
        s => (128 + s) as u8,
    }
}
