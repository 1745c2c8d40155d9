//! Media sources: SSRCs, groups, per-endpoint sets and the validated
//! conference source map. (Being written; see the conference issue.)
