//! The JVM's own heap, read without attaching, and full collections on request.
//!
//! `perfdata` parses the HotSpot perf-data file and derives the heap figures; `probe`
//! finds the JVMs of a tree and follows them tick by tick; `attach` asks a JVM for a
//! full collection (attach protocol, then `jcmd`).

mod attach;
mod perfdata;
mod probe;

pub use attach::{
    attach_command, attach_reply, request_full_gc, AttachError, GcError, GcRoute, JcmdError,
};
pub use perfdata::{figures, parse, Entry, JvmFigures, PerfDataError, Value, MAGIC};
pub use probe::{locate, nspid, parse_nspid, JvmReader, JvmSample, JvmSeen};
