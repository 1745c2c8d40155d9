//! Bridge selection: which bridge a participant of a conference goes to.
//! (Being written; see the bridges issue.)
