//! The shared driver checks on async-std, over loopback.

use async_std::task::block_on;
use focus_proto::driver::selftest;
use runtime_async_std::AsyncStd;

#[test]
fn timers_and_tasks() {
    block_on(selftest::timers_and_tasks(AsyncStd));
}

#[test]
fn rest_while_xmpp_down() {
    block_on(selftest::rest_while_xmpp_down(AsyncStd));
}

#[test]
fn reconnects_after_loss() {
    block_on(selftest::reconnects_after_loss(AsyncStd));
}
