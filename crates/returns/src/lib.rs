//! icsw-returns
