//! The `icsw` binary, run as a user runs it.

mod cli;
