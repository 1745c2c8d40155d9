//! `focus-async-std`: the conference focus on async-std.

fn main() {
    std::process::exit(runtime_async_std::main());
}
