//! Incremental, bounded XML stream reading and stanza writing.
