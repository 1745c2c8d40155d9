//! `focus`: the conference focus on tokio.

fn main() {
    std::process::exit(runtime_tokio::main());
}
