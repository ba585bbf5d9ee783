//! The real server on 127.0.0.1:0, spoken to over HTTP: every endpoint,
//! every role, and every refusal.

mod browser;
mod fixture;
mod flight;
mod hostile;
mod pg;
mod server;
