//! Catching the focus's logs during a simulation.
//!
//! Every call into the focus runs under a scoped `tracing` dispatcher that
//! records ERROR events (sans-io-style.md §11: an ERROR log from the focus
//! fails the run, see [`super::Sim::assert_no_errors`]). With the
//! environment variable `FOCUS_SIM_LOG` set (to anything but `0`), every
//! event of the focus is also printed to stderr, stamped with virtual time.

use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Dispatch, Event, Level, Metadata, Subscriber};

#[derive(Debug, Default)]
struct Shared {
    errors: Mutex<Vec<String>>,
    /// Virtual microseconds since the start, for echoed lines.
    now_micros: AtomicU64,
    echo: bool,
}

/// Records the focus's ERROR events (and echoes everything on request).
#[derive(Debug, Clone)]
pub(crate) struct LogCapture {
    shared: Arc<Shared>,
    dispatch: Dispatch,
}

impl LogCapture {
    /// A capture; echoing is on when `FOCUS_SIM_LOG` is set.
    pub(crate) fn new() -> Self {
        let echo = std::env::var("FOCUS_SIM_LOG").is_ok_and(|v| v != "0" && !v.is_empty());
        let shared = Arc::new(Shared {
            echo,
            ..Shared::default()
        });
        let dispatch = Dispatch::new(Catcher {
            shared: shared.clone(),
        });
        Self { shared, dispatch }
    }

    /// Runs `f` with this capture as the thread's dispatcher, at virtual
    /// time `micros` (for echoed lines).
    pub(crate) fn scope<R>(&self, micros: u64, f: impl FnOnce() -> R) -> R {
        self.shared.now_micros.store(micros, Ordering::Relaxed);
        tracing::dispatcher::with_default(&self.dispatch, f)
    }

    /// Takes the ERROR events seen so far.
    pub(crate) fn take_errors(&self) -> Vec<String> {
        match self.shared.errors.lock() {
            Ok(mut e) => std::mem::take(&mut *e),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        }
    }

    /// The ERROR events seen so far, rendered.
    pub(crate) fn errors(&self) -> Vec<String> {
        match self.shared.errors.lock() {
            Ok(e) => e.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

struct Catcher {
    shared: Arc<Shared>,
}

impl Catcher {
    fn wants(&self, meta: &Metadata<'_>) -> bool {
        meta.is_event() && (self.shared.echo || *meta.level() == Level::ERROR)
    }
}

impl Subscriber for Catcher {
    fn register_callsite(&self, _meta: &'static Metadata<'static>) -> Interest {
        // Decided per call: other simulations (other threads) share callsites.
        Interest::sometimes()
    }

    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        self.wants(meta)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(if self.shared.echo {
            LevelFilter::TRACE
        } else {
            LevelFilter::ERROR
        })
    }

    fn new_span(&self, _span: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _span: &Id, _values: &Record<'_>) {}

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let meta = event.metadata();
        if !self.wants(meta) {
            return;
        }
        let mut text = Render(String::new());
        event.record(&mut text);
        let line = format!("{} {}:{}", meta.level(), meta.target(), text.0);
        if self.shared.echo {
            let micros = self.shared.now_micros.load(Ordering::Relaxed);
            eprintln!("[sim {:>6}.{:03} ms] {line}", micros / 1000, micros % 1000);
        }
        if *meta.level() == Level::ERROR {
            match self.shared.errors.lock() {
                Ok(mut e) => e.push(line),
                Err(poisoned) => poisoned.into_inner().push(line),
            }
        }
    }

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}
}

/// Renders an event's fields as ` message key=value …`.
struct Render(String);

impl Visit for Render {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, " {value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            let _ = write!(self.0, " {value}");
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_caught_in_scope_only() {
        let capture = LogCapture::new();
        capture.scope(1500, || {
            tracing::error!(room = "r@muc", "something broke");
            tracing::warn!("only a warning");
        });
        tracing::error!("outside any simulation");
        let errors = capture.errors();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("something broke"), "{errors:?}");
        assert!(errors[0].contains("room=r@muc"), "{errors:?}");
        assert_eq!(capture.take_errors().len(), 1);
        assert!(capture.errors().is_empty());
    }
}
