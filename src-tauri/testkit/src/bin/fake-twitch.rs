//! The fake Twitch as a process, for the end-to-end tests of the window: seeds two users,
//! approves every device code as the first one, prints its base URLs as one JSON line and
//! serves until killed.

use twitcher_testkit::twitch::{FakeLive, FakeTwitch, FakeUser, CLIENT_ID};

fn main() {
    let fake = FakeTwitch::start();
    let mut streamer = FakeUser::new("41245072", "nightowl", "live_41245072_e2eKeyFromTwitch9876");
    streamer.followers = 1234;
    streamer.live = Some(FakeLive { title: "3 a.m. rerun".into(), game_name: "Just Chatting".into(), viewer_count: 42 });
    fake.add_user(streamer);
    fake.auto_approve("41245072");
    println!(
        "{}",
        serde_json::json!({ "auth_url": fake.auth_url, "api_url": fake.api_url, "client_id": CLIENT_ID })
    );
    loop {
        std::thread::park();
    }
}
