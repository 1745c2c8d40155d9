//! Selections per second on a 100-bridge registry. (Being written.)

fn main() {}
