//! End-to-end tests: hand-written extracts loaded into a real warehouse and
//! read back through SQL. Expected values are worked out in the comments.

mod derived;
mod golden;
mod load;
mod published;
mod quality;
mod spc;
mod support;
