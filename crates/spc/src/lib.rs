//! icsw-spc
