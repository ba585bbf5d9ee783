//! icsw-server
