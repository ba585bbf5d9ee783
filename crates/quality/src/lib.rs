//! icsw-quality
