//! The shared driver checks on tokio, over loopback.

use focus_proto::driver::selftest;
use runtime_tokio::Tokio;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timers_and_tasks() {
    selftest::timers_and_tasks(Tokio).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_while_xmpp_down() {
    selftest::rest_while_xmpp_down(Tokio).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_after_loss() {
    selftest::reconnects_after_loss(Tokio).await;
}
